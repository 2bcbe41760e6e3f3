import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchEntryIdsNotDistinct,
  BatchRequestTooLong,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  EmptyBatchRequest,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  InvalidAttributeName,
  InvalidBatchEntryId,
  InvalidMessageContents,
  ListQueuesCommand,
  MessageNotInflight,
  PurgeQueueCommand,
  PurgeQueueInProgress,
  QueueDoesNotExist,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  SQSServiceException,
  TooManyEntriesInBatchRequest,
  UnsupportedOperation,
  type Message,
  type QueueAttributeName,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startLocalSqs, type LocalQueueSpec, type LocalSqs } from '../../local/sqs/server.ts';

/**
 * The local SQS API through the real SDK client: sending, receiving and deleting; what SQS refuses,
 * as the SDK's exception classes; delays, visibility timeouts, receipt handles, redrive to a
 * dead-letter queue, long polls, retention, and messages kept across a restart.
 */

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const HOUR = 3600;

/** One queue per scenario, so no test sees another's messages. */
const QUEUES: LocalQueueSpec[] = [
  { name: 'basic', visibilityTimeoutSeconds: 30, messageRetentionSeconds: HOUR },
  { name: 'limits', visibilityTimeoutSeconds: 30, messageRetentionSeconds: HOUR },
  { name: 'batches', visibilityTimeoutSeconds: 30, messageRetentionSeconds: HOUR },
  { name: 'delays', visibilityTimeoutSeconds: 30, messageRetentionSeconds: HOUR, delaySeconds: 1 },
  { name: 'visibility', visibilityTimeoutSeconds: 1, messageRetentionSeconds: HOUR },
  { name: 'work', visibilityTimeoutSeconds: 30, messageRetentionSeconds: HOUR, redrive: { deadLetterQueueName: 'work-dlq', maxReceiveCount: 2 } },
  { name: 'work-dlq', visibilityTimeoutSeconds: 30, messageRetentionSeconds: 14 * 24 * HOUR },
  { name: 'polls', visibilityTimeoutSeconds: 30, messageRetentionSeconds: HOUR },
  { name: 'retention', visibilityTimeoutSeconds: 30, messageRetentionSeconds: 60 },
  { name: 'purge', visibilityTimeoutSeconds: 30, messageRetentionSeconds: HOUR },
];

let server: LocalSqs;
let client: SQSClient;
const logLines: string[] = [];

beforeAll(async () => {
  server = await startLocalSqs({ port: 0, region: REGION, account: ACCOUNT, queues: QUEUES, log: (line) => logLines.push(line) });
  client = sqsClient(server);
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
});

