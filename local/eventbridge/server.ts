import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerRequest, operationOf, type AwsJsonApi } from '../aws-json.ts';
import {
  ApiError,
  JSON_CONTENT_TYPE,
  optionalInteger,
  optionalString,
  readJsonBody,
  serialization,
  TARGET_PREFIX,
  validation,
  type RequestBody,
} from './protocol.ts';

/** An event the bus accepted, as EventBridge hands it to a rule's target, plus where and when it arrived. */
export interface BusEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  /** The entry's Time (or the receipt's), to the second, as EventBridge states it. */
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
  eventBusName: string;
  /** When this API accepted it (ISO 8601 with milliseconds): not part of an EventBridge event. */
  receivedAt: string;
}

/** `entry`: the next entries are answered `InternalFailure`; `request`: the next PutEvents requests a 500 `InternalException`. */
export type PutEventsFault = 'entry' | 'request';

export interface LocalEventBridgeOptions {
  port: number; // 0 = pick a free port
  host?: string; // default '127.0.0.1'
  region: string;
  account: string;
  /** The custom buses of the stack; the account's `default` bus always exists. */
  buses: readonly string[];
  log?: (line: string) => void;
}

export interface LocalEventBridge {
  url: string;
  port: number;
  /** Every accepted event, oldest first. */
  events(): readonly BusEvent[];
  /** Makes the next `count` entries (or whole PutEvents requests) fail as the service can, for tests. */
  failNext(count: number, fault?: PutEventsFault): void;
  /** How many injected faults were answered so far. */
  readonly injected: Readonly<Record<PutEventsFault, number>>;
  close(): Promise<void>;
}

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_BUS = 'default';
/** PutEvents takes 1 to 10 entries. */
const MAX_ENTRIES = 10;
/** The entries of one request must total less than 256 KB, counted as EventBridge counts them. */
const MAX_ENTRIES_BYTES = 256 * 1024;
/** What an entry's Time counts for in that total. */
const TIME_BYTES = 14;
const MAX_SOURCE_LENGTH = 256;
const MAX_DETAIL_TYPE_LENGTH = 128;
const MAX_RESOURCES = 100;

type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

interface Entry {
  source?: string;
  detailType?: string;
  detail?: string;
  busName?: string;
  resources: string[];
  time?: number;
}

const required = (field: string): EntryResult => ({
  ErrorCode: 'InvalidArgument',
  ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
});

