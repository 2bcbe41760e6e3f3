import { DynamoDBClient, ScanCommand as RawScanCommand } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoTransferStore } from '../../../lambdas/adapters/dynamo-transfer-store.ts';
import { ValidationError } from '../../../lambdas/domain/errors.ts';
import type { Transfer, TransferStatus } from '../../../lambdas/domain/transfer.ts';
import './aws-matchers.ts';

/** Listing transfers is an index query, newest first, never a scan; page tokens are bound to their listing. */

const TABLE = 'transfers-listing-test';
const ddb = mockClient(DynamoDBDocumentClient);
const raw = mockClient(DynamoDBClient);
const store = new DynamoTransferStore(
  DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } })),
  TABLE,
);

function transfer(id: string, createdAt: string, status: TransferStatus = 'AWAITING_RELEASE'): Transfer {
  return {
    id,
    status,
    customers: [{ id: 'C-1', name: 'One', domains: ['one.example'] }],
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
    createdAt,
    updatedAt: createdAt,
  };
}

const NEWER = transfer('TR-20260312-BBBBBBBBBB', '2026-03-12T10:00:00.000Z');
const OLDER = transfer('TR-20260310-AAAAAAAAAA', '2026-03-10T10:00:00.000Z');
const tableItem = (t: Transfer) => ({
  pk: `TRANSFER#${t.id}`,
  sk: 'TRANSFER',
  kind: 'transfer',
  gsi1pk: 'ALL',
  gsi1sk: `${t.createdAt}#${t.id}`,
  gsi2pk: `ALL#${t.status}`,
  gsi2sk: `${t.createdAt}#${t.id}`,
  ...t,
});
const partyItem = (t: Transfer, partnerId: string) => ({
  pk: `TRANSFER#${t.id}`,
  sk: `PARTY#${partnerId}`,
  kind: 'party',
  transferId: t.id,
  status: t.status,
  gsi1pk: `PARTY#${partnerId}`,
  gsi1sk: `${t.createdAt}#${t.id}`,
});
const token = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

/** The batch get answers in another order than asked, as DynamoDB may. */
function answerBatchGets(...transfers: Transfer[]): void {
  ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [...transfers].reverse().map(tableItem) } });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

function expectNoScan(): void {
  expect(ddb).not.toHaveReceivedCommand(ScanCommand);
  expect(raw).not.toHaveReceivedCommand(RawScanCommand);
  for (const call of ddb.calls()) {
    const command: unknown = call.args[0];
    expect(command instanceof QueryCommand || command instanceof BatchGetCommand).toBe(true);
  }
}

afterEach(() => {
  ddb.reset();
  raw.reset();
});

describe('DynamoTransferStore.list queries an index', () => {
  it('a partner without a status: byParty on PARTY#<partner>, newest first, then one batch get in index order', async () => {
    ddb.on(QueryCommand).resolves({ Items: [partyItem(NEWER, 'P-NORTH'), partyItem(OLDER, 'P-NORTH')] });
    answerBatchGets(NEWER, OLDER);

    const page = await store.list({ partnerId: 'P-NORTH', limit: 25 });

    expect(page).toEqual({ items: [NEWER, OLDER] });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      IndexName: 'byParty',
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'gsi1pk' },
      ExpressionAttributeValues: { ':pk': 'PARTY#P-NORTH' },
      ScanIndexForward: false,
      Limit: 25,
    });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input.ExclusiveStartKey).toBeUndefined();
    expect(ddb).toHaveReceivedCommandWith(BatchGetCommand, {
      RequestItems: {
        [TABLE]: {
          Keys: [
            { pk: `TRANSFER#${NEWER.id}`, sk: 'TRANSFER' },
            { pk: `TRANSFER#${OLDER.id}`, sk: 'TRANSFER' },
          ],
        },
      },
    });
    expectNoScan();
  });

  it('a partner with a status: byPartyStatus on PARTY#<partner>#<status>', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    answerBatchGets();

    expect(await store.list({ partnerId: 'P-SOUTH', status: 'AWAITING_ACCEPTANCE', limit: 5 })).toEqual({ items: [] });

    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      IndexName: 'byPartyStatus',
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'gsi2pk' },
      ExpressionAttributeValues: { ':pk': 'PARTY#P-SOUTH#AWAITING_ACCEPTANCE' },
      ScanIndexForward: false,
      Limit: 5,
    });
    expectNoScan();
  });

  it('an operator without a status: byParty on ALL; with a status: byPartyStatus on ALL#<status>', async () => {
    ddb.on(QueryCommand).resolves({ Items: [tableItem(NEWER)] });
    answerBatchGets(NEWER);

    expect((await store.list({ limit: 100 })).items).toEqual([NEWER]);
    expect((await store.list({ status: 'COMPLETED', limit: 1 })).items).toEqual([NEWER]);

    const queries = ddb.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(queries).toHaveLength(2);
    expect(queries[0]).toMatchObject({
      IndexName: 'byParty',
      ExpressionAttributeNames: { '#pk': 'gsi1pk' },
      ExpressionAttributeValues: { ':pk': 'ALL' },
      ScanIndexForward: false,
      Limit: 100,
    });
    expect(queries[1]).toMatchObject({
      IndexName: 'byPartyStatus',
      ExpressionAttributeNames: { '#pk': 'gsi2pk' },
      ExpressionAttributeValues: { ':pk': 'ALL#COMPLETED' },
      ScanIndexForward: false,
      Limit: 1,
    });
    expectNoScan();
  });

  it('hands out the last evaluated key as an opaque token and starts the next query from exactly that key', async () => {
    const lastKey = { pk: `TRANSFER#${NEWER.id}`, sk: 'PARTY#P-NORTH', gsi1pk: 'PARTY#P-NORTH', gsi1sk: `${NEWER.createdAt}#${NEWER.id}` };
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [partyItem(NEWER, 'P-NORTH')], LastEvaluatedKey: lastKey })
      .resolvesOnce({ Items: [partyItem(OLDER, 'P-NORTH')] });
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [tableItem(NEWER)] } })
      .resolvesOnce({ Responses: { [TABLE]: [tableItem(OLDER)] } });

    const first = await store.list({ partnerId: 'P-NORTH', limit: 1 });
    expect(first.items).toEqual([NEWER]);
    expect(first.nextToken).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(first.nextToken).not.toContain('P-NORTH');

    const second = await store.list({ partnerId: 'P-NORTH', limit: 1, ...(first.nextToken ? { nextToken: first.nextToken } : {}) });
    expect(second).toEqual({ items: [OLDER] });
    expect(ddb.commandCalls(QueryCommand)[1]?.args[0].input).toMatchObject({
      IndexName: 'byParty',
      ExpressionAttributeValues: { ':pk': 'PARTY#P-NORTH' },
      ExclusiveStartKey: lastKey,
    });
    expectNoScan();
  });
});

