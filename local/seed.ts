import { parseArgs } from 'node:util';
import { seedDirectory } from './stack.ts';

/**
 * `npm run seed -- FILE.json`: loads a directory file into the running local stack, or with `--aws`
 * into the table TABLE_NAME names, through the default AWS credentials.
 */
const usage = 'usage: npm run seed -- FILE.json [--aws]   (table: TABLE_NAME, default customer-transfers)';
let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({ allowPositionals: true, options: { aws: { type: 'boolean', default: false } } });
}
try {
  args = parse();
} catch (error) {
  console.error(`seed: ${error instanceof Error ? error.message : String(error)}. ${usage}`);
  process.exit(2);
}
const [file, ...extra] = args.positionals;
if (!file || extra.length > 0) {
  console.error(`seed: give exactly one directory file. ${usage}`);
  process.exit(2);
}
const tableName = process.env.TABLE_NAME ?? 'customer-transfers';
const endpoint = args.values.aws
  ? undefined
  : (process.env.AWS_ENDPOINT_URL_DYNAMODB ?? `http://127.0.0.1:${process.env.DYNAMODB_PORT ?? '8000'}`);
if (!args.values.aws) {
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
}
try {
  const loaded = await seedDirectory(file, endpoint, tableName);
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  console.log(`Loaded ${count(loaded.partners, 'partner')} and ${count(loaded.customers, 'customer')} into ${tableName}${endpoint ? ` at ${endpoint}` : ''}.`);
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  const hint = /ECONNREFUSED|connect/i.test(message) ? ' Is the local stack running (npm start)?' : '';
  console.error(`seed: ${message}.${hint}`);
  process.exit(1);
}
