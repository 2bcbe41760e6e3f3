import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  RedriveExecutionCommand,
  type HistoryEvent as SfnEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEmail, TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { daysAfter, documentClient, executionArn, sfnClient, todayInNewYork } from './support.ts';

/**
 * What happens when re-homing or its confirmations go wrong: a customer that can no longer be moved
 * (fixed by an operator, then redriven), DynamoDB briefly unreachable, SES unreachable.
 */

const SLEEP_SECONDS = 3;
const REHOME = 'Re-home customers';
const CONFIRM = 'Send confirmations';
const CONFIRMATION_CATCH = 'Record confirmation failure and alert operators';
const DEVOPS = 'devops@example.com';

let t: TestStack;
let sfn: SFNClient;
let db: DynamoDBDocumentClient;

beforeAll(async () => {
  t = await startTestStack({ seedFile: TEST_DIRECTORY, maxWaitSeconds: SLEEP_SECONDS, maxRetryIntervalMs: 200, faultProxies: true });
  sfn = sfnClient(t.stack);
  // Straight to DynamoDB Local, as an operator in the console would: never through the fault proxy.
  db = documentClient(t.stack);
});

afterAll(async () => {
  t?.stack.faults?.dynamodb.restore();
  t?.stack.faults?.ses.restore();
  sfn?.destroy();
  db?.destroy();
  await t?.stop();
});

type Outcome = { customerId: string; outcome: string; reason?: string };
type Transfer = TransferView & { outcomes?: Outcome[] };
type Item = Record<string, unknown>;

function faults(): NonNullable<TestStack['stack']['faults']> {
  const { faults } = t.stack;
  if (!faults) throw new Error('The stack was started without fault proxies');
  return faults;
}

async function history(transferId: string): Promise<SfnEvent[]> {
  const events: SfnEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn: executionArn(t.stack, transferId), maxResults: 1000, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** Polls the execution history (never the API, which may be cut off from DynamoDB) until `found` answers. */
async function waitForHistory<T>(transferId: string, what: string, found: (events: SfnEvent[]) => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const result = found(await history(transferId));
    if (result !== undefined) return result;
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
  throw new Error(`No ${what} in the execution history of ${transferId} within ${timeoutMs / 1000} s`);
}

async function waitForExecution(transferId: string, statuses: string[], timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: executionArn(t.stack, transferId) }));
    if (described.status !== undefined && statuses.includes(described.status)) return described;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Execution ${transferId} did not become ${statuses.join(' or ')} within ${timeoutMs / 1000} s`);
}

const enteredState = (name: string) => (event: SfnEvent) => event.type?.endsWith('StateEntered') === true && event.stateEnteredEventDetails?.name === name;

/** The events of the first visit of a Task state, from its StateEntered to its StateExited (or the latest event). */
function taskVisit(events: SfnEvent[], name: string): SfnEvent[] {
  const start = events.findIndex(enteredState(name));
  if (start < 0) return [];
  const end = events.findIndex((event, index) => index > start && event.type === 'TaskStateExited');
  return events.slice(start, end < 0 ? undefined : end + 1);
}

const attemptsIn = (visit: SfnEvent[]) => visit.filter((event) => event.type === 'TaskScheduled' || event.type === 'LambdaFunctionScheduled');
const failedAttemptsIn = (visit: SfnEvent[]) => visit.filter((event) => event.type === 'TaskFailed' || event.type === 'LambdaFunctionFailed');
const errorOf = (failed: SfnEvent) => (failed.taskFailedEventDetails ?? failed.lambdaFunctionFailedEventDetails)?.error;

/** A failed attempt of the state, followed by another attempt: the state machine's Retry at work. */
function retried(name: string) {
  return (events: SfnEvent[]): SfnEvent[] | undefined => {
    const visit = taskVisit(events, name);
    return failedAttemptsIn(visit).length >= 1 && attemptsIn(visit).length >= 2 ? visit : undefined;
  };
}

/** The instant the sleep until the transfer date began. */
function sleepStarted(transferId: string): Promise<number> {
  return waitForHistory(transferId, 'sleep until the transfer date', (events) => events.find(enteredState('Sleep until transfer date'))?.timestamp?.getTime());
}

async function pauseUntil(epochMs: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, epochMs - Date.now())));
}

/** Acme releases up front for a date a few days ahead, the new partner accepts through the API: the transfer is scheduled. */
async function scheduleFromAcme(customerIds: string[], toPartnerId: string): Promise<string> {
  const acme = await t.token({ partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
  const transferDate = daysAfter(todayInNewYork(), 3);
  const created = await t.client.call('POST', '/transfers', acme, {
    customerIds,
    toPartnerId,
    release: { transferDate, signedBy: 'Alice Smith' },
  });
  expect(created.status).toBe(201);
  const id = (created.body as TransferView).id;
  const accepted = await t.client.call('POST', `/transfers/${id}/acceptance`, await t.token({ partnerId: toPartnerId }), {
    decision: 'accept',
    signedBy: 'Bob Jones',
  });
  expect(accepted.status).toBe(200);
  expect((accepted.body as TransferView).status).toBe('SCHEDULED');
  return id;
}

async function customerItems(customerId: string): Promise<Item[]> {
  const result = await db.send(
    new QueryCommand({
      TableName: t.stack.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `CUSTOMER#${customerId}` },
      ConsistentRead: true,
    }),
  );
  return result.Items ?? [];
}

