import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { answerRequest, operationOf, type AwsJsonApi } from '../aws-json.ts';
import { replaceFile } from '../replace-file.ts';
import {
  ApiError,
  batchError,
  entryList,
  invalidParameterValue,
  optionalInteger,
  optionalString,
  optionalStringList,
  outOfRange,
  queueDoesNotExist,
  JSON_CONTENT_TYPE,
  queryErrorHeaders,
  readJsonBody,
  requiredString,
  SqsError,
  TARGET_PREFIX,
  unsupportedOperation,
  type RequestBody,
} from './protocol.ts';

/** A standard queue of the stack, as the CDK stack declares it. */
export interface LocalQueueSpec {
  name: string;
  visibilityTimeoutSeconds: number;
  messageRetentionSeconds: number;
  /** The queue's default delay for new messages. @default 0 */
  delaySeconds?: number;
  /** Moves a message received more than `maxReceiveCount` times to the named queue (of the same stack). */
  redrive?: { deadLetterQueueName: string; maxReceiveCount: number };
}

/** What startLocalSqs serves, where, and where it keeps the messages. */
export interface LocalSqsOptions {
  port: number; // 0 = pick a free port
  host?: string; // default '127.0.0.1'
  region: string;
  account: string;
  queues: readonly LocalQueueSpec[];
  /** Where every queue's messages are kept across restarts; without it they live in memory only. */
  persistFile?: string;
  /** Gets a line for each message moved to a dead-letter queue, each stale receipt handle and each failed write. */
  log?: (line: string) => void;
}

/** A message as ReceiveMessage hands it out, with all its system attributes. */
export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  md5OfBody: string;
  attributes: {
    ApproximateReceiveCount: string;
    SentTimestamp: string;
    SenderId: string;
    ApproximateFirstReceiveTimestamp: string;
    /** Set on a message moved here from the queue whose ARN it names. */
    DeadLetterQueueSourceArn?: string;
  };
}

/** ReceiveMessage's parameters, for a receive in process. */
export interface ReceiveOptions {
  /** MaxNumberOfMessages: 1 to 10. */
  max: number;
  /** How long to wait for a first message, 0 to 20 s; in process it may be a fraction of a second. @default 0 */
  waitSeconds?: number;
  /** The received messages' visibility timeout, 0 to 43,200 s. @default the queue's */
  visibilityTimeoutSeconds?: number;
  /** Ends the wait early, with no messages. */
  signal?: AbortSignal;
}

/** One message of a queue as it stands, for tests and tools. */
export interface QueuedMessage {
  messageId: string;
  body: string;
  receiveCount: number;
  /** When it is (or was) visible to a receive, epoch milliseconds. */
  visibleAt: number;
  sentAt: number;
}

/** A running local SQS API, and in-process access to its queues (for the event source and tests). */
export interface LocalSqs {
  /** The endpoint for SQS clients, e.g. `http://127.0.0.1:4576`. */
  url: string;
  port: number;
  /** `http://127.0.0.1:<port>/<account>/<name>`, as GetQueueUrl answers. */
  queueUrl(name: string): string;
  /** `arn:aws:sqs:<region>:<account>:<name>`. */
  queueArn(name: string): string;
  /** ReceiveMessage in process: the same checks, visibility, receive counts and redrive. */
  receive(name: string, options: ReceiveOptions): Promise<ReceivedMessage[]>;
  /** DeleteMessage in process. */
  deleteMessage(name: string, receiptHandle: string): Promise<void>;
  /** ChangeMessageVisibility in process. */
  changeVisibility(name: string, receiptHandle: string, seconds: number): Promise<void>;
  /** The queue's messages (delayed, visible and in flight), oldest first. */
  messages(name: string): QueuedMessage[];
  /** Stops serving, ends the waits of long polls and writes the messages out. */
  close(): Promise<void>;
}

