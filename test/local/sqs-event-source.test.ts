import { createHash } from 'node:crypto';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSqsEventSource, type SqsEventSource, type SqsEventSourceOptions } from '../../local/sqs/event-source.ts';
import { startLocalSqs, type LocalQueueSpec, type LocalSqs } from '../../local/sqs/server.ts';

/**
 * The local SQS event source against the local SQS API, with a stand-in function: Lambda's record
 * format, what is deleted after a partial batch failure, a function error, or a malformed answer,
 * redrive of messages that keep failing, concurrent pollers, the batching window, and stop().
 */

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const HOUR = 3600;

const QUEUES: LocalQueueSpec[] = [
  'records',
  'partial',
  'malformed',
  'window',
  'slow',
  'stop',
].map((name) => ({ name, visibilityTimeoutSeconds: 30, messageRetentionSeconds: HOUR }));
QUEUES.push(
  { name: 'failing', visibilityTimeoutSeconds: 1, messageRetentionSeconds: HOUR, redrive: { deadLetterQueueName: 'failing-dlq', maxReceiveCount: 2 } },
  { name: 'failing-dlq', visibilityTimeoutSeconds: 30, messageRetentionSeconds: HOUR },
);

let sqs: LocalSqs;
let client: SQSClient;
let source: SqsEventSource | undefined;
const logLines: string[] = [];
/** Every invocation's records, in the order they were made. */
const invocations: SQSRecord[][] = [];

