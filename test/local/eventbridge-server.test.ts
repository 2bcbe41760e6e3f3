import {
  DescribeEventBusCommand,
  EventBridgeClient,
  ListEventBusesCommand,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLocalEventBridge, type BusEvent, type LocalEventBridge } from '../../local/eventbridge/server.ts';

/**
 * The local EventBridge API through the real SDK client: what it accepts, in order, at GET /events;
 * each refusal EventBridge makes (and one it does not make); injected faults.
 */

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const BUS = 'CustomerTransfer-events';
const BUS_ARN = `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${BUS}`;

let server: LocalEventBridge;
let client: EventBridgeClient;

beforeAll(async () => {
  server = await startLocalEventBridge({ port: 0, region: REGION, account: ACCOUNT, buses: [BUS] });
  client = eventBridgeClient();
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
});

let marker = 0;
beforeEach(() => {
  marker += 1;
});

function eventBridgeClient(maxAttempts = 1): EventBridgeClient {
  return new EventBridgeClient({ endpoint: server.url, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts });
}

/** An entry of this test (its detail carries the test's marker), to the stack's bus. */
function entry(n: number, overrides: Partial<PutEventsRequestEntry> = {}): PutEventsRequestEntry {
  return { EventBusName: BUS, Source: 'customer-transfer', DetailType: 'transfer.requested', Detail: JSON.stringify({ marker, n }), ...overrides };
}

