import { DynamoDBClient, ScanCommand as RawScanCommand } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, QueryCommand, ScanCommand, type BatchGetCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { DynamoTransferStore } from '../../../lambdas/adapters/dynamo-transfer-store.ts';
import { TransientError, ValidationError } from '../../../lambdas/domain/errors.ts';
import { summaryOf, type Transfer, type TransferStatus, type TransferSummary } from '../../../lambdas/domain/transfer.ts';
import './aws-matchers.ts';
import { failure, mockedDocumentClient, resetAfterEach, sampleTransfer } from './support.ts';

/** Listing transfers is an index query, newest first, never a scan; page tokens are bound to their listing. */

const TABLE = 'transfers-listing-test';
const ddb = mockClient(DynamoDBDocumentClient);
const raw = mockClient(DynamoDBClient);
const store = new DynamoTransferStore(
  mockedDocumentClient(),
  TABLE,
);

function transfer(id: string, createdAt: string, status: TransferStatus = 'AWAITING_RELEASE'): Transfer {
  return sampleTransfer({ id, createdAt, status });
}

const NEWER = transfer('TR-20260312-BBBBBBBBBB', '2026-03-12T10:00:00.000Z');
const OLDER = transfer('TR-20260310-AAAAAAAAAA', '2026-03-10T10:00:00.000Z');
const DONE = transfer('TR-20260311-CCCCCCCCCC', '2026-03-11T10:00:00.000Z', 'COMPLETED');

const sortKey = (t: Transfer) => `${t.createdAt}#${t.id}`;
const transferKey = (t: Transfer) => ({ pk: `TRANSFER#${t.id}`, sk: 'TRANSFER' });
const legacyKey = (t: Transfer) => ({ pk: `TRANSFER#${t.id}`, sk: 'CUSTOMERS' });

/** The TRANSFER item as stored: the transfer with its customers' summaries (no domains). */
const tableItem = (t: Transfer) => ({
  ...transferKey(t),
  kind: 'transfer',
  ...summaryOf(t),
  gsi1pk: 'ALL',
  gsi1sk: sortKey(t),
  gsi2pk: `ALL#${t.status}`,
  gsi2sk: sortKey(t),
});
/** What a listing answers: summaries. */
const listed = (...transfers: Transfer[]): TransferSummary[] => transfers.map(summaryOf);

/** What the indexes answer: they project keys only, the table's (pk, sk) and their own, nothing else. */
const byPartyItem = (t: Transfer, partnerId: string) => ({ pk: `TRANSFER#${t.id}`, sk: `PARTY#${partnerId}`, gsi1pk: `PARTY#${partnerId}`, gsi1sk: sortKey(t) });
const byPartyStatusItem = (t: Transfer, partnerId: string) => ({
  pk: `TRANSFER#${t.id}`,
  sk: `PARTY#${partnerId}`,
  gsi2pk: `PARTY#${partnerId}#${t.status}`,
  gsi2sk: sortKey(t),
});
const operatorItem = (t: Transfer) => ({ ...transferKey(t), gsi1pk: 'ALL', gsi1sk: sortKey(t) });
const operatorStatusItem = (t: Transfer) => ({ ...transferKey(t), gsi2pk: `ALL#${t.status}`, gsi2sk: sortKey(t) });
const token = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

/** The keys a batch get must ask for: each transfer's TRANSFER item (never a domain), in index order. */
const batchKeys = (...transfers: Transfer[]) => transfers.map(transferKey);

/** The batch get answers every key it is asked for, in another order than asked (reversed), as DynamoDB may. */
function answerBatchGets(...transfers: Transfer[]): void {
  const stored = new Map<string, Record<string, unknown>>(transfers.map(tableItem).map((item) => [`${item.pk}/${item.sk}`, item]));
  ddb.on(BatchGetCommand).callsFake((input: BatchGetCommandInput) => {
    const keys = input.RequestItems?.[TABLE]?.Keys ?? [];
    const found = keys.map((key) => stored.get(`${String(key.pk)}/${String(key.sk)}`)).filter((item) => item !== undefined);
    return { Responses: { [TABLE]: found.reverse() } };
  });
}

function batchGets(): unknown[] {
  return ddb.commandCalls(BatchGetCommand).map((call) => call.args[0].input);
}

function expectNoScan(): void {
  expect(ddb).not.toHaveReceivedCommand(ScanCommand);
  expect(raw).not.toHaveReceivedCommand(RawScanCommand);
  for (const call of ddb.calls()) {
    const command: unknown = call.args[0];
    expect(command instanceof QueryCommand || command instanceof BatchGetCommand).toBe(true);
  }
}

