// The outbox as the DynamoDB store writes it, against Amazon's own emulator (DynamoDB Local): each event in the
// transaction of the change it tells of, none for a change that was refused, and the relay's marks.
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoOutbox } from '../../lambdas/adapters/dynamo-outbox.ts';
import { DynamoTransferStore, OUTBOX_RETENTION_SECONDS } from '../../lambdas/adapters/dynamo-transfer-store.ts';
import { ConflictError } from '../../lambdas/domain/errors.ts';
import type { TransferEvent } from '../../lambdas/domain/events.ts';
import { transferCustomer, type HistoryEvent, type Transfer } from '../../lambdas/domain/transfer.ts';
import { sampleTransfer } from '../unit/adapters/support.ts';
import { dynamoLocalTable } from './dynamo-local-table.ts';

const TABLE = 'customer-transfers-outbox-test';
const AT = '2026-03-10T15:00:00.000Z';

let db: DynamoDBDocumentClient;
let store: DynamoTransferStore;

dynamoLocalTable(TABLE, (table) => {
  db = table.db;
  store = new DynamoTransferStore(db, TABLE);
});

function newTransfer(id: string, customerId: string): Transfer {
  return sampleTransfer({ id, customers: [transferCustomer({ id: customerId, name: `Customer ${customerId}` }, [`${customerId.toLowerCase()}.example`], 1)] });
}

const event = (type: string, at = AT): HistoryEvent => ({ at, type, actor: { kind: 'partner', partnerId: 'P-NORTH', name: 'alice' }, detail: { sourceIp: '203.0.113.7' } });

/** Every outbox item about one transfer, oldest first. */
async function outboxOf(transferId: string): Promise<Array<{ event: TransferEvent; expiresAtEpoch: number; relayedAt?: string }>> {
  const items = (await db.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true }))).Items ?? [];
  return items
    .filter((item) => item.kind === 'outbox' && (item.event as TransferEvent).transferId === transferId)
    .map((item) => item as { event: TransferEvent; expiresAtEpoch: number; relayedAt?: string })
    .sort((a, b) => a.event.occurredAt.localeCompare(b.event.occurredAt) || EVENT_ORDER.indexOf(a.event.type) - EVENT_ORDER.indexOf(b.event.type));
}

const EVENT_ORDER = ['transfer.requested', 'transfer.released', 'transfer.accepted', 'transfer.scheduled', 'transfer.cancelled'];

