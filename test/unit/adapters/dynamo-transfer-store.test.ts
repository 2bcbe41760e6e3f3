import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoTransferStore, LINK_GRACE_SECONDS } from '../../../lambdas/adapters/dynamo-transfer-store.ts';
import { ConflictError, TransientError, ValidationError } from '../../../lambdas/domain/errors.ts';
import { chainEvents, genesisHash, type ChainHead } from '../../../lambdas/domain/history-chain.ts';
import type { Decision, OpenStep } from '../../../lambdas/domain/ports.ts';
import { summaryOf, type HistoryEvent, type Transfer } from '../../../lambdas/domain/transfer.ts';
import './aws-matchers.ts';
import { failure, mockedDocumentClient, resetAfterEach, sampleTransfer } from './support.ts';

const TABLE = 'transfers-test';
const ddb = mockClient(DynamoDBDocumentClient);
// A store per test: each keeps its own cache of chain heads, as each Lambda container does.
let store: DynamoTransferStore;
beforeEach(() => {
  store = new DynamoTransferStore(mockedDocumentClient(), TABLE);
});

const TRANSFER: Transfer = sampleTransfer({
  customers: [
    { id: 'C-ACME', name: 'Acme Widgets', domains: ['acme.example'], domainCount: 1, domainsTruncated: false },
    { id: 'C-BRIGHT', name: 'Brightside Dental', domains: ['brightside.example', 'brightside-mail.example'], domainCount: 2, domainsTruncated: false },
    { id: 'C-CORAL', name: 'Coral Bakery', domains: ['coral.example'], domainCount: 1500, domainsTruncated: true },
  ],
});
const EVENTS: HistoryEvent[] = [
  { at: TRANSFER.createdAt, type: 'REQUESTED', actor: TRANSFER.requestedBy, detail: {} },
  { at: TRANSFER.createdAt, type: 'RELEASED', actor: TRANSFER.requestedBy, detail: {} },
];
// transfer, two party views, two events, their two outbox events, then one claim per customer
const CLAIMS_AT = 7;

const OUTBOX_KEY = new RegExp(`^TRANSFER#${TRANSFER.id}/#OUTBOX#evt_[0-9a-f]{32}$`);

