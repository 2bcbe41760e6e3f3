import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { DynamoTransferStore } from '../../../lambdas/adapters/dynamo-transfer-store.ts';
import { ConflictError, TransientError, ValidationError } from '../../../lambdas/domain/errors.ts';
import type { HistoryEvent, Transfer } from '../../../lambdas/domain/transfer.ts';
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
    { id: 'C-ACME', name: 'Acme Widgets', domains: ['acme.example'] },
    { id: 'C-BRIGHT', name: 'Brightside Dental', domains: ['brightside.example'] },
    { id: 'C-CORAL', name: 'Coral Bakery', domains: ['coral.example'] },
  ],
});
const EVENTS: HistoryEvent[] = [
  { at: TRANSFER.createdAt, type: 'REQUESTED', actor: TRANSFER.requestedBy, detail: {} },
  { at: TRANSFER.createdAt, type: 'RELEASED', actor: TRANSFER.requestedBy, detail: {} },
];
// transfer, its customers item, two party views, two events, then one claim per customer
const CLAIMS_AT = 6;

const TRANSFER_KEY = { pk: `TRANSFER#${TRANSFER.id}`, sk: 'TRANSFER' };
const CUSTOMERS_KEY = { pk: `TRANSFER#${TRANSFER.id}`, sk: 'CUSTOMERS' };
/** An event's sort key: its instant, then a sequence number and a random tie-breaker. */
const eventSk = (at: string) => expect.stringMatching(new RegExp(`^EVENT#${at.replaceAll('.', '\\.')}#\\d{6}-[0-9a-f]{6}$`));

/** A transfer's own attributes: everything but its customers, which live in their own item. */
function withoutCustomers(transfer: Transfer): Omit<Transfer, 'customers'> {
  return Object.fromEntries(Object.entries(transfer).filter(([name]) => name !== 'customers')) as Omit<Transfer, 'customers'>;
}

/** The TRANSFER item as stored: keys, kind, the transfer without its customers, and both index keys. */
function transferItem(transfer: Transfer): Record<string, unknown> {
  return {
    pk: `TRANSFER#${transfer.id}`,
    sk: 'TRANSFER',
    kind: 'transfer',
    ...withoutCustomers(transfer),
    gsi1pk: 'ALL',
    gsi1sk: `${transfer.createdAt}#${transfer.id}`,
    gsi2pk: `ALL#${transfer.status}`,
    gsi2sk: `${transfer.createdAt}#${transfer.id}`,
  };
}

/** The CUSTOMERS item as stored: the transfer's customers with all their domains. */
function customersItem(transfer: Transfer): Record<string, unknown> {
  return { pk: `TRANSFER#${transfer.id}`, sk: 'CUSTOMERS', kind: 'customers', customers: transfer.customers };
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

function cancelledWith(reasons: Record<number, string>, length = CLAIMS_AT + TRANSFER.customers.length): TransactionCanceledException {
  return new TransactionCanceledException({
    message: 'Transaction cancelled, please refer cancellation reasons for specific reasons',
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: Array.from({ length }, (_, index) => ({ Code: reasons[index] ?? 'None' })),
  });
}

/** Answers the two reads of a transfer (its TRANSFER and its CUSTOMERS item) as DynamoDB would. */
function answerTransferReads(transfer: Transfer): void {
  ddb.on(GetCommand, { Key: { pk: `TRANSFER#${transfer.id}`, sk: 'TRANSFER' } }).resolves({ Item: transferItem(transfer) });
  ddb.on(GetCommand, { Key: { pk: `TRANSFER#${transfer.id}`, sk: 'CUSTOMERS' } }).resolves({ Item: customersItem(transfer) });
}

resetAfterEach(ddb);

describe('DynamoTransferStore.create', () => {
  it('writes the transfer, its customers item, both party views, the events and a conditional claim per customer in one transaction', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await store.create({ transfer: TRANSFER, events: EVENTS });

    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const items = transactItems();
    expect(items).toEqual([
      { Put: { TableName: TABLE, Item: transferItem(TRANSFER), ConditionExpression: 'attribute_not_exists(pk)' } },
      { Put: { TableName: TABLE, Item: { ...CUSTOMERS_KEY, kind: 'customers', customers: TRANSFER.customers } } },
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
    // The transfer item itself carries no customers; the claims start where the cancellation reasons are read.
    expect(Object.keys(items[0]?.Put?.Item ?? {})).not.toContain('customers');
    expect(writtenKeys(items).slice(CLAIMS_AT)).toEqual(TRANSFER.customers.map((c) => `CUSTOMER#${c.id}/CLAIM`));
    expect(String(items[4]?.Put?.Item?.sk) < String(items[5]?.Put?.Item?.sk)).toBe(true);
  });

  it('a failed claim condition is a ConflictError CUSTOMER_BUSY naming the busy customer', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ [CLAIMS_AT + 1]: 'ConditionalCheckFailed' }));

    const error = await failure(store.create({ transfer: TRANSFER, events: EVENTS }));

    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({
      status: 409,
      code: 'CUSTOMER_BUSY',
      message: 'Customer C-BRIGHT is already in another active transfer.',
      details: { customerIds: ['C-BRIGHT'] },
    });
  });

  it('several busy customers are all named', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ [CLAIMS_AT]: 'ConditionalCheckFailed', [CLAIMS_AT + 2]: 'ConditionalCheckFailed' }));
    const error = await failure(store.create({ transfer: TRANSFER, events: EVENTS }));
    expect(error).toMatchObject({
      code: 'CUSTOMER_BUSY',
      message: 'Customers C-ACME, C-CORAL are already in another active transfer.',
      details: { customerIds: ['C-ACME', 'C-CORAL'] },
    });
  });

  it('the busy customers are read after the customers item: the last claim is the last customer, the item before the claims names nobody', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ [CLAIMS_AT + 2]: 'ConditionalCheckFailed' }));
    expect(await failure(store.create({ transfer: TRANSFER, events: EVENTS }))).toMatchObject({
      code: 'CUSTOMER_BUSY',
      details: { customerIds: ['C-CORAL'] },
    });

    ddb.reset();
    const notAClaim = cancelledWith({ [CLAIMS_AT - 1]: 'ConditionalCheckFailed' });
    ddb.on(TransactWriteCommand).rejects(notAClaim);
    expect(await failure(store.create({ transfer: TRANSFER, events: EVENTS }))).toBe(notAClaim);
  });

  it('a failed condition on the transfer itself (an id collision) is not reported as a busy customer', async () => {
    const collision = cancelledWith({ 0: 'ConditionalCheckFailed' });
    ddb.on(TransactWriteCommand).rejects(collision);
    expect(await failure(store.create({ transfer: TRANSFER, events: EVENTS }))).toBe(collision);
  });

  it('a transaction conflict without a failed condition is transient', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ [CLAIMS_AT]: 'TransactionConflict' }));
    expect(await failure(store.create({ transfer: TRANSFER, events: EVENTS }))).toBeInstanceOf(TransientError);
  });
});

