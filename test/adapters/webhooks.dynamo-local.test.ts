// Webhooks and their deliveries as the DynamoDB store keeps them, against Amazon's own emulator (DynamoDB Local):
// both items of a webhook written and removed together, the conditional claim and settle, and deliveries kept
// in their transfer's partition where reading the transfer never sees them.
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DELIVERY_RETENTION_SECONDS, DynamoWebhookStore } from '../../lambdas/adapters/dynamo-webhooks.ts';
import { DynamoTransferStore } from '../../lambdas/adapters/dynamo-transfer-store.ts';
import { keys } from '../../lambdas/adapters/table-keys.ts';
import { TTL_ATTRIBUTE } from '../../lambdas/adapters/table-schema.ts';
import { ConflictError } from '../../lambdas/domain/errors.ts';
import { EVENT_TYPES, type EventType, type TransferEvent } from '../../lambdas/domain/events.ts';
import { summaryOf, transferCustomer, type HistoryEvent, type Transfer } from '../../lambdas/domain/transfer.ts';
import type { WebhookAttempt } from '../../lambdas/domain/webhook-targets.ts';
import { newDelivery, type Delivery, type StoredWebhook, type WebhookTestEvent } from '../../lambdas/domain/webhooks.ts';
import { sampleTransfer } from '../unit/adapters/support.ts';
import { dynamoLocalTable } from './dynamo-local-table.ts';

const TABLE = 'customer-transfers-webhooks-test';
const AT = '2026-03-10T15:00:00.000Z';
const later = (seconds: number) => new Date(Date.parse(AT) + seconds * 1000).toISOString();

let db: DynamoDBDocumentClient;
let webhooks: DynamoWebhookStore;

dynamoLocalTable(TABLE, (table) => {
  db = table.db;
  webhooks = new DynamoWebhookStore(db, TABLE);
});

let serial = 0;
function webhook(partnerId: string | null, overrides: Partial<StoredWebhook> = {}): StoredWebhook {
  serial += 1;
  return {
    id: `wh_${serial.toString(16).padStart(32, '0')}`,
    partnerId,
    url: `https://hooks.${partnerId ?? 'provider'}.example/${serial}`,
    events: [...EVENT_TYPES],
    createdAt: AT,
    createdBy: { kind: 'partner', name: 'dev@example.test', ticketId: null },
    nonce: `nonce-${serial}`,
    ...overrides,
  };
}

function transferEvent(type: EventType, transferId: string, occurredAt = AT): TransferEvent {
  return { id: `evt_${type.slice('transfer.'.length)}_${transferId}`, type, occurredAt, transferId, transfer: summaryOf(sampleTransfer({ id: transferId })) };
}

const FAILED: WebhookAttempt = { ok: false, status: 500, error: 'The endpoint answered HTTP 500.', excerpt: 'oops', durationMs: 40 };
const OK: WebhookAttempt = { ok: true, status: 200, error: null, excerpt: 'thanks', durationMs: 20 };

async function rawItem(key: { pk: string; sk: string }): Promise<Record<string, unknown> | undefined> {
  return (await db.send(new GetCommand({ TableName: TABLE, Key: key, ConsistentRead: true }))).Item;
}

/** A delivery of `event` to `hook`, written, and that delivery as written. */
async function written(hook: StoredWebhook, event: TransferEvent | WebhookTestEvent): Promise<Delivery> {
  await webhooks.add(hook, 10).catch((error: unknown) => {
    if (!(error instanceof ConflictError)) throw error;
  });
  const delivery = newDelivery(hook, event, AT);
  await webhooks.addDeliveries([delivery]);
  return delivery;
}

