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
import { describe, expect, it } from 'vitest';
import { DynamoTransferStore, LINK_GRACE_SECONDS } from '../../../lambdas/adapters/dynamo-transfer-store.ts';
import { ConflictError, TransientError, ValidationError } from '../../../lambdas/domain/errors.ts';
import type { Decision } from '../../../lambdas/domain/ports.ts';
import { summaryOf, type HistoryEvent, type Transfer } from '../../../lambdas/domain/transfer.ts';
import './aws-matchers.ts';
import { failure, mockedDocumentClient, resetAfterEach, sampleTransfer } from './support.ts';

const TABLE = 'transfers-test';
const ddb = mockClient(DynamoDBDocumentClient);
const store = new DynamoTransferStore(
  mockedDocumentClient(),
  TABLE,
);

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
// transfer, two party views, two events, then one claim per customer
const CLAIMS_AT = 5;

const TRANSFER_KEY = { pk: `TRANSFER#${TRANSFER.id}`, sk: 'TRANSFER' };
const customerKey = (customerId: string) => ({ pk: `TRANSFER#${TRANSFER.id}`, sk: `CUSTOMER#${customerId}` });
const CUSTOMER_KEYS = TRANSFER.customers.map((c) => customerKey(c.id));
/** An event's sort key: its instant, then a sequence number and a random tie-breaker. */
const eventSk = (at: string) => expect.stringMatching(new RegExp(`^EVENT#${at.replaceAll('.', '\\.')}#\\d{6}-[0-9a-f]{6}$`));

