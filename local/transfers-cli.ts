// The operator view in a terminal: `npm run transfers -- list [--status S]`, `show ID` (with its events' webhook deliveries), `verify ID` (the history's hash chain) and `export-person EMAIL` (everything stored about one person).
import { parseArgs } from 'node:util';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { TRANSFER_STATUSES } from '../lambdas/domain/transfer.ts';
import { localStateDir, signLocalToken } from './jwt-keys.ts';
import { TableEventDeliveries, type EventDeliveriesSource } from './operator/event-deliveries.ts';
import { ApiAnswerError, findStateMachineArn, HttpTransferSource, localSfnClient, OperatorOverview } from './operator/overview.ts';
import { exportPerson, isEmailAddress } from './operator/export-person.ts';
import { oneLine } from './operator/redact.ts';
import { transferDetailText, transfersTable } from './operator/text.ts';
import { tableAccess, tableStore, verifyTransfer, type TableAccess } from './operator/verify.ts';

const USAGE =
  'usage: npm run transfers -- list [--status STATUS] [--limit N] | show TRANSFER_ID | verify TRANSFER_ID [--fingerprint HEX] [--aws] | export-person EMAIL [--aws]';
const ID_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;

class UsageError extends Error {}
/** A problem the operator can act on, printed as one line (exit 1). */
class Problem extends Error {}

type Command =
  | { kind: 'list'; status?: string; limit?: string }
  | { kind: 'show'; id: string }
  | { kind: 'verify'; id: string; fingerprint?: string; aws: boolean }
  | { kind: 'export-person'; email: string; aws: boolean }
  | { kind: 'help' };

function parseCommandLine(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        status: { type: 'string' },
        limit: { type: 'string' },
        fingerprint: { type: 'string' },
        aws: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? (error.message.split('\n')[0] ?? 'invalid arguments') : 'invalid arguments');
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  const [command, ...rest] = positionals;
  if (command === 'list') {
    if (rest.length > 0) throw new UsageError(`list takes no argument, got "${oneLine(rest.join(' '), 60)}"`);
    const status = values.status?.trim().toUpperCase();
    if (status !== undefined && !(TRANSFER_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(`--status must be one of ${TRANSFER_STATUSES.join(', ')}`);
    }
    const limit = values.limit?.trim();
    if (limit !== undefined && !(/^\d+$/.test(limit) && Number(limit) >= 1 && Number(limit) <= 100)) {
      throw new UsageError('--limit must be a whole number from 1 to 100');
    }
    return { kind: 'list', ...(status ? { status } : {}), ...(limit ? { limit } : {}) };
  }
  if (command === 'export-person') {
    if (values.status !== undefined || values.limit !== undefined || values.fingerprint !== undefined) throw new UsageError('export-person takes only --aws');
    if (rest.length !== 1) throw new UsageError('export-person needs exactly one email address');
    const email = (rest[0] ?? '').trim();
    if (!isEmailAddress(email)) throw new UsageError(`"${oneLine(email, 60)}" is not an email address`);
    return { kind: 'export-person', email, aws: values.aws === true };
  }
  if (command !== 'list' && (values.fingerprint !== undefined || values.aws !== undefined) && command !== 'verify') {
    throw new UsageError('--fingerprint goes with verify only, --aws with verify and export-person');
  }
  if (command === 'show' || command === 'verify') {
    if (values.status !== undefined || values.limit !== undefined) throw new UsageError(`${command} takes no --status or --limit`);
    if (rest.length !== 1) throw new UsageError(`${command} needs exactly one transfer id`);
    const id = (rest[0] ?? '').trim();
    if (!ID_PATTERN.test(id)) throw new UsageError(`"${oneLine(id, 60)}" is not a transfer id (such as TR-20260101-ABCDEFGHJK)`);
    if (command === 'show') return { kind: 'show', id };
    const fingerprint = values.fingerprint?.trim();
    if (fingerprint !== undefined && !/^[0-9a-fA-F]{64}$/.test(fingerprint)) throw new UsageError('--fingerprint must be the 64 hex digits a consent record shows');
    return { kind: 'verify', id, ...(fingerprint ? { fingerprint } : {}), aws: values.aws === true };
  }
  throw new UsageError(command === undefined ? 'a command is required' : `unknown command "${oneLine(command, 40)}"`);
}

function envPort(name: string, fallback: number): number {
  const value = process.env[name]?.trim();
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65_535) throw new Problem(`${name} must be a port number, got "${oneLine(value, 40)}"`);
  return port;
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

function failureText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\.$/, '');
}

/** A transfer's events and deliveries from the table itself (the API does not serve them); a failed read is the operator's to fix. */
function tableEvents(table: TableAccess): EventDeliveriesSource {
  const source = new TableEventDeliveries(table.db, table.tableName);
  return {
    eventsOf: async (id) => {
      try {
        return await source.eventsOf(id);
      } catch (error) {
        throw new Problem(`cannot read the events of ${id} from ${table.where}: ${failureText(error)}. Is TABLE_NAME the running stack's table?`);
      }
    },
  };
}

