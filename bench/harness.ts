/**
 * What every benchmark shares: the local stack run in a child process (so the load generator and the
 * system under test do not share an event loop), a DynamoDB capacity meter in front of DynamoDB Local,
 * the emailed links, the executions' histories, one transfer driven end to end as its users drive it,
 * the directory files, statistics and the machine's description. Benchmarks measure; they never fail
 * on timing.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, type IncomingHttpHeaders, type Server } from 'node:http';
import { cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient, type HistoryEvent } from '@aws-sdk/client-sfn';
import type { DirectoryFile, Partner } from '../lambdas/domain/directory.ts';
import { freePort } from '../local/emulators.ts';
import { signLocalToken } from '../local/jwt-keys.ts';
import { LocalClient, type StoredEmail, type TransferView } from '../local/local-client.ts';
import { executionArnFor, parseStateMachineArn } from '../local/step-functions/arns.ts';
import { closeProxy, forward, listenOnLoopback } from '../local/loopback-proxy.ts';
import { AwsCallLog, CallRecorder, callLoggingServer } from './call-log.ts';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Reporting

/** One benchmark's part of RESULTS.md, with its raw figures. */
export interface BenchSection<F> {
  title: string;
  /** How it was measured, in a few sentences. */
  method: string;
  figures: F;
  /** Markdown tables. */
  tables: string[];
  /** One line per figure, read against its target. */
  readings: string[];
  /** Things that are broken (not slow): a transfer that did not complete, a handler that does not load. */
  problems: string[];
}

const started = Date.now();

/** A progress line on stderr, with the time since the run began. */
export function progress(line: string): void {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
}

export function markdownTable(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function ms(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return 'n/a';
  if (value >= 1000) return `${(value / 1000).toFixed(value >= 10_000 ? 1 : 2)} s`;
  return value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`;
}

export function units(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

export function verdict(met: boolean): string {
  return met ? 'met' : 'NOT met';
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------
// Statistics

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least p % of the values at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? upper) + upper) / 2;
}

// ---------------------------------------------------------------------------------------------
// The machine

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  date: string;
  loadAverage: number[];
}

export function machineInfo(): MachineInfo {
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.version,
    date: new Date().toISOString(),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

// ---------------------------------------------------------------------------------------------
// Directory files

export const OLD_PARTNER: Partner = { id: 'P-OLD', name: 'Old Reseller Ltd', invoiceDay: 1, contacts: ['billing@old-reseller.example'] };
export const NEW_PARTNER: Partner = { id: 'P-NEW', name: 'New Reseller Inc', invoiceDay: 15, contacts: ['partners@new-reseller.example'] };

export interface CustomerShape {
  id: string;
  domains: number;
  users: number;
}

/** Customer ids `<prefix>-00001`…, so that each transfer can take customers nobody else touched. */
export function customerIds(prefix: string, count: number, from = 1): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}-${String(from + index).padStart(5, '0')}`);
}