/** The outbox item of an event a change emits, written in its transaction (the event's id is random). */
function outboxPut(type: string, at: string, status: string): unknown {
  return {
    Put: {
      TableName: TABLE,
      Item: {
        pk: `TRANSFER#${TRANSFER.id}`,
        sk: expect.stringMatching(/^#OUTBOX#evt_[0-9a-f]{32}$/) as unknown,
        kind: 'outbox',
        event: {
          id: expect.stringMatching(/^evt_[0-9a-f]{32}$/) as unknown,
          type,
          occurredAt: at,
          transferId: TRANSFER.id,
          transfer: expect.objectContaining({ id: TRANSFER.id, status, customers: TRANSFER.customers.map(({ id, name, domainCount }) => ({ id, name, domainCount })) }) as unknown,
        },
        expiresAtEpoch: Math.floor(Date.parse(at) / 1000) + 30 * 86_400,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}

const TRANSFER_KEY = { pk: `TRANSFER#${TRANSFER.id}`, sk: 'TRANSFER' };
const customerKey = (customerId: string) => ({ pk: `TRANSFER#${TRANSFER.id}`, sk: `CUSTOMER#${customerId}` });
const CUSTOMER_KEYS = TRANSFER.customers.map((c) => customerKey(c.id));
/** An event's sort key: its instant, then a sequence number and a random tie-breaker. */
const eventSk = (at: string) => expect.stringMatching(new RegExp(`^EVENT#${at.replaceAll('.', '\\.')}#\\d{6}-[0-9a-f]{6}$`));

/** The TRANSFER item as stored: keys, kind, the transfer with its customers' summaries, both index keys and the chain's head (none: filed before chaining). */
function transferItem(transfer: Transfer, head: ChainHead | null = null): Record<string, unknown> {
  return {
    pk: `TRANSFER#${transfer.id}`,
    sk: 'TRANSFER',
    kind: 'transfer',
    ...summaryOf(transfer),
    ...(head ? { chainSeq: head.seq, chainHash: head.hash } : {}),
    gsi1pk: 'ALL',
    gsi1sk: `${transfer.createdAt}#${transfer.id}`,
    gsi2pk: `ALL#${transfer.status}`,
    gsi2sk: `${transfer.createdAt}#${transfer.id}`,
  };
}

/** The two events as create chains them, and the head the transfer then keeps (seq 2). */
const CREATED = chainEvents(TRANSFER.id, null, EVENTS);
const HEAD: ChainHead = CREATED.head ?? { seq: 0, hash: '' };
/** The head after another writer appended an event. */
const MOVED: ChainHead = chainEvents(TRANSFER.id, HEAD, [{ at: '2026-03-10T15:30:00.000Z', type: 'NOTE', actor: { kind: 'operator' }, detail: {} }]).head ?? HEAD;

/** `event` as it is written after `head`: its chain fields, then its item. */
function chainedAfter(head: ChainHead | null, event: HistoryEvent): HistoryEvent {
  const [chained] = chainEvents(TRANSFER.id, head, [event]).events;
  if (!chained) throw new Error('one event in, one out');
  return chained;
}

function eventItem(event: HistoryEvent): Record<string, unknown> {
  return { pk: `TRANSFER#${TRANSFER.id}`, sk: eventSk(event.at), kind: 'event', ...event };
}

/** The expression members that move the head from `prev` to `next`, conditional on `prev` being the head still. */
function headChange(prev: ChainHead | null, next: ChainHead) {
  return {
    set: 'chainSeq = :chainSeq, chainHash = :chainHash',
    condition: prev ? 'chainSeq = :chainPrev AND chainHash = :chainPrevHash' : 'attribute_not_exists(chainSeq)',
    values: { ':chainSeq': next.seq, ':chainHash': next.hash, ...(prev ? { ':chainPrev': prev.seq, ':chainPrevHash': prev.hash } : {}) },
  };
}

/** The transaction item that moves the head, for a transaction that does not otherwise update the transfer. */
function headUpdate(prev: ChainHead | null, next: ChainHead) {
  const change = headChange(prev, next);
  return {
    Update: {
      TableName: TABLE,
      Key: TRANSFER_KEY,
      UpdateExpression: `SET ${change.set}`,
      ConditionExpression: `attribute_exists(pk) AND ${change.condition}`,
      ExpressionAttributeValues: change.values,
    },
  };
}

/** The head update of an event appended to a transfer not known to be closed: also conditional on it having no expiry. */
function openHeadUpdate(prev: ChainHead | null, next: ChainHead) {
  const update = headUpdate(prev, next).Update;
  return {
    Update: { ...update, ConditionExpression: `${update.ConditionExpression} AND attribute_not_exists(#ttl)`, ExpressionAttributeNames: { '#ttl': 'expiresAtEpoch' } },
  };
}

/** The head after `event` is chained after `head`. */
function headAfter(head: ChainHead | null, event: HistoryEvent): ChainHead {
  return { seq: (head?.seq ?? 0) + 1, hash: chainedAfter(head, event).hash ?? '' };
}

/** The consistent read of a transfer's head alone, before a write that appends an event. */
const HEAD_READ = {
  TableName: TABLE,
  Key: TRANSFER_KEY,
  ConsistentRead: true,
  ProjectionExpression: 'pk, chainSeq, chainHash, #ttl',
  ExpressionAttributeNames: { '#ttl': 'expiresAtEpoch' },
};
/** The consistent read of the whole transfer item (a status change, or a failed decision's check). */
const TRANSFER_READ = { TableName: TABLE, Key: TRANSFER_KEY, ConsistentRead: true };

function getInputs(): unknown[] {
  return ddb.commandCalls(GetCommand).map((call) => call.args[0].input);
}

/** Each customer's snapshot item: its domains as the transfer keeps them. */
function customerItems(transfer: Transfer): Record<string, unknown>[] {
  return transfer.customers.map((c) => ({
    pk: `TRANSFER#${transfer.id}`,
    sk: `CUSTOMER#${c.id}`,
    kind: 'transfer-customer',
    customerId: c.id,
    domainCount: c.domainCount,
    domains: c.domains,
    domainsTruncated: c.domainsTruncated,
  }));
}

type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/** The table key each item of a transaction writes, as `pk/sk`, in transaction order. */
function writtenKeys(items: TransactItems): string[] {
  return items.map((item) => {
    const key: Record<string, unknown> = item.Put?.Item ?? item.Update?.Key ?? item.Delete?.Key ?? item.ConditionCheck?.Key ?? {};
    return `${String(key.pk)}/${String(key.sk)}`;
  });
}

function transactItems(call = 0): TransactItems {
  return ddb.commandCalls(TransactWriteCommand)[call]?.args[0].input.TransactItems ?? [];
}

function batchWrites(): unknown[] {
  return ddb.commandCalls(BatchWriteCommand).map((call) => call.args[0].input);
}

function cancelledWith(reasons: Record<number, string>, length = CLAIMS_AT + TRANSFER.customers.length): TransactionCanceledException {
  return new TransactionCanceledException({
    message: 'Transaction cancelled, please refer cancellation reasons for specific reasons',
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: Array.from({ length }, (_, index) => ({ Code: reasons[index] ?? 'None' })),
  });
}

/**
 * Answers the reads of a transfer's item as DynamoDB would, one answer per read (the last one from then on):
 * each a transfer (its status) and the head it keeps. A projected read of the head alone gets the whole item too.
 */
function answerTransferRead(...answers: [Transfer, ChainHead | null][]): void {
  const stub = ddb.on(GetCommand, { Key: { pk: `TRANSFER#${TRANSFER.id}`, sk: 'TRANSFER' } });
  for (const [index, [transfer, head]] of answers.entries()) {
    if (index < answers.length - 1) stub.resolvesOnce({ Item: transferItem(transfer, head) });
    else stub.resolves({ Item: transferItem(transfer, head) });
  }
}

const SNAPSHOT_PUTS = { RequestItems: { [TABLE]: customerItems(TRANSFER).map((Item) => ({ PutRequest: { Item } })) } };
const SNAPSHOT_DELETES = { RequestItems: { [TABLE]: CUSTOMER_KEYS.map((Key) => ({ DeleteRequest: { Key } })) } };

resetAfterEach(ddb);

describe('DynamoTransferStore.create', () => {
  it('writes each customer\'s domain snapshot first, then the transfer (with summaries and the chain\'s head), both party views, the events chained from genesis and a conditional claim per customer in one transaction', async () => {
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    await store.create({ transfer: TRANSFER, events: EVENTS });

    expect(batchWrites()).toEqual([SNAPSHOT_PUTS]);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    // The snapshots are in before the transaction that makes them reachable.
    const order = ddb.calls().map((call) => call.args[0].constructor.name);
    expect(order).toEqual(['BatchWriteCommand', 'TransactWriteCommand']);
    const items = transactItems();
    expect(items).toEqual([
      { Put: { TableName: TABLE, Item: transferItem(TRANSFER, HEAD), ConditionExpression: 'attribute_not_exists(pk)' } },
      ...['P-NORTH', 'P-SOUTH'].map((partnerId) => ({
        Put: {
          TableName: TABLE,
          Item: {
            pk: `TRANSFER#${TRANSFER.id}`,
            sk: `PARTY#${partnerId}`,
            kind: 'party',
            transferId: TRANSFER.id,
            status: 'AWAITING_RELEASE',
            gsi1pk: `PARTY#${partnerId}`,
            gsi1sk: `${TRANSFER.createdAt}#${TRANSFER.id}`,
            gsi2pk: `PARTY#${partnerId}#AWAITING_RELEASE`,
            gsi2sk: `${TRANSFER.createdAt}#${TRANSFER.id}`,
          },
        },
      })),
      ...CREATED.events.map((event) => ({ Put: { TableName: TABLE, Item: eventItem(event) } })),
      // The request and the release written up front, told in the same transaction.
      outboxPut('transfer.requested', TRANSFER.createdAt, 'AWAITING_RELEASE'),
      outboxPut('transfer.released', TRANSFER.createdAt, 'AWAITING_RELEASE'),
      ...TRANSFER.customers.map((c) => ({
        Put: {
          TableName: TABLE,
          Item: { pk: `CUSTOMER#${c.id}`, sk: 'CLAIM', kind: 'claim', transferId: TRANSFER.id, claimedAt: TRANSFER.createdAt },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      })),
    ]);
    // The transfer item carries the customers' summaries, never a domain.
    expect(items[0]?.Put?.Item?.customers).toEqual([
      { id: 'C-ACME', name: 'Acme Widgets', domainCount: 1 },
      { id: 'C-BRIGHT', name: 'Brightside Dental', domainCount: 2 },
      { id: 'C-CORAL', name: 'Coral Bakery', domainCount: 1500 },
    ]);
    expect(JSON.stringify(items)).not.toContain('.example');
    expect(writtenKeys(items).slice(CLAIMS_AT)).toEqual(TRANSFER.customers.map((c) => `CUSTOMER#${c.id}/CLAIM`));
    expect(String(items[3]?.Put?.Item?.sk) < String(items[4]?.Put?.Item?.sk)).toBe(true);
    // The chain starts at the transfer's genesis; the transfer names the second event as the head.
    expect(items.slice(3, 5).map((item) => [item.Put?.Item?.seq, item.Put?.Item?.prevHash])).toEqual([
      [1, genesisHash(TRANSFER.id)],
      [2, items[3]?.Put?.Item?.hash],
    ]);
    expect(items[0]?.Put?.Item).toMatchObject({ chainSeq: 2, chainHash: items[4]?.Put?.Item?.hash });
    // Nothing is read first: a new transfer's chain starts from nothing.
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
  });

  it('50 customers: two batch writes of 25 snapshots, and a transaction of 55 actions, within DynamoDB\'s 100', async () => {
    const fifty = sampleTransfer({
      customers: Array.from({ length: 50 }, (_, i) => ({ id: `C-${i}`, name: `Customer ${i}`, domains: [`c${i}.example`], domainCount: 1, domainsTruncated: false })),
    });
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    await store.create({ transfer: fifty, events: EVENTS.slice(0, 1) });
    expect(batchWrites().map((input) => (input as typeof SNAPSHOT_PUTS).RequestItems[TABLE]?.length)).toEqual([25, 25]);
    // the transfer, two party views, the event, its outbox event, fifty claims
    expect(transactItems()).toHaveLength(1 + 2 + 1 + 1 + 50);
  });

  it('a failed claim condition is a ConflictError CUSTOMER_BUSY naming the busy customer, and the snapshots are deleted again', async () => {
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ [CLAIMS_AT + 1]: 'ConditionalCheckFailed' }));

    const error = await failure(store.create({ transfer: TRANSFER, events: EVENTS }));

    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({
      status: 409,
      code: 'CUSTOMER_BUSY',
      message: 'Customer C-BRIGHT is already in another active transfer.',
      details: { customerIds: ['C-BRIGHT'] },
    });
    expect(batchWrites()).toEqual([SNAPSHOT_PUTS, SNAPSHOT_DELETES]);
  });

  it('several busy customers are all named', async () => {
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ [CLAIMS_AT]: 'ConditionalCheckFailed', [CLAIMS_AT + 2]: 'ConditionalCheckFailed' }));
    const error = await failure(store.create({ transfer: TRANSFER, events: EVENTS }));
    expect(error).toMatchObject({
      code: 'CUSTOMER_BUSY',
      message: 'Customers C-ACME, C-CORAL are already in another active transfer.',
      details: { customerIds: ['C-ACME', 'C-CORAL'] },
    });
  });

  it('the busy customers are read from the claims: the last claim is the last customer, the item before the claims names nobody', async () => {
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ [CLAIMS_AT + 2]: 'ConditionalCheckFailed' }));
    expect(await failure(store.create({ transfer: TRANSFER, events: EVENTS }))).toMatchObject({
      code: 'CUSTOMER_BUSY',
      details: { customerIds: ['C-CORAL'] },
    });

    ddb.reset();
    ddb.on(BatchWriteCommand).resolves({});
    const notAClaim = cancelledWith({ [CLAIMS_AT - 1]: 'ConditionalCheckFailed' });
    ddb.on(TransactWriteCommand).rejects(notAClaim);
    expect(await failure(store.create({ transfer: TRANSFER, events: EVENTS }))).toBe(notAClaim);
  });

  it('a failed condition on the transfer itself (an id collision) is not reported as a busy customer', async () => {
    ddb.on(BatchWriteCommand).resolves({});
    const collision = cancelledWith({ 0: 'ConditionalCheckFailed' });
    ddb.on(TransactWriteCommand).rejects(collision);
    expect(await failure(store.create({ transfer: TRANSFER, events: EVENTS }))).toBe(collision);
    // The snapshot items under that id would be the other transfer's: they are not deleted.
    expect(batchWrites()).toEqual([SNAPSHOT_PUTS]);
  });

  it.each(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded'])(
    'a transaction cancelled for %s (no failed condition) is transient, and its snapshots are deleted again',
    async (code) => {
      ddb.on(BatchWriteCommand).resolves({});
      ddb.on(TransactWriteCommand).rejects(cancelledWith({ [CLAIMS_AT]: code }));
      const error = await failure(store.create({ transfer: TRANSFER, events: EVENTS }));
      expect(error).toBeInstanceOf(TransientError);
      expect(error).toMatchObject({ status: 503, code: 'TRY_AGAIN' });
      expect(batchWrites()).toEqual([SNAPSHOT_PUTS, SNAPSHOT_DELETES]);
    },
  );

  it('a transaction that failed without an answer (it may yet have been applied) keeps the snapshots', async () => {
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(TransactWriteCommand).rejects(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    expect(await failure(store.create({ transfer: TRANSFER, events: EVENTS }))).toBeInstanceOf(TransientError);
    expect(batchWrites()).toEqual([SNAPSHOT_PUTS]);
  });

  it('snapshots DynamoDB leaves unprocessed are written again; still unwritten after the last attempt, nothing is committed (503)', async () => {
    const first = SNAPSHOT_PUTS.RequestItems[TABLE]?.[0] ?? { PutRequest: { Item: {} } };
    ddb.on(BatchWriteCommand, SNAPSHOT_PUTS).resolves({ UnprocessedItems: { [TABLE]: [first] } });
    ddb.on(BatchWriteCommand, { RequestItems: { [TABLE]: [first] } }).resolves({ UnprocessedItems: { [TABLE]: [first] } });
    ddb.on(BatchWriteCommand, SNAPSHOT_DELETES).resolves({});

    expect(await failure(store.create({ transfer: TRANSFER, events: EVENTS }))).toBeInstanceOf(TransientError);
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    // All, then the one left over four more times; then the clean-up.
    expect(batchWrites()).toHaveLength(1 + 4 + 1);
    expect(batchWrites().at(-1)).toEqual(SNAPSHOT_DELETES);
  });
});

