import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record as StreamRecord,
  type AttributeValue,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { compileFilterPattern } from './filter.ts';

/** The event source mapping's settings, as the CDK stack declares them (lib/event-relay.ts). */
export interface StreamEventSourceSettings {
  /** Records per invocation, at most. */
  readonly batchSize: number;
  /** How long records are gathered before an invocation, at most. */
  readonly maxBatchingWindowSeconds: number;
  /** Retries of a failing batch before its records are discarded. */
  readonly retryAttempts: number;
  /** Split a batch whose invocation failed in two before retrying it (BisectBatchOnFunctionError). @default false */
  readonly bisectBatchOnError?: boolean;
  /** FilterCriteria: only the records matching it are handed over; the others count as processed. */
  readonly filterPattern: unknown;
}

export interface StreamPollerOptions {
  /** DynamoDB Local, which also serves the DynamoDB Streams API. */
  endpoint: string;
  /** The stream as DynamoDB Local names it (the table's LatestStreamArn). */
  streamArn: string;
  /** Where the records say they come from, as on AWS. */
  region: string;
  account: string;
  settings: StreamEventSourceSettings;
  /** Invokes the function synchronously with a batch; a rejection is a function error. */
  invoke: (event: DynamoDBStreamEvent) => Promise<unknown>;
  /** The function's name, for log lines. */
  functionName: string;
  /** Gets a line for each discarded batch and each stream error; nothing else. */
  log: (line: string) => void;
  /** How often an idle shard is read. @default 250 (Lambda polls a shard four times a second) */
  pollIntervalMs?: number;
  /** Backoff between retries of a failed batch: doubles from `firstMs` up to `maxMs`. @default { firstMs: 200, maxMs: 5000 } */
  retryBackoff?: { firstMs: number; maxMs: number };
}

export interface StreamPoller {
  /** The ARN the records name as their source (`eventSourceARN`), as AWS writes it. */
  readonly eventSourceArn: string;
  /** Records discarded after their retries, oldest first. */
  readonly discarded: readonly DynamoDBRecord[];
  stop(): Promise<void>;
}

/** Lambda's quota on a synchronous invocation's payload: a batch never grows past it. */
const MAX_BATCH_BYTES = 6 * 1024 * 1024 - 1024;
/** How often the stream is described for new shards. */
const DISCOVERY_INTERVAL_MS = 1_000;
/** How long stop() waits for a batch in flight. */
const STOP_GRACE_MS = 5_000;
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * Reads a DynamoDB stream the way a Lambda event source mapping does and invokes a function with its
 * records: each shard from TRIM_HORIZON, a child shard only once its parent is done; records that do
 * not match the filter are passed over; batches of up to `batchSize`, gathered for at most the
 * batching window; one batch at a time per shard, in order. A batch whose invocation fails is split
 * in two (with `bisectBatchOnError`) and retried with backoff; a reported batch item failure retries
 * from the lowest failed sequence number. After `retryAttempts` retries, the records are discarded
 * (with one log line naming them), as they would be sent to the mapping's on-failure destination.
 */