resetAfterEach(ddb, raw);

describe('DynamoTransferStore.list queries an index', () => {
  it('a partner without a status: byParty on PARTY#<partner>, newest first, then one batch get of the transfer items, in index order', async () => {
    ddb.on(QueryCommand).resolves({ Items: [byPartyItem(NEWER, 'P-NORTH'), byPartyItem(OLDER, 'P-NORTH')] });
    answerBatchGets(NEWER, OLDER);

    const page = await store.list({ partnerId: 'P-NORTH', limit: 25 });

    expect(page).toEqual({ items: listed(NEWER, OLDER) });
    expect(page.items[0]?.customers).toEqual([{ id: 'C-1', name: 'One', domainCount: 1 }]);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 1);
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: TABLE,
        IndexName: 'byParty',
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'gsi1pk' },
        ExpressionAttributeValues: { ':pk': 'PARTY#P-NORTH' },
        ScanIndexForward: false,
        Limit: 25,
        ExclusiveStartKey: undefined,
      },
    ]);
    expect(batchGets()).toEqual([
      {
        RequestItems: {
          [TABLE]: {
            Keys: [
              { pk: `TRANSFER#${NEWER.id}`, sk: 'TRANSFER' },
              { pk: `TRANSFER#${OLDER.id}`, sk: 'TRANSFER' },
            ],
          },
        },
      },
    ]);
    expectNoScan();
  });

  it('a partner with a status: byPartyStatus on PARTY#<partner>#<status>; an empty page asks for no transfer', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    answerBatchGets();

    expect(await store.list({ partnerId: 'P-SOUTH', status: 'AWAITING_ACCEPTANCE', limit: 5 })).toEqual({ items: [] });

    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: TABLE,
        IndexName: 'byPartyStatus',
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'gsi2pk' },
        ExpressionAttributeValues: { ':pk': 'PARTY#P-SOUTH#AWAITING_ACCEPTANCE' },
        ScanIndexForward: false,
        Limit: 5,
        ExclusiveStartKey: undefined,
      },
    ]);
    expect(batchGets()).toEqual([]);
    expectNoScan();
  });

  it('a partner with a status reads the transfers named by the status index', async () => {
    ddb.on(QueryCommand).resolves({ Items: [byPartyStatusItem(DONE, 'P-SOUTH')] });
    answerBatchGets(DONE);

    expect(await store.list({ partnerId: 'P-SOUTH', status: 'COMPLETED', limit: 5 })).toEqual({ items: listed(DONE) });
    expect(batchGets()).toEqual([{ RequestItems: { [TABLE]: { Keys: batchKeys(DONE) } } }]);
    expectNoScan();
  });

  it('an operator without a status: byParty on ALL; with a status: byPartyStatus on ALL#<status>', async () => {
    ddb.on(QueryCommand, { IndexName: 'byParty' }).resolves({ Items: [operatorItem(NEWER), operatorItem(OLDER)] });
    ddb.on(QueryCommand, { IndexName: 'byPartyStatus' }).resolves({ Items: [operatorStatusItem(DONE)] });
    answerBatchGets(NEWER, OLDER, DONE);

    expect((await store.list({ limit: 100 })).items).toEqual(listed(NEWER, OLDER));
    expect((await store.list({ status: 'COMPLETED', limit: 1 })).items).toEqual(listed(DONE));

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
    expect(batchGets()).toEqual([
      { RequestItems: { [TABLE]: { Keys: batchKeys(NEWER, OLDER) } } },
      { RequestItems: { [TABLE]: { Keys: batchKeys(DONE) } } },
    ]);
    expectNoScan();
  });

  it('asks for at most 100 keys per batch get: 120 transfers are two batch gets of 100 and 20 keys, listed in index order', async () => {
    const many = Array.from({ length: 120 }, (_, index) =>
      transfer(`TR-20260301-${String(index).padStart(10, '0')}`, `2026-03-01T${String(10 + Math.floor((119 - index) / 60)).padStart(2, '0')}:${String((119 - index) % 60).padStart(2, '0')}:00.000Z`),
    );
    ddb.on(QueryCommand).resolves({ Items: many.map((t) => byPartyItem(t, 'P-NORTH')) });
    answerBatchGets(...many);

    expect(await store.list({ partnerId: 'P-NORTH', limit: 120 })).toEqual({ items: listed(...many) });

    expect(batchGets()).toEqual([
      { RequestItems: { [TABLE]: { Keys: batchKeys(...many.slice(0, 100)) } } },
      { RequestItems: { [TABLE]: { Keys: batchKeys(...many.slice(100)) } } },
    ]);
    expectNoScan();
  });

  it('asks again for the keys a batch get left unprocessed, and only for those', async () => {
    ddb.on(QueryCommand).resolves({ Items: [byPartyItem(NEWER, 'P-NORTH'), byPartyItem(OLDER, 'P-NORTH')] });
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [tableItem(NEWER)] }, UnprocessedKeys: { [TABLE]: { Keys: [transferKey(OLDER)] } } })
      .resolvesOnce({ Responses: { [TABLE]: [tableItem(OLDER)] } });

    expect(await store.list({ partnerId: 'P-NORTH', limit: 2 })).toEqual({ items: listed(NEWER, OLDER) });
    expect(batchGets()).toEqual([
      { RequestItems: { [TABLE]: { Keys: batchKeys(NEWER, OLDER) } } },
      { RequestItems: { [TABLE]: { Keys: [transferKey(OLDER)] } } },
    ]);
    expectNoScan();
  });

  it('keys still unprocessed after the last attempt are a TransientError, never a shorter listing', async () => {
    ddb.on(QueryCommand).resolves({ Items: [byPartyItem(NEWER, 'P-NORTH'), byPartyItem(OLDER, 'P-NORTH')] });
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [tableItem(NEWER)] }, UnprocessedKeys: { [TABLE]: { Keys: [transferKey(OLDER)] } } });

    const error = await failure(store.list({ partnerId: 'P-NORTH', limit: 2 }));

    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ status: 503 });
    // The first call and four retries, each asking only for what is still missing.
    expect(batchGets()).toHaveLength(5);
    expect(batchGets().slice(1)).toEqual(Array(4).fill({ RequestItems: { [TABLE]: { Keys: [transferKey(OLDER)] } } }));
  });

  it('a transfer filed before its item carried the customers\' summaries is listed from its legacy customers item, in one more batch get', async () => {
    const legacy = { ...tableItem(OLDER), customers: undefined };
    delete legacy.customers;
    ddb.on(QueryCommand).resolves({ Items: [byPartyItem(NEWER, 'P-NORTH'), byPartyItem(OLDER, 'P-NORTH')] });
    ddb.on(BatchGetCommand, { RequestItems: { [TABLE]: { Keys: batchKeys(NEWER, OLDER) } } }).resolves({ Responses: { [TABLE]: [tableItem(NEWER), legacy] } });
    ddb
      .on(BatchGetCommand, { RequestItems: { [TABLE]: { Keys: [legacyKey(OLDER)] } } })
      .resolves({ Responses: { [TABLE]: [{ ...legacyKey(OLDER), kind: 'customers', customers: [{ id: 'C-9', name: 'Nine', domains: ['a.example', 'b.example'] }] }] } });

    expect((await store.list({ partnerId: 'P-NORTH', limit: 2 })).items).toEqual([
      summaryOf(NEWER),
      { ...summaryOf(OLDER), customers: [{ id: 'C-9', name: 'Nine', domainCount: 2 }] },
    ]);
  });

  it('hands out the last evaluated key as an opaque token and starts the next query from exactly that key', async () => {
    const lastKey = { pk: `TRANSFER#${NEWER.id}`, sk: 'PARTY#P-NORTH', gsi1pk: 'PARTY#P-NORTH', gsi1sk: `${NEWER.createdAt}#${NEWER.id}` };
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [byPartyItem(NEWER, 'P-NORTH')], LastEvaluatedKey: lastKey })
      .resolvesOnce({ Items: [byPartyItem(OLDER, 'P-NORTH')] });
    answerBatchGets(NEWER, OLDER);

    const first = await store.list({ partnerId: 'P-NORTH', limit: 1 });
    expect(first.items).toEqual(listed(NEWER));
    expect(first.nextToken).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(first.nextToken).not.toContain('P-NORTH');

    const second = await store.list({ partnerId: 'P-NORTH', limit: 1, ...(first.nextToken ? { nextToken: first.nextToken } : {}) });
    expect(second).toEqual({ items: listed(OLDER) });
    expect(ddb.commandCalls(QueryCommand)[1]?.args[0].input).toMatchObject({
      IndexName: 'byParty',
      ExpressionAttributeValues: { ':pk': 'PARTY#P-NORTH' },
      ExclusiveStartKey: lastKey,
    });
    expect(batchGets()).toEqual([
      { RequestItems: { [TABLE]: { Keys: batchKeys(NEWER) } } },
      { RequestItems: { [TABLE]: { Keys: batchKeys(OLDER) } } },
    ]);
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
