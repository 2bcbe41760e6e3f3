import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TransientError } from '../domain/errors.ts';
import { asTransient } from './transient.ts';

type Key = Record<string, unknown>;
type Item = Record<string, unknown>;
export type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Key } };

/** DynamoDB's limits per call: BatchGetItem reads at most 100 keys, BatchWriteItem writes at most 25 items. */
export const BATCH_GET_MAX_KEYS = 100;
export const BATCH_WRITE_MAX_REQUESTS = 25;

/** How a batch call retries what DynamoDB left unprocessed (throttling, a partial answer over 16 MB). */
export interface Backoff {
  /** Calls per chunk, the first one included. */
  attempts: number;
  baseMs: number;
  maxMs: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export const DEFAULT_BACKOFF: Backoff = {
  attempts: 5,
  baseMs: 25,
  maxMs: 1000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/** Exponential backoff with full jitter (a random wait below the bound), so that throttled callers spread out. */
export function backoffDelay(retry: number, backoff: Pick<Backoff, 'baseMs' | 'maxMs' | 'random'>): number {
  return Math.floor(backoff.random() * Math.min(backoff.maxMs, backoff.baseMs * 2 ** retry));
}

function chunks<T>(values: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < values.length; start += size) result.push(values.slice(start, start + size));
  return result;
}

/** Runs tasks with at most `concurrency` of them in flight, answering their results in order. */
export async function inPool<T>(tasks: readonly (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < tasks.length; index = next++) {
      const task = tasks[index];
      if (task) results[index] = await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return results;
}

/**
 * Every item of the given keys that exists (in no particular order): chunks of 100 keys read in
 * parallel, each chunk's UnprocessedKeys read again with backoff. Keys still unread after the last
 * attempt are a TransientError (503, or a workflow retry), never a silently shorter answer.
 */
export async function batchGetAll(
  db: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Key[],
  options: { consistent?: boolean; backoff?: Backoff } = {},
): Promise<Item[]> {
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const distinct = [...new Map(keys.map((key) => [JSON.stringify(key), key])).values()];
  const found = await Promise.all(
    chunks(distinct, BATCH_GET_MAX_KEYS).map(async (chunk) => {
      const items: Item[] = [];
      let pending: Key[] = chunk;
      for (let attempt = 0; pending.length > 0 && attempt < backoff.attempts; attempt += 1) {
        if (attempt > 0) await backoff.sleep(backoffDelay(attempt - 1, backoff));
        const Keys = pending;
        const result = await asTransient(() =>
          db.send(
            new BatchGetCommand({ RequestItems: { [tableName]: { Keys, ...(options.consistent ? { ConsistentRead: true } : {}) } } }),
          ),
        );
        items.push(...(result.Responses?.[tableName] ?? []));
        pending = (result.UnprocessedKeys?.[tableName]?.Keys ?? []) as Key[];
      }
      if (pending.length > 0) throw new TransientError();
      return items;
    }),
  );
  return found.flat();
}

/**
 * Writes (puts or deletes) every request: chunks of 25, at most `concurrency` in flight, each chunk's
 * UnprocessedItems written again with backoff; what is still unwritten after the last attempt is a TransientError.
 */
export async function batchWriteAll(
  db: DynamoDBDocumentClient,
  tableName: string,
  requests: readonly WriteRequest[],
  options: { concurrency?: number; backoff?: Backoff } = {},
): Promise<void> {
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const tasks = chunks(requests, BATCH_WRITE_MAX_REQUESTS).map((chunk) => async () => {
    let pending: WriteRequest[] = chunk;
    for (let attempt = 0; pending.length > 0 && attempt < backoff.attempts; attempt += 1) {
      if (attempt > 0) await backoff.sleep(backoffDelay(attempt - 1, backoff));
      const batch = pending;
      const result = await asTransient(() => db.send(new BatchWriteCommand({ RequestItems: { [tableName]: batch } })));
      pending = (result.UnprocessedItems?.[tableName] ?? []) as WriteRequest[];
    }
    if (pending.length > 0) throw new TransientError();
  });
  await inPool(tasks, options.concurrency ?? 8);
}