export function startStreamPoller(options: StreamPollerOptions): StreamPoller {
  const { settings } = options;
  const matches = compileFilterPattern(settings.filterPattern);
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const backoff = options.retryBackoff ?? { firstMs: 200, maxMs: 5_000 };
  const windowMs = settings.maxBatchingWindowSeconds * 1000;
  const streams = new DynamoDBStreamsClient({ endpoint: options.endpoint, region: options.region, credentials: LOCAL_CREDENTIALS });
  const eventSourceArn = awsStreamArn(options.streamArn, options.region, options.account);
  const discarded: DynamoDBRecord[] = [];
  const stopping = new AbortController();
  const workers = new Map<string, Promise<void>>();
  let lastError = '';

  const stopped = () => stopping.signal.aborted;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopped()) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        stopping.signal.removeEventListener('abort', done);
        resolve();
      }
      stopping.signal.addEventListener('abort', done);
    });
  /** A stream error, logged once until a different one occurs (DynamoDB Local going away must not flood the console). */
  const streamError = (error: unknown) => {
    if (stopped()) return;
    const text = `${options.functionName}: reading the table's stream failed (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}); retrying`;
    if (text !== lastError) options.log(text);
    lastError = text;
  };

  async function discover(): Promise<void> {
    while (!stopped()) {
      try {
        const shards = await describeShards();
        const listed = new Set(shards.map((shard) => shard.ShardId));
        // Parents are started before their children, whatever order the stream lists them in.
        for (let progress = true; progress; ) {
          progress = false;
          for (const shard of shards) {
            const id = shard.ShardId;
            if (id === undefined || workers.has(id)) continue;
            const parent = shard.ParentShardId;
            if (parent !== undefined && listed.has(parent) && !workers.has(parent)) continue;
            workers.set(id, readShard(id, parent === undefined ? undefined : workers.get(parent)));
            progress = true;
          }
        }
      } catch (error) {
        streamError(error);
      }
      await sleep(DISCOVERY_INTERVAL_MS);
    }
  }

  async function describeShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const page = await streams.send(new DescribeStreamCommand({ StreamArn: options.streamArn, ExclusiveStartShardId: start }), { abortSignal: stopping.signal });
      shards.push(...(page.StreamDescription?.Shards ?? []));
      start = page.StreamDescription?.LastEvaluatedShardId;
    } while (start !== undefined && !stopped());
    return shards;
  }

  async function iteratorAfter(shardId: string, sequenceNumber: string | undefined): Promise<string | undefined> {
    const answer = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: options.streamArn,
        ShardId: shardId,
        ...(sequenceNumber === undefined ? { ShardIteratorType: 'TRIM_HORIZON' } : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: sequenceNumber }),
      }),
      { abortSignal: stopping.signal },
    );
    return answer.ShardIterator;
  }

  /** One shard, start to end: records are read ahead while a batch is handed over, never handed out of order. */
  async function readShard(shardId: string, parent: Promise<void> | undefined): Promise<void> {
    await parent;
    let iterator: string | undefined;
    // A new iterator is needed at the start and after an expired one: it resumes after the last record read.
    let needIterator = true;
    let lastRead: string | undefined;
    const gathered: Array<{ record: DynamoDBRecord; bytes: number; at: number }> = [];
    while (!stopped()) {
      let read = 0;
      try {
        if (needIterator) {
          iterator = await iteratorAfter(shardId, lastRead);
          needIterator = false;
        }
        if (iterator !== undefined && gathered.length < settings.batchSize) {
          const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }), { abortSignal: stopping.signal });
          iterator = page.NextShardIterator;
          for (const record of page.Records ?? []) {
            read += 1;
            lastRead = record.dynamodb?.SequenceNumber ?? lastRead;
            const lambdaRecord = toLambdaRecord(record, options.region, eventSourceArn);
            if (matches(lambdaRecord)) gathered.push({ record: lambdaRecord, bytes: Buffer.byteLength(JSON.stringify(lambdaRecord)), at: Date.now() });
          }
          lastError = '';
        }
      } catch (error) {
        if (error instanceof ExpiredIteratorException) {
          needIterator = true;
        } else if (error instanceof TrimmedDataAccessException) {
          // The records after the last one read are gone: go on from the oldest still kept.
          needIterator = true;
          lastRead = undefined;
        } else {
          streamError(error);
        }
        await sleep(pollIntervalMs);
        continue;
      }
      const closed = !needIterator && iterator === undefined;
      const first = gathered[0];
      if (first !== undefined) {
        const waited = Date.now() - first.at;
        if (gathered.length >= settings.batchSize || waited >= windowMs || closed) {
          await deliver(shardId, takeBatch(gathered));
          continue;
        }
        if (read === 0) await sleep(Math.min(pollIntervalMs, windowMs - waited));
      } else if (closed) {
        return;
      } else if (read === 0) {
        await sleep(pollIntervalMs);
      }
    }
  }

  function takeBatch(gathered: Array<{ record: DynamoDBRecord; bytes: number }>): DynamoDBRecord[] {
    let count = 0;
    let bytes = 0;
    for (const item of gathered) {
      if (count >= settings.batchSize || (count > 0 && bytes + item.bytes > MAX_BATCH_BYTES)) break;
      count += 1;
      bytes += item.bytes;
    }
    return gathered.splice(0, count).map((item) => item.record);
  }

  /** Hands one batch over until it is done: succeeded, or discarded after its retries. */
  async function deliver(shardId: string, batch: DynamoDBRecord[]): Promise<void> {
    const queue: Array<{ records: DynamoDBRecord[]; retries: number }> = [{ records: batch, retries: 0 }];
    while (queue.length > 0 && !stopped()) {
      const attempt = queue.shift();
      if (attempt === undefined) break;
      const { records, retries } = attempt;
      let outcome: Outcome;
      try {
        outcome = outcomeOf(await options.invoke({ Records: records }), records);
      } catch (error) {
        outcome = { kind: 'error', reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
      }
      if (stopped() || outcome.kind === 'success') continue;
      if (outcome.kind === 'error' && settings.bisectBatchOnError && records.length > 1) {
        // Splitting a batch does not use up its retries.
        const half = Math.ceil(records.length / 2);
        queue.unshift({ records: records.slice(0, half), retries }, { records: records.slice(half), retries });
        continue;
      }
      const remaining = outcome.kind === 'partial' ? records.slice(outcome.from) : records;
      if (retries >= settings.retryAttempts) {
        discard(shardId, remaining, retries, outcome.kind === 'partial' ? 'reported as failed' : outcome.reason);
        continue;
      }
      await sleep(Math.min(backoff.maxMs, backoff.firstMs * 2 ** retries));
      queue.unshift({ records: remaining, retries: retries + 1 });
    }
  }

  function discard(shardId: string, records: DynamoDBRecord[], retries: number, reason: string): void {
    discarded.push(...records);
    const named = records.map((record) => `${record.dynamodb?.SequenceNumber ?? '?'} (${keysOf(record)})`).join(', ');
    options.log(
      `${options.functionName}: discarded ${records.length} stream record(s) of ${shardId} after ${retries} retries (${reason}); `
        + `on AWS they go to the on-failure destination: ${named}`,
    );
  }

  const discovery = discover();
  return {
    eventSourceArn,
    discarded,
    async stop() {
      stopping.abort();
      const everything = Promise.allSettled([discovery, ...workers.values()]);
      await Promise.race([everything, new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref())]);
      streams.destroy();
    },
  };
}

