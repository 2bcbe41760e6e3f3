import { setMaxListeners } from 'node:events';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { LocalSqs, ReceivedMessage } from './server.ts';

/** An SQS event source mapping's settings, as the CDK stack declares them, and the function it feeds. */
export interface SqsEventSourceOptions {
  sqs: LocalSqs;
  queueName: string;
  /** Where the records say they come from, as on AWS. */
  region: string;
  /** Messages per invocation, at most: 1 to 10. */
  batchSize: number;
  /** Concurrent pollers, each with at most one batch in flight. @default 5 (what Lambda starts an SQS event source with) */
  pollers?: number;
  /** How long messages are gathered before an invocation, at most: 0 to 300 s. @default 0 */
  maxBatchingWindowSeconds?: number;
  /** Invokes the function synchronously with a batch; a rejection is a function error. */
  invoke: (event: SQSEvent) => Promise<unknown>;
  /** The function's name, for log lines. */
  functionName: string;
  /** Gets a line for each batch that failed as a whole and each error of the queue; nothing else. */
  log: (line: string) => void;
}

/** A running event source mapping. */
export interface SqsEventSource {
  /** The queue's ARN, which the records name as their source. */
  readonly eventSourceArn: string;
  /** Stops polling and waits for the invocations in flight (and their deletes). */
  stop(): Promise<void>;
}

/** Lambda's SQS pollers long-poll for up to 20 s; stop() ends such a wait at once. */
const LONG_POLL_SECONDS = 20;
const MAX_BATCHING_WINDOW_SECONDS = 300;
/** How long a poller rests after the queue answered with an error. */
const ERROR_PAUSE_MS = 1_000;

/**
 * Feeds a function from a local SQS queue the way a Lambda event source mapping with
 * ReportBatchItemFailures does: several pollers long-poll concurrently, each hands its batch over
 * and then deletes the messages that succeeded. A function error deletes none: the messages come
 * back after their visibility timeout and the queue's redrive policy moves them on in the end. A
 * `batchItemFailures` answer keeps just the named messages; one naming no message of the batch (or
 * with an empty identifier) fails the whole batch, as on AWS.
 */