const DEFAULT_HOST = '127.0.0.1';
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const BATCH_ENTRY_ID = /^[A-Za-z0-9_-]{1,80}$/;
const MAX_BATCH_ENTRIES = 10;
/** A message body, and the bodies of one batch together, are at most 256 KiB. */
const MAX_MESSAGE_BYTES = 262_144;
const MAX_DELAY_SECONDS = 900;
const MAX_VISIBILITY_SECONDS = 43_200;
const MAX_WAIT_SECONDS = 20;
const MIN_RETENTION_SECONDS = 60;
const MAX_RETENTION_SECONDS = 1_209_600;
const MAX_RECEIVE_COUNT = 1000;
const PURGE_INTERVAL_MS = 60_000;
/** Writes of the persist file are coalesced: at most one per this many milliseconds. */
const PERSIST_INTERVAL_MS = 25;
// What XML 1.0 allows, which is what SQS allows in a body; a lone surrogate is a code point outside it.
const INVALID_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const SYSTEM_ATTRIBUTES = ['SenderId', 'SentTimestamp', 'ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp', 'DeadLetterQueueSourceArn'] as const;
/** Those that only FIFO queues have, or that carry nothing here: asked for, they are simply absent. */
const ABSENT_SYSTEM_ATTRIBUTES = new Set(['AWSTraceHeader', 'SequenceNumber', 'MessageDeduplicationId', 'MessageGroupId']);
const QUEUE_ATTRIBUTES = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'DelaySeconds',
  'LastModifiedTimestamp',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'QueueArn',
  'ReceiveMessageWaitTimeSeconds',
  'RedrivePolicy',
  'VisibilityTimeout',
] as const;
const ABSENT_QUEUE_ATTRIBUTES = new Set(['Policy', 'KmsMasterKeyId', 'KmsDataKeyReusePeriodSeconds', 'RedriveAllowPolicy', 'SqsManagedSseEnabled']);

/** A message as the queue keeps it (and the persist file holds it). */
interface StoredMessage {
  id: string;
  body: string;
  md5: string;
  senderId: string;
  sentAt: number;
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  /** The latest receive: its time bounds ChangeMessageVisibility, its handle is the only one that deletes. */
  receivedAt?: number;
  receiptHandle?: string;
  sourceArn?: string;
}

interface Queue {
  spec: LocalQueueSpec;
  name: string;
  arn: string;
  url: string;
  /** In the order they arrived: a receive hands out the oldest visible first. */
  messages: Map<string, StoredMessage>;
  /** Long polls waiting for a change to this queue. */
  waiters: Set<() => void>;
  purgedAt?: number;
}

interface PersistedState {
  version: 1;
  queues: Record<string, StoredMessage[]>;
}

/**
 * Serves the SQS API (AWS JSON 1.0, as @aws-sdk/client-sqs speaks it) for the stack's standard queues:
 * SendMessage(Batch), ReceiveMessage with long polling, DeleteMessage(Batch), ChangeMessageVisibility,
 * GetQueueUrl, GetQueueAttributes and PurgeQueue, with delays, visibility timeouts, retention and
 * redrive to a dead-letter queue. It refuses what SQS refuses; where SQS documents that something
 * "might" happen it does the less forgiving thing: DeleteMessage with a receipt handle that is no
 * longer the message's latest answers success and never deletes. Message attributes are not offered.
 */
