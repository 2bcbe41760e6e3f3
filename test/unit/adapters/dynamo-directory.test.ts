import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { DynamoDirectory } from '../../../lambdas/adapters/dynamo-directory.ts';
import { TransientError, ValidationError } from '../../../lambdas/domain/errors.ts';
import './aws-matchers.ts';
import { failure, mockedDocumentClient, resetAfterEach } from './support.ts';

const TABLE = 'directory-test';
const ddb = mockClient(DynamoDBDocumentClient);
const directory = new DynamoDirectory(mockedDocumentClient(), TABLE);
resetAfterEach(ddb);

const ownerKey = (id: string) => ({ pk: `CUSTOMER#${id}`, sk: 'OWNER' });
const owner = (id: string, partnerId = 'P-NORTH') => ({ ...ownerKey(id), kind: 'ownership', id, name: `Customer ${id}`, partnerId });

describe('DynamoDirectory.getOwnerships', () => {
  it('one consistent batch get of the owner items; customers not found are left out; the order asked is kept', async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [owner('C-2'), owner('C-1')] } });
    const owned = await directory.getOwnerships(['C-1', 'C-NOPE', 'C-2']);
    expect(owned).toEqual([
      { id: 'C-1', name: 'Customer C-1', partnerId: 'P-NORTH', lockedUntil: null },
      { id: 'C-2', name: 'Customer C-2', partnerId: 'P-NORTH', lockedUntil: null },
    ]);
    expect(ddb.commandCalls(BatchGetCommand).map((call) => call.args[0].input)).toEqual([
      { RequestItems: { [TABLE]: { Keys: [ownerKey('C-1'), ownerKey('C-NOPE'), ownerKey('C-2')], ConsistentRead: true } } },
    ]);
  });

  it('retries owners DynamoDB left unprocessed; a customer still unread is a TransientError, never "unknown customer"', async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [owner('C-1')] }, UnprocessedKeys: { [TABLE]: { Keys: [ownerKey('C-2')] } } })
      .resolvesOnce({ Responses: { [TABLE]: [owner('C-2')] } });
    expect((await directory.getOwnerships(['C-1', 'C-2'])).map((o) => o.id)).toEqual(['C-1', 'C-2']);
    expect(ddb.commandCalls(BatchGetCommand)[1]?.args[0].input).toEqual({ RequestItems: { [TABLE]: { Keys: [ownerKey('C-2')], ConsistentRead: true } } });

    ddb.reset();
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [owner('C-1')] }, UnprocessedKeys: { [TABLE]: { Keys: [ownerKey('C-2')] } } });
    const error = await failure(directory.getOwnerships(['C-1', 'C-2']));
    expect(error).toBeInstanceOf(TransientError);
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 5);
  });
});

describe('DynamoDirectory.firstDomains', () => {
  it('counts every domain over all pages and keeps only the first ones, reading the domain names alone', async () => {
    const domains = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ domain: `d${from + i}.example` }));
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'CUSTOMER#C-BIG', ':prefix': 'DOMAIN#' } })
      .resolvesOnce({ Items: domains(0, 700), LastEvaluatedKey: { pk: 'CUSTOMER#C-BIG', sk: 'DOMAIN#d699.example' } })
      .resolvesOnce({ Items: domains(700, 1200) });
    ddb.on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'CUSTOMER#C-SMALL', ':prefix': 'DOMAIN#' } }).resolves({ Items: domains(0, 2) });

    const found = await directory.firstDomains(['C-BIG', 'C-SMALL'], 1000);

    expect(found.get('C-BIG')?.domainCount).toBe(1200);
    expect(found.get('C-BIG')?.domains).toHaveLength(1000);
    expect(found.get('C-BIG')?.domains.at(-1)).toBe('d999.example');
    expect(found.get('C-SMALL')).toEqual({ domains: ['d0.example', 'd1.example'], domainCount: 2 });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ProjectionExpression: '#p',
      ExpressionAttributeNames: { '#p': 'domain' },
      ConsistentRead: true,
    });
  });
});

