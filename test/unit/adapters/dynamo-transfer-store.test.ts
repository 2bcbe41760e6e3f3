import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoTransferStore } from '../../../lambdas/adapters/dynamo-transfer-store.ts';
import { ConflictError, TransientError, ValidationError } from '../../../lambdas/domain/errors.ts';
import type { HistoryEvent, Transfer } from '../../../lambdas/domain/transfer.ts';
import './aws-matchers.ts';

const TABLE = 'transfers-test';
const ddb = mockClient(DynamoDBDocumentClient);
const store = new DynamoTransferStore(
  DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } })),
  TABLE,
);

const TRANSFER: Transfer = {
  id: 'TR-20260310-ABCDEFGHJK',
  status: 'AWAITING_RELEASE',
  customers: [
    { id: 'C-ACME', name: 'Acme Widgets', domains: ['acme.example'] },
    { id: 'C-BRIGHT', name: 'Brightside Dental', domains: ['brightside.example'] },
    { id: 'C-CORAL', name: 'Coral Bakery', domains: ['coral.example'] },
  ],
  fromPartner: { id: 'P-NORTH', name: 'Northwind IT' },
  toPartner: { id: 'P-SOUTH', name: 'Southgate Networks' },
  requestedDate: null,
  transferDate: null,
  immediate: false,
  acceptedDate: null,
  billing: { fromPartnerNextInvoiceDate: '2026-04-01', toPartnerNextInvoiceDate: '2026-03-15', recommendedDate: '2026-04-01', aligned: null, advice: 'x' },
  ticketId: null,
  note: null,
  requestedBy: { kind: 'partner', partnerId: 'P-NORTH', name: 'alice' },
  createdAt: '2026-03-10T15:00:00.000Z',
  updatedAt: '2026-03-10T15:00:00.000Z',
};
const EVENTS: HistoryEvent[] = [
  { at: TRANSFER.createdAt, type: 'REQUESTED', actor: TRANSFER.requestedBy, detail: {} },
  { at: TRANSFER.createdAt, type: 'RELEASED', actor: TRANSFER.requestedBy, detail: {} },
];
// transfer, two party views, two events, then one claim per customer
const CLAIMS_AT = 5;

function cancelledWith(reasons: Record<number, string>, length = CLAIMS_AT + TRANSFER.customers.length): TransactionCanceledException {
  return new TransactionCanceledException({
    message: 'Transaction cancelled, please refer cancellation reasons for specific reasons',
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: Array.from({ length }, (_, index) => ({ Code: reasons[index] ?? 'None' })),
  });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

afterEach(() => {
  ddb.reset();
});

describe('DynamoTransferStore.create', () => {
  it('writes the transfer, both party views, the events and a conditional claim per customer in one transaction', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await store.create({ transfer: TRANSFER, events: EVENTS });

    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const items = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(items).toHaveLength(CLAIMS_AT + 3);
    expect(items[0]?.Put).toMatchObject({
      TableName: TABLE,
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: { pk: `TRANSFER#${TRANSFER.id}`, sk: 'TRANSFER', status: 'AWAITING_RELEASE', gsi1pk: 'ALL', gsi2pk: 'ALL#AWAITING_RELEASE' },
    });
    expect(items.slice(1, 3).map((i) => i.Put?.Item?.gsi1pk)).toEqual(['PARTY#P-NORTH', 'PARTY#P-SOUTH']);
    expect(items.slice(3, 5).map((i) => i.Put?.Item?.type)).toEqual(['REQUESTED', 'RELEASED']);
    expect(items.slice(CLAIMS_AT).map((i) => i.Put)).toEqual(
      TRANSFER.customers.map((c) => ({
        TableName: TABLE,
        Item: { pk: `CUSTOMER#${c.id}`, sk: 'CLAIM', kind: 'claim', transferId: TRANSFER.id, claimedAt: TRANSFER.createdAt },
        ConditionExpression: 'attribute_not_exists(pk)',
      })),
    );
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

describe('DynamoTransferStore.list', () => {
  it('lists a partner\'s transfers through the party index, newest first', async () => {
    ddb
      .on(QueryCommand, { IndexName: 'byParty', ExpressionAttributeValues: { ':pk': 'PARTY#P-NORTH' } })
      .resolves({ Items: [{ kind: 'party', transferId: TRANSFER.id }] });
    ddb.on(BatchGetCommand, { RequestItems: { [TABLE]: { Keys: [{ pk: `TRANSFER#${TRANSFER.id}`, sk: 'TRANSFER' }] } } }).resolves({ Responses: { [TABLE]: [{ pk: `TRANSFER#${TRANSFER.id}`, sk: 'TRANSFER', kind: 'transfer', ...TRANSFER }] } });

    const page = await store.list({ partnerId: 'P-NORTH', limit: 10 });

    expect(page.items.map((t) => t.id)).toEqual([TRANSFER.id]);
    expect(page.nextToken).toBeUndefined();
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      IndexName: 'byParty',
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'gsi1pk' },
      ExpressionAttributeValues: { ':pk': 'PARTY#P-NORTH' },
      ScanIndexForward: false,
      Limit: 10,
    });
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

describe('DynamoTransferStore.decide and moveCustomer', () => {
  it('a failed condition when deciding is a ConflictError ALREADY_DECIDED', async () => {
    ddb.on(GetCommand).resolves({ Item: { pk: `TRANSFER#${TRANSFER.id}`, sk: 'TRANSFER', kind: 'transfer', ...TRANSFER } });
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
    const items = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(items[0]?.Update).toMatchObject({ Key: { pk: 'CUSTOMER#C-ACME', sk: 'OWNER' }, ConditionExpression: 'partnerId = :from' });
    expect(items[1]?.Delete).toMatchObject({ Key: { pk: 'CUSTOMER#C-ACME', sk: 'CLAIM' }, ExpressionAttributeValues: { ':transfer': TRANSFER.id } });
  });
});