/** The TRANSFER item as stored: keys, kind, the transfer with its customers' summaries, and both index keys. */
function transferItem(transfer: Transfer): Record<string, unknown> {
  return {
    pk: `TRANSFER#${transfer.id}`,
    sk: 'TRANSFER',
    kind: 'transfer',
    ...summaryOf(transfer),
    gsi1pk: 'ALL',
    gsi1sk: `${transfer.createdAt}#${transfer.id}`,
    gsi2pk: `ALL#${transfer.status}`,
    gsi2sk: `${transfer.createdAt}#${transfer.id}`,
  };
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

/** Answers the read of a transfer's item as DynamoDB would. */
function answerTransferRead(transfer: Transfer): void {
  ddb.on(GetCommand, { Key: { pk: `TRANSFER#${transfer.id}`, sk: 'TRANSFER' } }).resolves({ Item: transferItem(transfer) });
}

const SNAPSHOT_PUTS = { RequestItems: { [TABLE]: customerItems(TRANSFER).map((Item) => ({ PutRequest: { Item } })) } };
const SNAPSHOT_DELETES = { RequestItems: { [TABLE]: CUSTOMER_KEYS.map((Key) => ({ DeleteRequest: { Key } })) } };

resetAfterEach(ddb);

describe('DynamoTransferStore.create', () => {
  it('writes each customer\'s domain snapshot first, then the transfer (with summaries), both party views, the events and a conditional claim per customer in one transaction', async () => {
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
      { Put: { TableName: TABLE, Item: transferItem(TRANSFER), ConditionExpression: 'attribute_not_exists(pk)' } },
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
      ...EVENTS.map((event) => ({
        Put: { TableName: TABLE, Item: { pk: `TRANSFER#${TRANSFER.id}`, sk: eventSk(event.at), kind: 'event', ...event } },
      })),
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
  });

  it('50 customers: two batch writes of 25 snapshots, and a transaction of 55 actions, within DynamoDB\'s 100', async () => {
    const fifty = sampleTransfer({
      customers: Array.from({ length: 50 }, (_, i) => ({ id: `C-${i}`, name: `Customer ${i}`, domains: [`c${i}.example`], domainCount: 1, domainsTruncated: false })),
    });
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    await store.create({ transfer: fifty, events: EVENTS.slice(0, 1) });
    expect(batchWrites().map((input) => (input as typeof SNAPSHOT_PUTS).RequestItems[TABLE]?.length)).toEqual([25, 25]);
    expect(transactItems()).toHaveLength(1 + 2 + 1 + 50);
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
  const cancel = (transfer: Transfer) =>
    store.changeStatus({
      transferId: transfer.id,
      from: ['AWAITING_RELEASE'],
      to: 'CANCELLED',
      at: '2026-03-12T00:00:00.000Z',
      event: { at: '2026-03-12T00:00:00.000Z', type: 'CANCELLED', actor: { kind: 'operator', name: 'ops' }, detail: {} },
      releaseClaims: true,
    });

  it('changeStatus reads the transfer item consistently, then writes only the small items, releasing the claims of the customers it names', async () => {
    answerTransferRead(TRANSFER);
    ddb.on(TransactWriteCommand).resolves({});

    await cancel(TRANSFER);

    expect(ddb.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([{ TableName: TABLE, Key: TRANSFER_KEY, ConsistentRead: true }]);
    const items = transactItems();
    expect(writtenKeys(items)).toEqual([
      `TRANSFER#${TRANSFER.id}/TRANSFER`,
      `TRANSFER#${TRANSFER.id}/PARTY#P-NORTH`,
      `TRANSFER#${TRANSFER.id}/PARTY#P-SOUTH`,
      expect.stringMatching(new RegExp(`^TRANSFER#${TRANSFER.id}/EVENT#2026-03-12T00:00:00\\.000Z#`)),
      'CUSTOMER#C-ACME/CLAIM',
      'CUSTOMER#C-BRIGHT/CLAIM',
      'CUSTOMER#C-CORAL/CLAIM',
    ]);
    expect(items[0]?.Update).toMatchObject({
      UpdateExpression: 'SET #status = :to, updatedAt = :at, gsi2pk = :gsi2pk',
      ExpressionAttributeValues: { ':to': 'CANCELLED', ':gsi2pk': 'ALL#CANCELLED', ':from0': 'AWAITING_RELEASE' },
    });
    expect(items.slice(4).map((item) => item.Delete?.ExpressionAttributeValues)).toEqual(TRANSFER.customers.map(() => ({ ':transfer': TRANSFER.id })));
    expect(JSON.stringify(items)).not.toContain('.example');
  });

  it.each(['ThrottlingError', 'ProvisionedThroughputExceeded', 'TransactionConflict'])('a status change cancelled for %s is a TransientError', async (code) => {
    answerTransferRead(TRANSFER);
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 4: code }, 7));
    expect(await failure(cancel(TRANSFER))).toBeInstanceOf(TransientError);
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
  it('decides without reading the transfer again, conditional on the status, no decision yet and the task token as read', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await store.decide(decision());
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
    expect(transactItems()[3]?.Update).toMatchObject({
      Key: { pk: `TRANSFER#${TRANSFER.id}`, sk: 'STEP#release' },
      ConditionExpression: 'attribute_not_exists(decision) AND taskToken = :token',
      ExpressionAttributeValues: { ':token': 'task-1', ':partner': 'P-NORTH' },
    });

    ddb.reset();
    ddb.on(TransactWriteCommand).resolves({});
    await store.decide(decision({ taskToken: null }));
    expect(transactItems()[3]?.Update?.ConditionExpression).toBe('attribute_not_exists(decision) AND attribute_not_exists(taskToken)');
  });

  it('a failed condition when deciding is a ConflictError ALREADY_DECIDED', async () => {
    // three status updates (transfer, two party views), the step, the event
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 0: 'ConditionalCheckFailed' }, 5));
    const error = await failure(store.decide(decision()));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'ALREADY_DECIDED' });
    expect(writtenKeys(transactItems())).toEqual([
      `TRANSFER#${TRANSFER.id}/TRANSFER`,
      `TRANSFER#${TRANSFER.id}/PARTY#P-NORTH`,
      `TRANSFER#${TRANSFER.id}/PARTY#P-SOUTH`,
      `TRANSFER#${TRANSFER.id}/STEP#release`,
      expect.stringMatching(new RegExp(`^TRANSFER#${TRANSFER.id}/EVENT#2026-03-10T16:00:00\\.000Z#`)),
    ]);
  });

  it('only the step\'s condition failing, with no decision on it, is STEP_CHANGED (a wait resumed with a new token); with a decision, ALREADY_DECIDED', async () => {
    const stepKey = { pk: `TRANSFER#${TRANSFER.id}`, sk: 'STEP#release' };
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 3: 'ConditionalCheckFailed' }, 5));
    ddb.on(GetCommand, { Key: stepKey }).resolvesOnce({ Item: { ...stepKey, taskToken: 'task-2' } }).resolvesOnce({ Item: { ...stepKey, taskToken: 'task-2', decision: CONSENT } });
    expect(await failure(store.decide(decision()))).toMatchObject({ status: 409, code: 'STEP_CHANGED' });
    expect(await failure(store.decide(decision()))).toMatchObject({ status: 409, code: 'ALREADY_DECIDED' });
  });

  it('a decision cancelled for throttling is a TransientError', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 3: 'ThrottlingError' }, 5));
    expect(await failure(store.decide(decision()))).toBeInstanceOf(TransientError);
  });
});

