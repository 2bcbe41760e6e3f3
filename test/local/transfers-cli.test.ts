/**
 * `npm run transfers`: the operator view in a terminal, run as a child process against a local
 * stack this file starts (its own state directory, so that the command signs its operator token
 * with the stack's key), plus the pure pieces it shares with the operator page: redaction and the
 * reading of execution histories.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, RedriveExecutionCommand } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/emulators.ts';
import { signLocalToken } from '../../local/jwt-keys.ts';
import { LocalClient, type TransferView } from '../../local/local-client.ts';
import { executionArnOf, localSfnClient } from '../../local/operator/overview.ts';
import { REDACTED, redactJsonText, redactText, redactValue } from '../../local/operator/redact.ts';
import { eventDeliveries, urlTarget } from '../../local/operator/event-deliveries.ts';
import { eventsText, utcText as utc } from '../../local/operator/text.ts';
import { currentState, executionTimeline, formatDuration, mergeTimelines, transferTimeline } from '../../local/operator/timeline.ts';
import { startLocalStack, type LocalStack } from '../../local/stack.ts';
import { ANSWER_EXCERPT, HOSTILE_ERROR, QUERY_SECRET, seedDeliveries } from '../e2e/webhook-deliveries.ts';

const repoRoot = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const USAGE = 'usage: npm run transfers -- list [--status STATUS] [--limit N] | show TRANSFER_ID';
const FULL_USAGE = `${USAGE} | verify TRANSFER_ID [--fingerprint HEX] [--aws] | export-person EMAIL [--aws]`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let stateDir: string;
let stack: LocalStack;
let client: LocalClient;

function portOf(url: string): string {
  return new URL(url).port;
}

function runCli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'local/transfers-cli.ts', ...args],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          API_PORT: portOf(stack.urls.api),
          SFN_PORT: portOf(stack.urls.sfn),
          // The table as an operator names it (no SDK endpoint of its own): `show` reads the events' deliveries there.
          DYNAMODB_PORT: portOf(stack.urls.dynamodb),
          TABLE_NAME: stack.tableName,
          AWS_ENDPOINT_URL_DYNAMODB: '',
          LOCAL_STATE_DIR: stateDir,
          STATE_MACHINE_ARN: '',
          ...env,
        },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? -1 : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function token(who: { partnerId: string } | 'operator'): Promise<string> {
  return who === 'operator'
    ? signLocalToken({ stateDir, operator: true, subject: 'operator@provider.example' })
    : signLocalToken({ stateDir, partnerId: who.partnerId, subject: `someone@${who.partnerId.toLowerCase()}.example` });
}

/** The task tokens the execution was given (they sit in the history's task parameters). */
async function taskTokens(id: string): Promise<string[]> {
  const sfn = localSfnClient(stack.urls.sfn);
  try {
    const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn: executionArnOf(stack.stateMachineArn, id), maxResults: 1000 }));
    return events.flatMap((event) => [...(event.taskScheduledEventDetails?.parameters ?? '').matchAll(/"taskToken":"([^"]+)"/g)].map((m) => m[1] ?? ''));
  } finally {
    sfn.destroy();
  }
}

/** Changes a customer's owner straight in DynamoDB Local, behind the product's back (as in the console). */
async function setOwner(customerId: string, partnerId: string): Promise<void> {
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: stack.urls.dynamodb, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }));
  try {
    await db.send(new UpdateCommand({
      TableName: stack.tableName,
      Key: { pk: `CUSTOMER#${customerId}`, sk: 'OWNER' },
      UpdateExpression: 'SET partnerId = :partner',
      ExpressionAttributeValues: { ':partner': partnerId },
    }));
  } finally {
    db.destroy();
  }
}

async function waitForExecution(id: string, status: string): Promise<void> {
  const sfn = localSfnClient(stack.urls.sfn);
  try {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn: executionArnOf(stack.stateMachineArn, id) }));
      if (described.status === status) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`Execution ${id} did not become ${status}`);
  } finally {
    sfn.destroy();
  }
}