function tooLong(field: string, max: number): EntryResult {
  return { ErrorCode: 'InvalidArgument', ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is longer than ${max} characters.` };
}

/**
 * Serves the EventBridge JSON 1.1 API (PutEvents, DescribeEventBus, ListEventBuses) for the stack's
 * buses, keeping what they accept in memory, in order: `GET /events` lists it as JSON. It refuses what
 * EventBridge refuses, and one thing more: an entry for a bus that does not exist fails
 * (`ResourceNotFoundException`) where EventBridge accepts it and drops it silently.
 */
export async function startLocalEventBridge(options: LocalEventBridgeOptions): Promise<LocalEventBridge> {
  const host = options.host ?? DEFAULT_HOST;
  const log = options.log ?? (() => undefined);
  const created = Date.now() / 1000;
  const buses = new Map<string, { name: string; arn: string }>();
  for (const name of [DEFAULT_BUS, ...options.buses]) {
    buses.set(name, { name, arn: `arn:aws:events:${options.region}:${options.account}:event-bus/${name}` });
  }
  const accepted: BusEvent[] = [];
  const pending: Record<PutEventsFault, number> = { entry: 0, request: 0 };
  const injected: Record<PutEventsFault, number> = { entry: 0, request: 0 };

  /** A bus by name or ARN, in this account and region only. */
  const busOf = (nameOrArn: string | undefined) => {
    const value = nameOrArn ?? DEFAULT_BUS;
    const arn = /^arn:aws:events:([^:]+):(\d{12}):event-bus\/(.+)$/.exec(value);
    if (arn && (arn[1] !== options.region || arn[2] !== options.account)) return undefined;
    return buses.get(arn ? (arn[3] ?? '') : value);
  };
  const noSuchBus = (name: string) => new ApiError('ResourceNotFoundException', `Event bus ${name} does not exist.`);

  function readEntry(raw: unknown, index: number): Entry {
    const at = `Entries.${index + 1}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw serialization(at, 'an object');
    const body = raw as RequestBody;
    const text = (field: string) => optionalString(body, field);
    const resources = body.Resources ?? [];
    if (!Array.isArray(resources) || resources.some((r) => typeof r !== 'string')) throw serialization(`${at}.Resources`, 'a list of strings');
    const time = body.Time;
    if (time !== undefined && time !== null && (typeof time !== 'number' || !Number.isFinite(time))) throw serialization(`${at}.Time`, 'a timestamp');
    text('TraceHeader');
    return {
      source: text('Source'),
      detailType: text('DetailType'),
      detail: text('Detail'),
      busName: text('EventBusName'),
      resources: resources as string[],
      ...(typeof time === 'number' ? { time } : {}),
    };
  }

  function entrySize(entry: Entry): number {
    const bytes = (value: string | undefined) => (value === undefined ? 0 : Buffer.byteLength(value, 'utf8'));
    return (entry.time === undefined ? 0 : TIME_BYTES) + bytes(entry.source) + bytes(entry.detailType) + bytes(entry.detail)
      + entry.resources.reduce((sum, resource) => sum + bytes(resource), 0);
  }

  function putEntry(entry: Entry, receivedAt: Date): EntryResult {
    if (!entry.source) return required('Source');
    if (!entry.detailType) return required('DetailType');
    if (!entry.detail) return required('Detail');
    if (entry.source.length > MAX_SOURCE_LENGTH) return tooLong('Source', MAX_SOURCE_LENGTH);
    if (entry.detailType.length > MAX_DETAIL_TYPE_LENGTH) return tooLong('DetailType', MAX_DETAIL_TYPE_LENGTH);
    if (entry.resources.length > MAX_RESOURCES) {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: `Parameter Resources is not valid. Reason: at most ${MAX_RESOURCES} resources are allowed.` };
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.detail);
    } catch {
      detail = undefined;
    }
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    // The `aws.` sources are the services' own.
    if (entry.source.startsWith('aws.')) return { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' };
    const bus = busOf(entry.busName);
    if (bus === undefined) return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${entry.busName ?? DEFAULT_BUS} does not exist.` };
    if (pending.entry > 0) {
      pending.entry -= 1;
      injected.entry += 1;
      return { ErrorCode: 'InternalFailure', ErrorMessage: 'The request processing has failed because of an unknown error, exception or failure.' };
    }
    const event: BusEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.detailType,
      source: entry.source,
      account: options.account,
      time: wholeSeconds(entry.time === undefined ? receivedAt : new Date(entry.time * 1000)),
      region: options.region,
      resources: entry.resources,
      detail: detail as Record<string, unknown>,
      eventBusName: bus.name,
      receivedAt: receivedAt.toISOString(),
    };
    accepted.push(event);
    return { EventId: event.id };
  }

  const operations: Record<string, (body: RequestBody) => unknown> = {
    PutEvents(body) {
      if (optionalString(body, 'EndpointId') !== undefined) {
        throw new ApiError('ValidationException', 'Global endpoints (EndpointId) are not available on the local EventBridge API.');
      }
      const raw = body.Entries;
      if (raw === undefined || raw === null) throw validation('entries', 'Member must not be null');
      if (!Array.isArray(raw)) throw serialization('Entries', 'a list');
      if (raw.length < 1) throw validation('entries', 'Member must have length greater than or equal to 1');
      if (raw.length > MAX_ENTRIES) throw validation('entries', `Member must have length less than or equal to ${MAX_ENTRIES}`);
      const entries = raw.map(readEntry);
      if (entries.reduce((sum, entry) => sum + entrySize(entry), 0) >= MAX_ENTRIES_BYTES) {
        throw new ApiError('ValidationException', 'Total size of the entries in the request is over the limit.');
      }
      if (pending.request > 0) {
        pending.request -= 1;
        injected.request += 1;
        throw new ApiError('InternalException', 'An internal error occurred.', 500);
      }
      const receivedAt = new Date();
      const results = entries.map((entry) => putEntry(entry, receivedAt));
      return { FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length, Entries: results };
    },
    DescribeEventBus(body) {
      const name = optionalString(body, 'Name', 1600);
      const bus = busOf(name);
      if (bus === undefined) throw noSuchBus(name ?? DEFAULT_BUS);
      return { Name: bus.name, Arn: bus.arn, CreationTime: created, LastModifiedTime: created };
    },
    ListEventBuses(body) {
      const prefix = optionalString(body, 'NamePrefix', 256) ?? '';
      const limit = optionalInteger(body, 'Limit', 1, 100) ?? 100;
      const token = optionalString(body, 'NextToken', 2048);
      const start = token === undefined ? 0 : decodeToken(token);
      const matching = [...buses.values()].filter((bus) => bus.name.startsWith(prefix));
      const page = matching.slice(start, start + limit);
      return {
        EventBuses: page.map((bus) => ({ Name: bus.name, Arn: bus.arn, CreationTime: created, LastModifiedTime: created })),
        ...(start + limit < matching.length ? { NextToken: Buffer.from(String(start + limit)).toString('base64url') } : {}),
      };
    },
  };

  const api: AwsJsonApi = {
    contentType: JSON_CONTENT_TYPE,
    readBody: readJsonBody,
    internalError: { code: 'InternalException', message: 'An internal error occurred.' },
    log: (line) => log(`local EventBridge: ${line}`),
    routes: {
      '/events': (url) => {
        const since = Number(url.searchParams.get('since') ?? 0);
        return { events: Number.isFinite(since) && since > 0 ? accepted.filter((event) => Date.parse(event.receivedAt) >= since * 1000) : accepted };
      },
    },
  };
  const server = createServer((request, response) => {
    void answerRequest(request, response, api, (body) => operationOf(request, TARGET_PREFIX, operations)(body));
  });

  await listen(server, options.port, host);
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    events: () => accepted,
    failNext(count, fault = 'entry') {
      if (!Number.isInteger(count) || count < 0) throw new RangeError(`failNext needs a whole number of ${fault === 'entry' ? 'entries' : 'requests'}, got ${count}`);
      pending[fault] += count;
    },
    injected,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** EventBridge states an event's time to the second. */
function wholeSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function decodeToken(token: string): number {
  const position = Number(Buffer.from(token, 'base64url').toString('utf8'));
  if (!Number.isInteger(position) || position < 0) throw new ApiError('ValidationException', 'The NextToken is not valid.');
  return position;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE'
        ? new Error(`Port ${port} on ${host} is already in use, so the local EventBridge API cannot start there: stop whatever holds it or set EVENTS_PORT.`)
        : error);
    };
    server.once('error', fail);
    server.listen({ port, host }, () => {
      server.off('error', fail);
      resolve();
    });
  });
}