export async function startLocalSqs(options: LocalSqsOptions): Promise<LocalSqs> {
  const host = options.host ?? DEFAULT_HOST;
  const log = options.log ?? (() => undefined);
  const created = Math.floor(Date.now() / 1000);
  const queues = new Map<string, Queue>();
  const closing = new AbortController();

  validateSpecs(options.queues);
  for (const spec of options.queues) {
    queues.set(spec.name, {
      spec,
      name: spec.name,
      arn: `arn:aws:sqs:${options.region}:${options.account}:${spec.name}`,
      url: '',
      messages: new Map(),
      waiters: new Set(),
    });
  }

  const persistence = options.persistFile === undefined ? undefined : persister(options.persistFile, () => snapshot(), log);
  const changed = () => persistence?.changed();
  if (options.persistFile !== undefined) {
    const state = await load(options.persistFile);
    for (const [name, messages] of Object.entries(state?.queues ?? {})) {
      const queue = queues.get(name);
      if (queue === undefined) {
        if (messages.length > 0) log(`local SQS: ${messages.length} message(s) of queue ${name} in ${options.persistFile} dropped: the stack has no such queue`);
        continue;
      }
      for (const message of messages) queue.messages.set(message.id, message);
    }
  }

  function snapshot(): PersistedState {
    return { version: 1, queues: Object.fromEntries([...queues.values()].map((queue) => [queue.name, [...queue.messages.values()]])) };
  }

  function queueNamed(name: string): Queue {
    const queue = queues.get(name);
    if (queue === undefined) throw queueDoesNotExist();
    return queue;
  }

  /** The queue a request's QueueUrl names: any host, path `/<account>/<name>`. */
  function queueOf(body: RequestBody): Queue {
    const value = requiredString(body, 'QueueUrl');
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new SqsError('InvalidAddress', `The address ${value} is not valid for this endpoint.`, { statusCode: 404 });
    }
    const [account, name, ...rest] = url.pathname.split('/').filter((part) => part !== '');
    if (account !== options.account || name === undefined || rest.length > 0) throw queueDoesNotExist();
    return queueNamed(decodeURIComponent(name));
  }

  /** Messages past the queue's retention period are gone, wherever they are. */
  function sweep(queue: Queue, now: number): void {
    const retentionMs = queue.spec.messageRetentionSeconds * 1000;
    let removed = false;
    for (const message of queue.messages.values()) {
      if (now >= message.sentAt + retentionMs) {
        queue.messages.delete(message.id);
        removed = true;
      }
    }
    if (removed) changed();
  }

  function notify(queue: Queue): void {
    for (const wake of [...queue.waiters]) wake();
  }

  function enqueue(queue: Queue, body: string, delaySeconds: number, senderId: string): StoredMessage {
    const now = Date.now();
    const message: StoredMessage = {
      id: randomUUID(),
      body,
      md5: md5(body),
      senderId,
      sentAt: now,
      visibleAt: now + delaySeconds * 1000,
      receiveCount: 0,
    };
    queue.messages.set(message.id, message);
    changed();
    notify(queue);
    return message;
  }

  function moveToDeadLetterQueue(queue: Queue, message: StoredMessage, now: number): void {
    const target = queues.get(queue.spec.redrive?.deadLetterQueueName ?? '');
    if (target === undefined) return;
    queue.messages.delete(message.id);
    // A standard queue keeps the message's original enqueue time, so its retention runs on from there.
    const moved: StoredMessage = { ...message, visibleAt: now, sourceArn: queue.arn };
    delete moved.receiptHandle;
    delete moved.receivedAt;
    target.messages.set(moved.id, moved);
    log(`local SQS: message ${message.id} moved from ${queue.name} to its dead-letter queue ${target.name} after ${message.receiveCount} receives`);
    notify(target);
  }

  /** One receive, without waiting: the oldest visible messages, each made invisible with a new receipt handle. */
  function take(queue: Queue, max: number, visibilityMs: number): ReceivedMessage[] {
    const now = Date.now();
    sweep(queue, now);
    const taken: ReceivedMessage[] = [];
    const maxReceiveCount = queue.spec.redrive?.maxReceiveCount;
    for (const message of queue.messages.values()) {
      if (taken.length >= max) break;
      if (message.visibleAt > now) continue;
      if (maxReceiveCount !== undefined && message.receiveCount >= maxReceiveCount) {
        moveToDeadLetterQueue(queue, message, now);
        changed();
        continue;
      }
      message.receiveCount += 1;
      message.firstReceivedAt ??= now;
      message.receivedAt = now;
      message.receiptHandle = receiptHandle(queue.name, message.id);
      message.visibleAt = now + visibilityMs;
      taken.push(delivered(message));
      changed();
    }
    return taken;
  }

  /** When the next invisible message becomes visible, if any does. */
  function nextVisibleAt(queue: Queue, now: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const message of queue.messages.values()) if (message.visibleAt > now && message.visibleAt < next) next = message.visibleAt;
    return next;
  }

  function waitForChange(queue: Queue, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        queue.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      queue.waiters.add(done);
      signal?.addEventListener('abort', done);
    });
  }

  /** ReceiveMessage: returns as soon as a message is there, or empty when the wait is over. */
  async function receiveFrom(queue: Queue, max: number, waitMs: number, visibilityMs: number, signal: AbortSignal | undefined): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (signal?.aborted || closing.signal.aborted) return [];
      const taken = take(queue, max, visibilityMs);
      const now = Date.now();
      if (taken.length > 0 || now >= deadline) return taken;
      await waitForChange(queue, Math.min(deadline, nextVisibleAt(queue, now)) - now, signal);
    }
  }

  /** Splits a receipt handle into the message it names; one this queue never issued is refused. */
  function messageOf(queue: Queue, handle: string): StoredMessage | undefined {
    const decoded = Buffer.from(handle, 'base64').toString('utf8');
    const [queueName, id, nonce, ...rest] = decoded.split('/');
    if (id === undefined || nonce === undefined || rest.length > 0 || Buffer.from(decoded, 'utf8').toString('base64') !== handle) {
      throw new SqsError('ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not a valid receipt handle.`, { statusCode: 404 });
    }
    if (queueName !== queue.name) {
      throw new SqsError('ReceiptHandleIsInvalid', `The receipt handle "${handle}" is not valid for this queue.`, { statusCode: 404 });
    }
    return queue.messages.get(id);
  }

  function deleteByHandle(queue: Queue, handle: string): void {
    const message = messageOf(queue, handle);
    // Deleting a message that is gone already succeeds, as on SQS.
    if (message === undefined) return;
    if (message.receiptHandle !== handle) {
      log(`local SQS: DeleteMessage on ${queue.name} with a receipt handle of an earlier receive of message ${message.id}: not deleted (SQS answers success and may not delete)`);
      return;
    }
    queue.messages.delete(message.id);
    changed();
  }

  function changeVisibilityByHandle(queue: Queue, handle: string, seconds: number): void {
    const now = Date.now();
    sweep(queue, now);
    const message = messageOf(queue, handle);
    if (message === undefined) {
      throw outOfRange('ReceiptHandle', handle, 'Message does not exist or is not available for visibility timeout change.');
    }
    if (message.receiptHandle !== handle) {
      throw new SqsError('ReceiptHandleIsInvalid', `The receipt handle "${handle}" has expired: the message was received again since.`, { statusCode: 404 });
    }
    if (message.visibleAt <= now) {
      throw new SqsError('MessageNotInflight', 'The message referred to is not in flight.', { queryCode: 'AWS.SimpleQueueService.MessageNotInflight' });
    }
    if (now + seconds * 1000 - (message.receivedAt ?? now) > MAX_VISIBILITY_SECONDS * 1000) {
      throw outOfRange('VisibilityTimeout', seconds, `Total VisibilityTimeout for the message is beyond the limit [${MAX_VISIBILITY_SECONDS} seconds]`);
    }
    message.visibleAt = now + seconds * 1000;
    changed();
    notify(queue);
  }

  function queueAttributes(queue: Queue, names: readonly string[]): Record<string, string> {
    const now = Date.now();
    sweep(queue, now);
    const wanted = new Set<string>();
    for (const name of names) {
      if (name === 'All') QUEUE_ATTRIBUTES.forEach((attribute) => wanted.add(attribute));
      else if ((QUEUE_ATTRIBUTES as readonly string[]).includes(name)) wanted.add(name);
      else if (!ABSENT_QUEUE_ATTRIBUTES.has(name)) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    }
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    for (const message of queue.messages.values()) {
      if (message.visibleAt <= now) visible += 1;
      else if (message.receiveCount > 0) inFlight += 1;
      else delayed += 1;
    }
    const redrive = queue.spec.redrive;
    const values: Record<(typeof QUEUE_ATTRIBUTES)[number], string | undefined> = {
      ApproximateNumberOfMessages: String(visible),
      ApproximateNumberOfMessagesNotVisible: String(inFlight),
      ApproximateNumberOfMessagesDelayed: String(delayed),
      CreatedTimestamp: String(created),
      DelaySeconds: String(queue.spec.delaySeconds ?? 0),
      LastModifiedTimestamp: String(created),
      MaximumMessageSize: String(MAX_MESSAGE_BYTES),
      MessageRetentionPeriod: String(queue.spec.messageRetentionSeconds),
      QueueArn: queue.arn,
      ReceiveMessageWaitTimeSeconds: '0',
      RedrivePolicy: redrive === undefined
        ? undefined
        : JSON.stringify({ deadLetterTargetArn: queueNamed(redrive.deadLetterQueueName).arn, maxReceiveCount: redrive.maxReceiveCount }),
      VisibilityTimeout: String(queue.spec.visibilityTimeoutSeconds),
    };
    const answer: Record<string, string> = {};
    for (const name of QUEUE_ATTRIBUTES) {
      const value = values[name];
      if (wanted.has(name) && value !== undefined) answer[name] = value;
    }
    return answer;
  }

  /** SendMessage's checks of one message; a batch entry that fails them fails alone. */
  function validMessage(queue: Queue, entry: RequestBody): { body: string; delaySeconds: number } {
    const body = optionalString(entry, 'MessageBody');
    if (body === undefined || body === '') throw new SqsError('MissingParameter', 'The request must contain the parameter MessageBody.');
    const delaySeconds = optionalInteger(entry, 'DelaySeconds', 0, MAX_DELAY_SECONDS, `DelaySeconds must be >= 0 and <= ${MAX_DELAY_SECONDS}.`);
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > MAX_MESSAGE_BYTES) {
      throw invalidParameterValue(`One or more parameters are invalid. Reason: Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`);
    }
    const invalid = INVALID_CHARACTER.exec(body)?.[0];
    if (invalid !== undefined) {
      throw new SqsError(
        'InvalidMessageContents',
        `Invalid binary character '#x${(invalid.codePointAt(0) ?? 0).toString(16).toUpperCase()}' was found in the message body, the set of allowed characters is `
          + '#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
      );
    }
    const attributes = entry.MessageAttributes;
    const systemAttributes = entry.MessageSystemAttributes;
    if (isNonEmptyObject(attributes) || isNonEmptyObject(systemAttributes)) {
      throw new SqsError('UnsupportedOperation', 'Message attributes are not available on the local SQS API: carry what the consumer needs in the message body.', {
        queryCode: 'AWS.SimpleQueueService.UnsupportedOperation',
      });
    }
    const deduplicationId = optionalString(entry, 'MessageDeduplicationId');
    if (deduplicationId !== undefined) {
      throw outOfRange('MessageDeduplicationId', deduplicationId, 'The request includes a parameter that is not valid for this queue type.');
    }
    optionalString(entry, 'MessageGroupId');
    return { body, delaySeconds: delaySeconds ?? queue.spec.delaySeconds ?? 0 };
  }

  /** The checks every batch request gets before any entry is looked at. */
  function batchEntries(body: RequestBody, entryName: string): RequestBody[] {
    const entries = entryList(body, 'Entries');
    if (entries.length === 0) throw batchError('EmptyBatchRequest', `There should be at least one ${entryName} in the request.`);
    if (entries.length > MAX_BATCH_ENTRIES) {
      throw batchError('TooManyEntriesInBatchRequest', `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}. You have sent ${entries.length}.`);
    }
    const seen = new Set<string>();
    for (const entry of entries) {
      const id = optionalString(entry, 'Id') ?? '';
      if (!BATCH_ENTRY_ID.test(id)) {
        throw batchError('InvalidBatchEntryId', 'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.');
      }
      if (seen.has(id)) throw batchError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`);
      seen.add(id);
    }
    return entries;
  }

  const failedEntry = (id: string, error: unknown) => {
    if (!(error instanceof ApiError)) throw error;
    return { Id: id, SenderFault: error.statusCode < 500, Code: error instanceof SqsError ? error.queryCode : error.code, Message: error.message };
  };

  const senderId = options.account;

  const operations: Record<string, (body: RequestBody, signal: AbortSignal) => unknown> = {
    SendMessage(body) {
      const queue = queueOf(body);
      const { body: text, delaySeconds } = validMessage(queue, body);
      const message = enqueue(queue, text, delaySeconds, senderId);
      return { MessageId: message.id, MD5OfMessageBody: message.md5 };
    },
    SendMessageBatch(body) {
      const queue = queueOf(body);
      const entries = batchEntries(body, 'SendMessageBatchRequestEntry');
      const total = entries.reduce((sum, entry) => {
        const text = entry.MessageBody;
        return sum + (typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : 0);
      }, 0);
      if (total > MAX_MESSAGE_BYTES) {
        throw batchError('BatchRequestTooLong', `Batch requests cannot be longer than ${MAX_MESSAGE_BYTES} bytes. You have sent ${total} bytes.`);
      }
      const Successful: unknown[] = [];
      const Failed: unknown[] = [];
      for (const entry of entries) {
        const id = String(entry.Id);
        try {
          const { body: text, delaySeconds } = validMessage(queue, entry);
          const message = enqueue(queue, text, delaySeconds, senderId);
          Successful.push({ Id: id, MessageId: message.id, MD5OfMessageBody: message.md5 });
        } catch (error) {
          Failed.push(failedEntry(id, error));
        }
      }
      return { Successful, Failed };
    },
    async ReceiveMessage(body, signal) {
      const queue = queueOf(body);
      const names = [...(optionalStringList(body, 'AttributeNames') ?? []), ...(optionalStringList(body, 'MessageSystemAttributeNames') ?? [])];
      const wanted = new Set<string>();
      for (const name of names) {
        if (name === 'All') SYSTEM_ATTRIBUTES.forEach((attribute) => wanted.add(attribute));
        else if ((SYSTEM_ATTRIBUTES as readonly string[]).includes(name)) wanted.add(name);
        else if (!ABSENT_SYSTEM_ATTRIBUTES.has(name)) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
      }
      optionalStringList(body, 'MessageAttributeNames');
      optionalString(body, 'ReceiveRequestAttemptId');
      const max = optionalInteger(body, 'MaxNumberOfMessages', 1, MAX_BATCH_ENTRIES, `Must be between 1 and ${MAX_BATCH_ENTRIES}, if provided.`) ?? 1;
      const visibility = optionalInteger(body, 'VisibilityTimeout', 0, MAX_VISIBILITY_SECONDS, `Must be >= 0 and <= ${MAX_VISIBILITY_SECONDS}, if provided.`);
      const wait = optionalInteger(body, 'WaitTimeSeconds', 0, MAX_WAIT_SECONDS, `Must be >= 0 and <= ${MAX_WAIT_SECONDS}, if provided.`) ?? 0;
      const messages = await receiveFrom(queue, max, wait * 1000, (visibility ?? queue.spec.visibilityTimeoutSeconds) * 1000, signal);
      if (messages.length === 0) return {};
      return {
        Messages: messages.map((message) => {
          const attributes = Object.fromEntries(Object.entries(message.attributes).filter(([name]) => wanted.has(name)));
          return {
            MessageId: message.messageId,
            ReceiptHandle: message.receiptHandle,
            MD5OfBody: message.md5OfBody,
            Body: message.body,
            ...(Object.keys(attributes).length > 0 ? { Attributes: attributes } : {}),
          };
        }),
      };
    },
    DeleteMessage(body) {
      const queue = queueOf(body);
      deleteByHandle(queue, requiredString(body, 'ReceiptHandle'));
      return {};
    },
    DeleteMessageBatch(body) {
      const queue = queueOf(body);
      const entries = batchEntries(body, 'DeleteMessageBatchRequestEntry');
      const Successful: unknown[] = [];
      const Failed: unknown[] = [];
      for (const entry of entries) {
        const id = String(entry.Id);
        try {
          deleteByHandle(queue, requiredString(entry, 'ReceiptHandle'));
          Successful.push({ Id: id });
        } catch (error) {
          Failed.push(failedEntry(id, error));
        }
      }
      return { Successful, Failed };
    },
    ChangeMessageVisibility(body) {
      const queue = queueOf(body);
      const handle = requiredString(body, 'ReceiptHandle');
      const seconds = optionalInteger(body, 'VisibilityTimeout', 0, MAX_VISIBILITY_SECONDS, `Must be >= 0 and <= ${MAX_VISIBILITY_SECONDS}.`);
      if (seconds === undefined) throw new SqsError('MissingParameter', 'The request must contain the parameter VisibilityTimeout.');
      changeVisibilityByHandle(queue, handle, seconds);
      return {};
    },
    GetQueueUrl(body) {
      const name = requiredString(body, 'QueueName');
      const owner = optionalString(body, 'QueueOwnerAWSAccountId');
      if (owner !== undefined && owner !== options.account) throw queueDoesNotExist();
      return { QueueUrl: queueNamed(name).url };
    },
    GetQueueAttributes(body) {
      const queue = queueOf(body);
      const attributes = queueAttributes(queue, optionalStringList(body, 'AttributeNames') ?? []);
      return Object.keys(attributes).length > 0 ? { Attributes: attributes } : {};
    },
    PurgeQueue(body) {
      const queue = queueOf(body);
      const now = Date.now();
      if (queue.purgedAt !== undefined && now - queue.purgedAt < PURGE_INTERVAL_MS) {
        throw new SqsError('PurgeQueueInProgress', `Only one PurgeQueue operation on ${queue.name} is allowed every ${PURGE_INTERVAL_MS / 1000} seconds.`, {
          queryCode: 'AWS.SimpleQueueService.PurgeQueueInProgress',
          statusCode: 403,
        });
      }
      queue.purgedAt = now;
      queue.messages.clear();
      changed();
      return {};
    },
  };

  const api: AwsJsonApi = {
    contentType: JSON_CONTENT_TYPE,
    readBody: readJsonBody,
    errorHeaders: queryErrorHeaders,
    internalError: { code: 'InternalFailure', message: 'The request processing has failed because of an unknown error, exception or failure.' },
    log: (line) => log(`local SQS: ${line}`),
    quietOnClose: true,
  };
  const server = createServer((request, response) => {
    const aborted = new AbortController();
    // A long poll whose client went away stops waiting, so it takes no message nobody will see.
    response.once('close', () => aborted.abort());
    void answerRequest(request, response, api, (body) => operationOf(request, TARGET_PREFIX, operations, unsupportedOperation)(body, aborted.signal));
  });

  await listen(server, options.port, host);
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  for (const queue of queues.values()) queue.url = `${baseUrl}/${options.account}/${queue.name}`;

  const open = () => {
    if (closing.signal.aborted) throw new Error('The local SQS API is closed.');
  };
  const known = (name: string) => {
    const queue = queues.get(name);
    if (queue === undefined) throw new Error(`The local SQS API has no queue ${name}; its queues: ${[...queues.keys()].join(', ')}`);
    return queue;
  };
  let closed: Promise<void> | undefined;
  return {
    url: baseUrl,
    port,
    queueUrl: (name) => known(name).url,
    queueArn: (name) => known(name).arn,
    async receive(name, receive) {
      open();
      const queue = queueNamed(name);
      const { max, waitSeconds = 0, visibilityTimeoutSeconds = queue.spec.visibilityTimeoutSeconds } = receive;
      if (!Number.isInteger(max) || max < 1 || max > MAX_BATCH_ENTRIES) throw outOfRange('MaxNumberOfMessages', max, `Must be between 1 and ${MAX_BATCH_ENTRIES}, if provided.`);
      if (!(waitSeconds >= 0 && waitSeconds <= MAX_WAIT_SECONDS)) throw outOfRange('WaitTimeSeconds', waitSeconds, `Must be >= 0 and <= ${MAX_WAIT_SECONDS}, if provided.`);
      if (!Number.isInteger(visibilityTimeoutSeconds) || visibilityTimeoutSeconds < 0 || visibilityTimeoutSeconds > MAX_VISIBILITY_SECONDS) {
        throw outOfRange('VisibilityTimeout', visibilityTimeoutSeconds, `Must be >= 0 and <= ${MAX_VISIBILITY_SECONDS}, if provided.`);
      }
      return receiveFrom(queue, max, waitSeconds * 1000, visibilityTimeoutSeconds * 1000, receive.signal);
    },
    async deleteMessage(name, handle) {
      open();
      deleteByHandle(queueNamed(name), handle);
    },
    async changeVisibility(name, handle, seconds) {
      open();
      if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_VISIBILITY_SECONDS) {
        throw outOfRange('VisibilityTimeout', seconds, `Must be >= 0 and <= ${MAX_VISIBILITY_SECONDS}.`);
      }
      changeVisibilityByHandle(queueNamed(name), handle, seconds);
    },
    messages(name) {
      const queue = known(name);
      sweep(queue, Date.now());
      return [...queue.messages.values()].map((message) => ({
        messageId: message.id,
        body: message.body,
        receiveCount: message.receiveCount,
        visibleAt: message.visibleAt,
        sentAt: message.sentAt,
      }));
    },
    close() {
      closed ??= (async () => {
        closing.abort();
        for (const queue of queues.values()) notify(queue);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await persistence?.close();
      })();
      return closed;
    },
  };
}

function delivered(message: StoredMessage): ReceivedMessage {
  return {
    messageId: message.id,
    receiptHandle: message.receiptHandle ?? '',
    body: message.body,
    md5OfBody: message.md5,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(message.sentAt),
      SenderId: message.senderId,
      ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt ?? message.sentAt),
      ...(message.sourceArn === undefined ? {} : { DeadLetterQueueSourceArn: message.sourceArn }),
    },
  };
}

/** A new handle for each receive: it names the queue and the message, and differs from every earlier one. */
function receiptHandle(queueName: string, messageId: string): string {
  return Buffer.from(`${queueName}/${messageId}/${randomUUID()}`, 'utf8').toString('base64');
}

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

function isNonEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.keys(value).length > 0;
}

function validateSpecs(specs: readonly LocalQueueSpec[]): void {
  const names = new Set(specs.map((spec) => spec.name));
  const within = (value: number | undefined, min: number, max: number) => value === undefined || (Number.isInteger(value) && value >= min && value <= max);
  for (const spec of specs) {
    const problem = !QUEUE_NAME.test(spec.name)
      ? 'a standard queue name is 1 to 80 letters, digits, hyphens and underscores'
      : !within(spec.visibilityTimeoutSeconds, 0, MAX_VISIBILITY_SECONDS)
        ? `visibilityTimeoutSeconds must be a whole number from 0 to ${MAX_VISIBILITY_SECONDS}`
        : !within(spec.messageRetentionSeconds, MIN_RETENTION_SECONDS, MAX_RETENTION_SECONDS)
          ? `messageRetentionSeconds must be a whole number from ${MIN_RETENTION_SECONDS} to ${MAX_RETENTION_SECONDS}`
          : !within(spec.delaySeconds, 0, MAX_DELAY_SECONDS)
            ? `delaySeconds must be a whole number from 0 to ${MAX_DELAY_SECONDS}`
            : spec.redrive !== undefined && (!names.has(spec.redrive.deadLetterQueueName) || spec.redrive.deadLetterQueueName === spec.name)
              ? `its dead-letter queue ${spec.redrive.deadLetterQueueName} must be another queue of the stack`
              : spec.redrive !== undefined && !within(spec.redrive.maxReceiveCount, 1, MAX_RECEIVE_COUNT)
                ? `maxReceiveCount must be a whole number from 1 to ${MAX_RECEIVE_COUNT}`
                : undefined;
    if (problem !== undefined) throw new RangeError(`Local SQS queue ${JSON.stringify(spec.name)}: ${problem}.`);
  }
  if (names.size !== specs.length) throw new RangeError('Local SQS queues must have distinct names.');
}

/** The persisted messages; none when the file does not exist yet, an error naming the file when it cannot be used. */
async function load(file: string): Promise<PersistedState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`The local SQS cannot read its messages from ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let state: unknown;
  try {
    state = JSON.parse(text);
  } catch (error) {
    throw new Error(`The local SQS cannot read its messages from ${file}: it is not JSON (${error instanceof Error ? error.message : String(error)}); move it away to start with empty queues.`);
  }
  if (!isPersistedState(state)) {
    throw new Error(`The local SQS cannot read its messages from ${file}: it does not hold queues of messages; move it away to start with empty queues.`);
  }
  return state;
}

function isPersistedState(value: unknown): value is PersistedState {
  if (typeof value !== 'object' || value === null) return false;
  const { version, queues } = value as { version?: unknown; queues?: unknown };
  if (version !== 1 || typeof queues !== 'object' || queues === null || Array.isArray(queues)) return false;
  return Object.values(queues).every((messages) => Array.isArray(messages) && messages.every(isStoredMessage));
}

function isStoredMessage(value: unknown): value is StoredMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as Record<string, unknown>;
  const optional = (name: string, type: 'string' | 'number') => message[name] === undefined || typeof message[name] === type;
  return typeof message.id === 'string' && typeof message.body === 'string' && typeof message.md5 === 'string' && typeof message.senderId === 'string'
    && typeof message.sentAt === 'number' && typeof message.visibleAt === 'number' && typeof message.receiveCount === 'number'
    && optional('firstReceivedAt', 'number') && optional('receivedAt', 'number') && optional('receiptHandle', 'string') && optional('sourceArn', 'string');
}