function daysAhead(days: number): string {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  const date = new Date(`${today}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

/** The cells of a table line, split on the column starts of its header line. */
function columns(header: string, line: string): Record<string, string> {
  const names = header.split(/ {2,}/);
  const starts = names.map((name) => header.indexOf(name));
  return Object.fromEntries(names.map((name, i) => [name, line.slice(starts[i], starts[i + 1]).trim()]));
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'transfers-cli-'));
  stack = await startLocalStack({
    stateDir,
    ports: { dynamodb: 0, ses: 0, sfn: 0, api: 0, events: 0 },
    // Long enough to change a customer's owner while the workflow sleeps until the transfer date.
    maxWaitSeconds: 3,
    maxRetryIntervalMs: 200,
    env: { POWERTOOLS_LOG_LEVEL: 'WARN' },
  });
  client = new LocalClient(stack.urls.api, stack.urls.ses);
});

afterAll(async () => {
  await stack?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('npm run transfers', () => {
  it('answers bad arguments with exit 2 and a one-line usage', async () => {
    for (const args of [[], ['frobnicate'], ['list', '--status', 'SLEEPING'], ['list', '--limit', '0'], ['show'], ['show', 'a', 'b'], ['show', '../etc'], ['list', '--bogus']]) {
      const run = await runCli(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(run.stderr).toContain(USAGE);
    }
  }, 120_000);

  it('says so in one line, with exit 1, when no stack runs', async () => {
    const run = await runCli(['list'], { API_PORT: String(await freePort()) });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^transfers: no local stack answers at http:\/\/127\.0\.0\.1:\d+ \(API_PORT\): start it with "npm start"$/m);
  });

  it('lists the transfers with their current state, then shows one transfer\'s timeline as it moves on', async () => {
    const blue = await token({ partnerId: 'P-BLUE' });
    const since = Date.now() / 1000 - 1;
    const created = await client.call('POST', '/transfers', blue, { customerIds: ['C-1001'], toPartnerId: 'P-BLUE', note: 'Customer asked for it' });
    expect(created.status).toBe(201);
    const id = (created.body as TransferView).id;
    const releaseLink = await client.waitForLink('billing@acme-it.example', since);

    const listed = await runCli(['list']);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trimEnd().split('\n');
    const header = lines[0] ?? '';
    expect(header).toMatch(/^ID +STATUS +CURRENT STATE +FROM → TO +DATE +UPDATED \(UTC\)$/);
    const row = lines.find((line) => line.startsWith(id));
    expect(row, listed.stdout).toBeDefined();
    expect(columns(header, row ?? '')).toEqual({
      ID: id,
      STATUS: 'AWAITING_RELEASE',
      'CURRENT STATE': 'Await release from current partner',
      'FROM → TO': 'P-ACME → P-BLUE',
      DATE: '—',
      'UPDATED (UTC)': expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/) as unknown as string,
    });
    expect(lines.at(-1)).toBe('1 transfer');

    // The current partner releases through its link; the workflow moves on to the acceptance wait.
    expect((await client.postForm(releaseLink, { decision: 'release', immediate: 'on', signedBy: 'Alice Smith', acknowledge: 'on' })).status).toBe(200);
    await client.waitForLink('partners@bluewave.example', since);
    const shown = await runCli(['show', id]);
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(0);
    const text = shown.stdout;
    expect(text).toMatch(new RegExp(`^Transfer +${id}$`, 'm'));
    expect(text).toMatch(/^Status +AWAITING_ACCEPTANCE$/m);
    expect(text).toMatch(/^Execution +RUNNING$/m);
    expect(text).toMatch(/^Current state +Await acceptance by new partner$/m);
    expect(text).toMatch(/^From → to +Acme IT Services \(P-ACME\) → Bluewave Networks \(P-BLUE\)$/m);

    const timeline = text.slice(text.indexOf('TIME (UTC)'), text.indexOf('\n\nEVENTS AND DELIVERIES (UTC)\n'));
    const [timelineHeader = '', ...events] = timeline.trimEnd().split('\n');
    expect(timelineHeader).toMatch(/^TIME \(UTC\) +EVENT +STATE +DETAIL$/);
    const cells = events.map((line) => columns(timelineHeader, line));
    const find = (event: string, state = '') => cells.findIndex((c) => c.EVENT === event && c.STATE === state);
    for (const cell of cells) expect(cell['TIME (UTC)']).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
    // In time order: the request, the execution, the release wait and its exit, the acceptance wait.
    const order = [
      find('REQUESTED'),
      find('Execution started'),
      find('Entered', 'Await release from current partner'),
      find('Task scheduled', 'Await release from current partner'),
      find('APPROVAL_REQUESTED'),
      find('RELEASED'),
      find('Exited', 'Await release from current partner'),
      find('Entered', 'Await acceptance by new partner'),
    ];
    expect(order.every((index) => index !== -1), timeline).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(cells[find('Exited', 'Await release from current partner')]?.DETAIL).toMatch(/^after \d/);
    expect(cells[find('Task scheduled', 'Await release from current partner')]?.DETAIL).toContain('request-approval, waits for a task token');
    expect(cells[find('RELEASED')]?.DETAIL).toContain('by Alice Smith (P-ACME)');
    expect(find('Exited', 'Await acceptance by new partner')).toBe(-1);

    // The transfer's events follow the timeline: the request (published by now) and the release (the relay
    // may still be at it), with no webhook to deliver to.
    const published = text.slice(text.indexOf('EVENTS AND DELIVERIES (UTC)')).trimEnd().split('\n');
    expect(published[1], text).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} {2}transfer\.requested {2}evt_[0-9a-f]{32} {2}published \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
    expect(published.filter((line) => / {2}transfer\.released {2}evt_[0-9a-f]{32} {2}(published \d{4}-|not yet published$)/.test(line)), text).toHaveLength(1);
    expect(published.filter((line) => line === '  No webhook deliveries.')).toHaveLength(2);

    // No task token, even though the history's task parameters hold them; no control characters.
    const tokens = await taskTokens(id);
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    for (const secret of tokens) expect(text).not.toContain(secret);
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);

    const filtered = await runCli(['list', '--status', 'awaiting_acceptance']);
    expect(filtered.code).toBe(0);
    expect(filtered.stdout).toContain(id);
    const none = await runCli(['list', '--status', 'COMPLETED']);
    expect(none.code).toBe(0);
    expect(none.stdout.trim()).toBe('No transfers are COMPLETED.');
  }, 180_000);

  it('shows where a stopped execution ended, and a failed re-homing, its error and its redrive', async () => {
    const acme = await token({ partnerId: 'P-ACME' });
    const cancelled = await client.call('POST', '/transfers', await token({ partnerId: 'P-BLUE' }), { customerIds: ['C-1002'], toPartnerId: 'P-BLUE' });
    expect(cancelled.status).toBe(201);
    const cancelledId = (cancelled.body as TransferView).id;
    await waitForExecution(cancelledId, 'RUNNING');
    expect((await client.call('POST', `/transfers/${cancelledId}/cancel`, acme, { reason: 'Customer changed its mind' })).status).toBe(200);
    await waitForExecution(cancelledId, 'ABORTED');
    const stopped = await runCli(['show', cancelledId]);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(/^Status +CANCELLED$/m);
    expect(stopped.stdout).toMatch(/^Current state +ABORTED at Await release from current partner$/m);
    expect(stopped.stdout).toMatch(/ Execution stopped +Await release from current partner /);

    // Released up front for a date ahead, accepted through the API: the workflow sleeps, and meanwhile
    // the customer leaves the current partner, so re-homing fails for good and the execution stops there.
    const created = await client.call('POST', '/transfers', acme, {
      customerIds: ['C-1003'],
      toPartnerId: 'P-BLUE',
      release: { transferDate: daysAhead(3), signedBy: 'Alice Smith' },
    });
    expect(created.status).toBe(201);
    const id = (created.body as TransferView).id;
    const accepted = await client.call('POST', `/transfers/${id}/acceptance`, await token({ partnerId: 'P-BLUE' }), { decision: 'accept', signedBy: 'Dana Lee' });
    expect(accepted.status).toBe(200);
    await setOwner('C-1003', 'P-CORAL');
    await waitForExecution(id, 'FAILED');
    const failed = await runCli(['show', id]);
    expect(failed.code).toBe(0);
    expect(failed.stdout).toMatch(/^Status +FAILED$/m);
    expect(failed.stdout).toMatch(/^Current state +FAILED at Re-home customers$/m);
    expect(failed.stdout).toMatch(/^Error +RehomeFailed: /m);
    expect(failed.stdout).toMatch(/ Task failed +Re-home customers +RehomeFailed: /);
    expect(failed.stdout).toMatch(/ Execution failed +Re-home customers +RehomeFailed/);
    const listed = await runCli(['list', '--status', 'FAILED']);
    expect(listed.stdout).toMatch(new RegExp(`^${id} +FAILED +FAILED at Re-home customers +P-ACME → P-BLUE `, 'm'));

    // The operator puts the customer back and redrives: re-homing resumes and the transfer completes.
    await setOwner('C-1003', 'P-ACME');
    const sfn = localSfnClient(stack.urls.sfn);
    try {
      await sfn.send(new RedriveExecutionCommand({ executionArn: executionArnOf(stack.stateMachineArn, id) }));
    } finally {
      sfn.destroy();
    }
    await waitForExecution(id, 'SUCCEEDED');
    const redriven = await runCli(['show', id]);
    expect(redriven.code).toBe(0);
    expect(redriven.stdout).toMatch(/^Status +COMPLETED$/m);
    expect(redriven.stdout).toMatch(/^Execution +SUCCEEDED, redriven 1×$/m);
    expect(redriven.stdout).toMatch(/^Current state +SUCCEEDED$/m);
    const lines = redriven.stdout.split('\n');
    const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));
    const order = [at(/ Execution failed /), at(/ Execution redriven +redrive #1$/), at(/ Exited +Re-home customers +after /), at(/ Execution succeeded/)];
    expect(order.every((index) => index !== -1), redriven.stdout).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  }, 180_000);

  it('shows each event with its webhook deliveries: URL host and path only, never a query string, body or answer', async () => {
    const created = await client.call('POST', '/transfers', await token({ partnerId: 'P-ACME' }), { customerIds: ['C-2001'], toPartnerId: 'P-ACME' });
    expect(created.status).toBe(201);
    const id = (created.body as TransferView).id;
    const seeded = await seedDeliveries(stack, id);

    const shown = await runCli(['show', id]);
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(0);
    const text = shown.stdout;
    const lines = text.slice(text.indexOf('\n\nEVENTS AND DELIVERIES (UTC)\n') + 2).trimEnd().split('\n');
    expect(lines[0]).toBe('EVENTS AND DELIVERIES (UTC)');
    expect(lines[1]?.startsWith(`${utc(seeded.event.occurredAt, true)}  transfer.requested  ${seeded.event.id}  published `), lines[1]).toBe(true);
    expect(lines[1]).toMatch(/ published \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
    const header = lines[2] ?? '';
    expect(header).toMatch(/^ {2}WEBHOOK +TARGET +STATUS +TRIES +LAST TRY +NEXT TRY +DELIVERED\/FAILED$/);
    expect(lines.slice(3, 6).map((line) => columns(header.slice(2), line.slice(2)))).toEqual([
      {
        WEBHOOK: seeded.delivered.webhookId,
        TARGET: '127.0.0.1:4100/hooks/acme',
        STATUS: 'delivered',
        TRIES: '1',
        'LAST TRY': 'HTTP 204',
        'NEXT TRY': '—',
        'DELIVERED/FAILED': utc(seeded.delivered.settledAt),
      },
      {
        WEBHOOK: seeded.failed.webhookId,
        TARGET: 'hooks.bluewave.example/in/transfers',
        STATUS: 'failed',
        TRIES: '1',
        // Printed as it is (a terminal runs no markup), but on one line.
        'LAST TRY': HOSTILE_ERROR,
        'NEXT TRY': '—',
        'DELIVERED/FAILED': utc(seeded.failed.settledAt),
      },
      {
        WEBHOOK: seeded.retrying.webhookId,
        TARGET: 'ops.provider.example/events',
        STATUS: 'pending',
        TRIES: '2',
        'LAST TRY': 'HTTP 503: The endpoint answered 503.',
        'NEXT TRY': utc(seeded.retrying.nextAttemptAt),
        'DELIVERED/FAILED': '—',
      },
    ]);
    expect(lines.slice(6)).toEqual(['', `${utc(seeded.held.occurredAt, true)}  transfer.failed  ${seeded.held.id}  not yet published`, '  No webhook deliveries.']);

    // Nothing of the query strings (a partner's token), the user info, the fragment, the bodies sent or the answers.
    for (const secret of [QUERY_SECRET, ANSWER_EXCERPT, 'user:pass', '#frag', '?token', '?sig', '?api_key', seeded.delivered.body]) {
      expect(text).not.toContain(secret);
    }
  }, 120_000);

  it('answers exit 1 for a transfer that does not exist, and for a token the stack does not know', async () => {
    const missing = await runCli(['show', 'TR-20990101-NOSUCHONE0']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`transfers: no transfer TR-20990101-NOSUCHONE0 on the local stack at ${stack.urls.api}`);

    const noTable = await runCli(['show', 'TR-20990101-NOSUCHONE0'], { DYNAMODB_PORT: String(await freePort()) });
    expect(noTable.code).toBe(1);
    expect(noTable.stderr.trim()).toMatch(/^transfers: DynamoDB Local does not answer at http:\/\/127\.0\.0\.1:\d+ \(DYNAMODB_PORT\): start the stack with "npm start"$/);

    const otherDir = await mkdtemp(join(tmpdir(), 'transfers-cli-other-'));
    try {
      const refused = await runCli(['list'], { LOCAL_STATE_DIR: otherDir });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^transfers: the local API at \S+ refused the operator token .*LOCAL_STATE_DIR/);
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('exports everything stored about one person, ignoring case, with progress on stderr, and never a task token', async () => {
    // The requester (its token's subject) and the signer's IP address and user agent, in the transfer's items.
    const blue = await token({ partnerId: 'P-BLUE' });
    const created = await client.call('POST', '/transfers', blue, { customerIds: ['C-3001'], toPartnerId: 'P-BLUE' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = (created.body as TransferView).id;
    await waitForExecution(id, 'RUNNING');

    const run = await runCli(['export-person', 'SomeOne@P-Blue.example']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^transfers: read \d+ items of \S+ at http:\/\/127\.0\.0\.1:\d+, \d+ about SomeOne@P-Blue\.example$/m);
    const exported = JSON.parse(run.stdout) as { email: string; table: string; scanned: number; items: Record<string, unknown>[] };
    expect(exported).toMatchObject({ email: 'SomeOne@P-Blue.example', table: stack.tableName });
    const ofTransfer = exported.items.filter((item) => item.pk === `TRANSFER#${id}`);
    expect(ofTransfer.map((item) => item.sk)).toEqual(expect.arrayContaining(['TRANSFER', expect.stringMatching(/^EVENT#/)]));
    expect(JSON.stringify(ofTransfer)).toContain('"sourceIp":"127.0.0.1"');
    for (const item of exported.items) expect(JSON.stringify(item).toLowerCase()).toContain('someone@p-blue.example');
    expect(exported.scanned).toBeGreaterThan(exported.items.length);
    for (const taskToken of await taskTokens(id)) expect(run.stdout).not.toContain(taskToken);

    // A partner contact: the partner item. An address that only ends like it is not the same person.
    const contact = JSON.parse((await runCli(['export-person', 'billing@acme-it.example'])).stdout) as { items: Record<string, unknown>[] };
    expect(contact.items.map((item) => `${String(item.pk)} ${String(item.sk)}`)).toContain('PARTNER#P-ACME PROFILE');
    const other = JSON.parse((await runCli(['export-person', 'illing@acme-it.example'])).stdout) as { items: unknown[] };
    expect(other.items).toEqual([]);

    const bad = await runCli(['export-person', 'not-an-address']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(`transfers: "not-an-address" is not an email address. ${FULL_USAGE}`);
    const noTable = await runCli(['export-person', 'billing@acme-it.example'], { DYNAMODB_PORT: String(await freePort()) });
    expect(noTable.code).toBe(1);
    expect(noTable.stderr.trim()).toMatch(/^transfers: DynamoDB Local does not answer at http:\/\/127\.0\.0\.1:\d+ \(DYNAMODB_PORT\): start the stack with "npm start", or add --aws to read a stage's table$/);
  }, 120_000);
});

describe('bounced partner contacts', () => {
  /** An SES bounce as the alert topic hands it to the mail feedback queue (raw delivery), of an email tagged with its transfer. */
  function bounceEvent(transferId: string, address: string): string {
    return JSON.stringify({
      eventType: 'Bounce',
      mail: { timestamp: new Date().toISOString(), source: 'transfers@example.com', messageId: `m-${address}`, destination: [address], tags: { transferId: [transferId] } },
      bounce: { bounceType: 'Permanent', bounceSubType: 'General', bouncedRecipients: [{ emailAddress: address, status: '5.1.1' }], timestamp: new Date().toISOString() },
    });
  }

  it('are recorded on the transfer from the feedback queue; once all of a party\'s bounced, the operator view flags it', async () => {
    const blue = await token({ partnerId: 'P-BLUE' });
    const created = await client.call('POST', '/transfers', blue, { customerIds: ['C-1002'], toPartnerId: 'P-BLUE' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = (created.body as TransferView).id;
    const sqs = new SQSClient({ endpoint: stack.urls.sqs, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      const QueueUrl = stack.sqs.queueUrl(stack.queues.mailFeedback);
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: bounceEvent(id, 'ops@acme-it.example') }));
      const oneBounced = await pollShown(id, (text) => /^Bounced +ops@acme-it\.example \(P-ACME\)$/m.test(text));
      expect(oneBounced).not.toMatch(/UNREACHABLE/);

      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: bounceEvent(id, 'Billing@Acme-IT.example') }));
      const flagged = await pollShown(id, (text) => /^UNREACHABLE /m.test(text));
      expect(flagged).toMatch(/^UNREACHABLE +P-ACME: every contact bounced; no link, reminder or notice reaches it$/m);
      expect(flagged).toMatch(/^Bounced +ops@acme-it\.example \(P-ACME\), billing@acme-it\.example \(P-ACME\)$/m);
      const unreachable = (await getTransfer(id)).history.filter((event) => event.type === 'PARTY_UNREACHABLE');
      expect(unreachable.map((event) => event.detail)).toEqual([{ partnerId: 'P-ACME' }]);
    } finally {
      sqs.destroy();
    }
  }, 120_000);

  /** `show` until its text satisfies `done`. */
  async function pollShown(id: string, done: (text: string) => boolean): Promise<string> {
    const deadline = Date.now() + 30_000;
    let last = '';
    while (Date.now() < deadline) {
      const shown = await runCli(['show', id]);
      last = shown.stdout;
      if (shown.code === 0 && done(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    throw new Error(`show ${id} never matched:\n${last}`);
  }

  async function getTransfer(id: string): Promise<TransferView> {
    const answer = await client.call('GET', `/transfers/${id}`, await token('operator'));
    expect(answer.status).toBe(200);
    return answer.body as TransferView;
  }
});

describe('the operator view\'s reading of payloads and histories', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  /** Event types the local Step Functions API adds (retries and catches), which the SDK's enum does not know. */
  const localType = (type: string) => type as HistoryEvent['type'];

  it('redacts task tokens, secrets, bearer tokens and link secrets', () => {
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    const parameters = JSON.stringify({ FunctionName: 'request-approval', Payload: { transferId: 'TR-1', taskToken: 'AAAA-secret-token', step: 'release' } });
    expect(JSON.parse(redactJsonText(parameters) ?? '{}')).toEqual({
      FunctionName: 'request-approval',
      Payload: { transferId: 'TR-1', taskToken: REDACTED, step: 'release' },
    });
    expect(redactValue({ input: parameters, nested: { apiKey: 'k', password: 'p', signedBy: 'Alice' } })).toEqual({
      input: JSON.stringify({ FunctionName: 'request-approval', Payload: { transferId: 'TR-1', taskToken: REDACTED, step: 'release' } }),
      nested: { apiKey: REDACTED, password: REDACTED, signedBy: 'Alice' },
    });
    expect(redactText(`Authorization: Bearer ${jwt}`)).not.toContain(jwt);
    expect(redactText(`token ${jwt} here`)).toBe(`token ${REDACTED} here`);
    expect(redactText('see http://127.0.0.1:3000/approvals/Xy9_abcdefghijklmnopqrstuvwxyz0123456789ABCD')).toBe(`see http://127.0.0.1:3000/approvals/${REDACTED}`);
    expect(redactText('failed: taskToken=abc123 was stale')).toBe(`failed: taskToken=${REDACTED} was stale`);
    expect(redactText('{"taskToken": "abc", "x": 1')).toBe(`{"taskToken": "${REDACTED}", "x": 1`);
  });

  it('finds the current state, and the state a failed execution stopped on, across a retry and a redrive', () => {
    const events: HistoryEvent[] = [
      { id: 1, timestamp: at(0), type: 'ExecutionStarted', executionStartedEventDetails: { input: '{"transferId":"TR-1"}' } },
      { id: 2, timestamp: at(1), type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'Re-home customers', input: '{}' } },
      { id: 3, timestamp: at(1), type: 'TaskScheduled', taskScheduledEventDetails: { resourceType: 'lambda', resource: 'invoke', region: 'us-east-1', parameters: '{"FunctionName":"arn:aws:lambda:us-east-1:0:function:rehome-customers","Payload":{}}' } },
      { id: 4, timestamp: at(2), type: 'TaskFailed', taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error: 'TransientError', cause: '{"errorType":"TransientError","errorMessage":"DynamoDB unreachable","trace":["x"]}' } },
      { id: 5, timestamp: at(3), type: localType('StateRetried'), evaluationFailedEventDetails: { state: 'Re-home customers', error: 'TransientError', location: 'Retry #1 (ErrorEquals: TransientError)' } },
      { id: 6, timestamp: at(4), type: 'TaskFailed', taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error: 'RehomeFailed', cause: 'C-2 left the partner' } },
      { id: 7, timestamp: at(4), type: 'ExecutionFailed', executionFailedEventDetails: { error: 'RehomeFailed', cause: 'C-2 left the partner' } },
    ];
    expect(currentState(events, 'FAILED')).toEqual({ state: 'Re-home customers', since: at(1).toISOString(), label: 'FAILED at Re-home customers' });
    const timeline = executionTimeline(events);
    expect(timeline.map((e) => [e.event, e.state, e.tone])).toEqual([
      ['Execution started', null, 'info'],
      ['Entered', 'Re-home customers', 'info'],
      ['Task scheduled', 'Re-home customers', 'info'],
      ['Task failed', 'Re-home customers', 'error'],
      ['Retried', 'Re-home customers', 'warn'],
      ['Task failed', 'Re-home customers', 'error'],
      ['Execution failed', 'Re-home customers', 'error'],
    ]);
    expect(timeline[3]?.detail).toBe('TransientError: DynamoDB unreachable');
    expect(timeline[4]?.detail).toBe('TransientError → Retry #1 (ErrorEquals: TransientError)');

    const redriven: HistoryEvent[] = [
      ...events,
      { id: 8, timestamp: at(60), type: 'ExecutionRedriven', executionRedrivenEventDetails: { redriveCount: 1 } },
      { id: 9, timestamp: at(60), type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'Re-home customers', input: '{}' } },
      { id: 10, timestamp: at(62), type: 'TaskStateExited', stateExitedEventDetails: { name: 'Re-home customers', output: '{}' } },
      { id: 11, timestamp: at(62), type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'Send confirmations', input: '{}' } },
    ];
    expect(currentState(redriven, 'RUNNING')).toEqual({ state: 'Send confirmations', since: at(62).toISOString(), label: 'Send confirmations' });
    const later = executionTimeline(redriven);
    expect(later.find((e) => e.type === 'ExecutionRedriven')?.detail).toBe('redrive #1');
    expect(later.find((e) => e.event === 'Exited')).toMatchObject({ state: 'Re-home customers', durationMs: 2000, detail: 'after 2.0 s' });

    const caught: HistoryEvent[] = [
      { id: 1, timestamp: at(0), type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'Send confirmations' } },
      { id: 2, timestamp: at(1), type: localType('StateCaught'), evaluationFailedEventDetails: { state: 'Send confirmations', error: 'States.ALL', location: 'Catch (ErrorEquals: States.ALL) -> Record confirmation failure and alert operators' } },
      { id: 3, timestamp: at(1), type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'Record confirmation failure and alert operators' } },
      { id: 4, timestamp: at(2), type: 'TaskStateExited', stateExitedEventDetails: { name: 'Record confirmation failure and alert operators' } },
      { id: 5, timestamp: at(2), type: 'SucceedStateEntered', stateEnteredEventDetails: { name: 'Transfer completed' } },
      { id: 6, timestamp: at(2), type: 'SucceedStateExited', stateExitedEventDetails: { name: 'Transfer completed' } },
      { id: 7, timestamp: at(2), type: 'ExecutionSucceeded', executionSucceededEventDetails: { output: '{}' } },
    ];
    expect(currentState(caught, 'SUCCEEDED').label).toBe('SUCCEEDED');
    expect(executionTimeline(caught).find((e) => e.event === 'Caught')?.detail).toContain('-> Record confirmation failure and alert operators');
  });

  it('joins a transfer\'s events with their deliveries, in order, showing a URL\'s host and path and never a body', () => {
    expect(urlTarget('https://user:pw@hooks.example:8443/in/acme?token=abc#frag')).toBe('hooks.example:8443/in/acme');
    expect(urlTarget('http://127.0.0.1:4100/?sig=1')).toBe('127.0.0.1:4100/');
    expect(urlTarget('not a url?token=abc')).toBe('not a url');
    const event = (id: string, type: string, occurredAt: string) => ({ id, type, occurredAt, transferId: 'TR-1', transfer: {} });
    const outbox = [
      { kind: 'outbox', event: event('evt_b', 'transfer.completed', '2026-01-01T00:00:05.000Z') },
      { kind: 'outbox', event: event('evt_a2', 'transfer.accepted', '2026-01-01T00:00:03.000Z'), relayedAt: '2026-01-01T00:00:03.400Z' },
      { kind: 'outbox', event: event('evt_a1', 'transfer.released', '2026-01-01T00:00:03.000Z'), relayedAt: '2026-01-01T00:00:03.300Z' },
      { kind: 'outbox-held', event: event('evt_x', 'transfer.failed', '2026-01-01T00:00:09.000Z') },
    ];
    const base = {
      transferId: 'TR-1', partnerId: 'P-ACME', body: '{"secret-body":1}', createdAt: '2026-01-01T00:00:04.000Z', triedAt: null,
      lastAttempt: null, nextAttemptAt: null, settledAt: null, status: 'pending' as const, attempts: 0,
    };
    const views = eventDeliveries(outbox, [
      { ...base, webhookId: 'wh_2', eventId: 'evt_a1', url: 'https://b.example/x?token=t', eventType: 'transfer.released', order: '2026-01-01T00:00:03.000Z#01',
        status: 'delivered', attempts: 1, nextAttemptAt: '2026-01-01T00:00:09.000Z', settledAt: '2026-01-01T00:00:04.100Z',
        lastAttempt: { ok: true, status: 200, error: null, excerpt: 'answer-excerpt', durationMs: 5, at: '2026-01-01T00:00:04.000Z' } },
      { ...base, webhookId: 'wh_1', eventId: 'evt_a1', url: 'https://a.example/y', eventType: 'transfer.released', order: '2026-01-01T00:00:03.000Z#01',
        attempts: 1, nextAttemptAt: '2026-01-01T00:00:34.000Z',
        lastAttempt: { ok: false, status: null, error: 'Failed for https://a.example/y?token=abc: refused.', excerpt: '', durationMs: 5, at: '2026-01-01T00:00:04.000Z' } },
      { ...base, webhookId: 'wh_1', eventId: 'evt_gone', url: 'https://a.example/y', eventType: 'transfer.requested', order: '2026-01-01T00:00:01.000Z#00',
        status: 'dropped', note: 'The webhook was removed.', settledAt: '2026-01-01T00:00:02.000Z' },
    ]);
    expect(views.map((v) => [v.id, v.type, v.relayedAt, v.inOutbox, v.deliveries.map((d) => d.webhookId)])).toEqual([
      ['evt_gone', 'transfer.requested', null, false, ['wh_1']],
      ['evt_a1', 'transfer.released', '2026-01-01T00:00:03.300Z', true, ['wh_1', 'wh_2']],
      ['evt_a2', 'transfer.accepted', '2026-01-01T00:00:03.400Z', true, []],
      ['evt_b', 'transfer.completed', null, true, []],
    ]);
    expect(views[1]?.deliveries).toEqual([
      { webhookId: 'wh_1', target: 'a.example/y', status: 'pending', attempts: 1, lastStatus: null, lastError: 'Failed for https://a.example/y: refused.',
        lastAttemptAt: '2026-01-01T00:00:04.000Z', nextAttemptAt: '2026-01-01T00:00:34.000Z', settledAt: null, note: null },
      { webhookId: 'wh_2', target: 'b.example/x', status: 'delivered', attempts: 1, lastStatus: 200, lastError: null,
        lastAttemptAt: '2026-01-01T00:00:04.000Z', nextAttemptAt: null, settledAt: '2026-01-01T00:00:04.100Z', note: null },
    ]);
    const text = eventsText(views);
    expect(text.split('\n').slice(0, 4)).toEqual([
      'EVENTS AND DELIVERIES (UTC)',
      '2026-01-01 00:00:01.000  transfer.requested  evt_gone  no longer in the outbox',
      '  WEBHOOK  TARGET       STATUS   TRIES  LAST TRY                  NEXT TRY  DELIVERED/FAILED',
      '  wh_1     a.example/y  dropped  0      The webhook was removed.  —         2026-01-01 00:00:02',
    ]);
    expect(text).toContain('\n2026-01-01 00:00:05.000  transfer.completed  evt_b  not yet published\n  No webhook deliveries.');
    for (const hidden of ['secret-body', 'answer-excerpt', 'token', 'evt_x']) expect(text).not.toContain(hidden);
    expect(eventsText([])).toBe('EVENTS AND DELIVERIES (UTC)\nNo events yet.');
  });

  it('merges the transfer\'s history in time order and formats durations', () => {
    const execution = executionTimeline([
      { id: 1, timestamp: new Date('2026-01-01T00:00:01.000Z'), type: 'ExecutionStarted', executionStartedEventDetails: { input: '{}' } },
    ]);
    const transfer = transferTimeline([
      { at: '2026-01-01T00:00:00.500Z', type: 'REQUESTED', actor: { kind: 'partner', partnerId: 'P-BLUE', name: 'dana' }, detail: { customerIds: ['C-1'], statement: 'long', taskToken: 'x' } },
      { at: '2026-01-01T00:00:02.000Z', type: 'RELEASED', actor: { kind: 'partner', partnerId: 'P-ACME', name: 'Alice' }, detail: { signedBy: 'Alice', via: 'link' } },
    ]);
    expect(mergeTimelines(execution, transfer).map((e) => e.event)).toEqual(['REQUESTED', 'Execution started', 'RELEASED']);
    expect(transfer[0]?.detail).toBe(`by dana (P-BLUE); customerIds=C-1; taskToken=${REDACTED}`);
    expect(transfer[0]?.data).not.toContain('"x"');
    expect([450, 1500, 75_000, 3_600_000, 259_200_000].map(formatDuration)).toEqual(['450 ms', '1.5 s', '1 min 15 s', '1 h', '3 d']);
  });
});