/** The bus's events as GET /events lists them. */
async function listed(): Promise<BusEvent[]> {
  const response = await fetch(`${server.url}/events`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/json');
  return ((await response.json()) as { events: BusEvent[] }).events;
}

/** This test's events on the bus, in the order accepted. */
async function ours(): Promise<BusEvent[]> {
  return (await listed()).filter((event) => event.detail.marker === marker);
}

async function failure(promise: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
  const error = (await promise.then(
    () => undefined,
    (rejected: unknown) => rejected,
  )) as (Error & { $metadata?: { httpStatusCode?: number } }) | undefined;
  expect(error, 'the call fails').toBeInstanceOf(Error);
  return { name: error?.name ?? '', message: error?.message ?? '', status: error?.$metadata?.httpStatusCode };
}

describe('PutEvents', () => {
  it('accepts events and lists them at /events in the order received, as EventBridge delivers them', async () => {
    const first = await client.send(
      new PutEventsCommand({
        Entries: [
          entry(1, { Time: new Date('2026-03-04T05:06:07.890Z'), Resources: ['arn:aws:states:us-east-1:000000000000:execution:x:y'] }),
          entry(2, { DetailType: 'transfer.released', EventBusName: BUS_ARN }),
        ],
      }),
    );
    const second = await client.send(new PutEventsCommand({ Entries: [entry(3, { EventBusName: undefined, Source: 'billing' })] }));
    expect(first.FailedEntryCount).toBe(0);
    expect(second.FailedEntryCount).toBe(0);
    const ids = [...(first.Entries ?? []), ...(second.Entries ?? [])].map((e) => e.EventId);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);

    const events = await ours();
    expect(events.map((event) => event.id)).toEqual(ids);
    expect(events.map((event) => [event.detail.n, event['detail-type'], event.source, event.eventBusName])).toEqual([
      [1, 'transfer.requested', 'customer-transfer', BUS],
      [2, 'transfer.released', 'customer-transfer', BUS],
      [3, 'transfer.requested', 'billing', 'default'],
    ]);
    expect(events[0]).toMatchObject({
      version: '0',
      account: ACCOUNT,
      region: REGION,
      time: '2026-03-04T05:06:07Z',
      resources: ['arn:aws:states:us-east-1:000000000000:execution:x:y'],
      detail: { marker, n: 1 },
    });
    // Without a Time, the event's time is its receipt's, to the second.
    const received = Date.parse(events[1]?.receivedAt ?? '');
    expect(Math.abs(Date.parse(events[1]?.time ?? '') - received)).toBeLessThan(1_000);
    expect(events[1]?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.now() - received).toBeLessThan(10_000);
  });

  it('refuses more than 10 entries, or none, as a request error, and keeps nothing', async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => entry(i));
    const tooMany = await failure(client.send(new PutEventsCommand({ Entries: eleven })));
    expect(tooMany).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(tooMany.message).toContain('less than or equal to 10');
    const none = await failure(client.send(new PutEventsCommand({ Entries: [] })));
    expect(none).toMatchObject({ name: 'ValidationException', status: 400 });
    expect((await client.send(new PutEventsCommand({ Entries: eleven.slice(0, 10) }))).FailedEntryCount).toBe(0);
    expect((await ours()).map((event) => event.detail.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('refuses a request whose entries reach 256 KB, counted as EventBridge counts them', async () => {
    const limit = 256 * 1024;
    // Source + DetailType + Detail + 14 bytes for a Time: the detail is padded to bring the total to `size`.
    const sized = (size: number, n: number) => {
      const fixed = 'customer-transfer'.length + 'transfer.requested'.length + 14 + JSON.stringify({ marker, n, pad: '' }).length;
      const room = size - fixed;
      return entry(n, { Time: new Date(), Detail: JSON.stringify({ marker, n, pad: 'é'.repeat(Math.floor(room / 2)) + 'x'.repeat(room % 2) }) });
    };
    const atLimit = [sized(limit / 2, 1), sized(limit / 2, 2)];
    const refused = await failure(client.send(new PutEventsCommand({ Entries: atLimit })));
    expect(refused).toMatchObject({ name: 'ValidationException', status: 400, message: 'Total size of the entries in the request is over the limit.' });
    const justUnder = [sized(limit / 2, 3), sized(limit / 2 - 1, 4)];
    expect((await client.send(new PutEventsCommand({ Entries: justUnder }))).FailedEntryCount).toBe(0);
    expect((await ours()).map((event) => event.detail.n)).toEqual([3, 4]);
  });

  it('fails each entry EventBridge would not take, by its own error, and takes the others of the request', async () => {
    const answer = await client.send(
      new PutEventsCommand({
        Entries: [
          entry(1, { Source: undefined }),
          entry(2, { DetailType: '' }),
          entry(3, { Detail: undefined }),
          entry(4, { Detail: '{"marker": ' }),
          entry(5, { Detail: '["a JSON array"]' }),
          entry(6, { Detail: '"a JSON string"' }),
          entry(7, { EventBusName: 'no-such-bus' }),
          entry(8, { EventBusName: `arn:aws:events:${REGION}:111111111111:event-bus/${BUS}` }),
          entry(9, { Source: 'aws.events' }),
          entry(10),
        ],
      }),
    );
    expect(answer.FailedEntryCount).toBe(9);
    expect(answer.Entries?.slice(0, 9)).toEqual([
      { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Source is not valid. Reason: Source is a required argument.' },
      { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter DetailType is not valid. Reason: DetailType is a required argument.' },
      { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Detail is not valid. Reason: Detail is a required argument.' },
      { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' },
      { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' },
      { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' },
      { ErrorCode: 'ResourceNotFoundException', ErrorMessage: 'Event bus no-such-bus does not exist.' },
      { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus arn:aws:events:${REGION}:111111111111:event-bus/${BUS} does not exist.` },
      { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' },
    ]);
    expect(answer.Entries?.[9]?.EventId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await ours()).map((event) => event.detail.n)).toEqual([10]);
  });

  it('answers an operation it does not know with an error', async () => {
    const response = await fetch(server.url, { method: 'POST', headers: { 'x-amz-target': 'AWSEvents.PutRule', 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });
});

describe('fault injection', () => {
  it('fails the next entries with InternalFailure, then takes entries again', async () => {
    const before = server.injected.entry;
    server.failNext(2);
    const answer = await client.send(new PutEventsCommand({ Entries: [entry(1), entry(2), entry(3)] }));
    expect(answer.FailedEntryCount).toBe(2);
    expect(answer.Entries?.slice(0, 2).map((e) => e.ErrorCode)).toEqual(['InternalFailure', 'InternalFailure']);
    expect(answer.Entries?.[2]?.EventId).toBeDefined();
    expect(server.injected.entry - before).toBe(2);
    expect((await client.send(new PutEventsCommand({ Entries: [entry(1), entry(2)] }))).FailedEntryCount).toBe(0);
    expect((await ours()).map((event) => event.detail.n)).toEqual([3, 1, 2]);
  });

  it('fails whole requests with a 500 InternalException, which the SDK retries', async () => {
    const before = server.injected.request;
    server.failNext(1, 'request');
    const refused = await failure(client.send(new PutEventsCommand({ Entries: [entry(1)] })));
    expect(refused).toMatchObject({ name: 'InternalException', status: 500 });
    expect(await ours()).toEqual([]);

    // With the SDK's default of three attempts, two failures in a row are absorbed.
    server.failNext(2, 'request');
    const retrying = eventBridgeClient(3);
    try {
      const answer = await retrying.send(new PutEventsCommand({ Entries: [entry(2)] }));
      expect(answer.FailedEntryCount).toBe(0);
      expect(answer.$metadata.attempts).toBe(3);
    } finally {
      retrying.destroy();
    }
    expect(server.injected.request - before).toBe(3);
    expect((await ours()).map((event) => event.detail.n)).toEqual([2]);
  });

  it('refuses a fault count that is not a whole number', () => {
    expect(() => server.failNext(-1)).toThrow(RangeError);
    expect(() => server.failNext(1.5, 'request')).toThrow(RangeError);
  });
});

describe('event buses', () => {
  it('describes the default bus and the stack bus, by name or ARN, and refuses others', async () => {
    expect(await client.send(new DescribeEventBusCommand({}))).toMatchObject({ Name: 'default', Arn: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/default` });
    expect(await client.send(new DescribeEventBusCommand({ Name: BUS_ARN }))).toMatchObject({ Name: BUS, Arn: BUS_ARN });
    const missing = await failure(client.send(new DescribeEventBusCommand({ Name: 'other-events' })));
    expect(missing).toMatchObject({ name: 'ResourceNotFoundException', message: 'Event bus other-events does not exist.' });
  });

  it('lists the buses, by prefix and page', async () => {
    expect((await client.send(new ListEventBusesCommand({}))).EventBuses?.map((bus) => bus.Name)).toEqual(['default', BUS]);
    expect((await client.send(new ListEventBusesCommand({ NamePrefix: 'Customer' }))).EventBuses?.map((bus) => bus.Arn)).toEqual([BUS_ARN]);
    const first = await client.send(new ListEventBusesCommand({ Limit: 1 }));
    expect(first.EventBuses?.map((bus) => bus.Name)).toEqual(['default']);
    const second = await client.send(new ListEventBusesCommand({ Limit: 1, NextToken: first.NextToken }));
    expect(second.EventBuses?.map((bus) => bus.Name)).toEqual([BUS]);
    expect(second.NextToken).toBeUndefined();
  });
});
