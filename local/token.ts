// Prints a locally signed bearer token: TOKEN=$(npm run --silent token -- --partner P-ACME)
import { parseArgs } from 'node:util';
import { localStateDir, signLocalToken } from './jwt-keys.ts';
import type { SignLocalTokenOptions } from './jwt-keys.ts';

const USAGE = 'usage: npm run --silent token -- (--partner <PARTNER_ID> | --operator) [--expires-in SECONDS] [--roles a,b]';
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/;

class UsageError extends Error {}

function parseCommandLine(argv: string[]): Omit<SignLocalTokenOptions, 'stateDir'> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        partner: { type: 'string' },
        operator: { type: 'boolean' },
        'expires-in': { type: 'string' },
        roles: { type: 'string' },
      },
    }));
  } catch (error) {
    // parseArgs messages span several lines; the caller wants one line.
    const message = error instanceof Error ? error.message.split('\n')[0] : 'invalid arguments';
    throw new UsageError(message);
  }
  const partnerId = values.partner?.trim();
  if (values.partner !== undefined && (!partnerId || !NAME_PATTERN.test(partnerId))) {
    throw new UsageError('--partner needs a partner id such as P-ACME');
  }
  if (!partnerId && !values.operator) throw new UsageError('--partner or --operator is required');
  let expiresInSeconds: number | undefined;
  if (values['expires-in'] !== undefined) {
    const text = values['expires-in'].trim();
    expiresInSeconds = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds <= 0) {
      throw new UsageError('--expires-in needs a positive whole number of seconds');
    }
  }
  let roles: string[] | undefined;
  if (values.roles !== undefined) {
    roles = values.roles.split(',').map((role) => role.trim()).filter((role) => role !== '');
    if (roles.length === 0 || !roles.every((role) => NAME_PATTERN.test(role))) {
      throw new UsageError('--roles needs a comma-separated list such as admin,viewer');
    }
  }
  return { partnerId, operator: values.operator === true, roles, expiresInSeconds };
}

async function main(): Promise<void> {
  let options: Omit<SignLocalTokenOptions, 'stateDir'>;
  try {
    options = parseCommandLine(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`token: ${error.message}. ${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    const token = await signLocalToken({ ...options, stateDir: localStateDir() });
    process.stdout.write(`${token}\n`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`token: could not sign a token: ${message.split('\n')[0]}\n`);
    process.exitCode = 1;
  }
}

await main();