describe('DynamoTransferStore.discard and get', () => {
  it('discard deletes the transfer, both party views and the claims it holds in one transaction, then the rest of its partition', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    const rest = [
      { pk: `TRANSFER#${TRANSFER.id}`, sk: 'CUSTOMER#C-ACME', kind: 'transfer-customer' },
      { pk: `TRANSFER#${TRANSFER.id}`, sk: 'EVENT#2026-03-10T15:00:00.000Z#000001-aaaaaa', kind: 'event', ...EVENTS[0] },
      { pk: `TRANSFER#${TRANSFER.id}`, sk: 'EVENT#2026-03-10T15:00:00.000Z#000002-bbbbbb', kind: 'event', ...EVENTS[1] },
    ];
    ddb.on(QueryCommand).resolves({ Items: rest });
    ddb.on(BatchWriteCommand).resolves({});

    await store.discard(TRANSFER);

    expect(transactItems()).toEqual([
      { Delete: { TableName: TABLE, Key: TRANSFER_KEY } },
      { Delete: { TableName: TABLE, Key: { pk: `TRANSFER#${TRANSFER.id}`, sk: 'PARTY#P-NORTH' } } },
      { Delete: { TableName: TABLE, Key: { pk: `TRANSFER#${TRANSFER.id}`, sk: 'PARTY#P-SOUTH' } } },
      ...TRANSFER.customers.map((c) => ({
        Delete: {
          TableName: TABLE,
          Key: { pk: `CUSTOMER#${c.id}`, sk: 'CLAIM' },
          ConditionExpression: 'transferId = :id',
          ExpressionAttributeValues: { ':id': TRANSFER.id },
        },
      })),
    ]);
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `TRANSFER#${TRANSFER.id}` },
        ConsistentRead: true,
        ExclusiveStartKey: undefined,
      },
    ]);
    expect(batchWrites()).toEqual([{ RequestItems: { [TABLE]: rest.map((i) => ({ DeleteRequest: { Key: { pk: i.pk, sk: i.sk } } })) } }]);
  });

  it('get: one query of the transfer\'s own items (never its snapshots), then one consistent batch get of the snapshots it names', async () => {
    const [first, second] = EVENTS;
    ddb.on(QueryCommand).resolves({
      Items: [
        { pk: `TRANSFER#${TRANSFER.id}`, sk: 'EVENT#2026-03-10T15:00:00.000Z#000001-aaaaaa', kind: 'event', ...first },
        { pk: `TRANSFER#${TRANSFER.id}`, sk: 'EVENT#2026-03-10T15:00:00.000Z#000002-bbbbbb', kind: 'event', ...second },
        { pk: `TRANSFER#${TRANSFER.id}`, sk: 'PARTY#P-NORTH', kind: 'party', transferId: TRANSFER.id, gsi1pk: 'PARTY#P-NORTH' },
        { pk: `TRANSFER#${TRANSFER.id}`, sk: 'PARTY#P-SOUTH', kind: 'party', transferId: TRANSFER.id, gsi1pk: 'PARTY#P-SOUTH' },
        { pk: `TRANSFER#${TRANSFER.id}`, sk: 'STEP#release', kind: 'step', partnerId: 'P-NORTH', taskToken: 'task-1', expiresAt: '2026-03-24T15:00:00.000Z' },
        transferItem(TRANSFER),
      ],
    });
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [...customerItems(TRANSFER)].reverse() } });

    await expect(store.get(TRANSFER.id)).resolves.toEqual({ ...TRANSFER, history: EVENTS });
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: TABLE,
        KeyConditionExpression: 'pk = :pk AND sk > :after',
        ExpressionAttributeValues: { ':pk': `TRANSFER#${TRANSFER.id}`, ':after': 'CUSTOMER$' },
        ConsistentRead: true,
        ExclusiveStartKey: undefined,
      },
    ]);
    expect(ddb.commandCalls(BatchGetCommand).map((call) => call.args[0].input)).toEqual([
      { RequestItems: { [TABLE]: { Keys: CUSTOMER_KEYS, ConsistentRead: true } } },
    ]);

    const state = await store.getState(TRANSFER.id);
    expect(state?.transfer).toEqual({ ...summaryOf(TRANSFER), history: EVENTS });
    expect(state?.steps).toEqual({ release: expect.objectContaining({ transferId: TRANSFER.id, step: 'release', taskToken: 'task-1' }) });
    // Filed before history was chained: no head.
    expect(state?.chainHead).toBeNull();
  });

  it('getState gives the chain\'s head apart from the transfer, and the history in chain order (unchained events first), whatever the sort keys say', async () => {
    const legacy = { at: '2026-03-10T14:00:00.000Z', type: 'IMPORTED', actor: { kind: 'system' as const }, detail: {} };
    const [first, second] = CREATED.events;
    ddb.on(QueryCommand).resolves({
      Items: [
        // Same instant, the second event's tie-breaker sorting first (another process's counter).
        { pk: `TRANSFER#${TRANSFER.id}`, sk: 'EVENT#2026-03-10T15:00:00.000Z#000001-bbbbbb', kind: 'event', ...second },
        { pk: `TRANSFER#${TRANSFER.id}`, sk: 'EVENT#2026-03-10T15:00:00.000Z#000009-aaaaaa', kind: 'event', ...first },
        { pk: `TRANSFER#${TRANSFER.id}`, sk: 'EVENT#2026-03-10T14:00:00.000Z#000003-cccccc', kind: 'event', ...legacy },
        transferItem(TRANSFER, HEAD),
      ],
    });
    const state = await store.getState(TRANSFER.id);
    expect(state?.chainHead).toEqual(HEAD);
    expect(state?.transfer).toEqual({ ...summaryOf(TRANSFER), history: [legacy, first, second] });
    expect(state?.transfer).not.toHaveProperty('chainSeq');
    expect(state?.transfer).not.toHaveProperty('chainHash');

    // The head read is kept: an event appended next is chained after it without another read.
    ddb.on(TransactWriteCommand).resolves({});
    const note = { at: '2026-03-10T16:00:00.000Z', type: 'NOTE', actor: { kind: 'operator' as const }, detail: {} };
    await store.appendEvent(TRANSFER.id, note);
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
    expect(transactItems()[0]?.Put?.Item).toMatchObject({ seq: 3, prevHash: HEAD.hash });
  });

  it('getCustomers retries snapshots DynamoDB left unprocessed, and fails with a TransientError rather than show a customer without its domains', async () => {
    const [acme = {}, bright = {}, coral = {}] = customerItems(TRANSFER);
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [acme] }, UnprocessedKeys: { [TABLE]: { Keys: [customerKey('C-BRIGHT'), customerKey('C-CORAL')] } } })
      .resolvesOnce({ Responses: { [TABLE]: [coral, bright] } });
    await expect(store.getCustomers(TRANSFER)).resolves.toEqual(TRANSFER.customers);

    ddb.reset();
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [acme] }, UnprocessedKeys: { [TABLE]: { Keys: [customerKey('C-BRIGHT')] } } });
    expect(await failure(store.getCustomers(TRANSFER))).toBeInstanceOf(TransientError);
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 5);
  });

  it('get of a transfer without its TRANSFER item is undefined, and reads no snapshot', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ pk: `TRANSFER#${TRANSFER.id}`, sk: 'PARTY#P-NORTH', kind: 'party' }] });
    await expect(store.get(TRANSFER.id)).resolves.toBeUndefined();
    expect(ddb).not.toHaveReceivedCommand(BatchGetCommand);
  });

  it('a transfer filed before the snapshot items is read from its legacy customers item', async () => {
    const { customers: _customers, ...legacyTransfer } = transferItem(TRANSFER);
    const legacyCustomers = { pk: `TRANSFER#${TRANSFER.id}`, sk: 'CUSTOMERS', kind: 'customers', customers: [{ id: 'C-OLD', name: 'Old', domains: ['old.example', 'old2.example'] }] };
    ddb.on(QueryCommand).resolves({ Items: [legacyCustomers, legacyTransfer] });
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] } });
    ddb.on(GetCommand, { Key: { pk: `TRANSFER#${TRANSFER.id}`, sk: 'CUSTOMERS' } }).resolves({ Item: legacyCustomers });

    const stored = await store.get(TRANSFER.id);
    expect(stored?.customers).toEqual([{ id: 'C-OLD', name: 'Old', domainCount: 2, domains: ['old.example', 'old2.example'], domainsTruncated: false }]);
  });
});

