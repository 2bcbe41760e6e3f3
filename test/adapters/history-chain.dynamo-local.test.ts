// The history's hash chain as the DynamoDB store keeps it, against Amazon's own emulator (DynamoDB Local):
// concurrent writers from separate containers, a stale cached head, and items altered or removed behind its back.
import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoTransferStore } from '../../lambdas/adapters/dynamo-transfer-store.ts';
import { TransientError } from '../../lambdas/domain/errors.ts';
import { genesisHash, verifyChain } from '../../lambdas/domain/history-chain.ts';
import { transferCustomer, type HistoryEvent, type Transfer } from '../../lambdas/domain/transfer.ts';
import { sampleTransfer } from '../unit/adapters/support.ts';
import { dynamoLocalTable } from './dynamo-local-table.ts';

const TABLE = 'customer-transfers-chain-test';
type RawItem = Record<string, AttributeValue>;

let raw: DynamoDBClient;
let store: DynamoTransferStore;

const local = dynamoLocalTable(TABLE, (table) => {
  raw = table.raw;
  store = new DynamoTransferStore(table.db, TABLE);
});

/** What one container's client sent, and how each call ended. */
interface Call {
  operation: string;
  outcome: 'ok' | 'ConditionalCheckFailed' | 'TransactionConflict' | string;
}

/** A store on a client of its own, as a Lambda container has: its own cache of chain heads, its own connections. */
function container(): { store: DynamoTransferStore; calls: Call[]; close: () => void } {
  const calls: Call[] = [];
  const client = new DynamoDBClient({ endpoint: local().endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName);
      try {
        const result = await next(args);
        calls.push({ operation, outcome: 'ok' });
        return result;
      } catch (error) {
        const codes = error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []).map((r) => r.Code ?? 'None') : [];
        calls.push({ operation, outcome: codes.find((code) => code !== 'None') ?? (error instanceof Error ? error.name : 'unknown') });
        throw error;
      }
    },
    { step: 'initialize', name: 'countCalls' },
  );
  const own = new DynamoTransferStore(DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }), TABLE);
  return { store: own, calls, close: () => client.destroy() };
}

function newTransfer(id: string, customerIds: string[] = []): Transfer {
  return sampleTransfer({ id, customers: customerIds.map((cid) => transferCustomer({ id: cid, name: `Customer ${cid}` }, [`${cid.toLowerCase()}.example`], 1)) });
}

function event(type: string, at = '2026-03-10T15:00:00.000Z', detail: Record<string, unknown> = {}): HistoryEvent {
  return { at, type, actor: { kind: 'partner', partnerId: 'P-NORTH', name: 'alice' }, detail };
}

/** The n-th second after the request. */
function second(n: number): string {
  return new Date(Date.parse('2026-03-10T15:00:00.000Z') + n * 1000).toISOString();
}

async function created(id: string, events: HistoryEvent[]): Promise<void> {
  await store.create({ transfer: newTransfer(id), events });
}

/** The transfer's history and head as a fresh container reads them, and what its chain says. */
async function readBack(id: string) {
  const state = await new DynamoTransferStore(DynamoDBDocumentClient.from(raw), TABLE).getState(id);
  if (!state) throw new Error(`no transfer ${id}`);
  return { state, history: state.transfer.history, verdict: verifyChain(id, state.transfer.history, state.chainHead ?? null) };
}

/** The event items of a transfer, as stored (attribute values), in sort-key order. */
async function eventItems(id: string): Promise<RawItem[]> {
  const page = await raw.send(
    new QueryCommand({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :event)',
      ExpressionAttributeValues: { ':pk': { S: `TRANSFER#${id}` }, ':event': { S: 'EVENT#' } },
      ConsistentRead: true,
    }),
  );
  return page.Items ?? [];
}

async function eventItem(id: string, seq: number): Promise<RawItem> {
  const found = (await eventItems(id)).find((item) => item.seq?.N === String(seq));
  if (!found) throw new Error(`no event #${seq} of ${id}`);
  return found;
}

function keyOf(item: RawItem): RawItem {
  return { pk: item.pk ?? { S: '' }, sk: item.sk ?? { S: '' } };
}