function sqsClient(target: LocalSqs): SQSClient {
  return new SQSClient({ endpoint: target.url, region: REGION, credentials: CREDENTIALS, maxAttempts: 1 });
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function failure(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  const error = await promise.then(
    () => undefined,
    (rejected: unknown) => rejected,
  );
  expect(error, 'the call fails').toBeInstanceOf(Error);
  return error as Error;
}

async function send(queue: string, body: string, delaySeconds?: number): Promise<string> {
  const sent = await client.send(new SendMessageCommand({ QueueUrl: server.queueUrl(queue), MessageBody: body, DelaySeconds: delaySeconds }));
  return sent.MessageId ?? '';
}

async function receive(queue: string, input: { max?: number; wait?: number; visibility?: number } = {}): Promise<Message[]> {
  const answer = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: server.queueUrl(queue),
      MaxNumberOfMessages: input.max ?? 10,
      WaitTimeSeconds: input.wait ?? 0,
      VisibilityTimeout: input.visibility,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return answer.Messages ?? [];
}

async function counts(queue: string): Promise<Record<string, string>> {
  const answer = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: server.queueUrl(queue),
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  return answer.Attributes ?? {};
}

describe('queues', () => {
  it('names queues by URL and ARN, as GetQueueUrl and GetQueueAttributes answer', async () => {
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: 'work' }));
    expect(QueueUrl).toBe(`http://127.0.0.1:${server.port}/${ACCOUNT}/work`);
    expect(server.queueUrl('work')).toBe(QueueUrl);
    const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    expect(Attributes).toMatchObject({
      QueueArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:work`,
      VisibilityTimeout: '30',
      MessageRetentionPeriod: String(HOUR),
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
      ApproximateNumberOfMessagesDelayed: '0',
    });
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toEqual({ deadLetterTargetArn: server.queueArn('work-dlq'), maxReceiveCount: 2 });
    expect(server.queueArn('work')).toBe(Attributes?.QueueArn);
  });

  it('refuses a queue that does not exist with QueueDoesNotExist, by name and by URL', async () => {
    const byName = await failure(client.send(new GetQueueUrlCommand({ QueueName: 'nope' })));
    expect(byName).toBeInstanceOf(QueueDoesNotExist);
    expect(byName.$metadata?.httpStatusCode).toBe(400);
    const otherAccount = await failure(client.send(new GetQueueUrlCommand({ QueueName: 'basic', QueueOwnerAWSAccountId: '111122223333' })));
    expect(otherAccount).toBeInstanceOf(QueueDoesNotExist);
    const byUrl = await failure(client.send(new SendMessageCommand({ QueueUrl: `${server.url}/${ACCOUNT}/nope`, MessageBody: 'x' })));
    expect(byUrl).toBeInstanceOf(QueueDoesNotExist);
    expect(byUrl.message).toBe('The specified queue does not exist.');
    const wrongAccount = await failure(client.send(new SendMessageCommand({ QueueUrl: `${server.url}/111122223333/basic`, MessageBody: 'x' })));
    expect(wrongAccount).toBeInstanceOf(QueueDoesNotExist);
  });

  it('refuses unknown attribute names and operations it does not offer', async () => {
    const attribute = await failure(
      client.send(new GetQueueAttributesCommand({ QueueUrl: server.queueUrl('basic'), AttributeNames: ['Colour' as QueueAttributeName] })),
    );
    expect(attribute).toBeInstanceOf(InvalidAttributeName);
    const operation = await failure(client.send(new ListQueuesCommand({})));
    expect(operation).toBeInstanceOf(UnsupportedOperation);
  });
});

describe('sending, receiving, deleting', () => {
  it('hands a message out once, with its system attributes, until it is deleted', async () => {
    const before = Date.now();
    const body = 'héllo 👋 {"webhookId":"wh_1"}';
    const sent = await client.send(new SendMessageCommand({ QueueUrl: server.queueUrl('basic'), MessageBody: body }));
    expect(sent.MD5OfMessageBody).toBe(md5(body));
    const [message, ...others] = await receive('basic');
    expect(others).toEqual([]);
    expect(message).toMatchObject({ MessageId: sent.MessageId, Body: body, MD5OfBody: md5(body) });
    expect(message?.Attributes).toMatchObject({ ApproximateReceiveCount: '1', SenderId: ACCOUNT });
    const sentAt = Number(message?.Attributes?.SentTimestamp);
    expect(sentAt).toBeGreaterThanOrEqual(before);
    expect(Number(message?.Attributes?.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(sentAt);
    expect(await receive('basic'), 'in flight, it is not handed out again').toEqual([]);
    expect(await counts('basic')).toEqual({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '1', ApproximateNumberOfMessagesDelayed: '0' });
    await client.send(new DeleteMessageCommand({ QueueUrl: server.queueUrl('basic'), ReceiptHandle: message?.ReceiptHandle }));
    expect(server.messages('basic')).toEqual([]);
    // Deleting it again succeeds, as on SQS.
    await client.send(new DeleteMessageCommand({ QueueUrl: server.queueUrl('basic'), ReceiptHandle: message?.ReceiptHandle }));
  });

  it('answers only the attributes asked for, and at most MaxNumberOfMessages messages', async () => {
    for (let n = 0; n < 12; n += 1) await send('basic', `m${n}`);
    const first = await client.send(new ReceiveMessageCommand({ QueueUrl: server.queueUrl('basic'), MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['SentTimestamp'] }));
    expect(first.Messages).toHaveLength(10);
    expect(first.Messages?.map((m) => m.Body)).toEqual(Array.from({ length: 10 }, (_, n) => `m${n}`));
    expect(Object.keys(first.Messages?.[0]?.Attributes ?? {})).toEqual(['SentTimestamp']);
    const second = await client.send(new ReceiveMessageCommand({ QueueUrl: server.queueUrl('basic') }));
    expect(second.Messages?.map((m) => m.Body)).toEqual(['m10']);
    expect(second.Messages?.[0]?.Attributes).toBeUndefined();
    const handles = [...(first.Messages ?? []), ...(second.Messages ?? [])].map((m, n) => ({ Id: `e${n}`, ReceiptHandle: m.ReceiptHandle }));
    const deleted = await client.send(new DeleteMessageBatchCommand({ QueueUrl: server.queueUrl('basic'), Entries: handles.slice(0, 10) }));
    expect(deleted.Successful).toHaveLength(10);
    const rest = await client.send(
      new DeleteMessageBatchCommand({ QueueUrl: server.queueUrl('basic'), Entries: [...handles.slice(10), { Id: 'bogus', ReceiptHandle: 'not-a-handle' }] }),
    );
    expect(rest.Successful).toEqual([{ Id: 'e10' }]);
    expect(rest.Failed).toEqual([expect.objectContaining({ Id: 'bogus', Code: 'ReceiptHandleIsInvalid', SenderFault: true })]);
    expect(server.messages('basic').map((m) => m.body)).toEqual(['m11']);
    const [last] = await receive('basic');
    await client.send(new DeleteMessageCommand({ QueueUrl: server.queueUrl('basic'), ReceiptHandle: last?.ReceiptHandle }));
  });
});

describe('what SQS refuses', () => {
  const url = () => server.queueUrl('limits');

  it('refuses an empty body, a body over 256 KiB and characters outside XML', async () => {
    expect((await failure(client.send(new SendMessageCommand({ QueueUrl: url(), MessageBody: '' })))).name).toBe('MissingParameter');
    const tooLong = await failure(client.send(new SendMessageCommand({ QueueUrl: url(), MessageBody: 'x'.repeat(262_145) })));
    expect(tooLong).toBeInstanceOf(SQSServiceException);
    expect(tooLong.name).toBe('InvalidParameterValue');
    // Counted in UTF-8 bytes: 131,073 two-byte characters are one byte too many.
    expect((await failure(client.send(new SendMessageCommand({ QueueUrl: url(), MessageBody: 'é'.repeat(131_073) })))).name).toBe('InvalidParameterValue');
    for (const bad of ['a\u0001b', 'a\uD800b', 'a\uFFFEb', 'a\u001Fb']) {
      const refused = await failure(client.send(new SendMessageCommand({ QueueUrl: url(), MessageBody: bad })));
      expect(refused, JSON.stringify(bad)).toBeInstanceOf(InvalidMessageContents);
    }
    const limit = await client.send(new SendMessageCommand({ QueueUrl: url(), MessageBody: 'x'.repeat(262_144) }));
    expect(limit.MD5OfMessageBody).toBe(md5('x'.repeat(262_144)));
    const allowed = '\t\n\r \uD7FF\uE000\uFFFD😀';
    await client.send(new SendMessageCommand({ QueueUrl: url(), MessageBody: allowed }));
    expect(server.messages('limits').map((m) => m.body.length)).toEqual([262_144, allowed.length]);
  });

  it('refuses delays, visibility timeouts, waits and batch sizes out of range', async () => {
    const cases = [
      new SendMessageCommand({ QueueUrl: url(), MessageBody: 'x', DelaySeconds: 901 }),
      new SendMessageCommand({ QueueUrl: url(), MessageBody: 'x', DelaySeconds: -1 }),
      new ReceiveMessageCommand({ QueueUrl: url(), MaxNumberOfMessages: 11 }),
      new ReceiveMessageCommand({ QueueUrl: url(), MaxNumberOfMessages: 0 }),
      new ReceiveMessageCommand({ QueueUrl: url(), WaitTimeSeconds: 21 }),
      new ReceiveMessageCommand({ QueueUrl: url(), VisibilityTimeout: 43_201 }),
    ];
    for (const command of cases) {
      const refused = await failure(client.send(command as SendMessageCommand));
      expect(refused.name, JSON.stringify(command.input)).toBe('InvalidParameterValue');
      expect(refused.$metadata?.httpStatusCode).toBe(400);
    }
  });

  it('refuses batches that are empty, too many, too long, or whose Ids are repeated or malformed', async () => {
    const entry = (id: string, body = 'x') => ({ Id: id, MessageBody: body });
    const batch = (entries: Array<{ Id: string; MessageBody: string }>) => client.send(new SendMessageBatchCommand({ QueueUrl: url(), Entries: entries }));
    expect(await failure(batch([]))).toBeInstanceOf(EmptyBatchRequest);
    expect(await failure(batch(Array.from({ length: 11 }, (_, n) => entry(`e${n}`))))).toBeInstanceOf(TooManyEntriesInBatchRequest);
    expect(await failure(batch([entry('a'), entry('a')]))).toBeInstanceOf(BatchEntryIdsNotDistinct);
    expect(await failure(batch([entry('a.b')]))).toBeInstanceOf(InvalidBatchEntryId);
    expect(await failure(batch([entry('x'.repeat(81))]))).toBeInstanceOf(InvalidBatchEntryId);
    expect(await failure(batch([entry('a', 'x'.repeat(131_072)), entry('b', 'x'.repeat(131_073))]))).toBeInstanceOf(BatchRequestTooLong);
    const deletes = await failure(client.send(new DeleteMessageBatchCommand({ QueueUrl: url(), Entries: [] })));
    expect(deletes).toBeInstanceOf(EmptyBatchRequest);
    expect(server.messages('limits')).toHaveLength(2);
  });

  it('answers a batch entry by entry: the good ones are sent, each bad one fails alone', async () => {
    const answer = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: server.queueUrl('batches'),
        Entries: [
          { Id: 'ok-1', MessageBody: 'one' },
          { Id: 'bad_chars', MessageBody: 'nul\u0000' },
          { Id: 'ok-2', MessageBody: 'two', DelaySeconds: 0 },
          { Id: 'bad-delay', MessageBody: 'three', DelaySeconds: 1000 },
        ],
      }),
    );
    expect(answer.Successful?.map((s) => [s.Id, s.MD5OfMessageBody])).toEqual([
      ['ok-1', md5('one')],
      ['ok-2', md5('two')],
    ]);
    expect(answer.Failed).toEqual([
      expect.objectContaining({ Id: 'bad_chars', Code: 'InvalidMessageContents', SenderFault: true }),
      expect.objectContaining({ Id: 'bad-delay', Code: 'InvalidParameterValue', SenderFault: true }),
    ]);
    expect(server.messages('batches').map((m) => m.body)).toEqual(['one', 'two']);
  });
});

describe('delays and visibility', () => {
  it("holds a message back for its delay (the queue's, or its own), and a long poll gets it when the delay is over", async () => {
    await send('delays', 'queue-delay');
    await send('delays', 'no-delay', 0);
    expect((await receive('delays')).map((m) => m.Body)).toEqual(['no-delay']);
    expect(await counts('delays')).toEqual({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '1', ApproximateNumberOfMessagesDelayed: '1' });
    const started = Date.now();
    const late = await receive('delays', { wait: 3 });
    expect(late.map((m) => m.Body)).toEqual(['queue-delay']);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThan(600);
    expect(waited).toBeLessThan(1_800);
  });

  it('hands a message out again after its visibility timeout, with a new receipt handle; the old handle deletes nothing', async () => {
    await send('visibility', 'again');
    const [first] = await receive('visibility');
    expect(await receive('visibility')).toEqual([]);
    await sleep(1_050);
    const [second] = await receive('visibility', { visibility: 30 });
    expect(second?.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(second?.Attributes?.ApproximateFirstReceiveTimestamp).toBe(first?.Attributes?.ApproximateFirstReceiveTimestamp);
    expect(second?.ReceiptHandle).not.toBe(first?.ReceiptHandle);

    // SQS: with an old receipt handle "the request will succeed, but the message might not be deleted"; here it never is.
    await client.send(new DeleteMessageCommand({ QueueUrl: server.queueUrl('visibility'), ReceiptHandle: first?.ReceiptHandle }));
    expect(server.messages('visibility').map((m) => m.body)).toEqual(['again']);
    expect(logLines.some((line) => line.includes('earlier receive'))).toBe(true);
    const stale = await failure(
      client.send(new ChangeMessageVisibilityCommand({ QueueUrl: server.queueUrl('visibility'), ReceiptHandle: first?.ReceiptHandle, VisibilityTimeout: 0 })),
    );
    expect(stale).toBeInstanceOf(ReceiptHandleIsInvalid);
    expect(stale.$metadata?.httpStatusCode).toBe(404);

    // The latest handle makes it visible at once; once visible it is no longer in flight.
    await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: server.queueUrl('visibility'), ReceiptHandle: second?.ReceiptHandle, VisibilityTimeout: 0 }));
    const notInFlight = await failure(
      client.send(new ChangeMessageVisibilityCommand({ QueueUrl: server.queueUrl('visibility'), ReceiptHandle: second?.ReceiptHandle, VisibilityTimeout: 10 })),
    );
    expect(notInFlight).toBeInstanceOf(MessageNotInflight);
    const [third] = await receive('visibility', { visibility: 30 });
    expect(third?.Attributes?.ApproximateReceiveCount).toBe('3');
    const beyond = await failure(
      client.send(new ChangeMessageVisibilityCommand({ QueueUrl: server.queueUrl('visibility'), ReceiptHandle: third?.ReceiptHandle, VisibilityTimeout: 43_201 })),
    );
    expect(beyond.name).toBe('InvalidParameterValue');
    await client.send(new DeleteMessageCommand({ QueueUrl: server.queueUrl('visibility'), ReceiptHandle: third?.ReceiptHandle }));
    expect(server.messages('visibility')).toEqual([]);
  });

  it('refuses receipt handles it never issued, or issued for another queue', async () => {
    const garbage = await failure(client.send(new DeleteMessageCommand({ QueueUrl: server.queueUrl('visibility'), ReceiptHandle: 'AQEBnot+a+handle==' })));
    expect(garbage).toBeInstanceOf(ReceiptHandleIsInvalid);
    await send('basic', 'elsewhere');
    const [message] = await receive('basic');
    const foreign = await failure(client.send(new DeleteMessageCommand({ QueueUrl: server.queueUrl('visibility'), ReceiptHandle: message?.ReceiptHandle })));
    expect(foreign).toBeInstanceOf(ReceiptHandleIsInvalid);
    await client.send(new DeleteMessageCommand({ QueueUrl: server.queueUrl('basic'), ReceiptHandle: message?.ReceiptHandle }));
  });
});

describe('redrive', () => {
  it('moves a message received more than maxReceiveCount times to the dead-letter queue at the next receive', async () => {
    const id = await send('work', 'poison');
    expect((await receive('work', { visibility: 0 }))[0]?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect((await receive('work', { visibility: 0 }))[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(await receive('work', { visibility: 0 })).toEqual([]);
    expect(server.messages('work')).toEqual([]);
    const [dead] = await receive('work-dlq');
    expect(dead).toMatchObject({ MessageId: id, Body: 'poison' });
    expect(dead?.Attributes?.DeadLetterQueueSourceArn).toBe(server.queueArn('work'));
    expect(logLines.some((line) => line.includes(`${id} moved from work to its dead-letter queue work-dlq`))).toBe(true);
  });
});

describe('long polling', () => {
  it('returns as soon as a message arrives, and empty when the wait is over', async () => {
    const started = Date.now();
    const polling = receive('polls', { wait: 5 });
    await sleep(200);
    await send('polls', 'arrived');
    expect((await polling).map((m) => m.Body)).toEqual(['arrived']);
    expect(Date.now() - started).toBeLessThan(1_500);
    const emptyStart = Date.now();
    expect(await receive('polls', { wait: 1 })).toEqual([]);
    expect(Date.now() - emptyStart).toBeGreaterThanOrEqual(950);
  });

  it('in process: a wait ends early on its signal, with no message taken', async () => {
    const controller = new AbortController();
    const polling = server.receive('polls', { max: 1, waitSeconds: 10, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    expect(await polling).toEqual([]);
    await expect(server.receive('polls', { max: 11 })).rejects.toThrow(/MaxNumberOfMessages/);
  });
});

describe('retention and purging', () => {
  it('drops a message once it is older than the retention period', async () => {
    await send('retention', 'old');
    expect(server.messages('retention')).toHaveLength(1);
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(now + 61_000);
    try {
      expect(server.messages('retention')).toEqual([]);
    } finally {
      clock.mockRestore();
    }
    expect(await receive('retention')).toEqual([]);
  });

  it('purges a queue at most once a minute', async () => {
    await send('purge', 'a');
    await send('purge', 'b');
    await client.send(new PurgeQueueCommand({ QueueUrl: server.queueUrl('purge') }));
    expect(server.messages('purge')).toEqual([]);
    const again = await failure(client.send(new PurgeQueueCommand({ QueueUrl: server.queueUrl('purge') })));
    expect(again).toBeInstanceOf(PurgeQueueInProgress);
    expect(again.$metadata?.httpStatusCode).toBe(403);
  });
});

describe('persistence', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'local-sqs-'));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('keeps queued, in-flight and delayed messages across a restart with the same file', async () => {
    const file = join(directory, 'state', 'sqs.json');
    const queues: LocalQueueSpec[] = [{ name: 'deliveries', visibilityTimeoutSeconds: 30, messageRetentionSeconds: HOUR }];
    const first = await startLocalSqs({ port: 0, region: REGION, account: ACCOUNT, queues, persistFile: file });
    const firstClient = sqsClient(first);
    const url = first.queueUrl('deliveries');
    await firstClient.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'in-flight' }));
    const [inFlight] = (await firstClient.send(new ReceiveMessageCommand({ QueueUrl: url, MessageSystemAttributeNames: ['All'] }))).Messages ?? [];
    await firstClient.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'queued' }));
    const delayedSentAt = Date.now();
    await firstClient.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'delayed', DelaySeconds: 1 }));
    firstClient.destroy();
    await first.close();
    expect(await readdir(join(directory, 'state')), 'written atomically: no temporary file is left').toEqual(['sqs.json']);

    const second = await startLocalSqs({ port: 0, region: REGION, account: ACCOUNT, queues, persistFile: file });
    const secondClient = sqsClient(second);
    try {
      expect(second.messages('deliveries').map((m) => [m.body, m.receiveCount])).toEqual([
        ['in-flight', 1],
        ['queued', 0],
        ['delayed', 0],
      ]);
      const url2 = second.queueUrl('deliveries');
      // The handle of the receive before the restart still deletes its message.
      await secondClient.send(new DeleteMessageCommand({ QueueUrl: url2, ReceiptHandle: inFlight?.ReceiptHandle }));
      const now = (await secondClient.send(new ReceiveMessageCommand({ QueueUrl: url2, MaxNumberOfMessages: 10 }))).Messages ?? [];
      expect(now.map((m) => m.Body)).toEqual(['queued']);
      const later = (await secondClient.send(
        new ReceiveMessageCommand({ QueueUrl: url2, MaxNumberOfMessages: 10, WaitTimeSeconds: 3, MessageSystemAttributeNames: ['SentTimestamp'] }),
      )).Messages ?? [];
      expect(later.map((m) => m.Body)).toEqual(['delayed']);
      expect(Number(later[0]?.Attributes?.SentTimestamp)).toBeGreaterThanOrEqual(delayedSentAt);
      expect(Number(later[0]?.Attributes?.SentTimestamp)).toBeLessThan(delayedSentAt + 500);
      expect(Date.now() - delayedSentAt).toBeGreaterThanOrEqual(990);
    } finally {
      secondClient.destroy();
      await second.close();
    }
    const saved = JSON.parse(await readFile(file, 'utf8')) as { queues: Record<string, Array<{ body: string; receiveCount: number }>> };
    expect(saved.queues.deliveries?.map((m) => [m.body, m.receiveCount])).toEqual([
      ['queued', 1],
      ['delayed', 1],
    ]);
  });

  it('refuses to start from a file it cannot read, naming the file', async () => {
    const file = join(directory, 'broken.json');
    await writeFile(file, '{"version":1,"queues":', 'utf8');
    const queues: LocalQueueSpec[] = [{ name: 'deliveries', visibilityTimeoutSeconds: 30, messageRetentionSeconds: HOUR }];
    await expect(startLocalSqs({ port: 0, region: REGION, account: ACCOUNT, queues, persistFile: file })).rejects.toThrow(file);
    await writeFile(file, '{"version":1,"queues":{"deliveries":[{"id":3}]}}', 'utf8');
    await expect(startLocalSqs({ port: 0, region: REGION, account: ACCOUNT, queues, persistFile: file })).rejects.toThrow(file);
  });
});