describe('DynamoTransferStore.list', () => {
  it('lists a partner\'s transfers through the party index, newest first, as summaries read from the transfer items alone', async () => {
    ddb.on(QueryCommand, { IndexName: 'byParty', ExpressionAttributeValues: { ':pk': 'PARTY#P-NORTH' } }).resolves({
      // The index projects keys only: the table's keys and its own.
      Items: [{ pk: `TRANSFER#${TRANSFER.id}`, sk: 'PARTY#P-NORTH', gsi1pk: 'PARTY#P-NORTH', gsi1sk: `${TRANSFER.createdAt}#${TRANSFER.id}` }],
    });
    ddb.on(BatchGetCommand, { RequestItems: { [TABLE]: { Keys: [TRANSFER_KEY] } } }).resolves({ Responses: { [TABLE]: [transferItem(TRANSFER)] } });

    const page = await store.list({ partnerId: 'P-NORTH', limit: 10 });

    expect(page).toEqual({ items: [summaryOf(TRANSFER)] });
    expect(JSON.stringify(page)).not.toContain('.example');
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: TABLE,
        IndexName: 'byParty',
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'gsi1pk' },
        ExpressionAttributeValues: { ':pk': 'PARTY#P-NORTH' },
        ScanIndexForward: false,
        Limit: 10,
        ExclusiveStartKey: undefined,
      },
    ]);
    expect(ddb.commandCalls(BatchGetCommand).map((call) => call.args[0].input)).toEqual([{ RequestItems: { [TABLE]: { Keys: [TRANSFER_KEY] } } }]);
  });

  it('a status filter uses the party-and-status index', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await store.list({ partnerId: 'P-NORTH', status: 'SCHEDULED', limit: 5 });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: 'byPartyStatus',
      ExpressionAttributeNames: { '#pk': 'gsi2pk' },
      ExpressionAttributeValues: { ':pk': 'PARTY#P-NORTH#SCHEDULED' },
    });
  });

  it('a page token of another partner\'s listing is refused before DynamoDB is asked', async () => {
    const foreign = Buffer.from(JSON.stringify({ pk: 'TRANSFER#x', sk: 'PARTY#P-SOUTH', gsi1pk: 'PARTY#P-SOUTH', gsi1sk: 'a' })).toString('base64url');
    expect(await failure(store.list({ partnerId: 'P-NORTH', limit: 10, nextToken: foreign }))).toBeInstanceOf(ValidationError);
    expect(await failure(store.list({ partnerId: 'P-NORTH', limit: 10, nextToken: 'not base64 json' }))).toBeInstanceOf(ValidationError);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});