describe('DynamoTransferStore.discard and get', () => {
  it('discard deletes the transfer, its customers item, both party views and the claims it holds in one transaction, then its events', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    const events = [
      { pk: `TRANSFER#${TRANSFER.id}`, sk: 'EVENT#2026-03-10T15:00:00.000Z#000001-aaaaaa', kind: 'event', ...EVENTS[0] },
      { pk: `TRANSFER#${TRANSFER.id}`, sk: 'EVENT#2026-03-10T15:00:00.000Z#000002-bbbbbb', kind: 'event', ...EVENTS[1] },
    ];
    ddb.on(QueryCommand).resolves({ Items: events });
    ddb.on(DeleteCommand).resolves({});

    await store.discard(TRANSFER);

    expect(transactItems()).toEqual([
      { Delete: { TableName: TABLE, Key: TRANSFER_KEY } },
      { Delete: { TableName: TABLE, Key: CUSTOMERS_KEY } },
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
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': `TRANSFER#${TRANSFER.id}`, ':prefix': 'EVENT#' },
        ConsistentRead: true,
        ExclusiveStartKey: undefined,
      },
    ]);
    expect(ddb.commandCalls(DeleteCommand).map((call) => call.args[0].input)).toEqual(
      events.map((e) => ({ TableName: TABLE, Key: { pk: e.pk, sk: e.sk } })),
    );
  });

  it('get merges the customers item back into the transfer, with its history and without any storage attribute', async () => {
    const [first, second] = EVENTS;
    ddb.on(QueryCommand).resolves({
      Items: [
        customersItem(TRANSFER),
        { pk: `TRANSFER#${TRANSFER.id}`, sk: 'EVENT#2026-03-10T15:00:00.000Z#000001-aaaaaa', kind: 'event', ...first },
        { pk: `TRANSFER#${TRANSFER.id}`, sk: 'EVENT#2026-03-10T15:00:00.000Z#000002-bbbbbb', kind: 'event', ...second },
        { pk: `TRANSFER#${TRANSFER.id}`, sk: 'PARTY#P-NORTH', kind: 'party', transferId: TRANSFER.id, gsi1pk: 'PARTY#P-NORTH' },
        { pk: `TRANSFER#${TRANSFER.id}`, sk: 'PARTY#P-SOUTH', kind: 'party', transferId: TRANSFER.id, gsi1pk: 'PARTY#P-SOUTH' },
        transferItem(TRANSFER),
      ],
    });

    await expect(store.get(TRANSFER.id)).resolves.toEqual({ ...TRANSFER, history: EVENTS });
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `TRANSFER#${TRANSFER.id}` },
        ConsistentRead: true,
        ExclusiveStartKey: undefined,
      },
    ]);
  });

  it('get of a transfer without its TRANSFER item is undefined, even if a customers item is left', async () => {
    ddb.on(QueryCommand).resolves({ Items: [customersItem(TRANSFER)] });
    await expect(store.get(TRANSFER.id)).resolves.toBeUndefined();
  });
});

