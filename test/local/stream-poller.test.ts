import { CreateTableCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStreamPoller, type StreamPoller } from '../../local/dynamodb-streams/poller.ts';
import { startDynamoDbLocal, type RunningEmulator } from '../../local/emulators.ts';
import { RELAY_EVENT_SOURCE } from '../../lib/event-relay.ts';

/**
 * The local stream poller against DynamoDB Local's stream, with a stand-in function: what it hands
 * over (Lambda's record format, the relay's filter, batches, the batching window, order) and what it
 * does when the function reports failed items, throws, or answers nonsense.
 */

const TABLE = 'poller-test';
const WINDOW_MS = 400;
const BATCH_SIZE = 3;
const RETRY_ATTEMPTS = 2;

let dynamodb: RunningEmulator;
let client: DynamoDBClient;
let poller: StreamPoller;
let streamArn: string;
const logLines: string[] = [];
/** Each invocation's records, by their `n`, and when it happened. */
const invocations: Array<{ ns: string[]; at: number; records: DynamoDBRecord[] }> = [];
let answer: (event: DynamoDBStreamEvent, call: number) => Promise<unknown> = async () => undefined;
let calls = 0;
let test = 0;

beforeAll(async () => {
  dynamodb = await startDynamoDbLocal({ port: 0 });
  client = new DynamoDBClient({ endpoint: dynamodb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const created = await client.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
    }),
  );
  streamArn = created.TableDescription?.LatestStreamArn ?? '';
  poller = startStreamPoller({
    endpoint: dynamodb.endpoint,
    streamArn,
    region: 'us-east-1',
    account: '000000000000',
    settings: { ...RELAY_EVENT_SOURCE, batchSize: BATCH_SIZE, maxBatchingWindowSeconds: WINDOW_MS / 1000, retryAttempts: RETRY_ATTEMPTS, bisectBatchOnError: true },
    invoke: async (event) => {
      invocations.push({ ns: event.Records.map((record) => record.dynamodb?.NewImage?.n?.S ?? '?'), at: Date.now(), records: event.Records });
      calls += 1;
      return answer(event, calls);
    },
    functionName: 'relay-events',
    log: (line) => logLines.push(line),
    retryBackoff: { firstMs: 20, maxMs: 40 },
  });
});

afterAll(async () => {
  await poller?.stop();
  client?.destroy();
  await dynamodb?.stop();
});

beforeEach(() => {
  test += 1;
  invocations.length = 0;
  logLines.length = 0;
  calls = 0;
  answer = async () => undefined;
});

/** An outbox item of this test, numbered `n` (its `n` attribute is `<test>-<n>`). */
async function outbox(n: number, extra: Record<string, { S: string } | { B: Uint8Array }> = {}): Promise<string> {
  const id = `${test}-${n}`;
  await client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: `OUTBOX#${id}` }, sk: { S: 'EVENT' }, kind: { S: 'outbox' }, n: { S: id }, ...extra } }));
  return id;
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}; invocations: ${JSON.stringify(invocations.map((i) => i.ns))}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until the records with these `n` have been handed over successfully or discarded, then a little longer. */
async function settled(ns: string[]): Promise<void> {
  await waitFor(`${ns.join(', ')} handed over`, () => (ns.every((n) => invocations.some((i) => i.ns.includes(n))) ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS + 600));
}

const sequenceOf = (record: DynamoDBRecord | undefined) => record?.dynamodb?.SequenceNumber ?? '';

describe('what the poller hands over', () => {
  it("hands new outbox items only, as Lambda's stream records, in order, in batches of at most batchSize", async () => {
    const ids: string[] = [];
    for (let n = 1; n <= 7; n += 1) {
      ids.push(await outbox(n, n === 1 ? { bin: { B: new Uint8Array([1, 2, 255]) } } : {}));
      // Other writes of the table, and the outbox item's own later update: none of them is handed over.
      await client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: `TRANSFER#${test}-${n}` }, sk: { S: 'TRANSFER' }, kind: { S: 'transfer' } } }));
    }
    await client.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { pk: { S: `OUTBOX#${ids[0]}` }, sk: { S: 'EVENT' } },
        UpdateExpression: 'SET relayedAt = :at',
        ExpressionAttributeValues: { ':at': { S: new Date().toISOString() } },
      }),
    );
    await settled(ids);
    expect(invocations.flatMap((i) => i.ns)).toEqual(ids);
    expect(invocations.every((i) => i.ns.length <= BATCH_SIZE)).toBe(true);
    expect(invocations.length).toBeGreaterThanOrEqual(Math.ceil(ids.length / BATCH_SIZE));
    const sequences = invocations.flatMap((i) => i.records.map((record) => BigInt(sequenceOf(record))));
    expect(sequences).toEqual([...sequences].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

    const [first] = invocations[0]?.records ?? [];
    expect(first).toMatchObject({
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: `arn:aws:dynamodb:us-east-1:000000000000:table/${TABLE}/stream/${streamArn.split('/stream/')[1]}`,
      dynamodb: {
        Keys: { pk: { S: `OUTBOX#${ids[0]}` }, sk: { S: 'EVENT' } },
        NewImage: { kind: { S: 'outbox' }, n: { S: ids[0] }, bin: { B: Buffer.from([1, 2, 255]).toString('base64') } },
        StreamViewType: 'NEW_IMAGE',
      },
    });
    expect(first?.eventID).toEqual(expect.any(String));
    expect(first?.dynamodb?.SizeBytes).toBeGreaterThan(0);
    const created = first?.dynamodb?.ApproximateCreationDateTime ?? 0;
    expect(Number.isInteger(created)).toBe(true);
    expect(Math.abs(created - Date.now() / 1000)).toBeLessThan(120);
    expect(logLines).toEqual([]);
  });

  it('gathers records for the batching window before it invokes', async () => {
    const written = Date.now();
    const id = await outbox(1);
    await settled([id]);
    const handed = invocations.find((i) => i.ns.includes(id));
    expect((handed?.at ?? 0) - written).toBeGreaterThanOrEqual(WINDOW_MS);
    expect((handed?.at ?? 0) - written).toBeLessThan(WINDOW_MS + 2_000);
  });
});