/** Checks a transfer's history chain (and a record's fingerprint) from the table itself; exit 1 when it does not hold. */
async function verify(command: Extract<Command, { kind: 'verify' }>): Promise<{ ok: boolean; text: string }> {
  const { store, where, close } = tableStore({ aws: command.aws });
  try {
    const result = await verifyTransfer(store, command.id, command.fingerprint);
    return { ok: result.ok, text: result.lines.join('\n') };
  } catch (error) {
    const message = failureText(error);
    const hint = /ECONNREFUSED|connect/i.test(message) || (error instanceof Error && error.name === 'TransientError') ? ' Is the local stack running (npm start)?' : '';
    throw new Problem(`cannot read ${where}: ${message}.${hint}`);
  } finally {
    close();
  }
}

/** Everything stored about one person, as JSON; progress on stderr. */
async function exportOnePerson(command: Extract<Command, { kind: 'export-person' }>): Promise<string> {
  const table = tableAccess({ aws: command.aws });
  try {
    if (table.endpoint !== undefined && !(await answers(table.endpoint))) {
      throw new Problem(`DynamoDB Local does not answer at ${table.endpoint} (DYNAMODB_PORT): start the stack with "npm start", or add --aws to read a stage's table`);
    }
    const result = await exportPerson(table.db, table.tableName, command.email, ({ scanned, found }) => {
      process.stderr.write(`transfers: read ${scanned} items of ${table.where}, ${found} about ${command.email}\n`);
    });
    return JSON.stringify(result, null, 2);
  } catch (error) {
    if (error instanceof Problem) throw error;
    throw new Problem(`cannot read ${table.where}: ${failureText(error)}.${command.aws ? ' Are AWS credentials, AWS_REGION and TABLE_NAME set for the stage?' : ''}`);
  } finally {
    table.close();
  }
}

async function run(command: Exclude<Command, { kind: 'help' | 'verify' | 'export-person' }>): Promise<string> {
  const apiUrl = `http://127.0.0.1:${envPort('API_PORT', 3000)}`;
  const sfnUrl = `http://127.0.0.1:${envPort('SFN_PORT', 8083)}`;
  if (!(await answers(`${apiUrl}/health`))) {
    throw new Problem(`no local stack answers at ${apiUrl} (API_PORT): start it with "npm start"`);
  }
  if (!(await answers(`${sfnUrl}/health`))) {
    throw new Problem(`the local Step Functions API does not answer at ${sfnUrl} (SFN_PORT): start the stack with "npm start"`);
  }
  // Only `show` reads the table (the events' deliveries); `list` needs the API and Step Functions alone.
  const table = command.kind === 'show' ? tableAccess({ aws: false }) : undefined;
  if (table?.endpoint !== undefined && !(await answers(table.endpoint))) {
    table.close();
    throw new Problem(`DynamoDB Local does not answer at ${table.endpoint} (DYNAMODB_PORT): start the stack with "npm start"`);
  }
  const stateDir = localStateDir();
  let token: Promise<string> | undefined;
  const source = new HttpTransferSource(apiUrl, () => {
    token ??= signLocalToken({ stateDir, operator: true, subject: 'local-operator-cli', expiresInSeconds: 300 });
    return token;
  });
  const sfn: SFNClient = localSfnClient(sfnUrl);
  try {
    const events: EventDeliveriesSource = table ? tableEvents(table) : { eventsOf: () => Promise.resolve([]) };
    const overview = new OperatorOverview(sfn, await findStateMachineArn(sfn), source, events);
    if (command.kind === 'list') {
      const page = await overview.list({ ...(command.status ? { status: command.status } : {}), limit: command.limit ?? '100' });
      if (page.items.length === 0) return command.status ? `No transfers are ${command.status}.` : 'No transfers yet.';
      const more = page.nextToken ? `\n(newest ${page.items.length} shown; narrow with --status)` : '';
      return `${transfersTable(page.items)}\n\n${page.items.length} transfer${page.items.length === 1 ? '' : 's'}${more}`;
    }
    const view = await overview.detail(command.id);
    if (!view) throw new Problem(`no transfer ${command.id} on the local stack at ${apiUrl}`);
    return transferDetailText(view);
  } catch (error) {
    if (error instanceof ApiAnswerError && error.status === 401) {
      throw new Problem(`the local API at ${apiUrl} refused the operator token signed with the key in ${stateDir}: set LOCAL_STATE_DIR to the running stack's`);
    }
    if (error instanceof ApiAnswerError) throw new Problem(`the local API answered ${error.status}: ${error.message}`);
    throw error;
  } finally {
    sfn.destroy();
    table?.close();
  }
}

async function main(): Promise<number> {
  let command: Command;
  try {
    command = parseCommandLine(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`transfers: ${error.message}. ${USAGE}\n`);
    return 2;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    if (command.kind === 'verify') {
      const result = await verify(command);
      (result.ok ? process.stdout : process.stderr).write(`${result.text}\n`);
      return result.ok ? 0 : 1;
    }
    if (command.kind === 'export-person') {
      process.stdout.write(`${await exportOnePerson(command)}\n`);
      return 0;
    }
    process.stdout.write(`${await run(command)}\n`);
    return 0;
  } catch (error) {
    const message = error instanceof Problem ? error.message : `unexpected failure: ${error instanceof Error ? error.message : String(error)}`;
    process.stderr.write(`transfers: ${oneLine(message, 400)}\n`);
    return 1;
  }
}

process.exitCode = await main();
