import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  DescribeExecutionCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dateAt } from '../../lambdas/domain/dates.ts';
import type { ApiAnswer, TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { approvalLinkFor, documentClient, executionArn, executionHistory, listExecutions, poller, scanTable, sfnClient } from './support.ts';

/**
 * Races, driven the way users drive the system: many requests at the same instant, two decisions
 * for one step, a double-clicked form, and a cancel against the start of re-homing. Each race must
 * leave exactly one outcome on record, and the data consistent with it.
 */

const ACCEPTANCE_WAIT = 'Await acceptance by new partner';
const RELEASE_WAIT = 'Await release from current partner';
const today = dateAt(new Date(), 'America/New_York');

let t: TestStack;
let db: DynamoDBDocumentClient;
let sfn: SFNClient;
let acme: string;
let blue: string;
let operator: string;

type Customer = { id: string; name: string; partnerId: string; domains: string[]; settings: unknown; users: unknown };
type ErrorBody = { error: { code: string; message: string; details?: unknown } };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nowSeconds = () => Date.now() / 1000 - 1;

beforeAll(async () => {
  t = await startTestStack({ seedFile: TEST_DIRECTORY, maxWaitSeconds: 1 });
  db = documentClient(t.stack);
  sfn = sfnClient(t.stack);
  acme = await t.token({ partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
  blue = await t.token({ partnerId: 'P-BLUE', subject: 'dana@bluewave.example' });
  operator = await t.token('operator');
});

afterAll(async () => {
  db?.destroy();
  sfn?.destroy();
  await t?.stop();
});

// ---------------------------------------------------------------------------------------------
// Helpers

function errorCode(answer: ApiAnswer): string | undefined {
  const body = answer.body as Partial<ErrorBody> | null;
  return body?.error?.code;
}

const poll = poller(20_000, 100);
const executionNames = async () => (await listExecutions(sfn, t.stack.stateMachineArn)).map((e) => e.name ?? '').sort();

async function getTransfer(id: string): Promise<TransferView> {
  const answer = await t.client.call('GET', `/transfers/${id}`, operator);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as TransferView;
}

async function getCustomer(id: string): Promise<Customer> {
  const answer = await t.client.call('GET', `/customers/${id}`, operator);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as Customer;
}

async function createTransfer(token: string, body: Record<string, unknown>, status: string): Promise<TransferView> {
  const created = await t.client.call('POST', '/transfers', token, body);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const transfer = created.body as TransferView;
  expect(transfer.status).toBe(status);
  return transfer;
}

/** Waits for the execution to end and answers its status and history. */
async function finishedExecution(transferId: string): Promise<{ status: string; events: HistoryEvent[] }> {
  const arn = executionArn(t.stack, transferId);
  const status = await poll(`the execution of ${transferId} to end`, async () => {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    return described.status === 'RUNNING' ? undefined : described.status;
  });
  const events = await executionHistory(sfn, arn);
  return { status: status ?? 'UNKNOWN', events };
}

/** What a Task state did, attempt by attempt: how often it succeeded, and the errors it failed with. */
function taskResults(events: readonly HistoryEvent[], stateName: string): { succeeded: number; failed: string[] } {
  let current: string | undefined;
  const result = { succeeded: 0, failed: [] as string[] };
  for (const event of events) {
    const type: string = event.type ?? '';
    if (event.stateEnteredEventDetails?.name !== undefined) current = event.stateEnteredEventDetails.name;
    if (current !== stateName) continue;
    if (type === 'TaskSucceeded' || type === 'LambdaFunctionSucceeded') result.succeeded += 1;
    if (type === 'TaskFailed') result.failed.push(event.taskFailedEventDetails?.error ?? '');
    if (type === 'LambdaFunctionFailed') result.failed.push(event.lambdaFunctionFailedEventDetails?.error ?? '');
  }
  return result;
}

function statesEntered(events: readonly HistoryEvent[]): string[] {
  return events.map((e) => e.stateEnteredEventDetails?.name).filter((name): name is string => name !== undefined);
}

function transferPartitions(items: readonly Record<string, unknown>[]): Set<string> {
  return new Set(items.map((item) => String(item.pk)).filter((pk) => pk.startsWith('TRANSFER#')));
}

function pageTitle(html: string): string {
  return /<h1>([^<]*)<\/h1>/.exec(html)?.[1] ?? '';
}

// ---------------------------------------------------------------------------------------------

describe('races between users', () => {
  it('lets exactly one of ten simultaneous requests for one customer through, from either partner', async () => {
    const customerId = 'C-A05';
    const executionsBefore = await executionNames();
    const partitionsBefore = transferPartitions(await scanTable(db, t.stack.tableName));

    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        t.client.call('POST', '/transfers', i % 2 === 0 ? acme : blue, {
          customerIds: [customerId],
          toPartnerId: 'P-BLUE',
          note: `Simultaneous request ${i}`,
        }),
      ),
    );

    const summary = answers.map((a) => `${a.status} ${errorCode(a) ?? ''}`.trim());
    const created = answers.filter((a) => a.status === 201);
    expect(created, summary.join(', ')).toHaveLength(1);
    const rejected = answers.filter((a) => a.status !== 201);
    expect(rejected.map((a) => a.status), summary.join(', ')).toEqual(Array(9).fill(409));
    expect(rejected.map(errorCode)).toEqual(Array(9).fill('CUSTOMER_BUSY'));
    for (const answer of rejected) expect(String((answer.body as ErrorBody).error.message)).toContain(customerId);
    const winner = (created[0]?.body as TransferView).id;

    // Exactly one transfer of that customer, exactly one execution, and nothing of the losers in the table.
    const listed = await t.client.call('GET', '/transfers?limit=100', operator);
    expect(listed.status).toBe(200);
    const items = (listed.body as { items: (TransferView & { customers: { id: string }[] })[] }).items;
    expect(items.filter((item) => item.customers.some((c) => c.id === customerId)).map((item) => item.id)).toEqual([winner]);

    const executionsAfter = await executionNames();
    expect(executionsAfter.filter((name) => !executionsBefore.includes(name))).toEqual([winner]);

    const table = await scanTable(db, t.stack.tableName);
    expect([...transferPartitions(table)].filter((pk) => !partitionsBefore.has(pk))).toEqual([`TRANSFER#${winner}`]);
    const claims = table.filter((item) => item.pk === `CUSTOMER#${customerId}` && item.sk === 'CLAIM');
    expect(claims.map((claim) => claim.transferId)).toEqual([winner]);
    // One snapshot of the customer's domains, the winner's: the losers' were deleted with their cancelled transactions.
    expect(table.filter((item) => item.kind === 'transfer-customer' && item.customerId === customerId).map((item) => item.pk)).toEqual([`TRANSFER#${winner}`]);
  });

  type Channel = 'api' | 'link';
  type Decision = 'accept' | 'decline';
  const ROUNDS: { customerId: string; accept: Channel; decline: Channel }[] = [
    { customerId: 'C-A11', accept: 'api', decline: 'link' },
    { customerId: 'C-A12', accept: 'api', decline: 'api' },
    { customerId: 'C-A13', accept: 'link', decline: 'api' },
  ];

  it.each(ROUNDS)(
    'records exactly one of an accept ($accept) and a decline ($decline) sent at the same time for $customerId',
    async ({ customerId, accept, decline }) => {
      const before = await getCustomer(customerId);
      const since = nowSeconds();
      const transfer = await createTransfer(
        acme,
        { customerIds: [customerId], toPartnerId: 'P-BLUE', release: { transferDate: 'immediate', signedBy: 'Alice Smith' } },
        'AWAITING_ACCEPTANCE',
      );
      const link = await approvalLinkFor(t, 'partners@bluewave.example', transfer.id, since, poll);

      const send = async (decision: Decision, channel: Channel): Promise<{ decision: Decision; channel: Channel; status: number; text: string }> => {
        const fields: Record<string, string> =
          decision === 'accept'
            ? { decision: 'accept', signedBy: 'Dana Lee' }
            : { decision: 'decline', signedBy: 'Dana Lee', reason: 'We cannot take this customer on after all' };
        if (channel === 'link') {
          const answer = await t.client.postForm(link, { ...fields, acknowledge: 'on' });
          return { decision, channel, status: answer.status, text: answer.html };
        }
        const answer = await t.client.call('POST', `/transfers/${transfer.id}/acceptance`, blue, fields);
        return { decision, channel, status: answer.status, text: JSON.stringify(answer.body) };
      };
      const answers = await Promise.all([send('accept', accept), send('decline', decline)]);

      const label = answers.map((a) => `${a.decision} via ${a.channel}: ${a.status} ${a.text.slice(0, 200)}`).join(' | ');
      const won = answers.filter((a) => a.status === 200);
      expect(won, label).toHaveLength(1);
      const lost = answers.find((a) => a.status !== 200);
      expect(lost?.status, label).toBe(409);
      if (lost?.channel === 'api') expect(['ALREADY_DECIDED', 'NOT_WAITING'], label).toContain((JSON.parse(lost.text) as ErrorBody).error.code);
      const winner = won[0]?.decision;

      const done = await t.client.waitForStatus(transfer.id, operator, ['COMPLETED', 'DECLINED', 'FAILED'], 20_000);
      const decisions = done.history.filter((e) => e.detail.step === 'acceptance' && (e.type === 'ACCEPTED' || e.type === 'DECLINED'));
      expect(decisions.map((e) => e.type), label).toEqual([winner === 'accept' ? 'ACCEPTED' : 'DECLINED']);
      expect(decisions[0]?.detail.via).toBe(won[0]?.channel);

      const execution = await finishedExecution(transfer.id);
      expect(execution.status).toBe('SUCCEEDED');
      const wait = taskResults(execution.events, ACCEPTANCE_WAIT);
      const entered = statesEntered(execution.events);
      const after = await getCustomer(customerId);
      if (winner === 'accept') {
        expect(done.status).toBe('COMPLETED');
        expect(wait).toEqual({ succeeded: 1, failed: [] });
        expect(entered).toContain('Transfer completed');
        expect(entered).not.toContain('Transfer declined');
        expect(done.history.some((e) => e.type === 'DECLINED')).toBe(false);
        expect(after).toEqual({ ...before, partnerId: 'P-BLUE' });
      } else {
        expect(done.status).toBe('DECLINED');
        expect(wait).toEqual({ succeeded: 0, failed: ['TransferDeclined'] });
        expect(entered).toContain('Transfer declined');
        expect(entered).not.toContain('Transfer completed');
        expect(entered).not.toContain('Re-home customers');
        expect(done.history.some((e) => e.type === 'CUSTOMER_MOVED' || e.type === 'COMPLETED')).toBe(false);
        expect(after).toEqual(before);
      }
    },
  );

  it('answers a double-submitted form twice with the one decision it recorded', async () => {
    const customerId = 'C-A14';
    const since = nowSeconds();
    const transfer = await createTransfer(blue, { customerIds: [customerId], toPartnerId: 'P-BLUE', requestedDate: 'immediate' }, 'AWAITING_RELEASE');
    const link = await approvalLinkFor(t, 'billing@acme-it.example', transfer.id, since, poll);

    const form = { decision: 'release', transferDate: '', immediate: 'on', signedBy: 'Alice Smith', acknowledge: 'on' };
    const answers = await Promise.all([t.client.postForm(link, form), t.client.postForm(link, form)]);

    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers.map((a) => pageTitle(a.html)).sort()).toEqual(['This decision was already recorded', 'Your decision has been recorded']);
    for (const answer of answers) {
      expect(answer.html).toContain('Alice Smith');
      expect(answer.html).toContain('Released');
      expect(answer.html).toContain(`I, Alice Smith, am authorised to act for Acme IT Services`);
    }

    const done = await t.client.waitForStatus(transfer.id, operator, ['COMPLETED', 'FAILED'], 20_000);
    expect(done.status).toBe('COMPLETED');
    expect(done.history.filter((e) => e.type === 'RELEASED')).toHaveLength(1);
    const execution = await finishedExecution(transfer.id);
    expect(execution.status).toBe('SUCCEEDED');
    expect(taskResults(execution.events, RELEASE_WAIT)).toEqual({ succeeded: 1, failed: [] });
  });

  it('lets a cancel and the start of re-homing race, and leaves each transfer wholly one way or the other', async () => {
    const date = addDays(today, 3);
    const customerIds = ['C-A21', 'C-A22', 'C-A23', 'C-A24', 'C-A25', 'C-A26', 'C-A27', 'C-A28', 'C-A29'];
    const before = new Map(await Promise.all(customerIds.map(async (id) => [id, await getCustomer(id)] as const)));

    /** A transfer agreed for a future date: it sleeps (capped at 1 s locally) and then re-homes. Resolves when the acceptance is answered. */
    const agreed = async (customerId: string): Promise<{ id: string; acceptedAt: number }> => {
      const since = nowSeconds();
      const transfer = await createTransfer(
        acme,
        { customerIds: [customerId], toPartnerId: 'P-BLUE', release: { transferDate: date, signedBy: 'Alice Smith' } },
        'AWAITING_ACCEPTANCE',
      );
      await approvalLinkFor(t, 'partners@bluewave.example', transfer.id, since, poll);
      const accepted = await t.client.call('POST', `/transfers/${transfer.id}/acceptance`, blue, { decision: 'accept', signedBy: 'Dana Lee' });
      expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
      return { id: transfer.id, acceptedAt: Date.now() };
    };

    // Calibration: how long after the acceptance is answered does re-homing begin?
    const [first, ...racing] = customerIds as [string, ...string[]];
    const calibration = await agreed(first);
    const calibrated = await t.client.waitForStatus(calibration.id, operator, ['COMPLETED', 'FAILED'], 20_000);
    expect(calibrated.status).toBe('COMPLETED');
    const started = calibrated.history.find((e) => e.type === 'REHOME_STARTED');
    const measured = Date.parse(started?.at ?? '') - calibration.acceptedAt;
    const offset = Number.isFinite(measured) ? Math.max(200, measured) : 1_200;

    // Cancels spread around that instant, one per transfer, all running at the same time.
    const shifts = [-450, -250, -120, -40, 0, 40, 120, 300];
    const outcomes = await Promise.all(
      racing.map(async (customerId, index) => {
        const { id, acceptedAt } = await agreed(customerId);
        const delay = acceptedAt + offset + (shifts[index] ?? 0) - Date.now();
        if (delay > 0) await sleep(delay);
        const cancel = await t.client.call('POST', `/transfers/${id}/cancel`, blue, { reason: 'Changed our minds at the last minute' });
        const execution = await finishedExecution(id);
        const [asPrevious, asNew, claim] = await Promise.all([
          t.client.call('GET', `/customers/${customerId}`, acme),
          t.client.call('GET', `/customers/${customerId}`, blue),
          db.send(new GetCommand({ TableName: t.stack.tableName, Key: { pk: `CUSTOMER#${customerId}`, sk: 'CLAIM' }, ConsistentRead: true })),
        ]);
        return {
          customerId,
          id,
          cancel,
          execution,
          transfer: await getTransfer(id),
          customer: await getCustomer(customerId),
          seenBy: { previous: asPrevious.status, new: asNew.status },
          claim: claim.Item,
        };
      }),
    );

    const tally = { CANCELLED: 0, COMPLETED: 0 };
    for (const { customerId, id, cancel, execution, transfer, customer, seenBy, claim } of outcomes) {
      const label = `${id} (${customerId}): cancel ${cancel.status} ${JSON.stringify(cancel.body).slice(0, 200)}, ${transfer.status}, owner ${customer.partnerId}`;
      const original = before.get(customerId);
      const moved = transfer.history.filter((e) => e.type === 'CUSTOMER_MOVED');
      if (cancel.status === 200) {
        tally.CANCELLED += 1;
        expect(transfer.status, label).toBe('CANCELLED');
        expect(customer, label).toEqual(original);
        expect(seenBy, label).toEqual({ previous: 200, new: 404 });
        expect(moved, label).toEqual([]);
        expect(transfer.history.some((e) => e.type === 'COMPLETED' || e.type === 'IN_PROGRESS'), label).toBe(false);
        expect(['ABORTED', 'SUCCEEDED'], label).toContain(execution.status);
        expect(statesEntered(execution.events), label).not.toContain('Transfer completed');
      } else {
        tally.COMPLETED += 1;
        expect(cancel.status, label).toBe(409);
        expect(errorCode(cancel), label).toBe('REHOMING_BEGAN');
        expect(transfer.status, label).toBe('COMPLETED');
        expect(customer, label).toEqual({ ...original, partnerId: 'P-BLUE' });
        expect(seenBy, label).toEqual({ previous: 404, new: 200 });
        expect(moved.map((e) => e.detail.customerId), label).toEqual([customerId]);
        expect(transfer.history.some((e) => e.type === 'CANCELLED'), label).toBe(false);
        expect(execution.status, label).toBe('SUCCEEDED');
      }
      // Either way the customer is free again: no claim is left behind.
      expect(claim, label).toBeUndefined();
    }
    // Both outcomes are expected around the wake-up, but the timing is the machine's: only report it.
    console.info(`cancel vs re-home (offset ${offset} ms): ${tally.CANCELLED} cancelled, ${tally.COMPLETED} completed`);
  }, 45_000);
});