/** A directory with the two benchmark partners and customers of the old one, shaped as asked. */
export function benchDirectory(customers: readonly CustomerShape[]): DirectoryFile {
  return {
    partners: [OLD_PARTNER, NEW_PARTNER],
    customers: customers.map((shape) => {
      const host = shape.id.toLowerCase();
      return {
        id: shape.id,
        name: `Customer ${shape.id}`,
        partnerId: OLD_PARTNER.id,
        domains: Array.from({ length: shape.domains }, (_, i) => (i === 0 ? `${host}.example` : `d${i}.${host}.example`)),
        settings: { spamThreshold: 5, quarantineDays: 30, tlsRequired: true },
        users: Array.from({ length: shape.users }, (_, i) => ({ email: `user${i}@${host}.example`, settings: { digest: 'daily', language: 'en' } })),
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// DynamoDB capacity, as DynamoDB Local reports it, with its transactions recounted

const READ_OPERATIONS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const SINGLE_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);
const WRITE_OPERATIONS = new Set([...SINGLE_WRITES, 'BatchWriteItem', 'TransactWriteItems']);

/** An attribute value as DynamoDB's JSON protocol carries it (binary as base64). */
interface WireValue {
  S?: string;
  N?: string;
  B?: string;
  BOOL?: boolean;
  NULL?: boolean;
  SS?: string[];
  NS?: string[];
  BS?: string[];
  L?: WireValue[];
  M?: Record<string, WireValue>;
}
type WireItem = Record<string, WireValue>;

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** DynamoDB's number size: about one byte per two significant digits, plus one. */
function numberSize(n: string): number {
  const digits = n.replace(/^[-+]/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

function valueSize(value: WireValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return Buffer.from(value.B, 'base64').length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return sum(value.SS.map(utf8));
  if (value.NS !== undefined) return sum(value.NS.map(numberSize));
  if (value.BS !== undefined) return sum(value.BS.map((b) => Buffer.from(b, 'base64').length));
  // Lists and maps: 3 bytes, plus 1 byte per element.
  if (value.L !== undefined) return 3 + sum(value.L.map((v) => valueSize(v) + 1));
  if (value.M !== undefined) return 3 + sum(Object.entries(value.M).map(([name, v]) => utf8(name) + valueSize(v) + 1));
  return 0;
}

/** An item's size as DynamoDB bills it: attribute names and values, in bytes. */
function itemSize(item: WireItem | undefined): number {
  if (item === undefined) return 0;
  return sum(Object.entries(item).map(([name, value]) => utf8(name) + valueSize(value)));
}

const writeUnitsOf = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

/** JSON with object keys sorted, so that two images compare equal whatever order their attributes came in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A table's keys and global secondary indexes, as DescribeTable gives them. */
interface TableSchema {
  partitionKey: string;
  sortKey: string | undefined;
  indexes: Array<{ partitionKey: string; sortKey: string | undefined; projection: string; include: string[] }>;
  /** What CreateTable needs to make a table like it. */
  definition: Record<string, unknown>;
}

interface DescribedKey {
  AttributeName: string;
  KeyType: 'HASH' | 'RANGE';
}

function schemaFrom(description: Record<string, unknown>): TableSchema {
  const keyNames = (keys: DescribedKey[]) => ({
    partitionKey: keys.find((k) => k.KeyType === 'HASH')?.AttributeName ?? '',
    sortKey: keys.find((k) => k.KeyType === 'RANGE')?.AttributeName,
  });
  const indexes = (description.GlobalSecondaryIndexes ?? []) as Array<{
    IndexName: string;
    KeySchema: DescribedKey[];
    Projection?: { ProjectionType?: string; NonKeyAttributes?: string[] };
  }>;
  return {
    ...keyNames(description.KeySchema as DescribedKey[]),
    indexes: indexes.map((index) => ({
      ...keyNames(index.KeySchema),
      projection: index.Projection?.ProjectionType ?? 'ALL',
      include: index.Projection?.NonKeyAttributes ?? [],
    })),
    definition: {
      AttributeDefinitions: description.AttributeDefinitions,
      KeySchema: description.KeySchema,
      BillingMode: 'PAY_PER_REQUEST',
      ...(indexes.length > 0
        ? { GlobalSecondaryIndexes: indexes.map(({ IndexName, KeySchema, Projection }) => ({ IndexName, KeySchema, Projection })) }
        : {}),
    },
  };
}

/**
 * Write units of one item written, from its images before and after and its table's schema: the larger
 * image in 1 KB units (twice that inside a transaction: prepare and commit), plus, per global secondary
 * index, one write of the index entry when the item enters or leaves the index or changes a projected
 * attribute, two (a delete and a put) when its index key changes, none otherwise. An index entry holds
 * the table's and the index's keys and the projected attributes (all of them with ALL). Index writes are
 * counted once: the index is updated from the table, outside the transaction's two phases.
 */
function itemWriteUnits(schema: TableSchema, before: WireItem | undefined, after: WireItem | undefined, transactional: boolean): number {
  let units = writeUnitsOf(Math.max(itemSize(before), itemSize(after))) * (transactional ? 2 : 1);
  for (const index of schema.indexes) {
    const keys = [schema.partitionKey, schema.sortKey, index.partitionKey, index.sortKey].filter((k): k is string => k !== undefined);
    const entry = (item: WireItem | undefined): WireItem | undefined => {
      if (item === undefined || item[index.partitionKey] === undefined || (index.sortKey !== undefined && item[index.sortKey] === undefined)) {
        return undefined;
      }
      if (index.projection === 'ALL') return item;
      const projected = new Set([...keys, ...(index.projection === 'INCLUDE' ? index.include : [])]);
      return Object.fromEntries(Object.entries(item).filter(([name]) => projected.has(name)));
    };
    const was = entry(before);
    const is = entry(after);
    const indexKey = (e: WireItem) => canonical([e[index.partitionKey], index.sortKey === undefined ? null : e[index.sortKey]]);
    if (was !== undefined && is !== undefined && indexKey(was) === indexKey(is)) {
      if (canonical(was) !== canonical(is)) units += writeUnitsOf(Math.max(itemSize(was), itemSize(is)));
    } else {
      units += (was !== undefined ? writeUnitsOf(itemSize(was)) : 0) + (is !== undefined ? writeUnitsOf(itemSize(is)) : 0);
    }
  }
  return units;
}

/** How the meter's write-unit calculator compares with DynamoDB Local (see CapacityMeter.calibrate). */
export interface Calibration {
  compared: number;
  agreed: number;
  mismatches: string[];
  /** Two 3 KB puts in one transaction: what DynamoDB Local reports, and what the calculator counts. */
  twoPutTransaction: { reportedByDynamoDbLocal: number; computed: number };
  /** The indexes' projections the calibration table copied from the product's table. */
  projections: string[];
}

export interface CapacityRecord {
  /** Epoch milliseconds when the request reached the meter. */
  at: number;
  operation: string;
  read: number;
  write: number;
  /** What DynamoDB Local itself reported (for transactions, it undercounts: see CapacityMeter). */
  reportedByDynamoDbLocal: number;
  /** Write units computed from item images, for writes checked or recounted. */
  computedWrite?: number;
  /** With the recount: write units by kind of item written (the sort key up to its first '#': TRANSFER, PARTY, EVENT, OWNER…). */
  itemUnits?: Record<string, number>;
  /** False when a successful data-plane answer carried no ConsumedCapacity. */
  reported: boolean;
  /** HTTP status of DynamoDB Local's answer; errors (e.g. a failed condition) report no capacity. */
  status: number;
}

export interface CapacityTotals {
  readUnits: number;
  writeUnits: number;
  requests: number;
  /** Answered with an error (failed conditions, cancelled transactions): their capacity is not reported. */
  errors: number;
  /** Successful data-plane answers without ConsumedCapacity. */
  unreported: number;
  /** What DynamoDB Local reported for the transactions recounted, against what the meter counted for them. */
  transactions: { count: number; reportedWriteUnits: number; countedWriteUnits: number };
  /** Single-item writes where the meter's own count was compared with DynamoDB Local's, and how many agreed. */
  calculatorCheck: { compared: number; agreed: number };
  byOperation: Record<string, { requests: number; readUnits: number; writeUnits: number }>;
}

function sumCapacity(value: unknown): { units: number; read: number; write: number; found: boolean } {
  const entries: unknown[] = Array.isArray(value) ? value : value === undefined ? [] : [value];
  let units = 0;
  let read = 0;
  let write = 0;
  for (const entry of entries) {
    if (typeof entry !== 'object' || entry === null) continue;
    const record = entry as Record<string, unknown>;
    if (typeof record.CapacityUnits === 'number') units += record.CapacityUnits;
    if (typeof record.ReadCapacityUnits === 'number') read += record.ReadCapacityUnits;
    if (typeof record.WriteCapacityUnits === 'number') write += record.WriteCapacityUnits;
  }
  return { units, read, write, found: entries.length > 0 };
}

interface WriteTarget {
  table: string;
  kind: 'Put' | 'Update' | 'Delete' | 'ConditionCheck';
  /** The key as the request gives it (Put: undefined, the key is in the item). */
  key: WireItem | undefined;
  /** The item a Put writes (its after image). */
  item?: WireItem;
}

/** The items a write request touches, in its own words. */
function writeTargets(operation: string, request: Record<string, unknown>): WriteTarget[] {
  if (operation === 'TransactWriteItems') {
    const items = (request.TransactItems ?? []) as Array<Record<string, { TableName: string; Key?: WireItem; Item?: WireItem }>>;
    return items.flatMap((entry) =>
      (['Put', 'Update', 'Delete', 'ConditionCheck'] as const).flatMap((kind) => {
        const action = entry[kind];
        if (action === undefined) return [];
        return [{ table: action.TableName, kind, key: action.Key, ...(action.Item ? { item: action.Item } : {}) }];
      }),
    );
  }
  const item = request.Item as WireItem | undefined;
  const kind = operation === 'PutItem' ? 'Put' : operation === 'UpdateItem' ? 'Update' : 'Delete';
  return [{ table: String(request.TableName), kind, key: request.Key as WireItem | undefined, ...(item ? { item } : {}) }];
}

/**
 * An HTTP proxy between the functions and DynamoDB Local that asks for `ReturnConsumedCapacity: TOTAL`
 * on every data-plane request and adds up the capacity DynamoDB Local reports (index writes included).
 * DynamoDB Local does not check request signatures, so the rewritten body goes through; the answer is
 * passed back byte for byte (its CRC32 stays valid). DynamoDB Local reports only `CapacityUnits`, so the
 * operation says whether they are read or write units.
 *
 * DynamoDB Local undercounts TransactWriteItems: items of equal size are counted once (two 3 KB puts
 * report 6 units, not 12; a four-item transaction of small items reports 2, not 8). With `exact` on, the
 * meter reads each touched item before and after the transaction (unmetered, straight from DynamoDB
 * Local) and counts the transaction itself with DynamoDB's published rules (see itemWriteUnits), using
 * the table's schema from DescribeTable. It counts single-item writes the same way next to DynamoDB
 * Local's figure, which checks the calculator. Those extra reads add latency: leave `exact` off while timing.
 */
export class CapacityMeter {
  exact = true;
  /** Every call through the meter (data plane or not), with the function that made it. */
  readonly calls = new AwsCallLog();
  /** Holds each request this long before passing it on: a stand-in for a network round trip (see round-trips.ts). */
  holdMs = 0;
  private readonly records: CapacityRecord[] = [];
  private readonly schemas = new Map<string, Promise<TableSchema>>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 128 });
  private readonly server: Server;
  endpoint = '';

  private constructor(private readonly targetPort: number) {
    this.server = callLoggingServer('dynamodb', this.calls, () => this.holdMs, (request) =>
      this.relay(request.at, request.headers, request.method, request.path, request.body),
    );
  }

  static async start(targetPort: number): Promise<CapacityMeter> {
    const meter = new CapacityMeter(targetPort);
    meter.endpoint = await listenOnLoopback(meter.server);
    return meter;
  }

  /**
   * Checks the calculator against DynamoDB Local's own figures for single-item writes, in a scratch table
   * made like the product's table (same keys, indexes and projections): items entering, moving within,
   * changing in and leaving the indexes, replaced, updated, deleted. Also records what DynamoDB Local
   * reports for a transaction of two 3 KB puts.
   */
  async calibrate(productTable: string): Promise<Calibration> {
    const schema = await this.schemaOf(productTable);
    const table = 'bench-meter-calibration';
    await this.direct('CreateTable', { TableName: table, ...schema.definition });
    this.schemas.set(table, Promise.resolve(schema));
    const [first, second] = schema.indexes;
    if (first === undefined || second === undefined || first.sortKey === undefined || second.sortKey === undefined) {
      throw new Error(`The calibration expects two indexes with sort keys on ${productTable}`);
    }
    const key = (sk: string): WireItem => ({ [schema.partitionKey]: { S: 'CALIBRATION' }, ...(schema.sortKey ? { [schema.sortKey]: { S: sk } } : {}) });
    const text = (bytes: number): WireValue => ({ S: 'x'.repeat(bytes) });
    const cases: Array<{ name: string; operation: string; key: WireItem; body: Record<string, unknown> }> = [
      { name: 'small put, no index', operation: 'PutItem', key: key('a'), body: { Item: { ...key('a'), n: { N: '12345' }, flag: { BOOL: true } } } },
      {
        name: '3 KB put entering one index',
        operation: 'PutItem',
        key: key('b'),
        body: { Item: { ...key('b'), [first.partitionKey]: { S: 'ALL' }, [first.sortKey]: { S: '1' }, body: text(3000), list: { L: [{ S: 'a' }, { N: '1' }] } } },
      },
      {
        name: '5 KB put replacing it, in both indexes',
        operation: 'PutItem',
        key: key('b'),
        body: {
          Item: {
            ...key('b'),
            [first.partitionKey]: { S: 'ALL' },
            [first.sortKey]: { S: '1' },
            [second.partitionKey]: { S: 'ALL#X' },
            [second.sortKey]: { S: '1' },
            body: text(5000),
            map: { M: { a: { S: 'b' }, c: { NULL: true } } },
          },
        },
      },
      {
        name: 'update moving it within an index',
        operation: 'UpdateItem',
        key: key('b'),
        body: { Key: key('b'), UpdateExpression: 'SET #k = :v', ExpressionAttributeNames: { '#k': first.sortKey }, ExpressionAttributeValues: { ':v': { S: '2' } } },
      },
      {
        name: 'update of an attribute outside the keys',
        operation: 'UpdateItem',
        key: key('b'),
        body: { Key: key('b'), UpdateExpression: 'SET note = :v', ExpressionAttributeValues: { ':v': text(10) } },
      },
      {
        name: 'update leaving an index',
        operation: 'UpdateItem',
        key: key('b'),
        body: { Key: key('b'), UpdateExpression: 'REMOVE #k', ExpressionAttributeNames: { '#k': second.partitionKey } },
      },
      { name: 'delete of an indexed item', operation: 'DeleteItem', key: key('b'), body: { Key: key('b') } },
      { name: 'delete of a missing item', operation: 'DeleteItem', key: key('z'), body: { Key: key('z') } },
    ];
    const target = (k: WireItem): WriteTarget => ({ table, kind: 'Update', key: k });
    const mismatches: string[] = [];
    for (const calibration of cases) {
      const id = await this.identify(target(calibration.key));
      const before = (await this.images([target(calibration.key)])).get(id);
      const answer = await this.direct(calibration.operation, { TableName: table, ...calibration.body, ReturnConsumedCapacity: 'TOTAL' });
      const after = (await this.images([target(calibration.key)])).get(id);
      const reported = sumCapacity(answer.ConsumedCapacity).units;
      const computed = itemWriteUnits(schema, before, after, false);
      if (reported !== computed) mismatches.push(`${calibration.name}: DynamoDB Local ${reported}, calculator ${computed}`);
    }
    const pair = [key('t1'), key('t2')].map((k) => ({ ...k, body: text(3000) }));
    const transaction = await this.direct('TransactWriteItems', {
      TransactItems: pair.map((Item) => ({ Put: { TableName: table, Item } })),
      ReturnConsumedCapacity: 'TOTAL',
    });
    await this.direct('DeleteTable', { TableName: table });
    this.schemas.delete(table);
    return {
      compared: cases.length,
      agreed: cases.length - mismatches.length,
      mismatches,
      twoPutTransaction: {
        reportedByDynamoDbLocal: sumCapacity(transaction.ConsumedCapacity).units,
        computed: sum(pair.map((item) => itemWriteUnits(schema, undefined, item, true))),
      },
      projections: schema.indexes.map((i) => i.projection),
    };
  }

  /** The records of requests that reached the meter within [from, to] (epoch ms). */
  recordsBetween(from = 0, to = Number.POSITIVE_INFINITY): CapacityRecord[] {
    return this.records.filter((r) => r.at >= from && r.at <= to);
  }

  /** Capacity of the requests that reached the meter within [from, to] (epoch ms), or all of them. */
  totals(from = 0, to = Number.POSITIVE_INFINITY): CapacityTotals {
    const totals: CapacityTotals = {
      readUnits: 0,
      writeUnits: 0,
      requests: 0,
      errors: 0,
      unreported: 0,
      transactions: { count: 0, reportedWriteUnits: 0, countedWriteUnits: 0 },
      calculatorCheck: { compared: 0, agreed: 0 },
      byOperation: {},
    };
    for (const record of this.recordsBetween(from, to)) {
      totals.requests += 1;
      totals.readUnits += record.read;
      totals.writeUnits += record.write;
      if (record.status >= 300) totals.errors += 1;
      if (!record.reported) totals.unreported += 1;
      if (record.operation === 'TransactWriteItems' && record.status < 300) {
        totals.transactions.count += 1;
        totals.transactions.reportedWriteUnits += record.reportedByDynamoDbLocal;
        totals.transactions.countedWriteUnits += record.write;
      }
      if (SINGLE_WRITES.has(record.operation) && record.computedWrite !== undefined && record.status < 300) {
        totals.calculatorCheck.compared += 1;
        if (record.computedWrite === record.reportedByDynamoDbLocal) totals.calculatorCheck.agreed += 1;
      }
      const operation = (totals.byOperation[record.operation] ??= { requests: 0, readUnits: 0, writeUnits: 0 });
      operation.requests += 1;
      operation.readUnits += record.read;
      operation.writeUnits += record.write;
    }
    return totals;
  }

  close(): Promise<void> {
    return closeProxy(this.server, this.agent);
  }

  private send(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer) {
    return forward(this.agent, this.targetPort, method, path, headers, body);
  }


  /** A request of the meter's own, straight to DynamoDB Local and unmetered (it checks no signature). */
  private async direct(operation: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const headers: IncomingHttpHeaders = {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `DynamoDB_20120810.${operation}`,
      authorization: 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
    };
    const answer = await this.send('POST', '/', headers, Buffer.from(JSON.stringify(body)));
    const parsed = JSON.parse(answer.payload.toString('utf8')) as Record<string, unknown>;
    if (answer.status >= 300) throw new Error(`${operation} answered ${answer.status}: ${JSON.stringify(parsed).slice(0, 300)}`);
    return parsed;
  }

  private schemaOf(table: string): Promise<TableSchema> {
    let schema = this.schemas.get(table);
    if (schema === undefined) {
      schema = this.direct('DescribeTable', { TableName: table }).then((answer) => schemaFrom(answer.Table as Record<string, unknown>));
      this.schemas.set(table, schema);
    }
    return schema;
  }

  /** The table's key of a target, and a text naming the item. */
  private async identify(target: WriteTarget): Promise<string> {
    return (await this.keyOf(target)).id;
  }

  private async keyOf(target: WriteTarget): Promise<{ key: WireItem; id: string; kind: string }> {
    const schema = await this.schemaOf(target.table);
    const source = target.key ?? target.item ?? {};
    const key: WireItem = {};
    for (const name of [schema.partitionKey, schema.sortKey]) {
      const value = name === undefined ? undefined : source[name];
      if (name !== undefined && value !== undefined) key[name] = value;
    }
    const sortValue = schema.sortKey === undefined ? undefined : key[schema.sortKey]?.S;
    return {
      key,
      id: JSON.stringify([target.table, key[schema.partitionKey], schema.sortKey === undefined ? null : key[schema.sortKey]]),
      // The kind of an item of the single table: its sort key up to the first '#' (TRANSFER, PARTY, EVENT, STEP, OWNER…),
      // past a leading '#' (the outbox's `#OUTBOX#<id>`).
      kind: sortValue?.replace(/^#/, '').split('#')[0] ?? target.table,
    };
  }

  /** Current images of the given items, read consistently and unmetered, by item id. */
  private async images(targets: readonly WriteTarget[]): Promise<Map<string, WireItem>> {
    const found = new Map<string, WireItem>();
    const byTable = new Map<string, WireItem[]>();
    for (const target of targets) byTable.set(target.table, [...(byTable.get(target.table) ?? []), (await this.keyOf(target)).key]);
    for (const [table, keys] of byTable) {
      for (let start = 0; start < keys.length; start += 100) {
        let pending = keys.slice(start, start + 100);
        for (let attempt = 0; pending.length > 0 && attempt < 10; attempt += 1) {
          const answer = (await this.direct('BatchGetItem', { RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } })) as {
            Responses?: Record<string, WireItem[]>;
            UnprocessedKeys?: Record<string, { Keys: WireItem[] }>;
          };
          for (const item of answer.Responses?.[table] ?? []) found.set(await this.identify({ table, kind: 'Put', key: undefined, item }), item);
          pending = answer.UnprocessedKeys?.[table]?.Keys ?? [];
        }
      }
    }
    return found;
  }

  private async relay(at: number, headers: IncomingHttpHeaders, method: string, path: string, raw: Buffer) {
    const operation = String(headers['x-amz-target'] ?? '').split('.').pop() ?? '';
    const isRead = READ_OPERATIONS.has(operation);
    if (!isRead && !WRITE_OPERATIONS.has(operation)) return this.send(method, path, headers, raw);

    const parsed = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    if (parsed.ReturnConsumedCapacity === undefined || parsed.ReturnConsumedCapacity === 'NONE') parsed.ReturnConsumedCapacity = 'TOTAL';
    const forwarded: IncomingHttpHeaders = { ...headers };
    delete forwarded['accept-encoding'];
    const recount = this.exact && (operation === 'TransactWriteItems' || SINGLE_WRITES.has(operation));
    const targets = recount ? writeTargets(operation, parsed) : [];
    const before = recount ? await this.images(targets) : new Map<string, WireItem>();

    const answer = await this.send(method, path, forwarded, Buffer.from(JSON.stringify(parsed)));

    let capacity: unknown;
    try {
      capacity = (JSON.parse(answer.payload.toString('utf8')) as Record<string, unknown>).ConsumedCapacity;
    } catch {
      capacity = undefined;
    }
    const reported = sumCapacity(capacity);
    const reportedUnits = isRead ? reported.read || reported.units : reported.write || reported.units;
    let computedWrite: number | undefined;
    let itemUnits: Record<string, number> | undefined;
    if (recount && answer.status < 300) {
      const updated = targets.filter((t) => t.kind === 'Update');
      const after = updated.length > 0 ? await this.images(updated) : new Map<string, WireItem>();
      const transactional = operation === 'TransactWriteItems';
      itemUnits = {};
      for (const target of targets) {
        const { id, kind } = await this.keyOf(target);
        const old = before.get(id);
        const next = target.kind === 'Put' ? target.item : target.kind === 'Update' ? after.get(id) : target.kind === 'Delete' ? undefined : old;
        itemUnits[kind] = (itemUnits[kind] ?? 0) + itemWriteUnits(await this.schemaOf(target.table), old, next, transactional);
      }
      computedWrite = sum(Object.values(itemUnits));
    }
    this.records.push({
      at,
      operation,
      read: isRead ? reportedUnits : 0,
      // DynamoDB Local's own figure, except for the transactions it undercounts.
      write: isRead ? 0 : operation === 'TransactWriteItems' && computedWrite !== undefined ? computedWrite : reportedUnits,
      reportedByDynamoDbLocal: reportedUnits,
      ...(computedWrite !== undefined ? { computedWrite } : {}),
      ...(itemUnits !== undefined ? { itemUnits } : {}),
      reported: answer.status >= 300 || reported.found,
      status: answer.status,
    });
    return answer;
  }
}

/** Write units by kind of item, over the records given (those recounted), largest first: "TRANSFER 280, PARTY 16…". */
export function unitsByItemKind(records: readonly CapacityRecord[]): string {
  const byKind = new Map<string, number>();
  for (const record of records) {
    for (const [kind, value] of Object.entries(record.itemUnits ?? {})) byKind.set(kind, (byKind.get(kind) ?? 0) + value);
  }
  return [...byKind]
    .sort((a, b) => b[1] - a[1])
    .map(([kind, value]) => `${kind} ${units(value)}`)
    .join(', ');
}

export function operationsSummary(totals: CapacityTotals): string {
  return Object.entries(totals.byOperation)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([operation, o]) => {
      const consumed = [o.readUnits > 0 ? `${units(o.readUnits)} RU` : '', o.writeUnits > 0 ? `${units(o.writeUnits)} WU` : ''].filter(Boolean).join(', ');
      return `${operation} ×${o.requests}${consumed ? ` (${consumed})` : ''}`;
    })
    .join(', ');
}

// ---------------------------------------------------------------------------------------------
// The local stack, in a child process

/** What the parent asks of bench/stack-host.ts. */
export type HostRequest =
  | {
      type: 'start';
      options: {
        stateDir: string;
        seedFile: string;
        ports: { dynamodb: number; ses: number; sfn: number; api: number; events: number };
        maxWaitSeconds: number;
        maxRetryIntervalMs: number;
        env: Record<string, string>;
      };
    }
  | { type: 'stop' };

/** What bench/stack-host.ts answers. */
export type HostMessage =
  | { type: 'ready'; urls: { api: string; ses: string; sfn: string; dynamodb: string; events: string }; stateMachineArn: string; startupMs: number }
  | { type: 'failed'; error: string }
  | { type: 'stopped' };

export interface BenchStackOptions {
  directory: DirectoryFile;
  /** Put the capacity meter between the functions and DynamoDB Local. */
  meterCapacity?: boolean;
  /** With the meter: also log the functions' calls to SES and Step Functions, through proxies of the same kind. */
  recordCalls?: boolean;
  /** With the meter: hold every call of the functions this long in its proxy, as a network round trip would. */
  callHoldMs?: number;
  /** Caps the sleep until the transfer date (LOCAL_MAX_WAIT_SECONDS); 0 by default. */
  maxWaitSeconds?: number;
  env?: Record<string, string>;
}

/** Settings every benchmark stack runs with: quiet handlers (warnings and errors only). */
const BENCH_ENV: Record<string, string> = {
  POWERTOOLS_LOG_LEVEL: 'WARN',
  TABLE_NAME: 'customer-transfers',
};

const HOST_ENTRY = fileURLToPath(new URL('./stack-host.ts', import.meta.url));
const STACK_START_TIMEOUT_MS = 240_000;

/** The last lines a child printed, for the error message when it dies. */
function outputTail(child: ChildProcess, keep = 30): () => string {
  const lines: string[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
      if (lines.length > keep) lines.shift();
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return () => lines.join('\n');
}

function nextMessage(child: ChildProcess, tail: () => string, timeoutMs: number): Promise<HostMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`The stack host did not answer within ${timeoutMs / 1000} s:\n${tail()}`)), timeoutMs);
    const onMessage = (message: unknown) => finish(undefined, message as HostMessage);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      finish(new Error(`The stack host exited (${signal ?? `code ${code ?? '?'}`}):\n${tail()}`));
    function finish(error: Error | undefined, message?: HostMessage) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error !== undefined || message === undefined) reject(error ?? new Error('no message'));
      else resolve(message);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export interface BenchStack {
  urls: { api: string; ses: string; sfn: string; dynamodb: string; events: string };
  stateMachineArn: string;
  /** How long the stack took to start, in ms (emulators, table, seed, handlers). */
  startupMs: number;
  client: LocalClient;
  sfn: SFNClient;
  mailbox: Mailbox;
  executions: ExecutionWatcher;
  capacity: CapacityMeter | undefined;
  /** With `recordCalls`: every AWS call of the functions (DynamoDB, SES, Step Functions). */
  calls: AwsCallLog | undefined;
  /** With the capacity meter: how its calculator compares with DynamoDB Local. */
  calibration: Calibration | undefined;
  token(partnerId: string): Promise<string>;
  executionArn(transferId: string): string;
  stop(): Promise<void>;
}