describe('DynamoTransferStore status changes never touch the snapshots', () => {
  const CANCELLED: HistoryEvent = { at: '2026-03-12T00:00:00.000Z', type: 'CANCELLED', actor: { kind: 'operator', name: 'ops' }, detail: {} };
  const cancel = (transfer: Transfer) =>
    store.changeStatus({
      transferId: transfer.id,
      from: ['AWAITING_RELEASE'],
      to: 'CANCELLED',
      at: '2026-03-12T00:00:00.000Z',
      event: CANCELLED,
      releaseClaims: true,
    });

  it('changeStatus reads the transfer item consistently, then writes only the small items, releasing the claims of the customers it names', async () => {
    answerTransferRead([TRANSFER, HEAD]);
    ddb.on(TransactWriteCommand).resolves({});

    await cancel(TRANSFER);

    // The one read gives the chain's head too: no second read for it.
    expect(getInputs()).toEqual([TRANSFER_READ]);
    const items = transactItems();
    expect(writtenKeys(items)).toEqual([
      `TRANSFER#${TRANSFER.id}/TRANSFER`,
      `TRANSFER#${TRANSFER.id}/PARTY#P-NORTH`,
      `TRANSFER#${TRANSFER.id}/PARTY#P-SOUTH`,
      expect.stringMatching(new RegExp(`^TRANSFER#${TRANSFER.id}/EVENT#2026-03-12T00:00:00\\.000Z#`)),
      expect.stringMatching(OUTBOX_KEY),
      'CUSTOMER#C-ACME/CLAIM',
      'CUSTOMER#C-BRIGHT/CLAIM',
      'CUSTOMER#C-CORAL/CLAIM',
    ]);
    // The status change moves the chain's head in the same update, conditional on both.
    const change = headChange(HEAD, headAfter(HEAD, CANCELLED));
    expect(items[0]?.Update).toEqual({
      TableName: TABLE,
      Key: TRANSFER_KEY,
      UpdateExpression: `SET #status = :to, updatedAt = :at, gsi2pk = :gsi2pk, ${change.set}`,
      ConditionExpression: `#status IN (:from0) AND ${change.condition}`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':to': 'CANCELLED', ':at': '2026-03-12T00:00:00.000Z', ':gsi2pk': 'ALL#CANCELLED', ':from0': 'AWAITING_RELEASE', ...change.values },
    });
    expect(items[3]?.Put).toEqual({ TableName: TABLE, Item: eventItem(chainedAfter(HEAD, CANCELLED)) });
    expect(items[3]?.Put?.Item).toMatchObject({ seq: 3, prevHash: HEAD.hash });
    expect(items[4]).toEqual(outboxPut('transfer.cancelled', '2026-03-12T00:00:00.000Z', 'CANCELLED'));
    expect(items.slice(5).map((item) => item.Delete?.ExpressionAttributeValues)).toEqual(TRANSFER.customers.map(() => ({ ':transfer': TRANSFER.id })));
    // No domain is written: the snapshots stay as they are, and the event tells the customers' summaries only.
    for (const domain of TRANSFER.customers.flatMap((c) => c.domains)) expect(JSON.stringify(items)).not.toContain(domain);
  });

  it('a transfer filed before chaining starts its chain: the first event from genesis, on condition that no head exists yet', async () => {
    answerTransferRead([TRANSFER, null]);
    ddb.on(TransactWriteCommand).resolves({});
    await cancel(TRANSFER);
    const items = transactItems();
    const change = headChange(null, headAfter(null, CANCELLED));
    expect(items[0]?.Update).toMatchObject({ ConditionExpression: `#status IN (:from0) AND ${change.condition}`, ExpressionAttributeValues: change.values });
    expect(items[0]?.Update?.ExpressionAttributeValues).not.toHaveProperty(':chainPrev');
    expect(items[3]?.Put?.Item).toMatchObject({ seq: 1, prevHash: genesisHash(TRANSFER.id) });
  });

  it('the transfer\'s condition failing with its status now another is INVALID_STATE, and nothing is tried again', async () => {
    answerTransferRead([TRANSFER, HEAD], [{ ...TRANSFER, status: 'SCHEDULED' }, MOVED]);
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 0: 'ConditionalCheckFailed' }, 7));
    const error = await failure(cancel(TRANSFER));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'INVALID_STATE', details: { status: 'SCHEDULED' } });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    expect(getInputs()).toEqual([TRANSFER_READ, TRANSFER_READ]);
  });

  it('the transfer\'s condition failing with its status unchanged means the head moved: the event is chained again after the new head and written', async () => {
    answerTransferRead([TRANSFER, HEAD], [TRANSFER, MOVED]);
    ddb.on(TransactWriteCommand).rejectsOnce(cancelledWith({ 0: 'ConditionalCheckFailed' }, 8)).resolves({});

    await cancel(TRANSFER);

    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    expect(getInputs()).toEqual([TRANSFER_READ, TRANSFER_READ, HEAD_READ]);
    const [first, second] = [transactItems(0), transactItems(1)];
    expect(first[3]?.Put?.Item).toMatchObject({ seq: 3, prevHash: HEAD.hash });
    expect(first[0]?.Update?.ExpressionAttributeValues).toMatchObject({ ':chainPrev': 2, ':chainPrevHash': HEAD.hash });
    // The same event, rebuilt on the new head: its seq and predecessor, its hash, and the condition.
    expect(second[3]?.Put?.Item).toEqual(eventItem(chainedAfter(MOVED, CANCELLED)));
    expect(second[3]?.Put?.Item).toMatchObject({ seq: 4, prevHash: MOVED.hash, type: 'CANCELLED', at: CANCELLED.at });
    expect(second[0]?.Update?.ExpressionAttributeValues).toMatchObject(headChange(MOVED, headAfter(MOVED, CANCELLED)).values);
    // Its outbox event is made again too: only the write that lands tells of the change.
    const rebuilt = (key: string) =>
      key.includes('/EVENT#') ? expect.stringContaining('/EVENT#2026-03-12T00:00:00.000Z#') : OUTBOX_KEY.test(key) ? expect.stringMatching(OUTBOX_KEY) : key;
    expect(writtenKeys(second)).toEqual(writtenKeys(first).map(rebuilt));
  });

  it('a head that keeps moving is given up after six attempts, as a TransientError (the caller tries again later)', async () => {
    answerTransferRead([TRANSFER, HEAD]);
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 0: 'ConditionalCheckFailed' }, 8));
    expect(await failure(cancel(TRANSFER))).toBeInstanceOf(TransientError);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 6);
  });

  it.each(['ThrottlingError', 'ProvisionedThroughputExceeded', 'TransactionConflict'])('a status change cancelled for %s is a TransientError', async (code) => {
    answerTransferRead([TRANSFER, HEAD]);
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 4: code }, 8));
    expect(await failure(cancel(TRANSFER))).toBeInstanceOf(TransientError);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });
});

const CONSENT = {
  step: 'release' as const,
  decision: 'release' as const,
  signedBy: 'Alice Smith',
  statement: 's',
  transferDate: '2026-04-01',
  immediate: false,
  reason: null,
  via: 'api' as const,
  ticketId: null,
  sourceIp: null,
  userAgent: null,
};

function decision(overrides: Partial<Decision> = {}): Decision {
  return {
    transfer: TRANSFER,
    step: 'release',
    taskToken: 'task-1',
    from: 'AWAITING_RELEASE',
    to: 'AWAITING_ACCEPTANCE',
    consent: CONSENT,
    event: { at: '2026-03-10T16:00:00.000Z', type: 'RELEASED', actor: { kind: 'partner', partnerId: 'P-NORTH' }, detail: {} },
    signal: { kind: 'success', output: {} },
    changes: { transferDate: '2026-04-01' },
    releaseClaims: false,
    linkHash: null,
    at: '2026-03-10T16:00:00.000Z',
    ...overrides,
  };
}