describe('webhooks', () => {
  it('are added with an item by id and one under the owner, found and listed, and removed with both', async () => {
    const hook = webhook('P-WH-ADD');

    await webhooks.add(hook, 10);

    expect(await rawItem(keys.webhook(hook.id))).toMatchObject({ kind: 'webhook', webhook: hook });
    expect(await rawItem(keys.ownedWebhook('P-WH-ADD', hook.id))).toMatchObject({ kind: 'webhook', webhook: hook });
    expect(await webhooks.find(hook.id)).toEqual(hook);
    expect(await webhooks.owned('P-WH-ADD')).toEqual([hook]);

    await webhooks.remove(hook);

    expect(await rawItem(keys.webhook(hook.id))).toBeUndefined();
    expect(await rawItem(keys.ownedWebhook('P-WH-ADD', hook.id))).toBeUndefined();
    expect(await webhooks.find(hook.id)).toBeUndefined();
    expect(await webhooks.owned('P-WH-ADD')).toEqual([]);
  });

  it('refuses a second webhook of the same owner with the same URL, naming the first; another owner may use it', async () => {
    const first = webhook('P-WH-SAME');
    await webhooks.add(first, 10);

    const error = await webhooks.add(webhook('P-WH-SAME', { url: first.url }), 10).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ code: 'WEBHOOK_EXISTS', details: { id: first.id } });
    expect((await webhooks.owned('P-WH-SAME')).map((w) => w.id)).toEqual([first.id]);
    await webhooks.add(webhook('P-WH-OTHER', { url: first.url }), 10);
    expect(await webhooks.owned('P-WH-OTHER')).toHaveLength(1);
  });

  it('refuses one over the limit, and takes one again after a removal', async () => {
    const added = [webhook('P-WH-LIMIT'), webhook('P-WH-LIMIT'), webhook('P-WH-LIMIT')];
    for (const hook of added) await webhooks.add(hook, 3);

    const error = await webhooks.add(webhook('P-WH-LIMIT'), 3).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ code: 'TOO_MANY_WEBHOOKS', details: { limit: 3 } });
    expect(await webhooks.owned('P-WH-LIMIT')).toHaveLength(3);
    await webhooks.remove(added[0] as StoredWebhook);
    await webhooks.add(webhook('P-WH-LIMIT'), 3);
    expect(await webhooks.owned('P-WH-LIMIT')).toHaveLength(3);
  });

  it('answers the subscribers of a transfer: its parties\' webhooks and the provider\'s own, no one else\'s', async () => {
    const from = webhook('P-WH-FROM');
    const to = [webhook('P-WH-TO'), webhook('P-WH-TO')];
    const provider = webhook(null, { createdBy: { kind: 'operator', name: 'ops', ticketId: 'SUP-1' } });
    const stranger = webhook('P-WH-STRANGER');
    for (const hook of [from, ...to, provider, stranger]) await webhooks.add(hook, 10);

    const subscribers = await webhooks.subscribersOf(['P-WH-FROM', 'P-WH-TO']);

    expect(subscribers.map((w) => w.id).toSorted()).toEqual([from.id, ...to.map((w) => w.id), provider.id].toSorted());
    expect(subscribers.find((w) => w.id === provider.id)).toEqual(provider);
    expect((await webhooks.owned(null)).map((w) => w.id)).toEqual([provider.id]);
  });
});