beforeAll(async () => {
  sqs = await startLocalSqs({ port: 0, region: REGION, account: ACCOUNT, queues: QUEUES });
  client = new SQSClient({ endpoint: sqs.url, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
});

afterEach(async () => {
  await source?.stop();
  source = undefined;
  invocations.length = 0;
  logLines.length = 0;
});

afterAll(async () => {
  client?.destroy();
  await sqs?.close();
});

function start(queueName: string, answer: (event: SQSEvent) => Promise<unknown>, settings: Partial<SqsEventSourceOptions> = {}): SqsEventSource {
  source = startSqsEventSource({
    sqs,
    queueName,
    region: REGION,
    batchSize: 10,
    functionName: 'deliver-webhooks',
    log: (line) => logLines.push(line),
    invoke: async (event) => {
      invocations.push(event.Records);
      return answer(event);
    },
    ...settings,
  });
  return source;
}

async function sendAll(queueName: string, bodies: string[]): Promise<string[]> {
  const answer = await client.send(
    new SendMessageBatchCommand({ QueueUrl: sqs.queueUrl(queueName), Entries: bodies.map((body, n) => ({ Id: `m${n}`, MessageBody: body })) }),
  );
  return (answer.Successful ?? []).map((entry) => entry.MessageId ?? '');
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 8_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}; invocations: ${JSON.stringify(invocations.map((records) => records.map((r) => r.body)))}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const invokedBodies = () => invocations.flat().map((record) => record.body);
const handedOver = (bodies: string[]) => waitFor(`${bodies.join(', ')} handed over`, () => (bodies.every((body) => invokedBodies().includes(body)) ? true : undefined));
const bodiesIn = (queueName: string) => sqs.messages(queueName).map((message) => message.body);

describe('what the function gets', () => {
  it("hands messages over as Lambda's SQS records and deletes them when the function succeeds", async () => {
    const before = Date.now();
    const [id] = await sendAll('records', ['{"webhookId":"wh_1","eventId":"evt_1","transferId":null}']);
    start('records', async () => undefined);
    await handedOver(['{"webhookId":"wh_1","eventId":"evt_1","transferId":null}']);
    const [record] = invocations[0] ?? [];
    expect(record).toEqual({
      messageId: id,
      receiptHandle: expect.any(String),
      body: '{"webhookId":"wh_1","eventId":"evt_1","transferId":null}',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d{13}$/),
        SenderId: ACCOUNT,
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
      },
      messageAttributes: {},
      md5OfBody: createHash('md5').update(record?.body ?? '').digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:records`,
      awsRegion: REGION,
    });
    expect(Number(record?.attributes.SentTimestamp)).toBeGreaterThanOrEqual(before);
    expect(source?.eventSourceArn).toBe(record?.eventSourceARN);
    await waitFor('the message deleted', () => (bodiesIn('records').length === 0 ? true : undefined));
  });

  it('gathers messages for up to the batching window, in batches of at most batchSize', async () => {
    start('window', async () => undefined, { batchSize: 3, pollers: 1, maxBatchingWindowSeconds: 0.4 });
    await client.send(new SendMessageCommand({ QueueUrl: sqs.queueUrl('window'), MessageBody: 'w1' }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await sendAll('window', ['w2', 'w3', 'w4']);
    await handedOver(['w1', 'w2', 'w3', 'w4']);
    expect(invocations.map((records) => records.map((record) => record.body))).toEqual([['w1', 'w2', 'w3'], ['w4']]);
  });
});

describe('after the function answers', () => {
  it('keeps only the messages a partial batch failure names', async () => {
    const [, failedId] = await sendAll('partial', ['ok-1', 'fail', 'ok-2']);
    start('partial', async (event) => ({
      batchItemFailures: event.Records.filter((record) => record.body === 'fail').map((record) => ({ itemIdentifier: record.messageId })),
    }));
    await handedOver(['ok-1', 'fail', 'ok-2']);
    await waitFor('the others deleted', () => (bodiesIn('partial').length === 1 ? true : undefined));
    expect(sqs.messages('partial')).toEqual([expect.objectContaining({ messageId: failedId, body: 'fail', receiveCount: 1 })]);
    expect(logLines).toEqual([]);
  });

  it('keeps the whole batch when a batch item failure names no message of it, or is empty', async () => {
    await sendAll('malformed', ['a', 'b']);
    let calls = 0;
    start('malformed', async () => {
      calls += 1;
      return { batchItemFailures: [{ itemIdentifier: calls === 1 ? 'not-a-message-of-the-batch' : '' }] };
    });
    await handedOver(['a', 'b']);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(bodiesIn('malformed').sort()).toEqual(['a', 'b']);
    expect(logLines.length).toBeGreaterThanOrEqual(1);
    expect(logLines[0]).toMatch(/names no message of the batch.*none was deleted/);
  });

  it('keeps every message when the function throws; after maxReceiveCount receives they move to the dead-letter queue', async () => {
    const ids = await sendAll('failing', ['boom-1', 'boom-2']);
    start('failing', async () => {
      throw new Error('the partner is down');
    });
    await handedOver(['boom-1', 'boom-2']);
    expect(bodiesIn('failing').sort()).toEqual(['boom-1', 'boom-2']);
    expect(logLines[0]).toMatch(/failed \(Error: the partner is down\); none was deleted/);
    // Visible again after the 1 s visibility timeout: a second try, then redrive at the third receive.
    await waitFor('both moved to the dead-letter queue', () => (bodiesIn('failing-dlq').length === 2 ? true : undefined));
    expect(sqs.messages('failing-dlq').map((message) => message.messageId).sort()).toEqual([...ids].sort());
    expect(sqs.messages('failing')).toEqual([]);
    const tries = invocations.flat().filter((record) => record.body === 'boom-1').map((record) => record.attributes.ApproximateReceiveCount);
    expect(tries).toEqual(['1', '2']);
  });
});

describe('pollers', () => {
  it("runs pollers concurrently: a slow invocation does not hold another poller's message", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    start('slow', async (event) => {
      if (event.Records.some((record) => record.body === 'slow')) await held;
      return undefined;
    });
    await client.send(new SendMessageCommand({ QueueUrl: sqs.queueUrl('slow'), MessageBody: 'slow' }));
    await handedOver(['slow']);
    await client.send(new SendMessageCommand({ QueueUrl: sqs.queueUrl('slow'), MessageBody: 'fast' }));
    await handedOver(['fast']);
    await waitFor('fast deleted while slow is still running', () => (bodiesIn('slow').join() === 'slow' ? true : undefined));
    release();
    await waitFor('slow deleted', () => (bodiesIn('slow').length === 0 ? true : undefined));
  });

  it('stop() waits for the invocations in flight, then deletes what succeeded', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = start('stop', async () => {
      await held;
      return undefined;
    });
    await sendAll('stop', ['in-flight']);
    await handedOver(['in-flight']);
    let stopped = false;
    const stopping = running.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(bodiesIn('stop')).toEqual([]);
    // Stopped: a new message stays in the queue.
    await sendAll('stop', ['after']);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(invokedBodies()).toEqual(['in-flight']);
    expect(sqs.messages('stop')).toEqual([expect.objectContaining({ body: 'after', receiveCount: 0 })]);
  });

  it('refuses settings Lambda refuses', () => {
    const base = { sqs, queueName: 'records', region: REGION, functionName: 'f', log: () => undefined, invoke: async () => undefined };
    expect(() => startSqsEventSource({ ...base, batchSize: 11 })).toThrow(RangeError);
    expect(() => startSqsEventSource({ ...base, batchSize: 0 })).toThrow(RangeError);
    expect(() => startSqsEventSource({ ...base, batchSize: 1, maxBatchingWindowSeconds: 301 })).toThrow(RangeError);
  });
});
