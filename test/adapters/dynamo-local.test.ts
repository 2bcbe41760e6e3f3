// The DynamoDB adapters against Amazon's own emulator (DynamoDB Local), with the table built as the local stack builds it.
import { DynamoDBClient, GetItemCommand, QueryCommand, type AttributeValue, type TransactWriteItemsCommandInput } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDirectory } from '../../lambdas/adapters/dynamo-directory.ts';
import { DynamoTransferStore, LINK_GRACE_SECONDS } from '../../lambdas/adapters/dynamo-transfer-store.ts';
import { TABLE_INDEXES } from '../../lambdas/adapters/table-schema.ts';
import type { DirectoryFile } from '../../lambdas/domain/directory.ts';
import { ConflictError, ValidationError } from '../../lambdas/domain/errors.ts';
import { genesisHash, verifyChain } from '../../lambdas/domain/history-chain.ts';
import { summaryOf, transferCustomer, type ConsentRecord, type HistoryEvent, type Transfer, type TransferStatus } from '../../lambdas/domain/transfer.ts';
import { dynamoLocalTable } from './dynamo-local-table.ts';

const TABLE = 'customer-transfers-test';
type RawItem = Record<string, AttributeValue>;

const RICH_SETTINGS = {
  spamThreshold: 5.5,
  quarantineDays: 30,
  tlsRequired: true,
  allowList: ['partner.example', 'bank.example'],
  routing: { inbound: { smartHost: 'mx.acme.example', port: 25 }, fallback: null },
  note: '',
};

function customer(id: string, partnerId: string, name = `Customer ${id}`) {
  return {
    id,
    name,
    partnerId,
    domains: [`${id.toLowerCase()}.example`, `mail.${id.toLowerCase()}.example`],
    settings: RICH_SETTINGS,
    users: [
      { email: `admin@${id.toLowerCase()}.example`, settings: { digest: 'daily', language: 'en', filters: [{ match: 'invoice', action: 'allow' }] } },
      { email: `it@${id.toLowerCase()}.example`, settings: { digest: 'off' } },
    ],
  };
}

const DIRECTORY: DirectoryFile = {
  partners: [
    { id: 'P-NORTH', name: 'Northwind IT', invoiceDay: 1, contacts: ['ops@northwind.example'] },
    { id: 'P-SOUTH', name: 'Southgate Networks', invoiceDay: 15, contacts: ['partners@southgate.example'] },
    { id: 'P-EAST', name: 'Eastline Cloud', invoiceDay: 31, contacts: ['admin@eastline.example'] },
    { id: 'P-LISTFROM', name: 'Listing From', invoiceDay: 1, contacts: ['a@listfrom.example'] },
    { id: 'P-LISTTO', name: 'Listing To', invoiceDay: 1, contacts: ['a@listto.example'] },
  ],
  customers: [
    ...['C-1', 'C-2', 'C-3', 'C-4', 'C-5', 'C-6', 'C-7', 'C-8', 'C-9', 'C-M1', 'C-M2', 'C-M3', 'C-O1'].map((id) => customer(id, 'P-NORTH')),
    ...['C-L1', 'C-L2', 'C-L3', 'C-L4'].map((id) => customer(id, 'P-LISTFROM')),
    ...['C-TTL1', 'C-TTL2'].map((id) => customer(id, 'P-NORTH')),
  ],
};

let raw: DynamoDBClient;
let db: DynamoDBDocumentClient;
let store: DynamoTransferStore;
let directory: DynamoDirectory;

const local = dynamoLocalTable(TABLE, async (table) => {
  ({ raw, db } = table);
  directory = new DynamoDirectory(db, TABLE);
  await directory.load(DIRECTORY, new Date('2026-03-01T00:00:00.000Z'));
  store = new DynamoTransferStore(db, TABLE);
});

/** Every item of a partition, as DynamoDB stores it (attribute values, not unmarshalled). */
async function partition(pk: string): Promise<RawItem[]> {
  const items: RawItem[] = [];
  let start: RawItem | undefined;
  do {
    const page = await raw.send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: pk } },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

async function rawItem(pk: string, sk: string): Promise<RawItem | undefined> {
  return (await raw.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }))).Item;
}

/** One item as the adapters read it (unmarshalled). */
async function item(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
  return (await db.send(new GetCommand({ TableName: TABLE, Key: { pk, sk }, ConsistentRead: true }))).Item;
}

/** Every item an index holds in one of its partitions, as DynamoDB stores it there. */
async function indexPartition(index: (typeof TABLE_INDEXES)[number], partitionValue: string): Promise<RawItem[]> {
  const page = await raw.send(
    new QueryCommand({
      TableName: TABLE,
      IndexName: index.indexName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': index.partitionKey },
      ExpressionAttributeValues: { ':pk': { S: partitionValue } },
    }),
  );
  return page.Items ?? [];
}

/** A store on its own client that records every request it sends to DynamoDB (operation, and input as marshalled for the wire). */
function recordingStore(): { store: DynamoTransferStore; requests: { operation: string; input: unknown }[]; close: () => void } {
  const requests: { operation: string; input: unknown }[] = [];
  const client = new DynamoDBClient({ endpoint: local().endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      requests.push({ operation: String(context.commandName), input: structuredClone(args.input) });
      return next(args);
    },
    { step: 'build', name: 'recordRequests' },
  );
  const recorded = new DynamoTransferStore(DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }), TABLE);
  return { store: recorded, requests, close: () => client.destroy() };
}

/** The table key each item of a transaction writes, as `pk/sk`, in transaction order. */
function writtenKeys(input: unknown): string[] {
  return ((input as TransactWriteItemsCommandInput).TransactItems ?? []).map((entry) => {
    const key = entry.Put?.Item ?? entry.Update?.Key ?? entry.Delete?.Key ?? entry.ConditionCheck?.Key ?? {};
    return `${key.pk?.S ?? ''}/${key.sk?.S ?? ''}`;
  });
}

function sk(item: RawItem): string {
  return item.sk?.S ?? '';
}