describe('DynamoTransferStore.list', () => {
  it('lists a partner\'s transfers through the party index, newest first, reading each transfer with its customers', async () => {
    ddb.on(QueryCommand, { IndexName: 'byParty', ExpressionAttributeValues: { ':pk': 'PARTY#P-NORTH' } }).resolves({
      // The index projects keys only: the table's keys and its own.
      Items: [{ pk: `TRANSFER#${TRANSFER.id}`, sk: 'PARTY#P-NORTH', gsi1pk: 'PARTY#P-NORTH', gsi1sk: `${TRANSFER.createdAt}#${TRANSFER.id}` }],
    });
    ddb
      .on(BatchGetCommand, { RequestItems: { [TABLE]: { Keys: [TRANSFER_KEY, CUSTOMERS_KEY] } } })
      .resolves({ Responses: { [TABLE]: [customersItem(TRANSFER), transferItem(TRANSFER)] } });

    const page = await store.list({ partnerId: 'P-NORTH', limit: 10 });

    expect(page).toEqual({ items: [TRANSFER] });
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
    expect(ddb.commandCalls(BatchGetCommand).map((call) => call.args[0].input)).toEqual([
      { RequestItems: { [TABLE]: { Keys: [TRANSFER_KEY, CUSTOMERS_KEY] } } },
    ]);
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

describe('DynamoTransferStore status changes leave the customers item alone', () => {
  const cancel = (transfer: Transfer) =>
    store.changeStatus({
      transferId: transfer.id,
      from: ['AWAITING_RELEASE'],
      to: 'CANCELLED',
      at: '2026-03-12T00:00:00.000Z',
      event: { at: '2026-03-12T00:00:00.000Z', type: 'CANCELLED', actor: { kind: 'operator', name: 'ops' }, detail: {} },
      releaseClaims: true,
    });

  it('changeStatus reads the transfer and its customers item consistently, then writes only the small items, releasing the claims of the customers read', async () => {
    answerTransferReads(TRANSFER);
    ddb.on(TransactWriteCommand).resolves({});

    await cancel(TRANSFER);

    expect(ddb.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: TABLE, Key: TRANSFER_KEY, ConsistentRead: true },
      { TableName: TABLE, Key: CUSTOMERS_KEY, ConsistentRead: true },
    ]);
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
  });

  it('the status change of a customer with 1,000 domains writes exactly what a one-domain customer\'s writes', async () => {
    const small: Transfer = { ...TRANSFER, customers: [{ id: 'C-ACME', name: 'Acme Widgets', domains: ['acme.example'] }] };
    const domains = Array.from({ length: 1000 }, (_, index) => `d${String(index).padStart(4, '0')}.acme.example`);
    const big: Transfer = { ...TRANSFER, customers: [{ id: 'C-ACME', name: 'Acme Widgets', domains }] };
    /** The transaction a cancel sends, with the event's unique sort key masked. */
    const cancelWrites = async (transfer: Transfer): Promise<string> => {
      ddb.reset();
      answerTransferReads(transfer);
      ddb.on(TransactWriteCommand).resolves({});
      await cancel(transfer);
      expect(ddb.commandCalls(GetCommand).map((call) => call.args[0].input.Key)).toEqual([TRANSFER_KEY, CUSTOMERS_KEY]);
      return JSON.stringify(transactItems()).replace(/EVENT#[^"]+/g, 'EVENT#<at>#<unique>');
    };

    const smallWrites = await cancelWrites(small);
    const bigWrites = await cancelWrites(big);

    expect(bigWrites).toBe(smallWrites);
    expect(bigWrites).not.toContain('CUSTOMERS');
    expect(bigWrites).not.toContain('acme.example');
  });
});

describe('DynamoTransferStore.decide and moveCustomer', () => {
  it('a failed condition when deciding is a ConflictError ALREADY_DECIDED', async () => {
    answerTransferReads(TRANSFER);
    // three status updates (transfer, two party views), the step, the event
    ddb.on(TransactWriteCommand).rejects(cancelledWith({ 3: 'ConditionalCheckFailed' }, 5));
    const error = await failure(
      store.decide({
        transferId: TRANSFER.id,
        step: 'release',
        from: 'AWAITING_RELEASE',
        to: 'AWAITING_ACCEPTANCE',
        consent: {
          step: 'release',
          decision: 'release',
          signedBy: 'Alice Smith',
          statement: 's',
          transferDate: '2026-04-01',
          immediate: false,
          reason: null,
          via: 'api',
          ticketId: null,
          sourceIp: null,
          userAgent: null,
        },
        event: { at: '2026-03-10T16:00:00.000Z', type: 'RELEASED', actor: { kind: 'partner', partnerId: 'P-NORTH' }, detail: {} },
        signal: { kind: 'success', output: {} },
        changes: { transferDate: '2026-04-01' },
        releaseClaims: false,
        linkHash: null,
        at: '2026-03-10T16:00:00.000Z',
      }),
    );
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