/**
 * Starts the whole local stack (DynamoDB Local, SES emulator, Step Functions API, HTTP API) in a child
 * process, seeded with the directory, on free ports. With `meterCapacity`, the functions reach DynamoDB
 * through a {@link CapacityMeter} (set with AWS_ENDPOINT_URL_DYNAMODB through the stack's `env`); the seed
 * goes straight to DynamoDB Local, so it is not counted.
 */
export async function startBenchStack(options: BenchStackOptions): Promise<BenchStack> {
  // DynamoDB Local's port is picked here, before Java binds it: another server may take it meanwhile
  // (the stack's own, listening on port 0). Then the stack starts again on another.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startBenchStackOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/Address already in use|EADDRINUSE/.test(errorText(error))) throw error;
      progress(`the local stack lost a port to another server (attempt ${attempt}); starting it again`);
    }
  }
}

async function startBenchStackOnce(options: BenchStackOptions): Promise<BenchStack> {
  const stateDir = await mkdtemp(join(tmpdir(), 'transfer-bench-'));
  const seedFile = join(stateDir, 'directory.json');
  await writeFile(seedFile, JSON.stringify(options.directory));
  const dynamodbPort = await freePort();
  const capacity = options.meterCapacity ? await CapacityMeter.start(dynamodbPort) : undefined;
  const recorded = options.recordCalls && capacity ? { ses: await freePort(), sfn: await freePort() } : undefined;
  const recorders = recorded && capacity
    ? [await CallRecorder.start('ses', recorded.ses, capacity.calls), await CallRecorder.start('sfn', recorded.sfn, capacity.calls)]
    : [];
  for (const proxy of [capacity, ...recorders]) if (proxy) proxy.holdMs = options.callHoldMs ?? 0;
  const env: Record<string, string> = {
    ...BENCH_ENV,
    ...(capacity ? { AWS_ENDPOINT_URL_DYNAMODB: capacity.endpoint } : {}),
    ...(recorders.length === 2 ? { AWS_ENDPOINT_URL_SESV2: recorders[0]?.endpoint ?? '', AWS_ENDPOINT_URL_SFN: recorders[1]?.endpoint ?? '' } : {}),
    ...options.env,
  };
  const childEnv = { ...process.env };
  // The stack host must not inherit this shell's local-stack settings (ports, links, table).
  for (const name of ['PUBLIC_BASE_URL', 'DYNAMODB_PORT', 'SES_PORT', 'SFN_PORT', 'API_PORT', 'LOCAL_MAX_WAIT_SECONDS', 'AWS_PROFILE']) delete childEnv[name];
  const child = fork(HOST_ENTRY, [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx'],
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const tail = outputTail(child);
  // The host stops the stack (and so the emulators' processes) when asked; SIGTERM makes it do the same
  // through the emulators' signal hooks; SIGKILL, which would orphan them, is the last resort.
  const cleanup = async () => {
    const alive = () => child.exitCode === null && child.signalCode === null;
    if (alive() && child.connected) {
      const answer = nextMessage(child, tail, 60_000).catch(() => undefined);
      child.send({ type: 'stop' } satisfies HostRequest);
      await answer;
    }
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      if (!alive()) break;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(signal);
      await Promise.race([exited, delay(10_000)]);
    }
    await capacity?.close();
    await Promise.all(recorders.map((recorder) => recorder.close()));
    await rm(stateDir, { recursive: true, force: true });
  };
  let ready: Extract<HostMessage, { type: 'ready' }>;
  try {
    const answer = nextMessage(child, tail, STACK_START_TIMEOUT_MS);
    const message: HostRequest = {
      type: 'start',
      options: {
        stateDir,
        seedFile,
        ports: { dynamodb: dynamodbPort, ses: recorded?.ses ?? 0, sfn: recorded?.sfn ?? 0, api: 0, events: 0 },
        maxWaitSeconds: options.maxWaitSeconds ?? 0,
        maxRetryIntervalMs: 200,
        env,
      },
    };
    child.send(message);
    const first = await answer;
    if (first.type !== 'ready') throw new Error(first.type === 'failed' ? `The local stack did not start: ${first.error}` : 'The stack host stopped at once');
    ready = first;
    progress(`local stack ready in ${(first.startupMs / 1000).toFixed(1)} s (emulators, table, seed, handlers)`);
  } catch (error) {
    await cleanup();
    throw error;
  }

  let calibration: Calibration | undefined;
  try {
    calibration = await capacity?.calibrate(env.TABLE_NAME ?? 'customer-transfers');
  } catch (error) {
    await cleanup();
    throw error;
  }
  const client = new LocalClient(ready.urls.api, ready.urls.ses);
  const sfn = new SFNClient({ endpoint: ready.urls.sfn, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const machine = parseStateMachineArn(ready.stateMachineArn);
  if (machine === undefined) {
    await cleanup();
    throw new Error(`Not a state machine ARN: ${ready.stateMachineArn}`);
  }
  const tokens = new Map<string, Promise<string>>();
  let stopped: Promise<void> | undefined;
  return {
    urls: ready.urls,
    stateMachineArn: ready.stateMachineArn,
    startupMs: ready.startupMs,
    client,
    sfn,
    mailbox: new Mailbox(client),
    executions: new ExecutionWatcher(sfn, ready.stateMachineArn),
    capacity,
    calls: recorders.length === 2 ? capacity?.calls : undefined,
    calibration,
    token(partnerId) {
      let token = tokens.get(partnerId);
      if (token === undefined) {
        token = signLocalToken({ stateDir, partnerId, subject: `bench@${partnerId.toLowerCase()}.example`, expiresInSeconds: 3 * 3600 });
        tokens.set(partnerId, token);
      }
      return token;
    },
    executionArn: (transferId) => executionArnFor(machine, transferId),
    stop() {
      stopped ??= (async () => {
        sfn.destroy();
        await cleanup();
      })();
      return stopped;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Emails and their links

const LINK_PATTERN = /https?:\/\/[^\s"'<>]+\/approvals\/[A-Za-z0-9_-]+/;
/** Every email about a transfer ends its subject with the transfer id in brackets. */
const SUBJECT_TRANSFER_ID = /\(([^()\s]+)\)\s*$/;

export type Step = 'release' | 'acceptance';

/**
 * The SES emulator's store, read incrementally by one poller however many transfers wait for a link,
 * and indexed by the transfer id each subject ends with.
 */
export class Mailbox {
  private readonly seen = new Set<string>();
  private readonly byTransfer = new Map<string, StoredEmail[]>();
  private since = 0;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly client: LocalClient,
    private readonly intervalMs = 200,
  ) {}

  /** The approval link emailed for a transfer's step. */
  async link(transferId: string, step: Step, timeoutMs = 240_000): Promise<string> {
    const prefix = step === 'release' ? 'Release needed' : 'Acceptance needed';
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const email of this.byTransfer.get(transferId) ?? []) {
        const link = email.subject.startsWith(prefix) ? LINK_PATTERN.exec(email.body.text ?? '')?.[0] : undefined;
        if (link !== undefined) return link;
      }
      if (Date.now() > deadline) throw new Error(`No ${step} link for ${transferId} within ${timeoutMs / 1000} s`);
      await this.tick();
    }
  }

  /** Every email sent about a transfer so far. */
  async emailsAbout(transferId: string): Promise<StoredEmail[]> {
    await this.refresh();
    return this.byTransfer.get(transferId) ?? [];
  }

  /** How many emails the SES emulator holds. */
  async count(): Promise<number> {
    await this.refresh();
    return this.seen.size;
  }

  /** One shared poll per interval, whoever waits. */
  private tick(): Promise<void> {
    this.pending ??= delay(this.intervalMs)
      .then(() => this.refresh())
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  private async refresh(): Promise<void> {
    const emails = await this.client.emails(this.since);
    for (const email of emails) {
      if (this.seen.has(email.messageId)) continue;
      this.seen.add(email.messageId);
      this.since = Math.max(this.since, Math.floor(email.at));
      const id = SUBJECT_TRANSFER_ID.exec(email.subject)?.[1];
      if (id === undefined) continue;
      const list = this.byTransfer.get(id) ?? [];
      list.push(email);
      this.byTransfer.set(id, list);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Executions

export interface FinishedExecution {
  status: string;
  /** Epoch ms of the execution's end (the local Step Functions API's clock, this machine's). */
  stopDate: number;
}

/** Waits for executions to end, with one ListExecutions per interval however many are awaited. */
export class ExecutionWatcher {
  private readonly finishedByName = new Map<string, FinishedExecution>();
  private pending: Promise<void> | undefined;

  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
    private readonly intervalMs = 250,
  ) {}

  async finished(transferId: string, timeoutMs = 300_000): Promise<FinishedExecution> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const done = this.finishedByName.get(transferId);
      if (done !== undefined) return done;
      if (Date.now() > deadline) throw new Error(`The execution of ${transferId} did not end within ${timeoutMs / 1000} s`);
      await this.tick();
    }
  }

  /** How many executions the state machine has had, running or not. */
  async count(): Promise<number> {
    return (await this.refresh()).total;
  }

  private tick(): Promise<void> {
    this.pending ??= delay(this.intervalMs)
      .then(() => this.refresh())
      .then(() => undefined)
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  private async refresh(): Promise<{ total: number }> {
    let nextToken: string | undefined;
    let total = 0;
    do {
      const page = await this.sfn.send(new ListExecutionsCommand({ stateMachineArn: this.stateMachineArn, maxResults: 1000, nextToken }));
      total += page.executions?.length ?? 0;
      for (const execution of page.executions ?? []) {
        if (execution.name === undefined || execution.status === 'RUNNING' || execution.stopDate === undefined) continue;
        this.finishedByName.set(execution.name, { status: execution.status ?? 'UNKNOWN', stopDate: execution.stopDate.getTime() });
      }
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    return { total };
  }
}

/** The whole history of a transfer's execution, from the local Step Functions API. */
export async function executionHistory(stack: BenchStack, transferId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await stack.sfn.send(new GetExecutionHistoryCommand({ executionArn: stack.executionArn(transferId), maxResults: 1000, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return events;
}

/** State transitions (every `*StateEntered`) and Lambda invocations (every Lambda task scheduled, retries included). */
export function countTransitions(history: readonly HistoryEvent[]): { transitions: number; lambdaInvocations: number } {
  return {
    transitions: history.filter((e) => e.type?.endsWith('StateEntered') === true).length,
    lambdaInvocations: history.filter(
      (e) => e.type === 'LambdaFunctionScheduled' || (e.type === 'TaskScheduled' && e.taskScheduledEventDetails?.resourceType === 'lambda'),
    ).length,
  };
}

/** When a state was entered and exited (epoch ms), from the history. */
export function stateWindow(history: readonly HistoryEvent[], stateName: string): { entered: number; exited: number } | undefined {
  const entered = history.find((e) => e.type?.endsWith('StateEntered') === true && e.stateEnteredEventDetails?.name === stateName);
  const exited = history.find((e) => e.type?.endsWith('StateExited') === true && e.stateExitedEventDetails?.name === stateName);
  if (entered?.timestamp === undefined || exited?.timestamp === undefined) return undefined;
  return { entered: entered.timestamp.getTime(), exited: exited.timestamp.getTime() };
}

// ---------------------------------------------------------------------------------------------
// One transfer, as its users drive it

export interface TransferRun {
  id: string;
  /** Epoch ms on this machine's clock. */
  requestedAt: number;
  createdAt: number;
  acceptedAt: number;
  finishedAt: number;
  executionStatus: string;
}

/** A transfer that went wrong at a stage (the API refused, a link never came, the execution failed). */
export class TransferFailure extends Error {
  constructor(
    readonly stage: 'request' | 'release' | 'acceptance' | 'completion',
    message: string,
  ) {
    super(message);
    this.name = 'TransferFailure';
  }
}

const RELEASE_FORM = { decision: 'release', immediate: 'on', signedBy: 'Olivia Oldfield', acknowledge: 'on' };
const ACCEPT_FORM = { decision: 'accept', signedBy: 'Nathan Newman', acknowledge: 'on' };

async function decideThroughLink(stack: BenchStack, transferId: string, step: Step, form: Record<string, string>): Promise<void> {
  let link: string;
  try {
    link = await stack.mailbox.link(transferId, step);
  } catch (error) {
    throw new TransferFailure(step, errorText(error));
  }
  // Partners open the page (which changes nothing), then post its signed form.
  const page = await stack.client.openLink(link);
  if (page.status !== 200) throw new TransferFailure(step, `the ${step} page of ${transferId} answered ${page.status}`);
  const posted = await stack.client.postForm(link, form);
  if (posted.status !== 200) throw new TransferFailure(step, `the ${step} form of ${transferId} answered ${posted.status}`);
}

/**
 * The happy path: the new partner requests through the API, the current partner releases for
 * "immediate" through its emailed link, the new partner accepts through its link, and the workflow
 * re-homes and confirms. Resolves when the execution has ended.
 */
export async function runTransfer(stack: BenchStack, ids: readonly string[]): Promise<TransferRun> {
  const token = await stack.token(NEW_PARTNER.id);
  const requestedAt = Date.now();
  const created = await stack.client.call('POST', '/transfers', token, { customerIds: ids, toPartnerId: NEW_PARTNER.id, note: 'benchmark' });
  const id = (created.body as { id?: unknown } | null)?.id;
  if (created.status !== 201 || typeof id !== 'string') {
    throw new TransferFailure('request', `POST /transfers answered ${created.status}: ${JSON.stringify(created.body).slice(0, 200)}`);
  }
  const createdAt = Date.now();
  await decideThroughLink(stack, id, 'release', RELEASE_FORM);
  await decideThroughLink(stack, id, 'acceptance', ACCEPT_FORM);
  const acceptedAt = Date.now();
  let end: FinishedExecution;
  try {
    end = await stack.executions.finished(id);
  } catch (error) {
    throw new TransferFailure('completion', errorText(error));
  }
  if (end.status !== 'SUCCEEDED') throw new TransferFailure('completion', `the execution of ${id} ended ${end.status}`);
  return { id, requestedAt, createdAt, acceptedAt, finishedAt: end.stopDate, executionStatus: end.status };
}

/** The transfer as its new partner sees it (reads DynamoDB: call it after measuring). */
export async function transferView(stack: BenchStack, transferId: string): Promise<TransferView> {
  const answer = await stack.client.call('GET', `/transfers/${transferId}`, await stack.token(NEW_PARTNER.id));
  if (answer.status !== 200) throw new Error(`GET /transfers/${transferId} answered ${answer.status}`);
  return answer.body as TransferView;
}