describe('the history chain on DynamoDB Local', () => {
  /** Counts a transfer's writes as the containers' clients saw them: transactions by outcome, and reads. */
  function tally(containers: { calls: Call[] }[]) {
    const calls = containers.flatMap((c) => c.calls);
    const transactions = calls.filter((call) => call.operation === 'TransactWriteItemsCommand');
    const count = (outcome: string) => transactions.filter((t) => t.outcome === outcome).length;
    return {
      transactions: transactions.length,
      landed: count('ok'),
      rebuilt: count('ConditionalCheckFailed'),
      other: transactions.filter((t) => t.outcome !== 'ok' && t.outcome !== 'ConditionalCheckFailed').map((t) => t.outcome),
      reads: calls.filter((call) => call.operation === 'GetItemCommand').length,
    };
  }

  function cancelAt(writer: DynamoTransferStore, id: string, n: number): Promise<void> {
    return writer.changeStatus({ transferId: id, from: ['AWAITING_RELEASE'], to: 'CANCELLED', at: second(n), event: event('CANCELLED', second(n)), releaseClaims: true });
  }

  /** Every chained event once, 1..n, each naming another predecessor; the head names the last. */
  function expectOneChain(id: string, read: Awaited<ReturnType<typeof readBack>>, events: number): void {
    expect(read.verdict).toEqual({ state: 'intact', events, head: read.state.chainHead?.hash });
    expect(read.history.map((e) => e.seq)).toEqual(Array.from({ length: events }, (_, i) => i + 1));
    expect(new Set(read.history.map((e) => e.prevHash)).size).toBe(events);
    expect(read.history[0]).toMatchObject({ type: 'REQUESTED', prevHash: genesisHash(id) });
  }

  it('20 appends from 4 containers, one per container at a time, and a status change among them: every write lands, each event chained after exactly one other', async () => {
    const id = 'TR-CHAIN-CONCURRENT';
    await created(id, [event('REQUESTED')]);
    const containers = Array.from({ length: 4 }, () => container());
    try {
      // Five rounds of four appends at once (one per container); the status change joins the third. A write is
      // refused at most once for a stale cached head, then once per other write landing meanwhile: at most five
      // writers at once stay within the store's six attempts.
      for (let round = 0; round < 5; round += 1) {
        const writes = containers.map((c, index) => {
          const n = round * containers.length + index + 1;
          return c.store.appendEvent(id, event('NOTE', second(n), { n }));
        });
        if (round === 2) writes.push(cancelAt((containers[0] ?? container()).store, id, 10));
        const results = await Promise.allSettled(writes);
        expect(results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []))).toEqual([]);
      }

      const read = await readBack(id);
      expectOneChain(id, read, 22);
      expect(read.state.transfer.status).toBe('CANCELLED');
      const notes = read.history.filter((e) => e.type === 'NOTE').map((e) => Number(e.detail.n));
      expect(notes.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(read.history.filter((e) => e.type === 'CANCELLED')).toHaveLength(1);
      expect(await eventItems(id)).toHaveLength(22);

      // Every transaction that did not land was refused on the head and built again; they did run into one another.
      const counts = tally(containers);
      expect(counts.landed).toBe(21);
      expect(counts.other).toEqual([]);
      expect(counts.transactions).toBe(21 + counts.rebuilt);
      expect(counts.rebuilt).toBeGreaterThan(0);
      console.log(`history chain, 4 containers a round: ${counts.transactions} transactions for 21 writes (${counts.rebuilt} rebuilt on a moved head), ${counts.reads} reads`);
    } finally {
      for (const c of containers) c.close();
    }
  });

  it('20 appends and a status change all at once, more writers than a write\'s attempts: those that run out fail as TransientError having written nothing, and the chain holds', async () => {
    const id = 'TR-CHAIN-STAMPEDE';
    await created(id, [event('REQUESTED')]);
    const containers = Array.from({ length: 4 }, () => container());
    try {
      const appends = Array.from({ length: 20 }, (_, i) => (containers[i % containers.length] ?? container()).store.appendEvent(id, event('NOTE', second(i + 1), { n: i + 1 })));
      const cancel = cancelAt((containers[3] ?? container()).store, id, 10);
      const [appended, cancelled] = await Promise.all([Promise.allSettled(appends), Promise.allSettled([cancel])]);
      const results = [...appended, ...cancelled];

      const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      for (const reason of refused) expect(reason).toBeInstanceOf(TransientError);
      const landed = results.length - refused.length;
      // A write refused six times saw six others land (each refusal is a head another write moved).
      if (refused.length > 0) expect(landed).toBeGreaterThanOrEqual(6);

      const read = await readBack(id);
      expectOneChain(id, read, 1 + landed);
      expect(await eventItems(id)).toHaveLength(1 + landed);
      const landedNotes = appended.flatMap((r, i) => (r.status === 'fulfilled' ? [i + 1] : []));
      expect(read.history.filter((e) => e.type === 'NOTE').map((e) => Number(e.detail.n)).sort((a, b) => a - b)).toEqual(landedNotes);
      const cancelLanded = cancelled[0]?.status === 'fulfilled';
      expect(read.state.transfer.status).toBe(cancelLanded ? 'CANCELLED' : 'AWAITING_RELEASE');
      expect(read.history.filter((e) => e.type === 'CANCELLED')).toHaveLength(cancelLanded ? 1 : 0);

      const counts = tally(containers);
      expect(counts.other).toEqual([]);
      console.log(`history chain, 21 writers at once: ${landed} of 21 landed, ${refused.length} gave up (TransientError); ${counts.transactions} transactions (${counts.rebuilt} refused on a moved head), ${counts.reads} reads`);
    } finally {
      for (const c of containers) c.close();
    }
  });

  it('a head cached by one container and moved by another: the write is refused, rebuilt on the new head, and lands after it', async () => {
    const id = 'TR-CHAIN-STALE';
    await created(id, [event('REQUESTED')]);
    const a = container();
    const b = container();
    try {
      await a.store.appendEvent(id, event('NOTE_A1', second(1)));
      await b.store.appendEvent(id, event('NOTE_B1', second(2)));
      a.calls.length = 0;
      await a.store.appendEvent(id, event('NOTE_A2', second(3)));
      // A's cached head (seq 2) was stale: one refused transaction, a read of the head, then the write.
      expect(a.calls).toEqual([
        { operation: 'TransactWriteItemsCommand', outcome: 'ConditionalCheckFailed' },
        { operation: 'GetItemCommand', outcome: 'ok' },
        { operation: 'TransactWriteItemsCommand', outcome: 'ok' },
      ]);
      const { history, verdict } = await readBack(id);
      expect(verdict).toMatchObject({ state: 'intact', events: 4 });
      expect(history.map((e) => [e.seq, e.type])).toEqual([
        [1, 'REQUESTED'],
        [2, 'NOTE_A1'],
        [3, 'NOTE_B1'],
        [4, 'NOTE_A2'],
      ]);
      expect(history[3]?.prevHash).toBe(history[2]?.hash);
      // The refused attempt left nothing behind.
      expect(await eventItems(id)).toHaveLength(4);
    } finally {
      a.close();
      b.close();
    }
  });

  it('an event altered in the table (its detail, or its type) breaks the chain at that event', async () => {
    const id = 'TR-CHAIN-ALTERED';
    await created(id, [event('REQUESTED'), event('RELEASED', second(1), { statement: 'I, Alice Smith, release ...', signedBy: 'Alice Smith' })]);
    await store.appendEvent(id, event('NOTE', second(2), { note: 'first' }));
    await store.appendEvent(id, event('NOTE', second(3), { note: 'second' }));
    expect((await readBack(id)).verdict).toMatchObject({ state: 'intact', events: 4 });

    const released = await eventItem(id, 2);
    const setDetail = (statement: string) =>
      raw.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: keyOf(released),
          UpdateExpression: 'SET #detail.#statement = :statement',
          ExpressionAttributeNames: { '#detail': 'detail', '#statement': 'statement' },
          ExpressionAttributeValues: { ':statement': { S: statement } },
        }),
      );
    await setDetail('I, Alice Smith, do NOT release ...');
    expect((await readBack(id)).verdict).toEqual({
      state: 'broken',
      events: 4,
      at: { seq: 2, type: 'RELEASED', at: second(1) },
      problem: 'its content does not match its hash: it was altered after it was written',
    });
    // Put back as it was, the chain holds again: the verdict is about the content, not the write.
    await setDetail('I, Alice Smith, release ...');
    expect((await readBack(id)).verdict).toMatchObject({ state: 'intact', events: 4 });

    const note = await eventItem(id, 3);
    await raw.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: keyOf(note),
        UpdateExpression: 'SET #type = :type',
        ExpressionAttributeNames: { '#type': 'type' },
        ExpressionAttributeValues: { ':type': { S: 'ACCEPTED' } },
      }),
    );
    expect((await readBack(id)).verdict).toMatchObject({ state: 'broken', at: { seq: 3, type: 'ACCEPTED' }, problem: expect.stringContaining('altered') });
  });

  it('the last event deleted from the table: the transfer\'s head still names it', async () => {
    const id = 'TR-CHAIN-TRUNCATED';
    await created(id, [event('REQUESTED')]);
    await store.appendEvent(id, event('NOTE', second(1)));
    await store.appendEvent(id, event('CANCELLED', second(2)));
    await raw.send(new DeleteItemCommand({ TableName: TABLE, Key: keyOf(await eventItem(id, 3)) }));
    expect((await readBack(id)).verdict).toEqual({
      state: 'broken',
      events: 2,
      at: { seq: 2, type: 'NOTE', at: second(1) },
      problem: 'the chain ends at event #3, but only 2 are stored after it: later events were removed',
    });
  });

  it('a transfer written before chaining is unchained; its first event through the store starts the chain from genesis, after the old events', async () => {
    const id = 'TR-CHAIN-LEGACY';
    const transfer = newTransfer(id);
    const pk = { S: `TRANSFER#${id}` };
    const actor: AttributeValue = { M: { kind: { S: 'partner' }, partnerId: { S: 'P-NORTH' }, name: { S: 'alice' } } };
    // As the store wrote them before: no chainSeq/chainHash on the transfer, no seq/prevHash/hash on its events.
    await raw.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          pk,
          sk: { S: 'TRANSFER' },
          kind: { S: 'transfer' },
          id: { S: id },
          status: { S: transfer.status },
          customers: { L: [] },
          fromPartner: { M: { id: { S: 'P-NORTH' }, name: { S: 'Northwind IT' } } },
          toPartner: { M: { id: { S: 'P-SOUTH' }, name: { S: 'Southgate Networks' } } },
          requestedDate: { NULL: true },
          transferDate: { NULL: true },
          immediate: { BOOL: false },
          acceptedDate: { NULL: true },
          ticketId: { NULL: true },
          note: { NULL: true },
          requestedBy: actor,
          createdAt: { S: transfer.createdAt },
          updatedAt: { S: transfer.updatedAt },
          gsi1pk: { S: 'ALL' },
          gsi1sk: { S: `${transfer.createdAt}#${id}` },
          gsi2pk: { S: 'ALL#AWAITING_RELEASE' },
          gsi2sk: { S: `${transfer.createdAt}#${id}` },
        },
      }),
    );
    for (const [index, type] of ['REQUESTED', 'APPROVAL_REQUESTED'].entries()) {
      await raw.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: { pk, sk: { S: `EVENT#${second(index)}#00000${index}-abcdef` }, kind: { S: 'event' }, at: { S: second(index) }, type: { S: type }, actor, detail: { M: {} } },
        }),
      );
    }
    const before = await readBack(id);
    expect(before.state.chainHead).toBeNull();
    expect(before.verdict).toEqual({ state: 'unchained', events: 2 });

    await store.appendEvent(id, event('NOTE', second(5)));
    const after = await readBack(id);
    expect(after.verdict).toEqual({ state: 'partly-chained', unchained: 2, events: 3, head: after.history[2]?.hash });
    expect(after.history.map((e) => [e.type, e.seq])).toEqual([
      ['REQUESTED', undefined],
      ['APPROVAL_REQUESTED', undefined],
      ['NOTE', 1],
    ]);
    expect(after.history[2]?.prevHash).toBe(genesisHash(id));
    const transferItem = (await raw.send(new GetItemCommand({ TableName: TABLE, Key: { pk, sk: { S: 'TRANSFER' } }, ConsistentRead: true }))).Item;
    expect(transferItem?.chainSeq).toEqual({ N: '1' });
    expect(transferItem?.chainHash).toEqual({ S: after.history[2]?.hash });

    // Another container, with nothing cached, chains the next one after it.
    const other = container();
    try {
      await other.store.appendEvent(id, event('NOTE', second(6)));
    } finally {
      other.close();
    }
    const again = await readBack(id);
    expect(again.verdict).toMatchObject({ state: 'partly-chained', unchained: 2, events: 4 });
    expect(again.history.map((e) => e.seq)).toEqual([undefined, undefined, 1, 2]);
  });
});
