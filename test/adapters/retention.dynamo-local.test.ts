// A closed transfer's retention, against DynamoDB Local: every item of the transfer gets the expiry the
// table's TTL removes it by, none sooner than it had, the same on a replay; an event appended later carries it.
import { QueryCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoRetention } from '../../lambdas/adapters/dynamo-retention.ts';
import { DynamoTransferStore, OUTBOX_RETENTION_SECONDS } from '../../lambdas/adapters/dynamo-transfer-store.ts';
import type { TransferEvent } from '../../lambdas/domain/events.ts';
import { retentionExpiry, retireClosed } from '../../lambdas/domain/retention.ts';
import { transferCustomer, type HistoryEvent, type Transfer } from '../../lambdas/domain/transfer.ts';
import { sampleTransfer } from '../unit/adapters/support.ts';
import { dynamoLocalTable } from './dynamo-local-table.ts';

const TABLE = 'customer-transfers-retention-test';
const AT = '2026-03-10T15:00:00.000Z';
const CLOSED_AT = '2026-03-10T17:00:00.000Z';
const DAYS = 365;

let db: DynamoDBDocumentClient;
let store: DynamoTransferStore;
let retention: DynamoRetention;

dynamoLocalTable(TABLE, (table) => {
  db = table.db;
  store = new DynamoTransferStore(db, TABLE);
  retention = new DynamoRetention(db, TABLE);
});

const event = (type: string, at = AT): HistoryEvent => ({ at, type, actor: { kind: 'partner', partnerId: 'P-NORTH', name: 'Alice North' }, detail: { sourceIp: '203.0.113.7' } });

function newTransfer(id: string, customerId: string): Transfer {
  return sampleTransfer({ id, customers: [transferCustomer({ id: customerId, name: `Customer ${customerId}` }, [`${customerId.toLowerCase()}.example`], 1)] });
}

/** Every item of a transfer's partition, by sort key. */
async function partition(transferId: string): Promise<Record<string, unknown>[]> {
  const page = await db.send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `TRANSFER#${transferId}` }, ConsistentRead: true }));
  return page.Items ?? [];
}

async function outboxEvents(transferId: string): Promise<TransferEvent[]> {
  const items = (await db.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true }))).Items ?? [];
  return items.filter((item) => item.kind === 'outbox' && (item.event as TransferEvent).transferId === transferId).map((item) => item.event as TransferEvent);
}

describe('the retention of a closed transfer', () => {
  it('gives every item of the transfer the expiry, keeps the outbox its sooner one, and changes nothing on a replay', async () => {
    const transfer = newTransfer('TR-RETAIN-1', 'C-RET1');
    await store.create({ transfer, events: [event('REQUESTED')] });
    await store.changeStatus({ transferId: transfer.id, from: ['AWAITING_RELEASE'], to: 'CANCELLED', at: CLOSED_AT, releaseClaims: true, event: event('CANCELLED', CLOSED_AT) });
    const events = await outboxEvents(transfer.id);
    expect(events.map((e) => e.type).sort()).toEqual(['transfer.cancelled', 'transfer.requested']);

    const items = await partition(transfer.id);
    const stamped = await retireClosed(events, DAYS, retention);
    const expiry = retentionExpiry(CLOSED_AT, DAYS);
    expect(expiry).toBe(Date.parse(CLOSED_AT) / 1000 + DAYS * 86_400);
    const after = await partition(transfer.id);
    const byKind = (kind: string) => after.filter((item) => item.kind === kind);
    // The transfer, its party views, its customer snapshot and its history: the retention's expiry.
    const kept = after.filter((item) => item.kind !== 'outbox');
    expect(new Set(kept.map((item) => item.kind))).toEqual(new Set(['transfer', 'party', 'transfer-customer', 'event']));
    for (const item of kept) expect(item.expiresAtEpoch, String(item.sk)).toBe(expiry);
    // Outbox items expire sooner already, and keep their own.
    for (const item of byKind('outbox')) {
      expect(item.expiresAtEpoch).toBe(Math.floor(Date.parse((item.event as TransferEvent).occurredAt) / 1000) + OUTBOX_RETENTION_SECONDS);
    }
    expect(stamped).toBe(kept.length);
    expect(after).toHaveLength(items.length);

    expect(await retireClosed(events, DAYS, retention)).toBe(kept.length);
    expect(await partition(transfer.id)).toEqual(after);
    // The expiry is the table's own: the transfer and its history read without it.
    const read = await store.get(transfer.id);
    expect(read?.history.length).toBeGreaterThan(0);
    expect(JSON.stringify(read)).not.toContain('expiresAtEpoch');
  });

  it('leaves an open transfer alone', async () => {
    const transfer = newTransfer('TR-RETAIN-2', 'C-RET2');
    await store.create({ transfer, events: [event('REQUESTED')] });
    expect(await retireClosed(await outboxEvents(transfer.id), DAYS, retention)).toBe(0);
    for (const item of (await partition(transfer.id)).filter((item) => item.kind !== 'outbox')) expect(item.expiresAtEpoch).toBeUndefined();
  });

  it('stamps a transfer that is gone nothing, and an event appended after the transfer closed expires with it', async () => {
    expect(await retention.retire('TR-RETAIN-NONE', 1_900_000_000)).toBe(0);
    expect(await partition('TR-RETAIN-NONE')).toEqual([]);

    const transfer = newTransfer('TR-RETAIN-3', 'C-RET3');
    await store.create({ transfer, events: [event('REQUESTED')] });
    await store.changeStatus({ transferId: transfer.id, from: ['AWAITING_RELEASE'], to: 'EXPIRED', at: CLOSED_AT, releaseClaims: true, event: event('EXPIRED', CLOSED_AT) });
    await retireClosed(await outboxEvents(transfer.id), DAYS, retention);
    // A store that read the head before the transfer closed: its write fails on the expiry, and is made again with it.
    await store.appendEvent(transfer.id, event('NOTICE_FAILED', '2026-03-10T17:00:05.000Z'));
    const late = (await partition(transfer.id)).find((item) => item.type === 'NOTICE_FAILED');
    expect(late?.expiresAtEpoch).toBe(retentionExpiry(CLOSED_AT, DAYS));
    expect((await store.get(transfer.id))?.history.at(-1)?.type).toBe('NOTICE_FAILED');
  });
});