describe('DynamoDirectory.getCustomer pages', () => {
  const users = (n: number) => Array.from({ length: n }, (_, i) => ({ email: `u${i}@c.example`, settings: { i } }));

  function answer(options: { domainsLast?: string; usersLast?: string } = {}): void {
    ddb.on(GetCommand, { Key: ownerKey('C-1') }).resolves({ Item: owner('C-1') });
    ddb.on(GetCommand, { Key: { pk: 'CUSTOMER#C-1', sk: 'SETTINGS' } }).resolves({ Item: { settings: { spam: 5 } } });
    ddb.on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'CUSTOMER#C-1', ':prefix': 'DOMAIN#' } }).resolves({
      Items: [{ domain: 'a.example' }, { domain: 'b.example' }],
      ...(options.domainsLast ? { LastEvaluatedKey: { pk: 'CUSTOMER#C-1', sk: options.domainsLast } } : {}),
    });
    ddb.on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'CUSTOMER#C-1', ':prefix': 'USER#' } }).resolves({
      Items: users(2),
      ...(options.usersLast ? { LastEvaluatedKey: { pk: 'CUSTOMER#C-1', sk: options.usersLast } } : {}),
    });
  }

  it('a page that ends a list leaves no empty page behind: the extra item read says whether another page follows', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(GetCommand, { Key: ownerKey('C-1') }).resolves({ Item: owner('C-1') });
    const userItems = (n: number) => users(n).map((u) => ({ pk: 'CUSTOMER#C-1', sk: `USER#${u.email}`, ...u }));
    ddb.on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'CUSTOMER#C-1', ':prefix': 'DOMAIN#' } }).resolves({ Items: [] });
    ddb.on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'CUSTOMER#C-1', ':prefix': 'USER#' } }).resolvesOnce({ Items: userItems(3) }).resolvesOnce({ Items: userItems(2) });

    const more = await directory.getCustomer('C-1', { users: 2, domains: 1000 });
    expect(more?.users).toEqual(users(2));
    expect(more?.nextToken).toEqual(expect.any(String));
    const last = await directory.getCustomer('C-1', { users: 2, domains: 1000 });
    expect(last?.users).toEqual(users(2));
    expect(last?.nextToken).toBeUndefined();
  });

  it('one round of reads: owner and settings, one query of at most `domains` domains and one of at most `users` users', async () => {
    answer({ usersLast: 'USER#u1@c.example' });
    const page = await directory.getCustomer('C-1', { users: 2, domains: 1000 });
    expect(page).toMatchObject({ id: 'C-1', name: 'Customer C-1', partnerId: 'P-NORTH', domains: ['a.example', 'b.example'], settings: { spam: 5 }, users: users(2) });
    expect(page?.nextToken).toMatch(/^[A-Za-z0-9_-]+$/);
    const queries = ddb.commandCalls(QueryCommand).map((call) => call.args[0].input);
    // One more than a page, to know whether another page follows.
    expect(queries.map((q) => [q.ExpressionAttributeValues?.[':prefix'], q.Limit, q.ConsistentRead])).toEqual([
      ['DOMAIN#', 1001, true],
      ['USER#', 3, true],
    ]);

    // The next page starts after the last user; the domains were all read, so they are not asked for again.
    ddb.reset();
    answer();
    const next = await directory.getCustomer('C-1', { users: 2, domains: 1000, nextToken: page?.nextToken ?? '' });
    expect(next).toMatchObject({ domains: [], users: users(2) });
    expect(next?.nextToken).toBeUndefined();
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      expect.objectContaining({ ExpressionAttributeValues: { ':pk': 'CUSTOMER#C-1', ':prefix': 'USER#' }, ExclusiveStartKey: { pk: 'CUSTOMER#C-1', sk: 'USER#u1@c.example' } }),
    ]);
  });

  it('a customer that is not there is undefined', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    await expect(directory.getCustomer('C-NOPE', { users: 100, domains: 1000 })).resolves.toBeUndefined();
  });

  it.each([
    ['garbage', 'not a token!'],
    ['another customer\'s token', Buffer.from(JSON.stringify({ c: 'C-2', d: null, u: 'USER#x@c.example' })).toString('base64url')],
    ['a key outside the customer\'s domains', Buffer.from(JSON.stringify({ c: 'C-1', d: 'OWNER', u: null })).toString('base64url')],
    ['a token with nothing left', Buffer.from(JSON.stringify({ c: 'C-1', d: null, u: null })).toString('base64url')],
    ['an extra field', Buffer.from(JSON.stringify({ c: 'C-1', d: null, u: 'USER#x@c.example', x: 1 })).toString('base64url')],
  ])('refuses %s before DynamoDB is asked', async (_name, nextToken) => {
    const error = await failure(directory.getCustomer('C-1', { users: 100, domains: 1000, nextToken }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ status: 400 });
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});