describe('failures', () => {
  it('retries a batch from the lowest sequence number reported failed, then goes on in order', async () => {
    answer = async (event, call) => {
      if (call > 1) return { batchItemFailures: [] };
      const [, second, third] = event.Records;
      return { batchItemFailures: [{ itemIdentifier: sequenceOf(third) }, { itemIdentifier: sequenceOf(second) }] };
    };
    const ids = [await outbox(1), await outbox(2), await outbox(3)];
    await settled(ids);
    const later = await outbox(4);
    await settled([later]);
    expect(invocations.map((i) => i.ns)).toEqual([ids, ids.slice(1), [later]]);
    expect(logLines).toEqual([]);
  });

  it('splits a failing batch, retries the half that keeps failing and discards its record after the retries, with one line', async () => {
    answer = async (event) => {
      if (event.Records.some((record) => record.dynamodb?.NewImage?.poison)) throw new Error('cannot publish this one');
      return undefined;
    };
    const ids = [await outbox(1), await outbox(2, { poison: { S: 'yes' } }), await outbox(3)];
    await settled(ids);
    const [a, poison, c] = ids as [string, string, string];
    expect(invocations.map((i) => i.ns)).toEqual([
      [a, poison, c],
      [a, poison],
      [a],
      [poison],
      ...Array.from({ length: RETRY_ATTEMPTS }, () => [poison]),
      [c],
    ]);
    expect(logLines).toHaveLength(1);
    expect(logLines[0]).toContain('relay-events: discarded 1 stream record(s)');
    expect(logLines[0]).toContain(`after ${RETRY_ATTEMPTS} retries (Error: cannot publish this one)`);
    expect(logLines[0]).toContain(`(pk=OUTBOX#${poison} sk=EVENT)`);
    expect(logLines[0]).not.toContain(`OUTBOX#${a} `);
    expect(poller.discarded.map((record) => record.dynamodb?.NewImage?.n?.S)).toEqual([poison]);
  });

  it('discards what is still reported failed after the retries, and nothing before it', async () => {
    answer = async (event) => ({ batchItemFailures: [{ itemIdentifier: sequenceOf(event.Records.at(-1)) }] });
    const ids = [await outbox(1), await outbox(2)];
    await settled(ids);
    expect(invocations.map((i) => i.ns)).toEqual([ids, ...Array.from({ length: RETRY_ATTEMPTS }, () => ids.slice(1))]);
    expect(logLines).toHaveLength(1);
    expect(logLines[0]).toContain('(reported as failed)');
    expect(logLines[0]).toContain(`(pk=OUTBOX#${ids[1]} sk=EVENT)`);
    expect(logLines[0]).not.toContain(`OUTBOX#${ids[0]} `);
  });

  it('takes an item failure it cannot place (empty, or not of the batch) as a failure of the whole batch', async () => {
    answer = async (_event, call) => {
      if (call === 1) return { batchItemFailures: [{ itemIdentifier: '' }] };
      if (call === 2) return { batchItemFailures: [{ itemIdentifier: '999999999999999999999' }] };
      if (call === 3) return { batchItemFailures: [{ id: 'wrong key' }] };
      return { batchItemFailures: null };
    };
    const id = await outbox(1);
    await settled([id]);
    // Each answer fails the whole batch: tried once and retried twice, it is then discarded.
    expect(invocations.map((i) => i.ns)).toEqual([[id], [id], [id]]);
    expect(logLines).toHaveLength(1);
    expect(logLines[0]).toContain('names no record of the batch');
  });
});
