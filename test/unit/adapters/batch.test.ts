import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { backoffDelay, batchGetAll, batchWriteAll, DEFAULT_BACKOFF, type Backoff } from '../../../lambdas/adapters/batch.ts';
import { TransientError } from '../../../lambdas/domain/errors.ts';
import './aws-matchers.ts';
import { failure, mockedDocumentClient, resetAfterEach } from './support.ts';

/** Batch reads and writes retry what DynamoDB leaves unprocessed, with backoff, and never drop it silently. */

const TABLE = 'batch-test';
const ddb = mockClient(DynamoDBDocumentClient);
const db = mockedDocumentClient();
resetAfterEach(ddb);

const key = (n: number) => ({ pk: `K#${n}`, sk: 'ITEM' });
const item = (n: number) => ({ ...key(n), n });

/** A backoff that records its waits instead of sleeping; `random` picks where in each window a wait falls. */
function recordingBackoff(random: number): { backoff: Backoff; waits: number[] } {
  const waits: number[] = [];
  return { waits, backoff: { ...DEFAULT_BACKOFF, random: () => random, sleep: async (ms) => void waits.push(ms) } };
}

describe('backoffDelay', () => {
  it('is exponential and capped, with full jitter: a random point between 0 and the bound', () => {
    const bound = (retry: number) => backoffDelay(retry, { baseMs: 25, maxMs: 1000, random: () => 0.999999 });
    expect([0, 1, 2, 3, 4, 5, 6].map(bound)).toEqual([24, 49, 99, 199, 399, 799, 999]);
    expect(backoffDelay(3, { baseMs: 25, maxMs: 1000, random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { baseMs: 25, maxMs: 1000, random: () => 0.5 })).toBe(100);
  });
});

describe('batchGetAll', () => {
  it('reads at most 100 keys per call, all chunks at once, consistently when asked', async () => {
    ddb.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, { Keys: { pk: string }[] }> }) => ({
      Responses: { [TABLE]: (input.RequestItems[TABLE]?.Keys ?? []).map((k) => ({ ...k, found: true })) },
    }));
    const keys = Array.from({ length: 150 }, (_, n) => key(n));
    const found = await batchGetAll(db, TABLE, keys, { consistent: true });
    expect(found).toHaveLength(150);
    expect(ddb.commandCalls(BatchGetCommand).map((call) => call.args[0].input)).toEqual([
      { RequestItems: { [TABLE]: { Keys: keys.slice(0, 100), ConsistentRead: true } } },
      { RequestItems: { [TABLE]: { Keys: keys.slice(100), ConsistentRead: true } } },
    ]);
  });

  it('asks again, after a backoff, for exactly the keys left unprocessed', async () => {
    const { backoff, waits } = recordingBackoff(0.5);
    ddb
      .on(BatchGetCommand, { RequestItems: { [TABLE]: { Keys: [key(1), key(2), key(3)] } } })
      .resolves({ Responses: { [TABLE]: [item(2)] }, UnprocessedKeys: { [TABLE]: { Keys: [key(1), key(3)] } } });
    ddb
      .on(BatchGetCommand, { RequestItems: { [TABLE]: { Keys: [key(1), key(3)] } } })
      .resolvesOnce({ Responses: { [TABLE]: [item(3)] }, UnprocessedKeys: { [TABLE]: { Keys: [key(1)] } } });
    ddb.on(BatchGetCommand, { RequestItems: { [TABLE]: { Keys: [key(1)] } } }).resolves({ Responses: { [TABLE]: [item(1)] } });

    const found = await batchGetAll(db, TABLE, [key(1), key(2), key(3)], { backoff });

    expect(found.map((i) => i.n).sort()).toEqual([1, 2, 3]);
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 3);
    expect(waits).toEqual([12, 25]);
  });

  it('keys still unprocessed after the last attempt are a TransientError, after attempts growing apart', async () => {
    const { backoff, waits } = recordingBackoff(0.999999);
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [item(1)] }, UnprocessedKeys: { [TABLE]: { Keys: [key(2)] } } });

    const error = await failure(batchGetAll(db, TABLE, [key(1), key(2)], { backoff }));

    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ status: 503, code: 'TRY_AGAIN' });
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, DEFAULT_BACKOFF.attempts);
    expect(waits).toEqual([24, 49, 99, 199]);
  });

  it('a throttled call is a TransientError', async () => {
    ddb.on(BatchGetCommand).rejects(Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } }));
    expect(await failure(batchGetAll(db, TABLE, [key(1)]))).toBeInstanceOf(TransientError);
  });

  it('asks for nothing when there is nothing to read, and for a repeated key once', async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [item(1)] } });
    expect(await batchGetAll(db, TABLE, [])).toEqual([]);
    expect(ddb).not.toHaveReceivedCommand(BatchGetCommand);
    await batchGetAll(db, TABLE, [key(1), key(1)]);
    expect(ddb).toHaveReceivedCommandWith(BatchGetCommand, { RequestItems: { [TABLE]: { Keys: [key(1)] } } });
  });
});

describe('batchWriteAll', () => {
  it('writes 25 requests per call and writes again, after a backoff, what was left unprocessed', async () => {
    const { backoff, waits } = recordingBackoff(1);
    const puts = Array.from({ length: 30 }, (_, n) => ({ PutRequest: { Item: item(n) } }));
    ddb.on(BatchWriteCommand, { RequestItems: { [TABLE]: puts.slice(0, 25) } }).resolves({ UnprocessedItems: { [TABLE]: puts.slice(3, 5) } });
    ddb.on(BatchWriteCommand, { RequestItems: { [TABLE]: puts.slice(3, 5) } }).resolves({});
    ddb.on(BatchWriteCommand, { RequestItems: { [TABLE]: puts.slice(25) } }).resolves({});

    await batchWriteAll(db, TABLE, puts, { backoff });

    expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 3);
    expect(waits).toEqual([25]);
  });

  it('requests still unprocessed after the last attempt are a TransientError', async () => {
    const { backoff } = recordingBackoff(0);
    const put = { PutRequest: { Item: item(1) } };
    ddb.on(BatchWriteCommand).resolves({ UnprocessedItems: { [TABLE]: [put] } });
    expect(await failure(batchWriteAll(db, TABLE, [put], { backoff }))).toBeInstanceOf(TransientError);
    expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, DEFAULT_BACKOFF.attempts);
  });
});