/** Writes the state after changes, at most every PERSIST_INTERVAL_MS, each time to a temporary file renamed over the old one. */
function persister(file: string, state: () => PersistedState, log: (line: string) => void) {
  let dirty = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();

  async function write(text: string): Promise<void> {
    try {
      await mkdir(dirname(file), { recursive: true });
      await replaceFile(file, text);
    } catch (error) {
      log(`local SQS: writing the messages to ${file} failed (${error instanceof Error ? error.message : String(error)}); they are kept in memory`);
    }
  }

  function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    if (dirty) {
      dirty = false;
      const text = JSON.stringify(state());
      writing = writing.then(() => write(text));
    }
    return writing;
  }

  return {
    changed(): void {
      if (stopped) return;
      dirty = true;
      timer ??= setTimeout(() => void flush(), PERSIST_INTERVAL_MS);
    },
    /** Writes what is pending; later changes are not written. */
    close(): Promise<void> {
      const last = flush();
      stopped = true;
      return last;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE'
        ? new Error(`Port ${port} on ${host} is already in use, so the local SQS API cannot start there: stop whatever holds it or choose another port (SQS_PORT).`)
        : error);
    };
    server.once('error', fail);
    server.listen({ port, host }, () => {
      server.off('error', fail);
      resolve();
    });
  });
}