describe('DynamoTransferStore.decide', () => {
  it('decides reading only the chain\'s head (never the transfer again), conditional on the status and the head, no decision yet and the task token as read', async () => {
    answerTransferRead([TRANSFER, HEAD]);
    ddb.on(TransactWriteCommand).resolves({});
    await store.decide(decision());
    expect(getInputs()).toEqual([HEAD_READ]);
    const items = transactItems();
    const change = headChange(HEAD, headAfter(HEAD, decision().event));
    expect(items[0]?.Update).toMatchObject({
      Key: TRANSFER_KEY,
      UpdateExpression: `SET #status = :to, updatedAt = :at, gsi2pk = :gsi2pk, #c0 = :c0, ${change.set}`,
      ConditionExpression: `#status IN (:from0) AND ${change.condition}`,
      ExpressionAttributeValues: { ':to': 'AWAITING_ACCEPTANCE', ':from0': 'AWAITING_RELEASE', ':c0': '2026-04-01', ...change.values },
    });
    expect(items[3]?.Update).toMatchObject({
      Key: { pk: `TRANSFER#${TRANSFER.id}`, sk: 'STEP#release' },
      ConditionExpression: 'attribute_not_exists(decision) AND taskToken = :token',
      ExpressionAttributeValues: { ':token': 'task-1', ':partner': 'P-NORTH' },
    });
    expect(items[4]?.Put).toEqual({ TableName: TABLE, Item: eventItem(chainedAfter(HEAD, decision().event)) });
    // The release is told, with the transfer as the decision leaves it.
    expect(items[5]).toEqual(outboxPut('transfer.released', '2026-03-10T16:00:00.000Z', 'AWAITING_ACCEPTANCE'));
    expect(items).toHaveLength(6);

    // The head it wrote is kept: the next write chains after it without reading.
    ddb.reset();
    ddb.on(TransactWriteCommand).resolves({});
    const next = headAfter(HEAD, decision().event);
    await store.decide(decision({ taskToken: null }));
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
    expect(transactItems()[3]?.Update?.ConditionExpression).toBe('attribute_not_exists(decision) AND attribute_not_exists(taskToken)');
    expect(transactItems()[0]?.Update?.ExpressionAttributeValues).toMatchObject({ ':chainPrev': 3, ':chainPrevHash': next.hash, ':chainSeq': 4 });
    expect(transactItems()[4]?.Put?.Item).toMatchObject({ seq: 4, prevHash: next.hash });
  });

  it('the transfer\'s condition failing with its status now another is ConflictError ALREADY_DECIDED', async () => {
    // three status updates (transfer, two party views), the step, the event, its outbox event
    answerTransferRead([TRANSFER, HEAD], [{ ...TRANSFER, status: 'AWAITING_ACCEPTANCE' }, MOVED]);
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 0: 'ConditionalCheckFailed' }, 6));
    const error = await failure(store.decide(decision()));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'ALREADY_DECIDED' });
    expect(writtenKeys(transactItems())).toEqual([
      `TRANSFER#${TRANSFER.id}/TRANSFER`,
      `TRANSFER#${TRANSFER.id}/PARTY#P-NORTH`,
      `TRANSFER#${TRANSFER.id}/PARTY#P-SOUTH`,
      `TRANSFER#${TRANSFER.id}/STEP#release`,
      expect.stringMatching(new RegExp(`^TRANSFER#${TRANSFER.id}/EVENT#2026-03-10T16:00:00\\.000Z#`)),
      expect.stringMatching(OUTBOX_KEY),
    ]);
    // The status was read consistently to tell a decision made first from a moved head; nothing was tried again.
    expect(getInputs()).toEqual([HEAD_READ, TRANSFER_READ]);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('the transfer\'s condition failing with its status unchanged means the head moved: the decision is rebuilt on the new head and recorded', async () => {
    answerTransferRead([TRANSFER, HEAD], [TRANSFER, MOVED]);
    ddb.on(TransactWriteCommand).rejectsOnce(cancelledWith({ 0: 'ConditionalCheckFailed' }, 6)).resolves({});
    await store.decide(decision());
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    expect(transactItems(0)[4]?.Put?.Item).toMatchObject({ seq: 3, prevHash: HEAD.hash });
    expect(transactItems(1)[4]?.Put?.Item).toEqual(eventItem(chainedAfter(MOVED, decision().event)));
    expect(transactItems(1)[0]?.Update?.ExpressionAttributeValues).toMatchObject(headChange(MOVED, headAfter(MOVED, decision().event)).values);
    // Everything else in the transaction is as it was.
    expect(transactItems(1).slice(1, 4)).toEqual(transactItems(0).slice(1, 4));
  });

  it('the transfer\'s and the step\'s conditions failing together, the status unchanged and the step undecided, is STEP_CHANGED (a wait resumed and appended its event)', async () => {
    const stepKey = { pk: `TRANSFER#${TRANSFER.id}`, sk: 'STEP#release' };
    answerTransferRead([TRANSFER, HEAD]);
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 0: 'ConditionalCheckFailed', 3: 'ConditionalCheckFailed' }, 5));
    ddb.on(GetCommand, { Key: stepKey }).resolves({ Item: { ...stepKey, taskToken: 'task-2' } });
    expect(await failure(store.decide(decision()))).toMatchObject({ status: 409, code: 'STEP_CHANGED' });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('the transfer\'s and the step\'s conditions failing with the status moved on is ALREADY_DECIDED, without another attempt', async () => {
    answerTransferRead([TRANSFER, HEAD], [{ ...TRANSFER, status: 'DECLINED' }, MOVED]);
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 0: 'ConditionalCheckFailed', 3: 'ConditionalCheckFailed' }, 5));
    expect(await failure(store.decide(decision()))).toMatchObject({ status: 409, code: 'ALREADY_DECIDED' });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('only the step\'s condition failing, with no decision on it, is STEP_CHANGED (a wait resumed with a new token); with a decision, ALREADY_DECIDED', async () => {
    const stepKey = { pk: `TRANSFER#${TRANSFER.id}`, sk: 'STEP#release' };
    answerTransferRead([TRANSFER, HEAD]);
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 3: 'ConditionalCheckFailed' }, 5));
    ddb.on(GetCommand, { Key: stepKey }).resolvesOnce({ Item: { ...stepKey, taskToken: 'task-2' } }).resolvesOnce({ Item: { ...stepKey, taskToken: 'task-2', decision: CONSENT } });
    expect(await failure(store.decide(decision()))).toMatchObject({ status: 409, code: 'STEP_CHANGED' });
    expect(await failure(store.decide(decision()))).toMatchObject({ status: 409, code: 'ALREADY_DECIDED' });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
  });

  it('a decision cancelled for throttling is a TransientError', async () => {
    answerTransferRead([TRANSFER, HEAD]);
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 3: 'ThrottlingError' }, 5));
    expect(await failure(store.decide(decision()))).toBeInstanceOf(TransientError);
  });

  it('a decision on a transfer that is not there is UNKNOWN_TRANSFER, and nothing is written', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await failure(store.decide(decision()))).toMatchObject({ status: 409, code: 'UNKNOWN_TRANSFER' });
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });
});

function openStep(overrides: Partial<OpenStep> = {}): OpenStep {
  return {
    transferId: TRANSFER.id,
    step: 'release',
    partnerId: 'P-NORTH',
    taskToken: 'task-1',
    linkHash: 'a'.repeat(64),
    linkNonce: 'nonce',
    supersedes: null,
    newLink: true,
    expiresAt: '2026-03-24T15:00:00.000Z',
    at: '2026-03-10T15:00:00.000Z',
    event: null,
    ...overrides,
  };
}

const APPROVAL_REQUESTED: HistoryEvent = { at: '2026-03-10T15:00:01.000Z', type: 'APPROVAL_REQUESTED', actor: { kind: 'system', name: 'workflow' }, detail: { step: 'release' } };
const EXTENDED: HistoryEvent = { at: '2026-03-20T15:00:00.000Z', type: 'WINDOW_EXTENDED', actor: { kind: 'operator' }, detail: {} };

const extend = () =>
  store.extendStep({
    transferId: TRANSFER.id,
    step: 'release',
    linkHash: 'a'.repeat(64),
    from: '2026-03-24T15:00:00.000Z',
    to: '2026-03-31T15:00:00.000Z',
    event: EXTENDED,
  });

