import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_SOURCE } from '../../lambdas/domain/events.ts';
import { eventBusName } from '../../lib/event-relay.ts';
import type { BusEvent } from '../../local/eventbridge/server.ts';
import { STACK_NAME } from '../../local/lambda-runtime/deployed-functions.ts';
import type { TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { createTransfer, daysAfter, decide as decideAs, documentClient, failedMove, FULL_TRANSFER_EVENTS, fullTransfer as fullTransferOf, poller, scanTable, todayInNewYork } from './support.ts';

/**
 * Transfer events on the local stack as on AWS: the outbox items each change writes go through the
 * table's stream (the local poller, with the event source mapping's filter, batching and retries) to
 * the relay function's bundle, which publishes them to the local EventBridge bus. Each status change
 * and consent arrives once, in order, with the transfer's summary; nothing else is published; a bus
 * that fails (an entry, or whole requests) delays events but never loses, repeats or reorders them.
 */

// Each waiting step waits 8 s (time for a loaded machine to answer a few calls in it), with a reminder
// every 2 s; the sleep until the transfer date is capped at 3 s, so that a customer can change hands
// behind a scheduled transfer's back.
const WINDOW_SECONDS = 8;
const SLEEP_SECONDS = 3;
const BUS = eventBusName(STACK_NAME);

let t: TestStack;
let db: DynamoDBDocumentClient;
let acme: string;
let blue: string;
let operator: string;
/** Delays from a change (its event's occurredAt) to the bus's receipt, in ms, outside fault injection. */
const delays: number[] = [];

const poll = poller(30_000, 100);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  t = await startTestStack({
    seedFile: TEST_DIRECTORY,
    maxWaitSeconds: SLEEP_SECONDS,
    env: { TRANSFER_APPROVAL_WINDOW_SECONDS: String(WINDOW_SECONDS), TRANSFER_REMINDER_INTERVAL_SECONDS: '2' },
  });
  db = documentClient(t.stack);
  acme = await t.token({ partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
  blue = await t.token({ partnerId: 'P-BLUE', subject: 'bob@bluewave.example' });
  operator = await t.token('operator');
});

afterAll(async () => {
  db?.destroy();
  await t?.stop();
});

interface TransferEventDetail {
  id: string;
  type: string;
  occurredAt: string;
  transferId: string;
  transfer: Record<string, unknown> & { id: string; status: string };
}

type TransferBusEvent = BusEvent & { detail: TransferEventDetail };

/** Every event the local bus accepted, in order, as GET /events lists them. */
async function busEvents(): Promise<TransferBusEvent[]> {
  const response = await fetch(`${t.stack.urls.events}/events`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { events: TransferBusEvent[] }).events;
}

async function eventsOfTransfer(transferId: string): Promise<TransferBusEvent[]> {
  return (await busEvents()).filter((event) => event.detail.transferId === transferId);
}

/** The outbox items in the table, by event id. */
async function outboxItems(): Promise<Map<string, Record<string, unknown>>> {
  const items = (await scanTable(db, t.stack.tableName)).filter((item) => item.kind === 'outbox');
  return new Map(items.map((item) => [String((item.event as { id?: string } | undefined)?.id), item]));
}

/**
 * Waits until the transfer's events on the bus are as many as expected, then holds them to the
 * contract: these types in this order, each once, each an EventBridge event of the product's source
 * with the event itself (and the transfer's summary, no history) as its detail, each outbox item marked.
 */
async function expectPublished(transferId: string, types: string[], status: string[], options: { timed?: boolean } = {}): Promise<TransferBusEvent[]> {
  const events = await poll(`${types.length} events of ${transferId} on the bus`, async () => {
    const found = await eventsOfTransfer(transferId);
    return found.length >= types.length ? found : undefined;
  });
  expect(events.map((event) => event['detail-type']), JSON.stringify(events.map((e) => e['detail-type']))).toEqual(types);
  expect(events.map((event) => event.detail.transfer.status)).toEqual(status);
  expect(new Set(events.map((event) => event.detail.id)).size).toBe(types.length);
  // The relay marks an event once the bus has taken it: a moment after it is on the bus.
  const outbox = await poll(`the outbox items of ${transferId} marked relayed`, async () => {
    const items = await outboxItems();
    return events.every((event) => typeof items.get(event.detail.id)?.relayedAt === 'string') ? items : undefined;
  });
  for (const event of events) {
    expect(event).toMatchObject({ source: EVENT_SOURCE, eventBusName: BUS, account: '000000000000', region: 'us-east-1' });
    expect(Object.keys(event.detail).sort()).toEqual(['id', 'occurredAt', 'transfer', 'transferId', 'type']);
    expect(event.detail).toMatchObject({ type: event['detail-type'], transferId });
    expect(event.detail.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(event.detail.transfer.id).toBe(transferId);
    expect(event.detail.transfer).not.toHaveProperty('history');
    expect(event.detail.transfer).toHaveProperty('fromPartner');
    // The bus states the change's time, to the second.
    expect(event.time).toBe(`${event.detail.occurredAt.slice(0, 19)}Z`);
    if (options.timed !== false) delays.push(Date.parse(event.receivedAt) - Date.parse(event.detail.occurredAt));
  }
  // Exactly the events the changes wrote: every outbox item of the transfer, no more.
  const written = [...outbox.values()].filter((item) => (item.event as TransferEventDetail).transferId === transferId);
  expect(written.map((item) => (item.event as TransferEventDetail).id).sort()).toEqual(events.map((event) => event.detail.id).sort());
  return events;
}

const decide = (id: string, step: 'release' | 'acceptance', token: string, body: Record<string, unknown>) => decideAs(t, id, step, token, body);
const fullTransfer = (customerId: string) => fullTransferOf(t, customerId, { acme, blue });

const FULL_TRANSFER = FULL_TRANSFER_EVENTS;
const FULL_TRANSFER_STATUS = ['AWAITING_RELEASE', 'AWAITING_ACCEPTANCE', 'SCHEDULED', 'SCHEDULED', 'COMPLETED'];

/** Waits until the relay has caught up: every outbox item written so far is marked relayed. */
async function relayCaughtUp(): Promise<Map<string, Record<string, unknown>>> {
  return poll('the relay to catch up', async () => {
    const outbox = await outboxItems();
    return [...outbox.values()].every((item) => typeof item.relayedAt === 'string') ? outbox : undefined;
  });
}

describe.concurrent('transfer events on the local bus', () => {
  it('publishes a full transfer as requested, released, accepted, scheduled, completed, in order, each once', async () => {
    const id = await fullTransfer('C-A01');
    await expectPublished(id, FULL_TRANSFER, FULL_TRANSFER_STATUS);
  });

  it('publishes a decline once', async () => {
    const created = await createTransfer(t, acme, { customerIds: ['C-A02'], toPartnerId: 'P-BLUE' });
    await decide(created.id, 'release', acme, { decision: 'decline', reasonCode: 'CONTRACT_IN_FORCE', reason: 'Term runs to June', signedBy: 'Alice Smith' });
    const [, declined] = await expectPublished(created.id, ['transfer.requested', 'transfer.declined'], ['AWAITING_RELEASE', 'DECLINED']);
    expect(declined?.detail.transfer).toMatchObject({ decline: { step: 'release', reasonCode: 'CONTRACT_IN_FORCE' } });
  });

  it('publishes a cancellation once', async () => {
    const created = await createTransfer(t, acme, { customerIds: ['C-A03'], toPartnerId: 'P-BLUE' });
    const cancelled = await t.client.call('POST', `/transfers/${created.id}/cancel`, blue, { reason: 'Filed by mistake' });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    await expectPublished(created.id, ['transfer.requested', 'transfer.cancelled'], ['AWAITING_RELEASE', 'CANCELLED']);
  });

  it('publishes an expiry once, and nothing for the reminders before it', async () => {
    const created = await createTransfer(t, acme, { customerIds: ['C-A04'], toPartnerId: 'P-BLUE', requestedDate: daysAfter(todayInNewYork(), 5) });
    const expired = await t.client.waitForStatus(created.id, acme, ['EXPIRED'], (WINDOW_SECONDS + 15) * 1000);
    expect(expired.history.filter((event) => event.type === 'REMINDER_SENT').length).toBeGreaterThanOrEqual(1);
    await expectPublished(created.id, ['transfer.requested', 'transfer.expired'], ['AWAITING_RELEASE', 'EXPIRED']);
  });

  it('publishes a failed move once', async () => {
    const failed = await failedMove(t, db, ['C-A05', 'C-A06'], { acme, blue });
    await expectPublished(
      failed.id,
      ['transfer.requested', 'transfer.released', 'transfer.accepted', 'transfer.scheduled', 'transfer.failed'],
      ['AWAITING_ACCEPTANCE', 'AWAITING_ACCEPTANCE', 'SCHEDULED', 'SCHEDULED', 'FAILED'],
    );
  });

  it('publishes nothing for a reminder or an extension', async () => {
    const created = await createTransfer(t, acme, { customerIds: ['C-A07'], toPartnerId: 'P-BLUE', requestedDate: daysAfter(todayInNewYork(), 5) });
    await expectPublished(created.id, ['transfer.requested'], ['AWAITING_RELEASE']);
    const reminded = await t.client.call('POST', `/transfers/${created.id}/remind`, operator, { ticketId: 'SUP-1001' });
    expect(reminded.status, JSON.stringify(reminded.body)).toBe(200);
    const extended = await t.client.call('POST', `/transfers/${created.id}/extend`, operator, { ticketId: 'SUP-1002', days: 1 });
    expect(extended.status, JSON.stringify(extended.body)).toBe(200);
    // Longer than the batching window, and than the workflow's reminder interval: the changes and the
    // reminder they lead to are in the table and past the relay, which let none of them through.
    await sleep(3_500);
    await relayCaughtUp();
    await expectPublished(created.id, ['transfer.requested'], ['AWAITING_RELEASE'], { timed: false });
    const view = await t.client.call('GET', `/transfers/${created.id}`, operator);
    expect((view.body as TransferView).history.map((event) => event.type)).toEqual(expect.arrayContaining(['REMINDER_SENT', 'WINDOW_EXTENDED']));
  });
});

describe('a failing bus', () => {
  it('loses, repeats and reorders nothing when the first PutEvents fails its entry', async () => {
    await relayCaughtUp();
    const before = t.stack.eventBridge.injected.entry;
    t.stack.eventBridge.failNext(1);
    const created = await createTransfer(t, acme, { customerIds: ['C-A08'], toPartnerId: 'P-BLUE', requestedDate: daysAfter(todayInNewYork(), 3) });
    // Refused once, the request's event is handed again (after a backoff) before anything later.
    await poll('the request on the bus', async () => ((await eventsOfTransfer(created.id)).length > 0 ? true : undefined));
    expect(t.stack.eventBridge.injected.entry - before).toBe(1);
    await decide(created.id, 'release', acme, { decision: 'release', transferDate: 'immediate', signedBy: 'Alice Smith' });
    await decide(created.id, 'acceptance', blue, { decision: 'accept', signedBy: 'Bob Wave' });
    await t.client.waitForStatus(created.id, acme, ['COMPLETED'], 30_000);
    await expectPublished(created.id, FULL_TRANSFER, FULL_TRANSFER_STATUS, { timed: false });
  });

  it('loses and repeats nothing when one entry of a PutEvents of several fails; the refused one goes before any later batch', async () => {
    await relayCaughtUp();
    const before = t.stack.eventBridge.injected.entry;
    t.stack.eventBridge.failNext(1);
    // Request, release and acceptance within the batching window (usually one PutEvents of four entries);
    // the move comes after the sleep until the date, in a later batch.
    const created = await createTransfer(t, acme, { customerIds: ['C-A10'], toPartnerId: 'P-BLUE' });
    await decide(created.id, 'release', acme, { decision: 'release', transferDate: daysAfter(todayInNewYork(), 3), signedBy: 'Alice Smith' });
    await decide(created.id, 'acceptance', blue, { decision: 'accept', signedBy: 'Bob Wave' });
    await t.client.waitForStatus(created.id, acme, ['COMPLETED'], 30_000);
    const events = await poll(`the events of ${created.id}`, async () => {
      const found = await eventsOfTransfer(created.id);
      return found.length >= FULL_TRANSFER.length ? found : undefined;
    });
    expect(t.stack.eventBridge.injected.entry - before).toBe(1);
    const types = events.map((event) => event['detail-type']);
    expect([...types].sort()).toEqual([...FULL_TRANSFER].sort());
    // The bus took the others of that request at once (the relay marks them, so they are not sent
    // again); the refused one follows them, and the batches after it wait until it is out.
    expect(types.filter((type) => type !== 'transfer.requested')).toEqual(FULL_TRANSFER.slice(1));
    expect(types.at(-1)).toBe('transfer.completed');
    await relayCaughtUp();
  });

  it('loses, repeats and reorders nothing when whole PutEvents requests fail (the relay throws, the batch is retried)', async () => {
    await relayCaughtUp();
    const before = t.stack.eventBridge.injected.request;
    // More than the SDK's three attempts in one invocation: the relay fails, and the batch is tried again.
    t.stack.eventBridge.failNext(4, 'request');
    const id = await fullTransfer('C-A09');
    await expectPublished(id, FULL_TRANSFER, FULL_TRANSFER_STATUS, { timed: false });
    expect(t.stack.eventBridge.injected.request - before).toBe(4);
  });
});

describe('the bus as a whole', () => {
  it('holds each outbox event exactly once, all relayed, and the delay is measured', async () => {
    const outbox = await relayCaughtUp();
    await sleep(1_500);
    const events = await busEvents();
    const ids = events.map((event) => event.detail.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual([...outbox.keys()].sort());
    const sorted = [...delays].sort((a, b) => a - b);
    const p50 = sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
    console.log(`Change to bus, locally: p50 ${p50} ms over ${sorted.length} events (min ${sorted[0]} ms, max ${sorted.at(-1)} ms)`);
    expect(sorted.length).toBeGreaterThanOrEqual(15);
    // The mapping gathers records for up to a second before it invokes the relay.
    expect(p50).toBeLessThan(5_000);
  });
});