type Outcome = { kind: 'success' } | { kind: 'partial'; from: number } | { kind: 'error'; reason: string };

/**
 * A function's answer with ReportBatchItemFailures: none or an empty list is a success; otherwise the
 * batch is retried from the lowest sequence number reported. An identifier that is missing, empty or
 * not one of the batch's fails the whole batch.
 */
function outcomeOf(result: unknown, records: readonly DynamoDBRecord[]): Outcome {
  if (result === null || result === undefined) return { kind: 'success' };
  if (typeof result !== 'object' || Array.isArray(result)) return { kind: 'error', reason: 'the function answered something other than a batch response' };
  const failures = (result as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'error', reason: 'batchItemFailures is not a list' };
  if (failures.length === 0) return { kind: 'success' };
  let from = records.length;
  for (const failure of failures) {
    const identifier = typeof failure === 'object' && failure !== null ? (failure as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    const index = typeof identifier === 'string' && identifier !== '' ? records.findIndex((record) => record.dynamodb?.SequenceNumber === identifier) : -1;
    if (index === -1) return { kind: 'error', reason: `batch item failure ${JSON.stringify(identifier ?? null)} names no record of the batch` };
    from = Math.min(from, index);
  }
  return { kind: 'partial', from };
}

/** A stream record as Lambda hands it to a function: binary values in base64, times in epoch seconds, the source's ARN. */
export function toLambdaRecord(record: StreamRecord, region: string, eventSourceArn: string): DynamoDBRecord {
  const data = record.dynamodb ?? {};
  const image = (value: Record<string, AttributeValue> | undefined) =>
    value === undefined ? undefined : Object.fromEntries(Object.entries(value).map(([name, attribute]) => [name, lambdaAttribute(attribute)]));
  const created = data.ApproximateCreationDateTime;
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion,
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    dynamodb: {
      ...(created === undefined ? {} : { ApproximateCreationDateTime: Math.floor(created.getTime() / 1000) }),
      Keys: image(data.Keys),
      ...(data.NewImage === undefined ? {} : { NewImage: image(data.NewImage) }),
      ...(data.OldImage === undefined ? {} : { OldImage: image(data.OldImage) }),
      SequenceNumber: data.SequenceNumber,
      SizeBytes: data.SizeBytes,
      StreamViewType: data.StreamViewType,
    },
    ...(record.userIdentity ? { userIdentity: { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId } } : {}),
    eventSourceARN: eventSourceArn,
  } as DynamoDBRecord;
}

type LambdaAttribute = Record<string, unknown>;

function lambdaAttribute(value: AttributeValue): LambdaAttribute {
  const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  if (value.B !== undefined) return { B: base64(value.B) };
  if (value.BS !== undefined) return { BS: value.BS.map(base64) };
  if (value.M !== undefined) return { M: Object.fromEntries(Object.entries(value.M).map(([name, inner]) => [name, lambdaAttribute(inner)])) };
  if (value.L !== undefined) return { L: value.L.map(lambdaAttribute) };
  return Object.fromEntries(Object.entries(value));
}

/** The stream's ARN as AWS writes it (DynamoDB Local puts `ddblocal` where the region goes). */
function awsStreamArn(localArn: string, region: string, account: string): string {
  const tail = /:table\/.+$/.exec(localArn)?.[0] ?? `:${localArn}`;
  return `arn:aws:dynamodb:${region}:${account}${tail}`;
}

function keysOf(record: DynamoDBRecord): string {
  const keys = Object.entries(record.dynamodb?.Keys ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return keys.map(([name, key]) => `${name}=${key.S ?? key.N ?? '?'}`).join(' ');
}