describe('DynamoTransferStore approval links expire', () => {
  it('a new link carries the TTL attribute: its expiry plus the grace period, in epoch seconds', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await store.openStep(openStep());
    const link = transactItems().find((item) => item.Put?.Item?.kind === 'link');
    expect(link?.Put?.Item?.expiresAtEpoch).toBe(Date.parse('2026-03-24T15:00:00.000Z') / 1000 + LINK_GRACE_SECONDS);
    expect(LINK_GRACE_SECONDS).toBe(30 * 86_400);
    // Without an event, the chain is not touched: no read of its head, no change of it.
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
    expect(writtenKeys(transactItems())).toEqual([`TRANSFER#${TRANSFER.id}/STEP#release`, `LINK#${'a'.repeat(64)}/LINK`]);
  });

  it('an extension moves the link\'s TTL with its deadline, and chains its event, moving the head last', async () => {
    answerTransferRead([TRANSFER, HEAD]);
    ddb.on(TransactWriteCommand).resolves({});
    await extend();
    const items = transactItems();
    expect(items[1]?.Update).toMatchObject({
      Key: { pk: `LINK#${'a'.repeat(64)}`, sk: 'LINK' },
      UpdateExpression: 'SET expiresAt = :to, #ttl = :ttl',
      ExpressionAttributeNames: { '#state': 'state', '#ttl': 'expiresAtEpoch' },
      ExpressionAttributeValues: { ':to': '2026-03-31T15:00:00.000Z', ':ttl': Date.parse('2026-03-31T15:00:00.000Z') / 1000 + LINK_GRACE_SECONDS },
    });
    expect(items.slice(2)).toEqual([{ Put: { TableName: TABLE, Item: eventItem(chainedAfter(HEAD, EXTENDED)) } }, headUpdate(HEAD, headAfter(HEAD, EXTENDED))]);
    expect(getInputs()).toEqual([HEAD_READ]);
  });

  it('an extension whose head condition alone failed is rebuilt on the new head; one whose step or link changed is STEP_CHANGED', async () => {
    answerTransferRead([TRANSFER, HEAD], [TRANSFER, MOVED]);
    ddb.on(TransactWriteCommand).rejectsOnce(cancelledWith({ 3: 'ConditionalCheckFailed' }, 4)).resolves({});
    await extend();
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    expect(transactItems(1).slice(2)).toEqual([{ Put: { TableName: TABLE, Item: eventItem(chainedAfter(MOVED, EXTENDED)) } }, headUpdate(MOVED, headAfter(MOVED, EXTENDED))]);

    // The step, the link, or either with the head: the extension itself is refused.
    const refusals: Record<number, string>[] = [{ 0: 'ConditionalCheckFailed' }, { 1: 'ConditionalCheckFailed' }, { 0: 'ConditionalCheckFailed', 3: 'ConditionalCheckFailed' }, { 1: 'ConditionalCheckFailed', 3: 'ConditionalCheckFailed' }];
    for (const reasons of refusals) {
      ddb.reset();
      answerTransferRead([TRANSFER, HEAD]);
      ddb.on(TransactWriteCommand).rejects(cancelledWith(reasons, 4));
      expect(await failure(extend())).toMatchObject({ status: 409, code: 'STEP_CHANGED' });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    }
  });
});

describe('DynamoTransferStore.openStep with an event', () => {
  it('chains the event and moves the head as the transaction\'s last item, after a superseded link', async () => {
    answerTransferRead([TRANSFER, HEAD]);
    ddb.on(TransactWriteCommand).resolves({});
    await expect(store.openStep(openStep({ event: APPROVAL_REQUESTED, supersedes: 'b'.repeat(64) }))).resolves.toBe(true);
    const items = transactItems();
    expect(writtenKeys(items)).toEqual([
      `TRANSFER#${TRANSFER.id}/STEP#release`,
      `LINK#${'a'.repeat(64)}/LINK`,
      expect.stringMatching(new RegExp(`^TRANSFER#${TRANSFER.id}/EVENT#2026-03-10T15:00:01\\.000Z#`)),
      `LINK#${'b'.repeat(64)}/LINK`,
      `TRANSFER#${TRANSFER.id}/TRANSFER`,
    ]);
    expect(items[2]?.Put?.Item).toEqual(eventItem(chainedAfter(HEAD, APPROVAL_REQUESTED)));
    expect(items[4]).toEqual(headUpdate(HEAD, headAfter(HEAD, APPROVAL_REQUESTED)));
  });

  it('a moved head is rebuilt and written; a step already decided opens nothing, and its unwritten head is not kept', async () => {
    answerTransferRead([TRANSFER, HEAD], [TRANSFER, MOVED]);
    ddb.on(TransactWriteCommand).rejectsOnce(cancelledWith({ 3: 'ConditionalCheckFailed' }, 4)).resolves({});
    await expect(store.openStep(openStep({ event: APPROVAL_REQUESTED }))).resolves.toBe(true);
    expect(transactItems(1)[3]).toEqual(headUpdate(MOVED, headAfter(MOVED, APPROVAL_REQUESTED)));

    ddb.reset();
    answerTransferRead([TRANSFER, HEAD]);
    ddb.on(TransactWriteCommand).rejectsOnce(cancelledWith({ 0: 'ConditionalCheckFailed' }, 4)).resolves({});
    const other = new DynamoTransferStore(mockedDocumentClient(), TABLE);
    await expect(other.openStep(openStep({ event: APPROVAL_REQUESTED }))).resolves.toBe(false);
    // Its event was not written: the next event is chained after the head as stored, read again.
    await other.appendEvent(TRANSFER.id, EXTENDED);
    expect(getInputs()).toEqual([HEAD_READ, HEAD_READ]);
    expect(transactItems(1)[0]?.Put?.Item).toMatchObject({ seq: 3, prevHash: HEAD.hash, type: 'WINDOW_EXTENDED' });
  });
});