describe('the outbox', () => {
  it('holds one event per written consent and status entered, each written with its change, with the transfer as it stood', async () => {
    const transfer = newTransfer('TR-OUTBOX-1', 'C-OUT1');
    await store.create({ transfer, events: [event('REQUESTED'), event('RELEASED')] });
    const state = await store.getState(transfer.id);
    if (!state) throw new Error('written');
    await store.decide({
      transfer: state.transfer,
      step: 'acceptance',
      taskToken: null,
      from: 'AWAITING_RELEASE',
      to: 'SCHEDULED',
      consent: { step: 'acceptance', decision: 'accept', signedBy: 'Bob', statement: 's', transferDate: '2026-04-01', immediate: false, reasonCode: null, reason: null, via: 'api', ticketId: null, sourceIp: null, userAgent: null },
      event: event('ACCEPTED', '2026-03-10T16:00:00.000Z'),
      signal: { kind: 'success', output: { accepted: true } },
      changes: { acceptedDate: '2026-04-01' },
      releaseClaims: false,
      linkHash: null,
      at: '2026-03-10T16:00:00.000Z',
    });
    await store.changeStatus({ transferId: transfer.id, from: ['SCHEDULED'], to: 'CANCELLED', at: '2026-03-10T17:00:00.000Z', releaseClaims: true, event: event('CANCELLED', '2026-03-10T17:00:00.000Z') });

    const outbox = await outboxOf(transfer.id);
    expect(outbox.map((item) => [item.event.type, item.event.transfer.status])).toEqual([
      ['transfer.requested', 'AWAITING_RELEASE'],
      ['transfer.released', 'AWAITING_RELEASE'],
      ['transfer.accepted', 'SCHEDULED'],
      ['transfer.scheduled', 'SCHEDULED'],
      ['transfer.cancelled', 'CANCELLED'],
    ]);
    expect(outbox[2]?.event.transfer.acceptedDate).toBe('2026-04-01');
    expect(new Set(outbox.map((item) => item.event.id)).size).toBe(5);
    for (const item of outbox) {
      expect(item.expiresAtEpoch).toBe(Math.floor(Date.parse(item.event.occurredAt) / 1000) + OUTBOX_RETENTION_SECONDS);
      // The summary only: no history, no domains, nothing a request carried.
      expect(JSON.stringify(item.event)).not.toMatch(/history|c-out1\.example|203\.0\.113\.7|chainSeq|invoiceDays/);
    }
  });

  it('holds nothing for a change that was refused: no event is invented', async () => {
    const first = newTransfer('TR-OUTBOX-2', 'C-OUT2');
    await store.create({ transfer: first, events: [event('REQUESTED')] });
    // The same customer again: the claim refuses the whole request.
    await expect(store.create({ transfer: newTransfer('TR-OUTBOX-3', 'C-OUT2'), events: [event('REQUESTED')] })).rejects.toBeInstanceOf(ConflictError);
    expect(await outboxOf('TR-OUTBOX-3')).toEqual([]);
    // A status change from a status the transfer is not in.
    await expect(
      store.changeStatus({ transferId: first.id, from: ['SCHEDULED'], to: 'CANCELLED', at: '2026-03-10T17:00:00.000Z', event: event('CANCELLED', '2026-03-10T17:00:00.000Z') }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect((await outboxOf(first.id)).map((item) => item.event.type)).toEqual(['transfer.requested']);
  });

  it('is marked by the relay once: the first mark stands', async () => {
    const transfer = newTransfer('TR-OUTBOX-4', 'C-OUT4');
    await store.create({ transfer, events: [event('REQUESTED')] });
    const [item] = await outboxOf(transfer.id);
    if (!item) throw new Error('an outbox event');
    const unknown = { ...item.event, id: 'evt_unknown' };
    const outbox = new DynamoOutbox(db, TABLE);
    expect(await outbox.states([item.event, unknown])).toEqual(new Map([[item.event.id, 'pending'], ['evt_unknown', 'gone']]));
    await outbox.markRelayed([item.event], '2026-03-10T15:00:01.000Z');
    await outbox.markRelayed([item.event], '2026-03-10T15:00:09.000Z');
    expect(await outbox.states([item.event])).toEqual(new Map([[item.event.id, 'relayed']]));
    expect((await outboxOf(transfer.id))[0]?.relayedAt).toBe('2026-03-10T15:00:01.000Z');
    // An event that is not in the outbox is never created by a mark.
    await expect(outbox.markRelayed([unknown], '2026-03-10T15:00:01.000Z')).rejects.toThrow();
  });

  it('lives in its transfer\'s partition, where reading the transfer never reads it, and goes with a request withdrawn whole', async () => {
    const transfer = newTransfer('TR-OUTBOX-5', 'C-OUT5');
    await store.create({ transfer, events: [event('REQUESTED')] });
    const [item] = await outboxOf(transfer.id);
    expect(item).toMatchObject({ pk: `TRANSFER#${transfer.id}`, sk: `#OUTBOX#${item?.event.id ?? ''}` });
    const state = await store.getState(transfer.id);
    expect(JSON.stringify(state)).not.toContain(item?.event.id);
    await store.discard(transfer);
    expect(await outboxOf(transfer.id)).toEqual([]);
    expect(await new DynamoOutbox(db, TABLE).states(item ? [item.event] : [])).toEqual(new Map([[item?.event.id, 'gone']]));
  });
});