/** Ownership, settings, domains and users: what the mail flow and the portal read. */
const directoryItem = (item: Item) => /^(OWNER|SETTINGS|DOMAIN#|USER#)/.test(String(item.sk));

async function setOwner(customerId: string, partnerId: string, by: string): Promise<void> {
  await db.send(
    new UpdateCommand({
      TableName: t.stack.tableName,
      Key: { pk: `CUSTOMER#${customerId}`, sk: 'OWNER' },
      UpdateExpression: 'SET partnerId = :partner, updatedAt = :at, changedBy = :by',
      ExpressionAttributeValues: { ':partner': partnerId, ':at': new Date().toISOString(), ':by': by },
    }),
  );
}

async function transfer(id: string): Promise<Transfer> {
  const answer = await t.client.call('GET', `/transfers/${id}`, await t.token('operator'));
  expect(answer.status).toBe(200);
  return answer.body as Transfer;
}

const ofType = (view: TransferView, type: string) => view.history.filter((event) => event.type === type);

async function emailsTo(recipient: string, transferId: string, since: number): Promise<StoredEmail[]> {
  return (await t.client.emails(since)).filter((email) => email.destination.to.includes(recipient) && email.subject.includes(transferId));
}

describe('re-homing failures', () => {
  it('fails for good when a customer has changed hands, leaves that customer alone, alerts DevOps, and completes once redriven', async () => {
    const since = Date.now() / 1000 - 1;
    const id = await scheduleFromAcme(['C-A01', 'C-A02'], 'P-BLUE');
    await sleepStarted(id);

    // While the workflow sleeps, C-A02 moves to another partner behind the system's back.
    await setOwner('C-A02', 'P-CORAL', 'console-test');
    const leftByTest = (await customerItems('C-A02')).filter(directoryItem);
    expect(leftByTest.find((item) => item.sk === 'OWNER')).toMatchObject({ partnerId: 'P-CORAL', changedBy: 'console-test' });
    expect(leftByTest.map((item) => String(item.sk)).sort()).toEqual([
      'DOMAIN#c-a02.example',
      'DOMAIN#mail.c-a02.example',
      'OWNER',
      'SETTINGS',
      'USER#admin@c-a02.example',
      'USER#it@c-a02.example',
    ]);

    const failed = await t.client.waitForStatus(id, await t.token('operator'), ['FAILED', 'COMPLETED'], 20_000);
    expect(failed.status).toBe('FAILED');
    const outcomes = (failed as Transfer).outcomes;
    expect(outcomes).toEqual([
      { customerId: 'C-A01', outcome: 'moved' },
      { customerId: 'C-A02', outcome: 'failed', reason: expect.stringContaining('no longer owned by P-ACME') },
    ]);
    const failedEvents = ofType(failed, 'FAILED');
    expect(failedEvents).toHaveLength(1);
    expect(failedEvents[0]?.detail).toEqual({ error: '1 of 2 customers could not be moved: C-A02', outcomes });
    expect(ofType(failed, 'CUSTOMER_MOVED').map((event) => event.detail.customerId)).toEqual(['C-A01']);

    // C-A02 is exactly as the test left it: no write, no audit event, and no claim holds it any more.
    const after = await customerItems('C-A02');
    expect(after.filter(directoryItem)).toEqual(leftByTest);
    expect(after.filter((item) => !directoryItem(item))).toEqual([]);
    const blue = await t.token({ partnerId: 'P-BLUE' });
    expect(((await t.client.call('GET', '/customers/C-A01', blue)).body as { partnerId: string }).partnerId).toBe('P-BLUE');

    // DevOps hear of it, with each customer's outcome, in both parts of the email.
    const alerts = (await emailsTo(DEVOPS, id, since)).filter((email) => email.subject.startsWith('Action needed'));
    expect(alerts).toHaveLength(1);
    const alert = alerts[0];
    expect(alert?.subject).toBe(`Action needed: re-homing failed for transfer ${id} (Acme IT Services to Bluewave Networks)`);
    expect(alert?.body.text).toContain('1 of 2 customers could not be moved: C-A02');
    expect(alert?.body.text).toContain('  - Customer A01 (C-A01) | Moved');
    expect(alert?.body.text).toMatch(/ {2}- Customer A02 \(C-A02\) \| Failed \| no longer owned by P-ACME/);
    expect(alert?.body.html).toMatch(/<td[^>]*>Customer A02 \(C-A02\)<\/td><td[^>]*>Failed<\/td>/);

    // The execution stopped on the re-homing state itself, so it can be redriven from there.
    const described = await waitForExecution(id, ['FAILED']);
    expect(described).toMatchObject({ status: 'FAILED', error: 'RehomeFailed', redriveStatus: 'REDRIVABLE' });
    const events = await history(id);
    const lastEntered = events.filter((event) => event.type?.endsWith('StateEntered')).at(-1);
    expect(lastEntered?.stateEnteredEventDetails?.name).toBe(REHOME);
    expect(events.some((event) => event.type?.endsWith('StateExited') && event.stateExitedEventDetails?.name === REHOME)).toBe(false);
    expect(events.at(-1)?.type).toBe('ExecutionFailed');
    expect(events.at(-1)?.executionFailedEventDetails?.error).toBe('RehomeFailed');

    // The operator puts C-A02 back with its partner and redrives the execution.
    await setOwner('C-A02', 'P-ACME', 'console-test');
    const redriveSince = Date.now() / 1000 - 1;
    await sfn.send(new RedriveExecutionCommand({ executionArn: executionArn(t.stack, id) }));
    const redriven = await waitForExecution(id, ['SUCCEEDED', 'FAILED']);
    expect(redriven).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    const done = await transfer(id);
    expect(done.status).toBe('COMPLETED');
    expect(done.outcomes).toEqual([
      { customerId: 'C-A01', outcome: 'already-moved' },
      { customerId: 'C-A02', outcome: 'moved' },
    ]);
    // Each customer moved exactly once, over the two runs.
    expect(ofType(done, 'CUSTOMER_MOVED').map((event) => event.detail.customerId)).toEqual(['C-A01', 'C-A02']);
    expect(ofType(done, 'REHOME_REDRIVEN')).toHaveLength(1);
    for (const customerId of ['C-A01', 'C-A02']) {
      const customer = await t.client.call('GET', `/customers/${customerId}`, blue);
      expect(customer.status).toBe(200);
      expect((customer.body as { partnerId: string }).partnerId).toBe('P-BLUE');
      const audits = (await customerItems(customerId)).filter((item) => String(item.sk).startsWith('AUDIT#'));
      expect(audits.map((item) => [item.type, item.transferId, item.toPartnerId])).toEqual([['OWNERSHIP_MOVED', id, 'P-BLUE']]);
    }
    const confirmations = (await t.client.emails(redriveSince)).filter(
      (email) => email.subject.startsWith('Transfer completed') && email.subject.includes(id),
    );
    expect(confirmations.map((email) => email.destination.to).sort()).toEqual([
      ['billing@acme-it.example', 'ops@acme-it.example'],
      ['partners@bluewave.example'],
    ]);
  });

  it('retries the re-homing while DynamoDB is unreachable and moves each customer once when it is back', async () => {
    const id = await scheduleFromAcme(['C-A03', 'C-A04'], 'P-DUNE');
    const asleepAt = await sleepStarted(id);
    await pauseUntil(asleepAt + SLEEP_SECONDS * 1000 - 1000);
    faults().dynamodb.cut();
    let retrying: SfnEvent[] | undefined;
    try {
      retrying = await waitForHistory(id, `retry of "${REHOME}"`, retried(REHOME));
    } finally {
      faults().dynamodb.restore();
    }
    expect(failedAttemptsIn(retrying).map(errorOf)[0]).toBe('TransientError');

    const done = await t.client.waitForStatus(id, await t.token('operator'), ['COMPLETED', 'FAILED'], 20_000);
    expect(done.status).toBe('COMPLETED');
    expect((done as Transfer).outcomes).toEqual([
      { customerId: 'C-A03', outcome: 'moved' },
      { customerId: 'C-A04', outcome: 'moved' },
    ]);
    expect(ofType(done, 'CUSTOMER_MOVED').map((event) => event.detail.customerId)).toEqual(['C-A03', 'C-A04']);
    expect(ofType(done, 'REHOME_STARTED')).toHaveLength(1);
    const dune = await t.token({ partnerId: 'P-DUNE' });
    for (const customerId of ['C-A03', 'C-A04']) {
      expect(((await t.client.call('GET', `/customers/${customerId}`, dune)).body as { partnerId: string }).partnerId).toBe('P-DUNE');
    }

    // The state machine saw failed attempts of the same state, then one that succeeded.
    await waitForExecution(id, ['SUCCEEDED']);
    const visit = taskVisit(await history(id), REHOME);
    const failures = failedAttemptsIn(visit);
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(new Set(failures.map(errorOf))).toEqual(new Set(['TransientError']));
    expect(attemptsIn(visit)).toHaveLength(failures.length + 1);
    expect(visit.map((event) => event.type).slice(-2)).toEqual(['TaskSucceeded', 'TaskStateExited']);
  });

  it('keeps the move when the confirmations cannot be sent, records it and alerts DevOps', async () => {
    const since = Date.now() / 1000 - 1;
    const id = await scheduleFromAcme(['C-A05'], 'P-BLUE');
    const asleepAt = await sleepStarted(id);
    await pauseUntil(asleepAt + SLEEP_SECONDS * 1000 - 1000);
    faults().ses.cut();
    try {
      await waitForHistory(id, `catch of "${CONFIRM}" into "${CONFIRMATION_CATCH}"`, (events) => (events.some(enteredState(CONFIRMATION_CATCH)) ? true : undefined));
      // The alert cannot go out while SES is down either: SES comes back only once that step was retried too.
      await waitForHistory(id, `retry of "${CONFIRMATION_CATCH}"`, retried(CONFIRMATION_CATCH));
    } finally {
      faults().ses.restore();
    }

    const described = await waitForExecution(id, ['SUCCEEDED', 'FAILED']);
    expect(described.status).toBe('SUCCEEDED');
    const events = await history(id);
    // The confirmations were tried six times (the first attempt and its five retries), then caught.
    const sending = taskVisit(events, CONFIRM);
    expect(failedAttemptsIn(sending).map(errorOf)).toEqual(Array.from({ length: 6 }, () => 'TransientError'));
    expect(attemptsIn(sending)).toHaveLength(6);
    const statesEntered = events.filter((event) => event.type?.endsWith('StateEntered')).map((event) => event.stateEnteredEventDetails?.name);
    expect(statesEntered.slice(statesEntered.indexOf(REHOME))).toEqual([REHOME, CONFIRM, CONFIRMATION_CATCH, 'Transfer completed']);
    const recording = taskVisit(events, CONFIRMATION_CATCH);
    expect(failedAttemptsIn(recording).length).toBeGreaterThanOrEqual(1);
    expect(recording.map((event) => event.type).slice(-2)).toEqual(['TaskSucceeded', 'TaskStateExited']);

    const done = await transfer(id);
    expect(done.status).toBe('COMPLETED');
    expect(done.outcomes).toEqual([{ customerId: 'C-A05', outcome: 'moved' }]);
    // Recorded once, however often the step recording it ran.
    const recorded = ofType(done, 'CONFIRMATION_FAILED');
    expect(recorded).toHaveLength(1);
    expect(String(recorded[0]?.detail.error)).toMatch(/^TransientError/);
    expect(ofType(done, 'CONFIRMATIONS_SENT')).toEqual([]);
    const blue = await t.token({ partnerId: 'P-BLUE' });
    expect(((await t.client.call('GET', '/customers/C-A05', blue)).body as { partnerId: string }).partnerId).toBe('P-BLUE');

    const alerts = (await emailsTo(DEVOPS, id, since)).filter((email) => email.subject.startsWith('Action needed'));
    expect(alerts).toHaveLength(1);
    const alert = alerts[0];
    // The alert says what went wrong, and not that the move failed: the customer is with its new partner.
    expect(alert?.subject).toContain(id);
    expect(alert?.subject).not.toMatch(/re-homing failed/i);
    expect(alert?.body.text).toContain('Confirmations not sent: TransientError');
    expect(alert?.body.text).toContain('  - Customer A05 (C-A05) | Moved');
    expect(alert?.body.text).toContain('Status: Completed');
    expect(alert?.body.text).not.toMatch(/could not be completed|re-homing failed/i);
    expect(alert?.body.html).toMatch(/<td[^>]*>Customer A05 \(C-A05\)<\/td><td[^>]*>Moved<\/td>/);
    // No partner got a confirmation.
    expect((await t.client.emails(since)).filter((email) => email.subject.startsWith('Transfer completed') && email.subject.includes(id))).toEqual([]);
  });
});