describe('DynamoTransferStore.list refuses page tokens of other listings before DynamoDB is asked', () => {
  const byParty = { pk: 'TRANSFER#TR-1', sk: 'PARTY#P-NORTH', gsi1pk: 'PARTY#P-NORTH', gsi1sk: '2026-03-10T10:00:00.000Z#TR-1' };
  const byStatus = { pk: 'TRANSFER#TR-1', sk: 'PARTY#P-NORTH', gsi2pk: 'PARTY#P-NORTH#AWAITING_RELEASE', gsi2sk: '2026-03-10T10:00:00.000Z#TR-1' };

  const refused: { name: string; query: Parameters<DynamoTransferStore['list']>[0] }[] = [
    { name: 'another partner\'s token', query: { partnerId: 'P-SOUTH', limit: 10, nextToken: token({ ...byParty, sk: 'PARTY#P-SOUTH' }) } },
    { name: 'a partner\'s token in an operator listing', query: { limit: 10, nextToken: token(byParty) } },
    { name: 'an operator\'s token in a partner listing', query: { partnerId: 'P-NORTH', limit: 10, nextToken: token({ ...byParty, gsi1pk: 'ALL', sk: 'TRANSFER' }) } },
    { name: 'a token of another status', query: { partnerId: 'P-NORTH', status: 'SCHEDULED', limit: 10, nextToken: token(byStatus) } },
    { name: 'an operator token of another status', query: { status: 'SCHEDULED', limit: 10, nextToken: token({ ...byStatus, gsi2pk: 'ALL#AWAITING_RELEASE' }) } },
    { name: 'a status token without a status', query: { partnerId: 'P-NORTH', limit: 10, nextToken: token(byStatus) } },
    { name: 'a token without a status, with one', query: { partnerId: 'P-NORTH', status: 'AWAITING_RELEASE', limit: 10, nextToken: token(byParty) } },
    { name: 'an attribute too many', query: { partnerId: 'P-NORTH', limit: 10, nextToken: token({ ...byParty, extra: 'x' }) } },
    { name: 'an attribute missing', query: { partnerId: 'P-NORTH', limit: 10, nextToken: token({ gsi1pk: 'PARTY#P-NORTH' }) } },
    { name: 'a number for a string', query: { partnerId: 'P-NORTH', limit: 10, nextToken: token({ ...byParty, gsi1sk: 42 }) } },
    { name: 'a typed attribute value', query: { partnerId: 'P-NORTH', limit: 10, nextToken: token({ ...byParty, pk: { S: 'TRANSFER#TR-1' } }) } },
    { name: 'an array', query: { partnerId: 'P-NORTH', limit: 10, nextToken: token([byParty]) } },
    { name: 'JSON null', query: { partnerId: 'P-NORTH', limit: 10, nextToken: token(null) } },
    { name: 'not base64 JSON', query: { partnerId: 'P-NORTH', limit: 10, nextToken: 'not base64 json' } },
  ];

  it.each(refused)('$name', async ({ query }) => {
    const error = await failure(store.list(query));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ status: 400, code: 'INVALID_REQUEST', message: 'nextToken does not belong to this listing; start again without it.' });
    expect(ddb).not.toHaveReceivedAnyCommand();
  });

  it('accepts a token of its own listing, with or without a status', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    answerBatchGets();
    await store.list({ partnerId: 'P-NORTH', limit: 10, nextToken: token(byParty) });
    await store.list({ partnerId: 'P-NORTH', status: 'AWAITING_RELEASE', limit: 10, nextToken: token(byStatus) });
    const starts = ddb.commandCalls(QueryCommand).map((call) => call.args[0].input.ExclusiveStartKey);
    expect(starts).toEqual([byParty, byStatus]);
    expectNoScan();
  });
});