export function startSqsEventSource(options: SqsEventSourceOptions): SqsEventSource {
  const { sqs, queueName, batchSize, functionName } = options;
  const pollers = options.pollers ?? 5;
  const windowSeconds = options.maxBatchingWindowSeconds ?? 0;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) throw new RangeError(`${functionName}: an SQS batch size is 1 to 10, got ${batchSize}`);
  if (!Number.isInteger(pollers) || pollers < 1) throw new RangeError(`${functionName}: the number of pollers must be a whole number of at least 1, got ${pollers}`);
  if (!(windowSeconds >= 0 && windowSeconds <= MAX_BATCHING_WINDOW_SECONDS)) {
    throw new RangeError(`${functionName}: the batching window is 0 to ${MAX_BATCHING_WINDOW_SECONDS} seconds, got ${windowSeconds}`);
  }
  const eventSourceArn = sqs.queueArn(queueName);
  const stopping = new AbortController();
  setMaxListeners(0, stopping.signal);
  const stopped = () => stopping.signal.aborted;
  let lastError = '';

  const describe = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  /** A queue error, logged once until a different one occurs. */
  const queueError = (what: string, error: unknown) => {
    if (stopped()) return;
    const text = `${functionName}: ${what} queue ${queueName} failed (${describe(error)})`;
    if (text !== lastError) options.log(text);
    lastError = text;
  };
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopped()) return resolve();
      const done = () => {
        clearTimeout(timer);
        stopping.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stopping.signal.addEventListener('abort', done);
    });

  /** One batch: the first messages of a long poll, then more until the batch is full or the window is over. */
  async function gather(): Promise<ReceivedMessage[]> {
    const batch = await sqs.receive(queueName, { max: batchSize, waitSeconds: LONG_POLL_SECONDS, signal: stopping.signal });
    const closesAt = Date.now() + windowSeconds * 1000;
    while (batch.length > 0 && batch.length < batchSize && !stopped()) {
      const left = closesAt - Date.now();
      if (left <= 0) break;
      batch.push(...(await sqs.receive(queueName, { max: batchSize - batch.length, waitSeconds: Math.min(LONG_POLL_SECONDS, left / 1000), signal: stopping.signal })));
    }
    return batch;
  }

  async function poll(): Promise<void> {
    while (!stopped()) {
      let batch: ReceivedMessage[];
      try {
        batch = await gather();
        lastError = '';
      } catch (error) {
        queueError('receiving from', error);
        await pause(ERROR_PAUSE_MS);
        continue;
      }
      if (batch.length === 0) continue;
      if (stopped()) {
        // Not handed over: they are visible again at once rather than after their visibility timeout.
        await Promise.all(batch.map((message) => sqs.changeVisibility(queueName, message.receiptHandle, 0).catch(() => undefined)));
        return;
      }
      await deliver(batch);
    }
  }

  async function deliver(batch: ReceivedMessage[]): Promise<void> {
    const records = batch.map((message) => toLambdaRecord(message, eventSourceArn, options.region));
    let outcome: Outcome;
    try {
      outcome = outcomeOf(await options.invoke({ Records: records }), records);
    } catch (error) {
      outcome = { kind: 'error', reason: describe(error) };
    }
    if (outcome.kind === 'error') {
      options.log(
        `${functionName}: a batch of ${records.length} message(s) from ${queueName} failed (${outcome.reason}); `
          + 'none was deleted: they come back after their visibility timeout',
      );
      return;
    }
    const failed = outcome.kind === 'partial' ? outcome.failed : new Set<string>();
    for (const record of records) {
      if (failed.has(record.messageId)) continue;
      try {
        await sqs.deleteMessage(queueName, record.receiptHandle);
      } catch (error) {
        queueError(`deleting message ${record.messageId} from`, error);
      }
    }
  }

  const running = Array.from({ length: pollers }, () => poll());
  let stoppedAll: Promise<void> | undefined;
  return {
    eventSourceArn,
    stop() {
      stoppedAll ??= (async () => {
        stopping.abort();
        await Promise.allSettled(running);
      })();
      return stoppedAll;
    },
  };
}

type Outcome = { kind: 'success' } | { kind: 'partial'; failed: Set<string> } | { kind: 'error'; reason: string };

/**
 * A function's answer with ReportBatchItemFailures: none, an empty answer or an empty list is a
 * success; a list names the messages to keep. An identifier that is missing, empty or not a message
 * of the batch, or an answer that is no batch response, fails the whole batch.
 */
function outcomeOf(result: unknown, records: readonly SQSRecord[]): Outcome {
  if (result === null || result === undefined) return { kind: 'success' };
  if (typeof result !== 'object' || Array.isArray(result)) return { kind: 'error', reason: 'the function answered something other than a batch response' };
  const failures = (result as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'error', reason: 'batchItemFailures is not a list' };
  const ids = new Set(records.map((record) => record.messageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const identifier = typeof failure === 'object' && failure !== null ? (failure as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (typeof identifier !== 'string' || identifier === '' || !ids.has(identifier)) {
      return { kind: 'error', reason: `batch item failure ${JSON.stringify(identifier ?? null)} names no message of the batch` };
    }
    failed.add(identifier);
  }
  return failed.size === 0 ? { kind: 'success' } : { kind: 'partial', failed };
}

/** A received message as Lambda hands it to a function. */
export function toLambdaRecord(message: ReceivedMessage, eventSourceArn: string, region: string): SQSRecord {
  const { ApproximateReceiveCount, SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp, DeadLetterQueueSourceArn } = message.attributes;
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: {
      ApproximateReceiveCount,
      SentTimestamp,
      SenderId,
      ApproximateFirstReceiveTimestamp,
      ...(DeadLetterQueueSourceArn === undefined ? {} : { DeadLetterQueueSourceArn }),
    },
    messageAttributes: {},
    md5OfBody: message.md5OfBody,
    eventSource: 'aws:sqs',
    eventSourceARN: eventSourceArn,
    awsRegion: region,
  };
}