/** A customer's mail-flow items (domains, settings, users), serialised exactly as stored. */
async function mailFlowItems(customerId: string): Promise<string> {
  const items = (await partition(`CUSTOMER#${customerId}`)).filter((i) => /^(DOMAIN#|SETTINGS$|USER#)/.test(sk(i)));
  return JSON.stringify(items.sort((a, b) => sk(a).localeCompare(sk(b))));
}

function newTransfer(id: string, customerIds: string[], overrides: Partial<Transfer> = {}): Transfer {
  const from = overrides.fromPartner ?? { id: 'P-NORTH', name: 'Northwind IT' };
  const createdAt = overrides.createdAt ?? '2026-03-10T15:00:00.000Z';
  return {
    id,
    status: 'AWAITING_RELEASE',
    customers: customerIds.map((cid) => transferCustomer({ id: cid, name: `Customer ${cid}` }, [`${cid.toLowerCase()}.example`], 1)),
    fromPartner: from,
    toPartner: { id: 'P-SOUTH', name: 'Southgate Networks' },
    requestedDate: null,
    transferDate: null,
    immediate: false,
    acceptedDate: null,
    billing: { fromPartnerNextInvoiceDate: '2026-04-01', toPartnerNextInvoiceDate: '2026-03-15', recommendedDate: '2026-04-01', aligned: null, advice: 'advice' },
    ticketId: null,
    note: null,
    requestedBy: { kind: 'partner', partnerId: from.id, name: 'alice' },
    createdAt,
    updatedAt: createdAt,
    ...overrides,
  };
}

function event(type: string, at = '2026-03-10T15:00:00.000Z', detail: Record<string, unknown> = {}): HistoryEvent {
  return { at, type, actor: { kind: 'partner', partnerId: 'P-NORTH', name: 'alice' }, detail };
}

/** `events` as the store keeps them: chained from the transfer's genesis, seq 1..n. */
function chainedFromGenesis(transferId: string, events: HistoryEvent[]): HistoryEvent[] {
  return events.map((e, index) => ({
    ...e,
    seq: index + 1,
    prevHash: index === 0 ? genesisHash(transferId) : expect.stringMatching(/^[0-9a-f]{64}$/),
    hash: expect.stringMatching(/^[0-9a-f]{64}$/),
  }));
}

/** What the transfer's stored history and head say about its chain. */
async function chainOf(transferId: string) {
  const state = await store.getState(transferId);
  if (!state) throw new Error(`no transfer ${transferId}`);
  return verifyChain(transferId, state.transfer.history, state.chainHead ?? null);
}

function consent(decision: ConsentRecord['decision']): ConsentRecord {
  return {
    step: 'release',
    decision,
    signedBy: 'Alice Smith',
    statement: 'I, Alice Smith, ...',
    transferDate: '2026-04-01',
    immediate: false,
    reason: decision === 'decline' ? 'Contract runs on' : null,
    via: 'api',
    ticketId: null,
    sourceIp: '203.0.113.7',
    userAgent: 'test',
  };
}

async function release(transferId: string, from: TransferStatus = 'AWAITING_RELEASE', options: { linkHash?: string; decision?: ConsentRecord['decision'] } = {}) {
  const decision = options.decision ?? 'release';
  const state = await store.getState(transferId);
  if (!state) throw new Error(`no transfer ${transferId}`);
  await store.decide({
    transfer: state.transfer,
    taskToken: state.steps.release?.taskToken ?? null,
    step: 'release',
    from,
    to: decision === 'decline' ? 'DECLINED' : 'AWAITING_ACCEPTANCE',
    consent: consent(decision),
    event: event(decision === 'decline' ? 'DECLINED' : 'RELEASED', '2026-03-11T10:00:00.000Z'),
    signal: decision === 'decline' ? { kind: 'failure', error: 'TransferDeclined', cause: 'The release was declined.' } : { kind: 'success', output: { acceptanceNeeded: true } },
    changes: decision === 'decline' ? {} : { transferDate: '2026-04-01', immediate: false },
    releaseClaims: decision === 'decline',
    linkHash: options.linkHash ?? null,
    at: '2026-03-11T10:00:00.000Z',
  });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('DynamoDirectory on DynamoDB Local', () => {
  it('loads the directory file: a partner, and a customer with its domains, settings and users', async () => {
    await expect(directory.getPartner('P-EAST')).resolves.toEqual({ id: 'P-EAST', name: 'Eastline Cloud', invoiceDay: 31, contacts: ['admin@eastline.example'] });
    await expect(directory.getPartner('P-NOPE')).resolves.toBeUndefined();
    const c1 = await directory.getCustomer('C-1', { users: 100, domains: 1000 });
    expect(c1).toEqual({
      id: 'C-1',
      name: 'Customer C-1',
      partnerId: 'P-NORTH',
      domains: ['c-1.example', 'mail.c-1.example'],
      settings: RICH_SETTINGS,
      users: customer('C-1', 'P-NORTH').users,
    });
    const owned = await directory.getOwnerships(['C-2', 'C-NOPE', 'C-1']);
    expect(owned.map((o) => [o.id, o.partnerId, o.lockedUntil])).toEqual([
      ['C-2', 'P-NORTH', null],
      ['C-1', 'P-NORTH', null],
    ]);
    const domains = await directory.firstDomains(['C-2', 'C-NOPE'], 1);
    expect([...domains]).toEqual([
      ['C-2', { domains: ['c-2.example'], domainCount: 2 }],
      ['C-NOPE', { domains: [], domainCount: 0 }],
    ]);
  });

  it('pages a customer with 2,500 domains and 250 users: each page at most 1,000 domains and `users` users, each once, in order', async () => {
    const big = {
      ...customer('C-PAGED', 'P-NORTH'),
      domains: Array.from({ length: 2500 }, (_, i) => `d${String(i).padStart(4, '0')}.paged.example`),
      users: Array.from({ length: 250 }, (_, i) => ({ email: `u${String(i).padStart(3, '0')}@paged.example`, settings: { i } })),
    };
    await directory.load({ partners: [], customers: [big] });
    const domains: string[] = [];
    const users: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await directory.getCustomer('C-PAGED', { users: 100, domains: 1000, ...(nextToken ? { nextToken } : {}) });
      expect(page).toMatchObject({ id: 'C-PAGED', partnerId: 'P-NORTH', settings: RICH_SETTINGS });
      expect(page?.domains.length).toBeLessThanOrEqual(1000);
      expect(page?.users.length).toBeLessThanOrEqual(100);
      domains.push(...(page?.domains ?? []));
      users.push(...(page?.users ?? []).map((u) => u.email));
      nextToken = page?.nextToken;
      pages += 1;
    } while (nextToken && pages < 10);
    expect(domains).toEqual(big.domains);
    expect(users).toEqual(big.users.map((u) => u.email));
    expect(pages).toBe(3);
    expect(await failure(directory.getCustomer('C-1', { users: 100, domains: 1000, nextToken: 'nope' }))).toBeInstanceOf(ValidationError);
    const counted = await directory.firstDomains(['C-PAGED'], 1000);
    expect(counted.get('C-PAGED')?.domainCount).toBe(2500);
    expect(counted.get('C-PAGED')?.domains).toEqual(big.domains.slice(0, 1000));
  });
});

describe('DynamoTransferStore on DynamoDB Local', () => {
  it('keeps the partners\' invoice days with the transfer for the server, never in the transfer it answers', async () => {
    const transfer = newTransfer('TR-INVOICE-1', ['C-INV1']);
    await store.create({ transfer, events: [event('REQUESTED')], invoiceDays: { from: 31, to: 15 } });

    const state = await store.getState('TR-INVOICE-1');
    expect(state?.invoiceDays).toEqual({ from: 31, to: 15 });
    expect(state?.transfer).not.toHaveProperty('invoiceDays');
    const listed = await store.list({ partnerId: transfer.fromPartner.id, limit: 100 });
    expect(listed.items.find((t) => t.id === 'TR-INVOICE-1')).not.toHaveProperty('invoiceDays');
  });

  it('create writes the transfer, a snapshot per customer, a party view per partner, the events and a claim per customer', async () => {
    const transfer = newTransfer('TR-CREATE-1', ['C-1', 'C-2']);
    await store.create({ transfer, events: [event('REQUESTED')] });

    const items = await partition('TRANSFER#TR-CREATE-1');
    expect(items.map((i) => [sk(i), i.kind?.S]).sort()).toEqual(
      [
        ['TRANSFER', 'transfer'],
        ['CUSTOMER#C-1', 'transfer-customer'],
        ['CUSTOMER#C-2', 'transfer-customer'],
        ['PARTY#P-NORTH', 'party'],
        ['PARTY#P-SOUTH', 'party'],
        [sk(items.find((i) => i.kind?.S === 'event') ?? {}), 'event'],
        [sk(items.find((i) => i.kind?.S === 'outbox') ?? {}), 'outbox'],
      ].sort(),
    );
    expect(sk(items.find((i) => i.kind?.S === 'event') ?? {})).toMatch(/^EVENT#2026-03-10T15:00:00\.000Z#/);
    // The request is told: its outbox event, in the transfer's partition.
    expect(sk(items.find((i) => i.kind?.S === 'outbox') ?? {})).toMatch(/^#OUTBOX#evt_[0-9a-f]{32}$/);
    // Each customer's domains are in an item of its own; the transfer item holds the summaries.
    expect(await item('TRANSFER#TR-CREATE-1', 'CUSTOMER#C-1')).toEqual({
      pk: 'TRANSFER#TR-CREATE-1',
      sk: 'CUSTOMER#C-1',
      kind: 'transfer-customer',
      customerId: 'C-1',
      domainCount: 1,
      domains: ['c-1.example'],
      domainsTruncated: false,
    });
    // The transfer item keeps the head of its history's chain: the one event, seq 1.
    const transferRaw = (await rawItem('TRANSFER#TR-CREATE-1', 'TRANSFER')) ?? {};
    expect(Object.keys(transferRaw).sort()).toEqual(
      ['pk', 'sk', 'kind', ...Object.keys(transfer), 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'chainSeq', 'chainHash'].sort(),
    );
    const eventRaw = items.find((i) => i.kind?.S === 'event') ?? {};
    expect(transferRaw.chainSeq).toEqual({ N: '1' });
    expect(transferRaw.chainHash).toEqual(eventRaw.hash);
    expect(eventRaw).toMatchObject({ seq: { N: '1' }, prevHash: { S: genesisHash('TR-CREATE-1') }, hash: { S: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect((await item('TRANSFER#TR-CREATE-1', 'TRANSFER'))?.customers).toEqual(summaryOf(transfer).customers);
    expect((await rawItem('CUSTOMER#C-1', 'CLAIM'))?.transferId).toEqual({ S: 'TR-CREATE-1' });
    expect((await rawItem('CUSTOMER#C-2', 'CLAIM'))?.transferId).toEqual({ S: 'TR-CREATE-1' });

    const stored = await store.get('TR-CREATE-1');
    expect(stored).toEqual({ ...transfer, history: chainedFromGenesis('TR-CREATE-1', [event('REQUESTED')]) });
    expect(stored?.history.map((e) => e.type)).toEqual(['REQUESTED']);
    expect(Object.keys(stored ?? {})).not.toContain('pk');
    expect(Object.keys(stored ?? {})).not.toContain('gsi1pk');
    // The head is the server's: never in the transfer's JSON, given apart by getState.
    expect(Object.keys(stored ?? {})).not.toContain('chainSeq');
    expect(Object.keys(stored ?? {})).not.toContain('chainHash');
    const state = await store.getState('TR-CREATE-1');
    expect(state?.transfer).not.toHaveProperty('chainSeq');
    expect(state?.transfer).not.toHaveProperty('chainHash');
    expect(state?.chainHead).toEqual({ seq: 1, hash: eventRaw.hash?.S });
    expect(await chainOf('TR-CREATE-1')).toMatchObject({ state: 'intact', events: 1 });
  });

  it('a second transfer claiming a busy customer is CUSTOMER_BUSY and writes nothing at all', async () => {
    await store.create({ transfer: newTransfer('TR-BUSY-1', ['C-3']), events: [event('REQUESTED')] });

    const error = await failure(store.create({ transfer: newTransfer('TR-BUSY-2', ['C-4', 'C-3']), events: [event('REQUESTED')] }));

    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'CUSTOMER_BUSY', details: { customerIds: ['C-3'] }, message: 'Customer C-3 is already in another active transfer.' });
    // Nothing of the rejected request, its customers' snapshots included.
    expect(await partition('TRANSFER#TR-BUSY-2')).toEqual([]);
    expect(await rawItem('TRANSFER#TR-BUSY-1', 'CUSTOMER#C-3')).toBeDefined();
    expect(await rawItem('CUSTOMER#C-4', 'CLAIM')).toBeUndefined();
    expect((await rawItem('CUSTOMER#C-3', 'CLAIM'))?.transferId).toEqual({ S: 'TR-BUSY-1' });
    await expect(store.get('TR-BUSY-2')).resolves.toBeUndefined();
    expect((await store.list({ partnerId: 'P-SOUTH', limit: 100 })).items.map((t) => t.id)).not.toContain('TR-BUSY-2');
  });

  it('history keeps the order in which events were recorded, even for events of the same instant', async () => {
    const at = '2026-03-10T15:00:00.000Z';
    const types = ['REQUESTED', 'RELEASED', 'ACCEPTED', 'NOTE_1', 'NOTE_2', 'NOTE_3'];
    await store.create({ transfer: newTransfer('TR-ORDER-1', ['C-5']), events: types.map((type) => event(type, at)) });
    expect((await store.get('TR-ORDER-1'))?.history.map((e) => e.type)).toEqual(types);
    expect((await store.get('TR-ORDER-1'))?.history.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('discard removes every item of a transfer whose workflow did not start, and frees its claims', async () => {
    const transfer = newTransfer('TR-DISCARD-1', ['C-6']);
    await store.create({ transfer, events: [event('REQUESTED'), event('RELEASED')] });
    expect(await rawItem('TRANSFER#TR-DISCARD-1', 'CUSTOMER#C-6')).toBeDefined();
    await store.discard(transfer);
    expect(await partition('TRANSFER#TR-DISCARD-1')).toEqual([]);
    expect(await rawItem('CUSTOMER#C-6', 'CLAIM')).toBeUndefined();
  });

  describe('listing', () => {
    const ids = ['TR-LIST-1', 'TR-LIST-2', 'TR-LIST-3', 'TR-LIST-4'];
    const created: Transfer[] = [];

    beforeAll(async () => {
      for (const [index, id] of ids.entries()) {
        const transfer = newTransfer(id, [`C-L${index + 1}`], {
          fromPartner: { id: 'P-LISTFROM', name: 'Listing From' },
          toPartner: { id: 'P-LISTTO', name: 'Listing To' },
          createdAt: `2026-03-10T15:0${index}:00.000Z`,
        });
        created.push(transfer);
        await store.create({ transfer, events: [event('REQUESTED', `2026-03-10T15:0${index}:00.000Z`)] });
      }
    });

    async function everyPage(query: { partnerId?: string; status?: TransferStatus; limit: number }): Promise<{ ids: string[]; pages: number }> {
      const seen: string[] = [];
      let nextToken: string | undefined;
      let pages = 0;
      do {
        const page = await store.list({ ...query, ...(nextToken ? { nextToken } : {}) });
        seen.push(...page.items.map((t) => t.id));
        nextToken = page.nextToken;
        pages += 1;
      } while (nextToken && pages < 10);
      return { ids: seen, pages };
    }

    it('the indexes hold keys only: the table\'s and their own', async () => {
      const [byParty, byPartyStatus] = TABLE_INDEXES;
      const partitions: [(typeof TABLE_INDEXES)[number], string][] = [
        [byParty, 'PARTY#P-LISTFROM'],
        [byParty, 'ALL'],
        [byPartyStatus, 'PARTY#P-LISTTO#AWAITING_RELEASE'],
        [byPartyStatus, 'ALL#AWAITING_RELEASE'],
      ];
      for (const [index, value] of partitions) {
        const items = await indexPartition(index, value);
        expect(items.length).toBeGreaterThan(0);
        for (const indexed of items) expect(Object.keys(indexed).sort()).toEqual(['pk', 'sk', index.partitionKey, index.sortKey].sort());
      }
    });

    it('both parties see their transfers, newest first, as summaries; a third partner sees none', async () => {
      expect((await store.list({ partnerId: 'P-LISTFROM', limit: 10 })).items).toEqual([...created].reverse().map(summaryOf));
      expect((await store.list({ partnerId: 'P-LISTFROM', limit: 10 })).items.map((t) => t.id)).toEqual([...ids].reverse());
      expect((await store.list({ partnerId: 'P-LISTTO', limit: 10 })).items.map((t) => t.id)).toEqual([...ids].reverse());
      expect((await store.list({ partnerId: 'P-EAST', limit: 10 })).items).toEqual([]);
      const all = (await store.list({ limit: 100 })).items.map((t) => t.id);
      expect(all).toEqual(expect.arrayContaining(ids));
    });

    it('pages with nextToken through all of them, each once, in order', async () => {
      const first = await store.list({ partnerId: 'P-LISTFROM', limit: 2 });
      expect(first.items.map((t) => t.id)).toEqual(['TR-LIST-4', 'TR-LIST-3']);
      expect(first.nextToken).toEqual(expect.any(String));
      const second = await store.list({ partnerId: 'P-LISTFROM', limit: 2, nextToken: first.nextToken ?? '' });
      expect(second.items.map((t) => t.id)).toEqual(['TR-LIST-2', 'TR-LIST-1']);

      const byThree = await everyPage({ partnerId: 'P-LISTTO', limit: 3 });
      expect(byThree.ids).toEqual(['TR-LIST-4', 'TR-LIST-3', 'TR-LIST-2', 'TR-LIST-1']);
      const byOne = await everyPage({ partnerId: 'P-LISTFROM', limit: 1 });
      expect(byOne.ids).toEqual(['TR-LIST-4', 'TR-LIST-3', 'TR-LIST-2', 'TR-LIST-1']);
    });

    it('lists by status through the status index, following status changes', async () => {
      await release('TR-LIST-3');
      expect((await store.list({ partnerId: 'P-LISTFROM', status: 'AWAITING_ACCEPTANCE', limit: 10 })).items.map((t) => t.id)).toEqual(['TR-LIST-3']);
      expect((await store.list({ partnerId: 'P-LISTTO', status: 'AWAITING_ACCEPTANCE', limit: 10 })).items.map((t) => t.id)).toEqual(['TR-LIST-3']);
      expect((await store.list({ partnerId: 'P-LISTFROM', status: 'AWAITING_RELEASE', limit: 10 })).items.map((t) => t.id)).toEqual([
        'TR-LIST-4',
        'TR-LIST-2',
        'TR-LIST-1',
      ]);
      expect((await store.list({ status: 'AWAITING_ACCEPTANCE', limit: 100 })).items.map((t) => t.id)).toContain('TR-LIST-3');
      expect((await store.list({ partnerId: 'P-EAST', status: 'AWAITING_ACCEPTANCE', limit: 10 })).items).toEqual([]);
      const paged = await everyPage({ partnerId: 'P-LISTFROM', status: 'AWAITING_RELEASE', limit: 2 });
      expect(paged.ids).toEqual(['TR-LIST-4', 'TR-LIST-2', 'TR-LIST-1']);
    });

    it('another partner\'s page token is refused with a ValidationError', async () => {
      const token = (await store.list({ partnerId: 'P-LISTFROM', limit: 1 })).nextToken ?? '';
      expect(token).not.toBe('');
      const error = await failure(store.list({ partnerId: 'P-EAST', limit: 1, nextToken: token }));
      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ status: 400, message: 'nextToken does not belong to this listing; start again without it.' });
    });

    it('a garbage page token is refused with a ValidationError', async () => {
      expect(await failure(store.list({ partnerId: 'P-LISTFROM', limit: 1, nextToken: 'garbage!' }))).toBeInstanceOf(ValidationError);
      expect(await failure(store.list({ limit: 1, nextToken: Buffer.from('[1,2]').toString('base64url') }))).toBeInstanceOf(ValidationError);
    });

    it('a token of the same partner\'s listing of another status is refused with a ValidationError', async () => {
      const token = (await store.list({ partnerId: 'P-LISTFROM', status: 'AWAITING_RELEASE', limit: 1 })).nextToken ?? '';
      expect(token).not.toBe('');
      expect(await failure(store.list({ partnerId: 'P-LISTFROM', status: 'AWAITING_ACCEPTANCE', limit: 1, nextToken: token }))).toBeInstanceOf(
        ValidationError,
      );
    });

    it('a forged token naming the right partition but no real key is refused with a ValidationError', async () => {
      const forged = Buffer.from(JSON.stringify({ gsi1pk: 'PARTY#P-LISTFROM' })).toString('base64url');
      expect(await failure(store.list({ partnerId: 'P-LISTFROM', limit: 1, nextToken: forged }))).toBeInstanceOf(ValidationError);
    });
  });

  it('decide is conditional: a second decision is ConflictError ALREADY_DECIDED and changes nothing', async () => {
    await store.create({ transfer: newTransfer('TR-DECIDE-1', ['C-7']), events: [event('REQUESTED')] });
    await release('TR-DECIDE-1');

    const decided = await store.get('TR-DECIDE-1');
    expect(decided).toMatchObject({ status: 'AWAITING_ACCEPTANCE', transferDate: '2026-04-01', updatedAt: '2026-03-11T10:00:00.000Z' });
    expect((await store.getStep('TR-DECIDE-1', 'release'))?.decision).toMatchObject({ decision: 'release', signedBy: 'Alice Smith', sourceIp: '203.0.113.7' });
    expect((await store.getStep('TR-DECIDE-1', 'release'))?.partnerId).toBe('P-NORTH');
    const before = await partition('TRANSFER#TR-DECIDE-1');

    const error = await failure(release('TR-DECIDE-1'));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'ALREADY_DECIDED' });
    // Even a decision written as if the transfer were still waiting fails on the recorded decision.
    expect(await failure(release('TR-DECIDE-1', 'AWAITING_ACCEPTANCE', { decision: 'decline' }))).toMatchObject({ code: 'ALREADY_DECIDED' });
    expect(await partition('TRANSFER#TR-DECIDE-1')).toEqual(before);
    expect((await rawItem('CUSTOMER#C-7', 'CLAIM'))?.transferId).toEqual({ S: 'TR-DECIDE-1' });
  });

  it('a decline releases the claims in the same write', async () => {
    await store.create({ transfer: newTransfer('TR-DECLINE-1', ['C-8']), events: [event('REQUESTED')] });
    await release('TR-DECLINE-1', 'AWAITING_RELEASE', { decision: 'decline' });
    expect((await store.get('TR-DECLINE-1'))?.status).toBe('DECLINED');
    expect(await rawItem('CUSTOMER#C-8', 'CLAIM')).toBeUndefined();
  });

  it('openStep stores the task token and a link found by its hash; a resumed wait keeps it; a newer link supersedes it', async () => {
    await store.create({ transfer: newTransfer('TR-OPEN-1', ['C-O1']), events: [event('REQUESTED')] });
    const hash1 = 'a'.repeat(64);
    const hash2 = 'b'.repeat(64);
    const open = (taskToken: string, linkHash: string, options: { newLink: boolean; supersedes?: string; nonce?: string }) =>
      store.openStep({
        transferId: 'TR-OPEN-1',
        step: 'release',
        partnerId: 'P-NORTH',
        taskToken,
        linkHash,
        linkNonce: options.nonce ?? 'nonce-1',
        newLink: options.newLink,
        supersedes: options.supersedes ?? null,
        expiresAt: '2026-03-24T15:00:00.000Z',
        at: '2026-03-10T15:00:01.000Z',
        event: options.newLink
          ? { at: '2026-03-10T15:00:01.000Z', type: 'APPROVAL_REQUESTED', actor: { kind: 'system', name: 'workflow' }, detail: { step: 'release' } }
          : null,
      });

    await expect(open('task-1', hash1, { newLink: true })).resolves.toBe(true);
    await expect(store.getLink(hash1)).resolves.toEqual({
      hash: hash1,
      transferId: 'TR-OPEN-1',
      step: 'release',
      partnerId: 'P-NORTH',
      expiresAt: '2026-03-24T15:00:00.000Z',
      state: 'open',
    });
    expect(await store.getStep('TR-OPEN-1', 'release')).toMatchObject({
      taskToken: 'task-1',
      linkHash: hash1,
      linkNonce: 'nonce-1',
      linkSentAt: null,
      decision: null,
      signalledAt: null,
    });
    await expect(store.getLink('c'.repeat(64))).resolves.toBeUndefined();
    await store.markLinkSent('TR-OPEN-1', 'release', '2026-03-10T15:00:02.000Z');

    // The wait resumed after a reminder: same link, new token, the link still counts as sent.
    await expect(open('task-2', hash1, { newLink: false })).resolves.toBe(true);
    expect(await store.getStep('TR-OPEN-1', 'release')).toMatchObject({ taskToken: 'task-2', linkHash: hash1, linkSentAt: '2026-03-10T15:00:02.000Z' });
    expect((await store.getLink(hash1))?.state).toBe('open');

    await expect(open('task-3', hash2, { newLink: true, supersedes: hash1, nonce: 'nonce-2' })).resolves.toBe(true);
    expect((await store.getLink(hash1))?.state).toBe('superseded');
    expect(await store.getStep('TR-OPEN-1', 'release')).toMatchObject({ taskToken: 'task-3', linkHash: hash2, linkNonce: 'nonce-2', linkSentAt: null });
    expect((await store.get('TR-OPEN-1'))?.history.filter((e) => e.type === 'APPROVAL_REQUESTED')).toHaveLength(2);

    await release('TR-OPEN-1', 'AWAITING_RELEASE', { linkHash: hash2 });
    expect((await store.getLink(hash2))?.state).toBe('used');
    // A used link goes the grace period after its use, sooner than the grace period after its expiry.
    const used = (await db.send(new GetCommand({ TableName: TABLE, Key: { pk: `LINK#${hash2}`, sk: 'LINK' }, ConsistentRead: true }))).Item;
    expect(used?.expiresAtEpoch).toBe(Date.parse('2026-03-11T10:00:00.000Z') / 1000 + LINK_GRACE_SECONDS);
    expect(used?.expiresAtEpoch).toBeLessThan(Date.parse('2026-03-24T15:00:00.000Z') / 1000 + LINK_GRACE_SECONDS);
    await store.markSignalled('TR-OPEN-1', 'release', '2026-03-11T10:00:01.000Z');
    await store.markSignalled('TR-OPEN-1', 'release', '2026-03-11T10:05:00.000Z');
    expect((await store.getStep('TR-OPEN-1', 'release'))?.signalledAt).toBe('2026-03-11T10:00:01.000Z');

    // A wait reached after the decision stores nothing and says so.
    await expect(open('task-4', 'd'.repeat(64), { newLink: true, supersedes: hash2, nonce: 'nonce-3' })).resolves.toBe(false);
    expect(await store.getLink('d'.repeat(64))).toBeUndefined();
    expect((await store.getStep('TR-OPEN-1', 'release'))?.taskToken).toBe('task-3');
  });

  describe('moveCustomer', () => {
    const move = (transferId: string, customerId: string, from = 'P-NORTH', to = 'P-SOUTH') => ({
      transferId,
      customerId,
      fromPartnerId: from,
      toPartnerId: to,
      lockedUntil: '2026-05-01',
      at: '2026-04-01T04:00:05.000Z',
      event: { at: '2026-04-01T04:00:05.000Z', type: 'CUSTOMER_MOVED', actor: { kind: 'system' as const, name: 'workflow' }, detail: { customerId } },
    });

    it('moves ownership only: domains, settings and users stay byte-for-byte the same', async () => {
      await store.create({ transfer: newTransfer('TR-MOVE-1', ['C-M1']), events: [event('REQUESTED')] });
      await store.create({ transfer: newTransfer('TR-OTHER-1', []), events: [event('REQUESTED')] });
      const mailBefore = await mailFlowItems('C-M1');
      expect(JSON.parse(mailBefore)).toHaveLength(5);

      await expect(store.moveCustomer(move('TR-MOVE-1', 'C-M1'))).resolves.toBe('moved');

      expect(await mailFlowItems('C-M1')).toBe(mailBefore);
      const owner = await rawItem('CUSTOMER#C-M1', 'OWNER');
      expect(owner).toMatchObject({
        partnerId: { S: 'P-SOUTH' },
        previousPartnerId: { S: 'P-NORTH' },
        lastTransferId: { S: 'TR-MOVE-1' },
        lockedUntil: { S: '2026-05-01' },
        updatedAt: { S: '2026-04-01T04:00:05.000Z' },
        name: { S: 'Customer C-M1' },
      });
      expect(await rawItem('CUSTOMER#C-M1', 'CLAIM')).toBeUndefined();
      const audit = (await partition('CUSTOMER#C-M1')).filter((i) => sk(i).startsWith('AUDIT#'));
      expect(audit.map((i) => [sk(i), i.fromPartnerId?.S, i.toPartnerId?.S])).toEqual([
        ['AUDIT#2026-04-01T04:00:05.000Z#TR-MOVE-1', 'P-NORTH', 'P-SOUTH'],
      ]);
      expect((await store.get('TR-MOVE-1'))?.history.map((e) => e.type)).toEqual(['REQUESTED', 'CUSTOMER_MOVED']);
      expect(await chainOf('TR-MOVE-1')).toMatchObject({ state: 'intact', events: 2 });

      // A retry of the same move recognises it and changes nothing, its history included.
      const afterFirst = await partition('CUSTOMER#C-M1');
      const transferAfterFirst = await partition('TRANSFER#TR-MOVE-1');
      await expect(store.moveCustomer(move('TR-MOVE-1', 'C-M1'))).resolves.toBe('already-moved');
      expect(await partition('CUSTOMER#C-M1')).toEqual(afterFirst);
      expect(await partition('TRANSFER#TR-MOVE-1')).toEqual(transferAfterFirst);

      // Another transfer moving it from its previous partner finds it gone.
      const otherBefore = await partition('TRANSFER#TR-OTHER-1');
      await expect(store.moveCustomer(move('TR-OTHER-1', 'C-M1'))).resolves.toBe('not-movable');
      expect(await partition('CUSTOMER#C-M1')).toEqual(afterFirst);
      expect(await partition('TRANSFER#TR-OTHER-1')).toEqual(otherBefore);
      // The refused moves wrote no event: the next event of each transfer follows its stored head.
      await store.appendEvent('TR-MOVE-1', event('NOTE', '2026-04-01T05:00:00.000Z'));
      await store.appendEvent('TR-OTHER-1', event('NOTE', '2026-04-01T05:00:00.000Z'));
      expect(await chainOf('TR-MOVE-1')).toMatchObject({ state: 'intact', events: 3 });
      expect(await chainOf('TR-OTHER-1')).toMatchObject({ state: 'intact', events: 2 });

      const after = await directory.getCustomer('C-M1', { users: 100, domains: 1000 });
      const original = customer('C-M1', 'P-NORTH');
      expect(after).toEqual({ ...original, partnerId: 'P-SOUTH' });
      expect((await directory.getOwnerships(['C-M1']))[0]?.lockedUntil).toBe('2026-05-01');
    });

    it('a transfer that does not hold the customer\'s claim cannot move it, even while nobody claims it', async () => {
      await store.create({ transfer: newTransfer('TR-STRAY-1', []), events: [event('REQUESTED')] });
      expect(await rawItem('CUSTOMER#C-M3', 'CLAIM')).toBeUndefined();
      const before = await partition('CUSTOMER#C-M3');
      await expect(store.moveCustomer(move('TR-STRAY-1', 'C-M3'))).resolves.toBe('not-movable');
      expect(await partition('CUSTOMER#C-M3')).toEqual(before);
      // Nor can a transfer that does not exist: it has no history to record the move in.
      const error = await failure(store.moveCustomer(move('TR-NOWHERE-1', 'C-M3')));
      expect(error).toBeInstanceOf(ConflictError);
      expect(error).toMatchObject({ code: 'UNKNOWN_TRANSFER' });
      expect(await partition('CUSTOMER#C-M3')).toEqual(before);
      expect(await partition('TRANSFER#TR-NOWHERE-1')).toEqual([]);
      expect((await directory.getCustomer('C-M3', { users: 100, domains: 1000 }))?.partnerId).toBe('P-NORTH');
    });

    it('a customer claimed by another transfer is not movable and stays exactly as it was', async () => {
      await store.create({ transfer: newTransfer('TR-MOVE-2', ['C-M2']), events: [event('REQUESTED')] });
      await store.create({ transfer: newTransfer('TR-NOT-THE-CLAIMER', []), events: [event('REQUESTED')] });
      const before = await partition('CUSTOMER#C-M2');
      await expect(store.moveCustomer(move('TR-NOT-THE-CLAIMER', 'C-M2'))).resolves.toBe('not-movable');
      expect(await partition('CUSTOMER#C-M2')).toEqual(before);
      expect((await directory.getCustomer('C-M2', { users: 100, domains: 1000 }))?.partnerId).toBe('P-NORTH');
    });
  });

  it('changeStatus is conditional on the expected statuses', async () => {
    await store.create({ transfer: newTransfer('TR-STATUS-1', ['C-9']), events: [event('REQUESTED')] });
    const change = (from: TransferStatus[], to: TransferStatus) =>
      store.changeStatus({ transferId: 'TR-STATUS-1', from, to, at: '2026-03-12T00:00:00.000Z', event: event(to, '2026-03-12T00:00:00.000Z'), releaseClaims: true });
    const error = await failure(change(['SCHEDULED'], 'IN_PROGRESS'));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ code: 'INVALID_STATE', details: { status: 'AWAITING_RELEASE' } });
    expect((await rawItem('CUSTOMER#C-9', 'CLAIM'))?.transferId).toEqual({ S: 'TR-STATUS-1' });

    await change(['AWAITING_RELEASE', 'AWAITING_ACCEPTANCE'], 'EXPIRED');
    expect((await store.get('TR-STATUS-1'))?.status).toBe('EXPIRED');
    expect(await rawItem('CUSTOMER#C-9', 'CLAIM')).toBeUndefined();
    expect((await rawItem('TRANSFER#TR-STATUS-1', 'PARTY#P-SOUTH'))?.gsi2pk).toEqual({ S: 'PARTY#P-SOUTH#EXPIRED' });
  });

  it('a transfer of 50 customers with 1,000 long domains each: every item far below 400 KB, stored and read whole; a status change rewrites no snapshot', async () => {
    const customers = Array.from({ length: 50 }, (_, c) =>
      // 120-character names: the old single customers item would have held 50 × 1,000 × 120 bytes = 6 MB.
      transferCustomer(
        { id: `C-HUGE${String(c).padStart(2, '0')}`, name: `Huge ${c}` },
        Array.from({ length: 1000 }, (_, d) => `d${String(d).padStart(4, '0')}-${'x'.repeat(100)}.c${c}.huge.example`),
        1000,
      ),
    );
    const transfer = newTransfer('TR-HUGE-1', [], {
      customers,
      fromPartner: { id: 'P-HUGEFROM', name: 'Huge From' },
      toPartner: { id: 'P-HUGETO', name: 'Huge To' },
    });
    // Within the snapshot's 64 KiB: fewer than 1,000 of these names, and the count says how many there are.
    expect(customers[0]?.domains.length).toBeLessThan(1000);
    expect(customers[0]).toMatchObject({ domainCount: 1000, domainsTruncated: true });

    await store.create({ transfer, events: [event('REQUESTED')] });

    const items = await partition('TRANSFER#TR-HUGE-1');
    const sizes = items.map((i) => ({ sk: sk(i), bytes: JSON.stringify(i).length }));
    expect(sizes.filter((i) => i.sk.startsWith('CUSTOMER#'))).toHaveLength(50);
    for (const size of sizes) expect(size.bytes, size.sk).toBeLessThan(100_000);

    const recording = recordingStore();
    try {
      const stored = await recording.store.get('TR-HUGE-1');
      expect(stored).toEqual({ ...transfer, history: chainedFromGenesis('TR-HUGE-1', [event('REQUESTED')]) });
      // Two round trips: the transfer's own items, then its customers' snapshots in one batch.
      expect(recording.requests.map((r) => r.operation)).toEqual(['QueryCommand', 'BatchGetItemCommand']);
      expect(JSON.stringify(stored).length).toBeLessThan(6 * 1024 * 1024);

      recording.requests.length = 0;
      await recording.store.changeStatus({
        transferId: 'TR-HUGE-1',
        from: ['AWAITING_RELEASE'],
        to: 'CANCELLED',
        at: '2026-03-12T00:00:00.000Z',
        event: event('CANCELLED', '2026-03-12T00:00:00.000Z'),
        releaseClaims: true,
      });
      expect(recording.requests.map((r) => r.operation)).toEqual(['GetItemCommand', 'TransactWriteItemsCommand']);
      expect(writtenKeys(recording.requests[1]?.input).filter((key) => key.includes('/CUSTOMER#'))).toEqual([]);
      expect(JSON.stringify(recording.requests[1]?.input)).not.toContain('huge.example');
    } finally {
      recording.close();
    }

    const cancelled = { ...summaryOf(transfer), status: 'CANCELLED', updatedAt: '2026-03-12T00:00:00.000Z' };
    expect((await store.list({ partnerId: 'P-HUGEFROM', limit: 10 })).items).toEqual([cancelled]);
    expect((await store.list({ partnerId: 'P-HUGETO', status: 'CANCELLED', limit: 10 })).items).toEqual([cancelled]);
    expect(JSON.stringify((await store.list({ partnerId: 'P-HUGEFROM', limit: 10 })).items)).not.toContain('huge.example');
    expect(await rawItem('CUSTOMER#C-HUGE00', 'CLAIM')).toBeUndefined();
  });

  it('a transfer filed before the snapshot items (one customers item) is still read, listed and cancelled whole', async () => {
    const legacy = newTransfer('TR-LEGACY-1', ['C-L4']);
    const { customers: _customers, ...own } = legacy;
    await db.send(new PutCommand({ TableName: TABLE, Item: { pk: 'TRANSFER#TR-LEGACY-1', sk: 'TRANSFER', kind: 'transfer', ...own, gsi1pk: 'ALL', gsi1sk: `${legacy.createdAt}#TR-LEGACY-1`, gsi2pk: 'ALL#AWAITING_RELEASE', gsi2sk: `${legacy.createdAt}#TR-LEGACY-1` } }));
    await db.send(new PutCommand({ TableName: TABLE, Item: { pk: 'TRANSFER#TR-LEGACY-1', sk: 'CUSTOMERS', kind: 'customers', customers: [{ id: 'C-L4', name: 'Customer C-L4', domains: ['c-l4.example'] }] } }));
    await db.send(new PutCommand({ TableName: TABLE, Item: { pk: 'CUSTOMER#C-L4', sk: 'CLAIM', kind: 'claim', transferId: 'TR-LEGACY-1' } }));

    expect((await store.get('TR-LEGACY-1'))?.customers).toEqual(legacy.customers);
    expect((await store.list({ status: 'AWAITING_RELEASE', limit: 100 })).items.find((t) => t.id === 'TR-LEGACY-1')?.customers).toEqual(summaryOf(legacy).customers);
    await store.changeStatus({ transferId: 'TR-LEGACY-1', from: ['AWAITING_RELEASE'], to: 'CANCELLED', at: '2026-03-12T00:00:00.000Z', event: event('CANCELLED'), releaseClaims: true });
    expect(await rawItem('CUSTOMER#C-L4', 'CLAIM')).toBeUndefined();
  });

  describe('approval links expire', () => {
    const expiresAt = '2026-03-24T15:00:00.000Z';
    const epoch = (iso: string) => Date.parse(iso) / 1000;

    it('a link is written with the TTL attribute, its expiry plus the grace period; an extension moves both', async () => {
      await store.create({ transfer: newTransfer('TR-TTL-1', ['C-TTL1']), events: [event('REQUESTED')] });
      const hash = 'e'.repeat(64);
      await store.openStep({
        transferId: 'TR-TTL-1',
        step: 'release',
        partnerId: 'P-NORTH',
        taskToken: 'task-1',
        linkHash: hash,
        linkNonce: 'nonce-1',
        newLink: true,
        supersedes: null,
        expiresAt,
        at: '2026-03-10T15:00:01.000Z',
        event: null,
      });
      const link = await rawItem(`LINK#${hash}`, 'LINK');
      expect(link?.expiresAtEpoch).toEqual({ N: String(epoch(expiresAt) + LINK_GRACE_SECONDS) });
      expect(LINK_GRACE_SECONDS).toBe(30 * 86_400);

      const extended = '2026-03-31T15:00:00.000Z';
      await store.extendStep({ transferId: 'TR-TTL-1', step: 'release', linkHash: hash, from: expiresAt, to: extended, event: event('WINDOW_EXTENDED') });
      expect((await rawItem(`LINK#${hash}`, 'LINK'))?.expiresAtEpoch).toEqual({ N: String(epoch(extended) + LINK_GRACE_SECONDS) });
      await expect(store.getLink(hash)).resolves.toMatchObject({ expiresAt: extended, state: 'open' });

      // A resumed wait keeps the link, and so its TTL.
      await store.openStep({
        transferId: 'TR-TTL-1',
        step: 'release',
        partnerId: 'P-NORTH',
        taskToken: 'task-2',
        linkHash: hash,
        linkNonce: 'nonce-1',
        newLink: false,
        supersedes: null,
        expiresAt,
        at: '2026-03-13T15:00:01.000Z',
        event: null,
      });
      expect((await rawItem(`LINK#${hash}`, 'LINK'))?.expiresAtEpoch).toEqual({ N: String(epoch(extended) + LINK_GRACE_SECONDS) });
    });

    it('a decision made while the step\'s task token changed is refused as STEP_CHANGED and records nothing', async () => {
      await store.create({ transfer: newTransfer('TR-TOKEN-1', ['C-TTL2']), events: [event('REQUESTED')] });
      const open = (taskToken: string, newLink: boolean) =>
        store.openStep({
          transferId: 'TR-TOKEN-1',
          step: 'release',
          partnerId: 'P-NORTH',
          taskToken,
          linkHash: 'f'.repeat(64),
          linkNonce: 'nonce-1',
          newLink,
          supersedes: null,
          expiresAt,
          at: '2026-03-10T15:00:01.000Z',
          event: null,
        });
      await open('task-1', true);
      const state = await store.getState('TR-TOKEN-1');
      await open('task-2', false);
      const decide = (taskToken: string | null) =>
        store.decide({
          transfer: state?.transfer ?? newTransfer('TR-TOKEN-1', ['C-TTL2']),
          taskToken,
          step: 'release',
          from: 'AWAITING_RELEASE',
          to: 'AWAITING_ACCEPTANCE',
          consent: consent('release'),
          event: event('RELEASED'),
          signal: { kind: 'success', output: {} },
          changes: {},
          releaseClaims: false,
          linkHash: null,
          at: '2026-03-11T10:00:00.000Z',
        });
      expect(await failure(decide(state?.steps.release?.taskToken ?? null))).toMatchObject({ code: 'STEP_CHANGED' });
      expect((await store.getState('TR-TOKEN-1'))?.transfer.status).toBe('AWAITING_RELEASE');
      await decide('task-2');
      expect((await store.getState('TR-TOKEN-1'))?.transfer.status).toBe('AWAITING_ACCEPTANCE');
      expect(await failure(decide('task-2'))).toMatchObject({ code: 'ALREADY_DECIDED' });
    });
  });
});