describe('DynamoTransferStore.appendEvent', () => {
  const NOTE: HistoryEvent = { at: '2026-03-11T00:00:00.000Z', type: 'NOTICE_FAILED', actor: { kind: 'system', name: 'api' }, detail: { notice: 'cancellation' } };
  const LATER: HistoryEvent = { ...NOTE, at: '2026-03-11T00:00:01.000Z', detail: { notice: 'release' } };

  it('writes the event chained after the head and moves the head in one transaction; the next append uses the head it wrote', async () => {
    answerTransferRead([TRANSFER, HEAD]);
    ddb.on(TransactWriteCommand).resolves({});
    await store.appendEvent(TRANSFER.id, NOTE);
    expect(getInputs()).toEqual([HEAD_READ]);
    expect(transactItems()).toEqual([{ Put: { TableName: TABLE, Item: eventItem(chainedAfter(HEAD, NOTE)) } }, openHeadUpdate(HEAD, headAfter(HEAD, NOTE))]);

    const afterNote = headAfter(HEAD, NOTE);
    await store.appendEvent(TRANSFER.id, LATER);
    expect(getInputs()).toEqual([HEAD_READ]);
    expect(transactItems(1)).toEqual([{ Put: { TableName: TABLE, Item: eventItem(chainedAfter(afterNote, LATER)) } }, openHeadUpdate(afterNote, headAfter(afterNote, LATER))]);
    expect(transactItems(1)[0]?.Put?.Item).toMatchObject({ seq: 4, prevHash: afterNote.hash });
  });

  it('a transfer filed before chaining gets its first chained event from genesis, on condition that it has no head yet', async () => {
    answerTransferRead([TRANSFER, null]);
    ddb.on(TransactWriteCommand).resolves({});
    await store.appendEvent(TRANSFER.id, NOTE);
    expect(transactItems()).toEqual([{ Put: { TableName: TABLE, Item: eventItem(chainedAfter(null, NOTE)) } }, openHeadUpdate(null, headAfter(null, NOTE))]);
    expect(transactItems()[1]?.Update?.ConditionExpression).toBe('attribute_exists(pk) AND attribute_not_exists(chainSeq) AND attribute_not_exists(#ttl)');
    expect(transactItems()[0]?.Put?.Item).toMatchObject({ seq: 1, prevHash: genesisHash(TRANSFER.id) });
  });

  it('an event for a transfer that is not there is UNKNOWN_TRANSFER, and nothing is written', async () => {
    ddb.on(GetCommand).resolves({});
    const error = await failure(store.appendEvent(TRANSFER.id, NOTE));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'UNKNOWN_TRANSFER' });
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('a stale head (another writer appended) is read again and the event rebuilt on it; after six attempts, a TransientError', async () => {
    answerTransferRead([TRANSFER, HEAD], [TRANSFER, MOVED]);
    ddb.on(TransactWriteCommand).rejectsOnce(cancelledWith({ 1: 'ConditionalCheckFailed' }, 2)).resolves({});
    await store.appendEvent(TRANSFER.id, NOTE);
    expect(getInputs()).toEqual([HEAD_READ, HEAD_READ]);
    expect(transactItems(1)).toEqual([{ Put: { TableName: TABLE, Item: eventItem(chainedAfter(MOVED, NOTE)) } }, openHeadUpdate(MOVED, headAfter(MOVED, NOTE))]);

    ddb.reset();
    answerTransferRead([TRANSFER, HEAD]);
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 1: 'ConditionalCheckFailed' }, 2));
    const fresh = new DynamoTransferStore(mockedDocumentClient(), TABLE);
    expect(await failure(fresh.appendEvent(TRANSFER.id, NOTE))).toBeInstanceOf(TransientError);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 6);
    expect(getInputs()).toEqual(Array.from({ length: 6 }, () => HEAD_READ));
  });

  it('a transaction that failed otherwise is not tried again, and the head is no longer trusted', async () => {
    answerTransferRead([TRANSFER, HEAD]);
    ddb.on(TransactWriteCommand).rejectsOnce(cancelledWith({ 1: 'TransactionConflict' }, 2)).resolves({});
    expect(await failure(store.appendEvent(TRANSFER.id, NOTE))).toBeInstanceOf(TransientError);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    await store.appendEvent(TRANSFER.id, NOTE);
    expect(getInputs()).toEqual([HEAD_READ, HEAD_READ]);
  });

  it('an event appended to a closed transfer expires with it; one appended while it closes is written again with its expiry', async () => {
    const EXPIRY = 1_900_000_000;
    ddb.on(GetCommand, { Key: TRANSFER_KEY }).resolves({ Item: { ...transferItem(TRANSFER, HEAD), expiresAtEpoch: EXPIRY } });
    ddb.on(TransactWriteCommand).resolves({});
    await store.appendEvent(TRANSFER.id, NOTE);
    expect(transactItems()).toEqual([
      { Put: { TableName: TABLE, Item: { ...eventItem(chainedAfter(HEAD, NOTE)), expiresAtEpoch: EXPIRY } } },
      headUpdate(HEAD, headAfter(HEAD, NOTE)),
    ]);

    // Read open, closed (retired) before the write: the write's condition fails, the head and expiry are read again.
    ddb.reset();
    ddb.on(GetCommand, { Key: TRANSFER_KEY })
      .resolvesOnce({ Item: transferItem(TRANSFER, HEAD) })
      .resolves({ Item: { ...transferItem(TRANSFER, HEAD), expiresAtEpoch: EXPIRY } });
    ddb.on(TransactWriteCommand).rejectsOnce(cancelledWith({ 1: 'ConditionalCheckFailed' }, 2)).resolves({});
    const fresh = new DynamoTransferStore(mockedDocumentClient(), TABLE);
    await fresh.appendEvent(TRANSFER.id, NOTE);
    expect(transactItems(0)[1]).toEqual(openHeadUpdate(HEAD, headAfter(HEAD, NOTE)));
    expect(transactItems(1)).toEqual([
      { Put: { TableName: TABLE, Item: { ...eventItem(chainedAfter(HEAD, NOTE)), expiresAtEpoch: EXPIRY } } },
      headUpdate(HEAD, headAfter(HEAD, NOTE)),
    ]);
  });
});

describe('DynamoTransferStore.moveCustomer', () => {
  const move = {
    transferId: TRANSFER.id,
    customerId: 'C-ACME',
    fromPartnerId: 'P-NORTH',
    toPartnerId: 'P-SOUTH',
    lockedUntil: '2026-04-09',
    event: { at: '2026-03-10T16:00:00.000Z', type: 'CUSTOMER_MOVED', actor: { kind: 'system' as const }, detail: {} },
    at: '2026-03-10T16:00:00.000Z',
  };
  const ownerKey = { pk: 'CUSTOMER#C-ACME', sk: 'OWNER' };

  it('a move whose conditions fail is "already-moved" only when this transfer moved the customer to the new partner', async () => {
    answerTransferRead([TRANSFER, HEAD]);
    // the ownership, the claim, the event, the audit entry, the head
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 0: 'ConditionalCheckFailed', 1: 'ConditionalCheckFailed' }, 5));
    ddb
      .on(GetCommand, { Key: ownerKey })
      .resolvesOnce({ Item: { partnerId: 'P-SOUTH', lastTransferId: TRANSFER.id } })
      .resolvesOnce({ Item: { partnerId: 'P-SOUTH', lastTransferId: 'TR-OTHER' } })
      .resolvesOnce({ Item: { partnerId: 'P-EAST' } });

    await expect(store.moveCustomer(move)).resolves.toBe('already-moved');
    await expect(store.moveCustomer(move)).resolves.toBe('not-movable');
    await expect(store.moveCustomer(move)).resolves.toBe('not-movable');
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
    const items = transactItems();
    expect(items[0]?.Update).toMatchObject({ Key: ownerKey, ConditionExpression: 'partnerId = :from' });
    expect(items[1]?.Delete).toMatchObject({ Key: { pk: 'CUSTOMER#C-ACME', sk: 'CLAIM' }, ExpressionAttributeValues: { ':transfer': TRANSFER.id } });
    expect(items[2]?.Put?.Item).toEqual(eventItem(chainedAfter(HEAD, move.event)));
    expect(items[4]).toEqual(headUpdate(HEAD, headAfter(HEAD, move.event)));
    // A refused move wrote no event: each attempt chains after the stored head, read again, never after its own unwritten one.
    expect(getInputs().filter((input) => JSON.stringify(input).includes('"sk":"TRANSFER"'))).toEqual([HEAD_READ, HEAD_READ, HEAD_READ]);
    expect(ddb.commandCalls(TransactWriteCommand).map((call) => call.args[0].input.TransactItems?.[2]?.Put?.Item?.seq)).toEqual([3, 3, 3]);
  });

  it('a move whose head condition alone failed is rebuilt on the new head and moves the customer', async () => {
    answerTransferRead([TRANSFER, HEAD], [TRANSFER, MOVED]);
    ddb.on(TransactWriteCommand).rejectsOnce(cancelledWith({ 4: 'ConditionalCheckFailed' }, 5)).resolves({});
    await expect(store.moveCustomer(move)).resolves.toBe('moved');
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    // Not mistaken for a refused move: the ownership is never read.
    expect(ddb).not.toHaveReceivedCommandWith(GetCommand, { Key: ownerKey });
    expect(transactItems(1)[2]?.Put?.Item).toEqual(eventItem(chainedAfter(MOVED, move.event)));
    expect(transactItems(1)[4]).toEqual(headUpdate(MOVED, headAfter(MOVED, move.event)));
    expect(transactItems(1).slice(0, 2)).toEqual(transactItems(0).slice(0, 2));
  });
});