describe('DynamoTransferStore approval links expire', () => {
  it('a new link carries the TTL attribute: its expiry plus the grace period, in epoch seconds', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await store.openStep({
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
    });
    const link = transactItems().find((item) => item.Put?.Item?.kind === 'link');
    expect(link?.Put?.Item?.expiresAtEpoch).toBe(Date.parse('2026-03-24T15:00:00.000Z') / 1000 + LINK_GRACE_SECONDS);
    expect(LINK_GRACE_SECONDS).toBe(30 * 86_400);
  });

  it('an extension moves the link\'s TTL with its deadline', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await store.extendStep({
      transferId: TRANSFER.id,
      step: 'release',
      linkHash: 'a'.repeat(64),
      from: '2026-03-24T15:00:00.000Z',
      to: '2026-03-31T15:00:00.000Z',
      event: { at: '2026-03-20T15:00:00.000Z', type: 'WINDOW_EXTENDED', actor: { kind: 'operator' }, detail: {} },
    });
    expect(transactItems()[1]?.Update).toMatchObject({
      Key: { pk: `LINK#${'a'.repeat(64)}`, sk: 'LINK' },
      UpdateExpression: 'SET expiresAt = :to, #ttl = :ttl',
      ExpressionAttributeNames: { '#state': 'state', '#ttl': 'expiresAtEpoch' },
      ExpressionAttributeValues: { ':to': '2026-03-31T15:00:00.000Z', ':ttl': Date.parse('2026-03-31T15:00:00.000Z') / 1000 + LINK_GRACE_SECONDS },
    });
  });
});

describe('DynamoTransferStore.moveCustomer', () => {
  it('a move whose conditions fail is "already-moved" only when this transfer moved the customer to the new partner', async () => {
    const move = {
      transferId: TRANSFER.id,
      customerId: 'C-ACME',
      fromPartnerId: 'P-NORTH',
      toPartnerId: 'P-SOUTH',
      lockedUntil: '2026-04-09',
      event: { at: '2026-03-10T16:00:00.000Z', type: 'CUSTOMER_MOVED', actor: { kind: 'system' as const }, detail: {} },
      at: '2026-03-10T16:00:00.000Z',
    };
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 0: 'ConditionalCheckFailed', 1: 'ConditionalCheckFailed' }, 4));
    ddb
      .on(GetCommand, { Key: { pk: 'CUSTOMER#C-ACME', sk: 'OWNER' } })
      .resolvesOnce({ Item: { partnerId: 'P-SOUTH', lastTransferId: TRANSFER.id } })
      .resolvesOnce({ Item: { partnerId: 'P-SOUTH', lastTransferId: 'TR-OTHER' } })
      .resolvesOnce({ Item: { partnerId: 'P-EAST' } });

    await expect(store.moveCustomer(move)).resolves.toBe('already-moved');
    await expect(store.moveCustomer(move)).resolves.toBe('not-movable');
    await expect(store.moveCustomer(move)).resolves.toBe('not-movable');
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
    const items = transactItems();
    expect(items[0]?.Update).toMatchObject({ Key: { pk: 'CUSTOMER#C-ACME', sk: 'OWNER' }, ConditionExpression: 'partnerId = :from' });
    expect(items[1]?.Delete).toMatchObject({ Key: { pk: 'CUSTOMER#C-ACME', sk: 'CLAIM' }, ExpressionAttributeValues: { ':transfer': TRANSFER.id } });
  });
});