describe('deliveries', () => {
  it('are written once: a delivery already there keeps its state', async () => {
    const hook = webhook('P-DL-ONCE');
    const event = transferEvent('transfer.requested', 'TR-DL-ONCE');
    const delivery = await written(hook, event);
    expect(await webhooks.delivery(delivery)).toEqual(delivery);
    expect(await rawItem(keys.delivery(delivery))).toMatchObject({ kind: 'delivery', expiresAtEpoch: Math.floor(Date.parse(AT) / 1000) + DELIVERY_RETENTION_SECONDS });
    expect(await webhooks.claim(delivery, 0, later(1), later(6))).toBe(true);
    await webhooks.settle({ ...delivery, attempts: 1 }, { status: 'delivered', lastAttempt: { ...OK, at: later(1) }, settledAt: later(2) });

    // The relay ran again: the same delivery, made afresh.
    await webhooks.addDeliveries([newDelivery(hook, event, later(60)), newDelivery(hook, transferEvent('transfer.released', 'TR-DL-ONCE'), later(60))]);

    expect(await webhooks.delivery(delivery)).toEqual({
      ...delivery,
      status: 'delivered',
      attempts: 1,
      triedAt: later(1),
      nextAttemptAt: later(6),
      lastAttempt: { ...OK, at: later(1) },
      settledAt: later(2),
    });
    expect((await webhooks.deliveriesOf('TR-DL-ONCE')).map((d) => d.eventType).toSorted()).toEqual(['transfer.released', 'transfer.requested']);
  });

  it('are claimed on a condition: a try is counted once, and only while pending', async () => {
    const delivery = await written(webhook('P-DL-CLAIM'), transferEvent('transfer.requested', 'TR-DL-CLAIM'));

    expect(await webhooks.claim(delivery, 0, later(1), later(6))).toBe(true);
    expect(await webhooks.claim(delivery, 0, later(1), later(6))).toBe(false);
    expect(await webhooks.delivery(delivery)).toMatchObject({ attempts: 1, triedAt: later(1), nextAttemptAt: later(6) });

    // The last try has no next one.
    expect(await webhooks.claim(delivery, 1, later(7), null)).toBe(true);
    expect(await webhooks.delivery(delivery)).toMatchObject({ attempts: 2, triedAt: later(7), nextAttemptAt: null });

    await webhooks.settle({ ...delivery, attempts: 2 }, { status: 'delivered', lastAttempt: { ...OK, at: later(7) }, settledAt: later(8) });
    expect(await webhooks.claim(delivery, 2, later(9), null)).toBe(false);
    expect(await webhooks.claim({ ...delivery, eventId: 'evt_not_there' }, 0, later(9), null)).toBe(false);
    expect(await webhooks.delivery({ ...delivery, eventId: 'evt_not_there' })).toBeUndefined();
  });

  it('are settled only for the try claimed: an outcome of an older try, or of a settled delivery, changes nothing', async () => {
    const delivery = await written(webhook('P-DL-SETTLE'), transferEvent('transfer.requested', 'TR-DL-SETTLE'));
    await webhooks.claim(delivery, 0, later(1), later(6));

    await webhooks.settle(delivery, { status: 'delivered', lastAttempt: { ...OK, at: later(0) }, settledAt: later(2) });
    expect(await webhooks.delivery(delivery)).toMatchObject({ status: 'pending', attempts: 1, lastAttempt: null, settledAt: null });

    await webhooks.settle({ ...delivery, attempts: 1 }, { status: 'pending', lastAttempt: { ...FAILED, at: later(1) }, settledAt: null });
    expect(await webhooks.delivery(delivery)).toMatchObject({ status: 'pending', attempts: 1, lastAttempt: { ...FAILED, at: later(1) }, settledAt: null });

    await webhooks.settle({ ...delivery, attempts: 1 }, { status: 'dropped', lastAttempt: { ...FAILED, at: later(1) }, settledAt: later(3), note: 'The webhook was removed.' });
    await webhooks.settle({ ...delivery, attempts: 1 }, { status: 'delivered', lastAttempt: { ...OK, at: later(4) }, settledAt: later(4) });
    expect(await webhooks.delivery(delivery)).toMatchObject({ status: 'dropped', settledAt: later(3), note: 'The webhook was removed.' });
  });

  it('that failed for good are listed under their owner, newest first, without their body; a failure not settled is not listed', async () => {
    const hook = webhook('P-DL-FAIL');
    const failures: Delivery[] = [];
    for (const [index, type] of (['transfer.requested', 'transfer.released', 'transfer.accepted'] as const).entries()) {
      const delivery = await written(hook, transferEvent(type, 'TR-DL-FAIL'));
      await webhooks.claim(delivery, 0, later(index), null);
      const claimed = { ...delivery, attempts: 1, triedAt: later(index) };
      await webhooks.settle(claimed, { status: 'failed', lastAttempt: { ...FAILED, at: later(index) }, settledAt: later(10 + index) });
      failures.push({ ...claimed, status: 'failed', lastAttempt: { ...FAILED, at: later(index) }, settledAt: later(10 + index) });
    }
    // A stale outcome (its try not the one counted) lists nothing.
    const stale = failures[0] as Delivery;
    await webhooks.settle({ ...stale, attempts: 0 }, { status: 'failed', lastAttempt: { ...FAILED, at: later(30) }, settledAt: later(30) });

    const listed = await webhooks.recentFailures('P-DL-FAIL', 2);

    const summary = ({ body: _body, ...rest }: Delivery) => rest;
    expect(listed).toEqual([summary(failures[2] as Delivery), summary(failures[1] as Delivery)]);
    expect(await webhooks.recentFailures('P-DL-FAIL', 20)).toHaveLength(3);
    expect(await webhooks.delivery(stale)).toMatchObject({ status: 'failed', settledAt: later(10) });
    expect(await webhooks.recentFailures('P-DL-NONE', 20)).toEqual([]);
  });

  it('are read by webhook and transfer (siblings), or all of a transfer; a test event\'s stands alone', async () => {
    const one = webhook('P-DL-SIB');
    const two = webhook('P-DL-SIB');
    const requested = transferEvent('transfer.requested', 'TR-DL-SIB');
    const released = transferEvent('transfer.released', 'TR-DL-SIB');
    const a = await written(one, requested);
    const b = await written(one, released);
    const c = await written(two, requested);
    await written(one, transferEvent('transfer.requested', 'TR-DL-SIB2'));
    const test: WebhookTestEvent = { id: 'evt_test_sib', type: 'webhook.test', occurredAt: AT, transferId: null, webhook: { id: one.id, url: one.url } };
    const probe = await written(one, test);

    expect((await webhooks.siblings(a)).map((d) => d.eventId).toSorted()).toEqual([a.eventId, b.eventId].toSorted());
    expect((await webhooks.siblings(c)).map((d) => d.eventId)).toEqual([c.eventId]);
    expect((await webhooks.deliveriesOf('TR-DL-SIB')).map((d) => `${d.webhookId} ${d.eventId}`).toSorted()).toEqual(
      [a, b, c].map((d) => `${d.webhookId} ${d.eventId}`).toSorted(),
    );
    expect(await webhooks.delivery(probe)).toEqual(probe);
    expect(await rawItem(keys.delivery(probe))).toMatchObject({ pk: `WEBHOOK#${one.id}` });
    expect(await webhooks.siblings(probe)).toEqual([]);
    // The test delivery lives beside its webhook's item; finding the webhook still finds the webhook.
    expect(await webhooks.find(one.id)).toEqual(one);
  });
});

describe('endpoint slots', () => {
  const now = new Date('2026-03-10T15:00:00.000Z');
  const later = (ms: number) => new Date(now.getTime() + ms);

  it('lease a slot to one try at a time, free it on release with the try\'s duration, and take back a lease that ran out', async () => {
    const id = 'wh_5107000000000000000000000000aaaa';
    expect(await webhooks.slots(id, now)).toEqual([]);
    const first = await webhooks.take(id, 0, later(15_000), now);
    expect(first).toMatch(/^0:[0-9a-f]{16}$/);
    expect(await webhooks.take(id, 0, later(16_000), later(1000))).toBeUndefined();
    const second = await webhooks.take(id, 4, later(17_000), later(2000));
    expect(await webhooks.slots(id, later(3000))).toEqual([
      { slot: 0, leasedAt: now, lastTry: null },
      { slot: 4, leasedAt: later(2000), lastTry: null },
    ]);

    await webhooks.release(id, first ?? '', 120, later(4000));
    expect(await webhooks.slots(id, later(4000))).toEqual([
      { slot: 0, leasedAt: null, lastTry: { ms: 120, endedAt: later(4000) } },
      { slot: 4, leasedAt: later(2000), lastTry: null },
    ]);
    const third = await webhooks.take(id, 0, later(20_000), later(5000));
    expect(third).toMatch(/^0:/);
    // Taken again, the slot keeps its last try's duration until this try ends.
    expect((await webhooks.slots(id, later(5000)))[0]).toEqual({ slot: 0, leasedAt: later(5000), lastTry: { ms: 120, endedAt: later(4000) } });

    // Past its lease's end, a dispatcher that died mid-try no longer holds its slot; it cannot free it once another try took it.
    expect((await webhooks.slots(id, later(17_001)))[1]).toEqual({ slot: 4, leasedAt: null, lastTry: null });
    const fourth = await webhooks.take(id, 4, later(32_001), later(17_001));
    expect(fourth).toMatch(/^4:/);
    await webhooks.release(id, second ?? '', 9000, later(18_000));
    expect((await webhooks.slots(id, later(18_000)))[1]).toEqual({ slot: 4, leasedAt: later(17_001), lastTry: null });
  });

  it('give a slot to one of many dispatchers racing for it', async () => {
    const id = 'wh_5107000000000000000000000000bbbb';
    const leases = await Promise.all(Array.from({ length: 8 }, () => webhooks.take(id, 2, later(15_000), now)));
    expect(leases.filter((lease) => lease !== undefined)).toHaveLength(1);
  });

  it('live beside their webhook, expiring an hour after their last lease ends', async () => {
    const id = 'wh_5107000000000000000000000000cccc';
    await webhooks.take(id, 1, later(15_000), now);
    expect(await rawItem(keys.endpointSlot(id, 1))).toMatchObject({ pk: `WEBHOOK#${id}`, sk: 'SLOT#1', kind: 'webhook-slot', [TTL_ATTRIBUTE]: Math.floor(later(15_000).getTime() / 1000) + 3600 });
  });
});

describe('deliveries beside their transfer', () => {
  it('never show when the transfer is read', async () => {
    const transfers = new DynamoTransferStore(db, TABLE);
    const transfer: Transfer = sampleTransfer({
      id: 'TR-DL-READ',
      fromPartner: { id: 'P-DL-READ-FROM', name: 'From' },
      toPartner: { id: 'P-DL-READ-TO', name: 'To' },
      customers: [transferCustomer({ id: 'C-DL-READ', name: 'Reader' }, ['reader.example'], 1)],
    });
    const requested: HistoryEvent = { at: AT, type: 'REQUESTED', actor: { kind: 'partner', partnerId: 'P-DL-READ-TO', name: 'bob' }, detail: {} };
    await transfers.create({ transfer, events: [requested] });
    const read = async () => ({
      got: await transfers.get(transfer.id),
      state: await transfers.getState(transfer.id),
      listed: await transfers.list({ partnerId: 'P-DL-READ-FROM', limit: 10 }),
    });
    const before = await read();
    expect(before.got?.id).toBe(transfer.id);

    const hook = webhook('P-DL-READ-FROM');
    const delivery = await written(hook, transferEvent('transfer.requested', transfer.id));
    await written(hook, transferEvent('transfer.released', transfer.id));
    await webhooks.claim(delivery, 0, later(1), null);
    await webhooks.settle({ ...delivery, attempts: 1 }, { status: 'failed', lastAttempt: { ...FAILED, at: later(1) }, settledAt: later(2) });

    expect(await webhooks.deliveriesOf(transfer.id)).toHaveLength(2);
    expect(await rawItem(keys.delivery(delivery))).toMatchObject({ pk: `TRANSFER#${transfer.id}`, sk: `#DELIVERY#${hook.id}#${delivery.eventId}` });
    expect(await read()).toEqual(before);
    expect(JSON.stringify(await read())).not.toContain(delivery.eventId);
  });
});
