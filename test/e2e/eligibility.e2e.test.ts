import type { SFNClient } from '@aws-sdk/client-sfn';
import { PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eligibilityAnswer } from '../../lambdas/contract/responses.ts';
import { checkCodesFor, checkCodesOf, type Eligibility } from '../../lambdas/domain/eligibility.ts';
import type { ApiAnswer, TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { createTransfer, daysAfter, documentClient, emailIds, executionStates, scanTable, sfnClient, todayInNewYork, withoutRelayMarks } from './support.ts';

/**
 * POST /transfers/check on the local stack: each code it answers, that it writes nothing, and that
 * POST /transfers, asked the same in the same state, agrees with it.
 */

type Who = 'P-ACME' | 'P-BLUE' | 'P-CORAL' | 'P-DUNE' | 'operator';
type ErrorBody = { error: { code: string; message: string; details?: unknown } };

interface Case {
  name: string;
  who: Who;
  body: Record<string, unknown>;
  /** Each customer's reason codes, in the request's order. */
  customers: Record<string, string[]>;
  problems: string[];
  /** What POST /transfers answers in the same state: 201, or its status and error code. */
  create: [201] | [number, string];
}

let t: TestStack;
let db: DynamoDBDocumentClient;
let sfn: SFNClient;
const tokens = new Map<Who, string>();
const today = todayInNewYork();
/** The transfer of C-A01 from P-ACME to P-DUNE, which P-BLUE is not party to. */
let busyTransfer: TransferView;

function tokenOf(who: Who): string {
  const token = tokens.get(who);
  if (token === undefined) throw new Error(`no token for ${who}`);
  return token;
}

function check(who: Who, body: unknown): Promise<ApiAnswer> {
  return t.client.call('POST', '/transfers/check', tokenOf(who), body);
}

/** Every item of the table, every email and every execution. */
async function everything(): Promise<unknown> {
  return { table: withoutRelayMarks(await scanTable(db, t.stack.tableName)), emails: await emailIds(t), executions: await executionStates(sfn, t.stack.stateMachineArn) };
}

/** Waits until the set-up transfers' workflows have done all they do on their own. */
async function settled(): Promise<void> {
  let last = '';
  let stableSince = Date.now();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const now = JSON.stringify(await everything());
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 1_500) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error('The set-up transfers did not settle within 30 s');
}

async function setLock(customerId: string, lockedUntil: string): Promise<void> {
  await db.send(
    new UpdateCommand({
      TableName: t.stack.tableName,
      Key: { pk: `CUSTOMER#${customerId}`, sk: 'OWNER' },
      UpdateExpression: 'SET lockedUntil = :until',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':until': lockedUntil },
    }),
  );
}


const LOCK_OVERRIDE = { reason: 'Merger of the two partners' };

const CASES: Case[] = [
  {
    name: 'eligible, with the billing advice',
    who: 'P-ACME',
    body: { customerIds: ['C-A20', 'C-A21'], toPartnerId: 'P-BLUE', requestedDate: daysAfter(todayInNewYork(), 20) },
    customers: { 'C-A20': [], 'C-A21': [] },
    problems: [],
    create: [201],
  },
  {
    name: 'UNKNOWN_CUSTOMER',
    who: 'P-ACME',
    body: { customerIds: ['C-A22', 'C-NOPE'], toPartnerId: 'P-BLUE' },
    customers: { 'C-A22': [], 'C-NOPE': ['UNKNOWN_CUSTOMER'] },
    problems: [],
    create: [422, 'UNKNOWN_CUSTOMER'],
  },
  {
    name: 'BUSY, to the new partner of a customer in a transfer between two others',
    who: 'P-BLUE',
    body: { customerIds: ['C-A01'], toPartnerId: 'P-BLUE' },
    customers: { 'C-A01': ['BUSY'] },
    problems: [],
    create: [409, 'CUSTOMER_BUSY'],
  },
  {
    name: 'BUSY, to the owner, beside a free customer',
    who: 'P-ACME',
    body: { customerIds: ['C-A22', 'C-A01'], toPartnerId: 'P-CORAL' },
    customers: { 'C-A22': [], 'C-A01': ['BUSY'] },
    problems: [],
    create: [409, 'CUSTOMER_BUSY'],
  },
  {
    name: 'LOCKED after a completed transfer, to the next new partner',
    who: 'P-CORAL',
    body: { customerIds: ['C-A10'], toPartnerId: 'P-CORAL' },
    customers: { 'C-A10': ['LOCKED'] },
    problems: [],
    create: [409, 'LOCKED'],
  },
  {
    name: 'LOCKED on its last locked day',
    who: 'P-ACME',
    body: { customerIds: ['C-A23'], toPartnerId: 'P-BLUE' },
    customers: { 'C-A23': ['LOCKED'] },
    problems: [],
    create: [409, 'LOCKED'],
  },
  {
    name: 'free the day after its lock ended',
    who: 'P-ACME',
    body: { customerIds: ['C-A24'], toPartnerId: 'P-BLUE' },
    customers: { 'C-A24': [] },
    problems: [],
    create: [201],
  },
  {
    name: 'an operator\'s lockOverride lifts the lock',
    who: 'operator',
    body: { customerIds: ['C-A25'], toPartnerId: 'P-CORAL', ticketId: 'SUP-7001', lockOverride: LOCK_OVERRIDE },
    customers: { 'C-A25': [] },
    problems: [],
    create: [201],
  },
  {
    name: 'a partner\'s lockOverride is FORBIDDEN and lifts nothing',
    who: 'P-ACME',
    body: { customerIds: ['C-A26'], toPartnerId: 'P-BLUE', lockOverride: LOCK_OVERRIDE },
    customers: { 'C-A26': ['LOCKED'] },
    problems: ['FORBIDDEN'],
    create: [403, 'FORBIDDEN'],
  },
  {
    name: 'NOT_TRANSFERABLE_BY_CALLER, and nothing more, for a partner that is neither side',
    who: 'P-DUNE',
    body: { customerIds: ['C-A01', 'C-A23'], toPartnerId: 'P-BLUE' },
    customers: { 'C-A01': ['NOT_TRANSFERABLE_BY_CALLER'], 'C-A23': ['NOT_TRANSFERABLE_BY_CALLER'] },
    problems: [],
    create: [403, 'FORBIDDEN'],
  },
  {
    name: 'SAME_PARTNER',
    who: 'P-ACME',
    body: { customerIds: ['C-A27'], toPartnerId: 'P-ACME' },
    customers: { 'C-A27': [] },
    problems: ['SAME_PARTNER'],
    create: [422, 'SAME_PARTNER'],
  },
  {
    name: 'MIXED_PARTNERS, to an operator',
    who: 'operator',
    body: { customerIds: ['C-A28', 'C-B02'], toPartnerId: 'P-CORAL', ticketId: 'SUP-7002' },
    customers: { 'C-A28': [], 'C-B02': [] },
    problems: ['MIXED_PARTNERS'],
    create: [422, 'MIXED_PARTNERS'],
  },
  {
    name: 'MIXED_PARTNERS, to a partner asking for its own customer and another\'s',
    who: 'P-ACME',
    body: { customerIds: ['C-A28', 'C-B02'], toPartnerId: 'P-CORAL' },
    customers: { 'C-A28': [], 'C-B02': ['NOT_TRANSFERABLE_BY_CALLER'] },
    problems: ['MIXED_PARTNERS'],
    // The request itself is refused for the customer the caller may not move, before any finding that would name its owner.
    create: [403, 'FORBIDDEN'],
  },
  {
    name: 'UNKNOWN_PARTNER for the new partner',
    who: 'P-ACME',
    body: { customerIds: ['C-A29'], toPartnerId: 'P-NOPE' },
    customers: { 'C-A29': [] },
    problems: ['UNKNOWN_PARTNER'],
    create: [422, 'UNKNOWN_PARTNER'],
  },
  {
    name: 'UNKNOWN_PARTNER for a current partner gone from the directory',
    who: 'P-BLUE',
    body: { customerIds: ['C-ORPHAN'], toPartnerId: 'P-BLUE' },
    customers: { 'C-ORPHAN': [] },
    problems: ['UNKNOWN_PARTNER'],
    create: [422, 'UNKNOWN_PARTNER'],
  },
  {
    name: 'FORBIDDEN, a release up front by the new partner',
    who: 'P-BLUE',
    body: { customerIds: ['C-A30'], toPartnerId: 'P-BLUE', release: { transferDate: 'immediate', signedBy: 'Dana Lee' } },
    customers: { 'C-A30': [] },
    problems: ['FORBIDDEN'],
    create: [403, 'FORBIDDEN'],
  },
];

/** Bodies POST /transfers refuses with a 400 before looking at any data: the check answers the very same. */
const INVALID: Array<{ name: string; who: Who; body: unknown }> = [
  { name: 'an operator without ticketId', who: 'operator', body: { customerIds: ['C-A31'], toPartnerId: 'P-BLUE' } },
  { name: 'a requested date in the past', who: 'P-ACME', body: { customerIds: ['C-A31'], toPartnerId: 'P-BLUE', requestedDate: daysAfter(todayInNewYork(), -1) } },
  {
    name: 'a requested date other than the release\'s',
    who: 'P-ACME',
    body: { customerIds: ['C-A31'], toPartnerId: 'P-BLUE', requestedDate: daysAfter(todayInNewYork(), 3), release: { transferDate: daysAfter(todayInNewYork(), 4), signedBy: 'Alice Smith' } },
  },
  { name: 'an unknown field', who: 'P-ACME', body: { customerIds: ['C-A31'], toPartnerId: 'P-BLUE', priority: 'high' } },
  { name: 'no customers', who: 'P-ACME', body: { customerIds: [], toPartnerId: 'P-BLUE' } },
];

beforeAll(async () => {
  t = await startTestStack({ seedFile: TEST_DIRECTORY, maxWaitSeconds: 1 });
  db = documentClient(t.stack);
  sfn = sfnClient(t.stack);
  tokens.set('operator', await t.token('operator'));
  for (const partnerId of ['P-ACME', 'P-BLUE', 'P-CORAL', 'P-DUNE'] as const) tokens.set(partnerId, await t.token({ partnerId }));

  // C-A10 moves to P-BLUE at once, and so starts its post-transfer lock. P-BLUE accepts once asked, as a partner would.
  const since = Date.now() / 1000 - 1;
  const moved = await createTransfer(t, tokenOf('P-ACME'), { customerIds: ['C-A10'], toPartnerId: 'P-BLUE', release: { transferDate: 'immediate', signedBy: 'Alice Smith' } });
  await t.client.waitForLink('partners@bluewave.example', since);
  const accepted = await t.client.call('POST', `/transfers/${moved.id}/acceptance`, tokenOf('P-BLUE'), { decision: 'accept', signedBy: 'Bob Jones' });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
  expect((await t.client.waitForStatus(moved.id, tokenOf('P-BLUE'), ['COMPLETED', 'FAILED'], 20_000)).status).toBe('COMPLETED');
  // C-A01 goes from P-ACME to P-DUNE: busy, in a transfer P-BLUE and P-CORAL are not party to.
  busyTransfer = await createTransfer(t, tokenOf('P-ACME'), { customerIds: ['C-A01'], toPartnerId: 'P-DUNE' });
  // Locks ending today and yesterday, and a customer whose partner has left the directory.
  await setLock('C-A23', today);
  await setLock('C-A24', daysAfter(today, -1));
  await setLock('C-A25', today);
  await setLock('C-A26', daysAfter(today, 5));
  await db.send(
    new PutCommand({
      TableName: t.stack.tableName,
      Item: { pk: 'CUSTOMER#C-ORPHAN', sk: 'OWNER', kind: 'ownership', id: 'C-ORPHAN', name: 'Orphaned Customer', partnerId: 'P-GONE', updatedAt: new Date().toISOString() },
    }),
  );
  await settled();
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

describe('POST /transfers/check', () => {
  it('answers each code, in the contract\'s shape, and writes nothing at all', async () => {
    const before = await everything();
    for (const c of CASES) {
      const answer = await check(c.who, c.body);
      expect(answer.status, `${c.name}: ${JSON.stringify(answer.body)}`).toBe(200);
      expect(eligibilityAnswer().safeParse(answer.body).success, `${c.name}: the contract's shape`).toBe(true);
      const body = answer.body as Eligibility;
      expect(Object.fromEntries(body.customers.map((customer) => [customer.id, customer.reasons.map((r) => r.code)])), c.name).toEqual(c.customers);
      expect(body.customers.map((customer) => customer.id), c.name).toEqual(c.body.customerIds);
      expect(body.problems.map((p) => p.code), c.name).toEqual(c.problems);
      const eligible = c.problems.length === 0 && Object.values(c.customers).every((codes) => codes.length === 0);
      expect(body.eligible, c.name).toBe(eligible);
      for (const customer of body.customers) expect(customer.eligible, `${c.name}: ${customer.id}`).toBe(customer.reasons.length === 0);
    }
    for (const invalid of INVALID) {
      const answer = await check(invalid.who, invalid.body);
      expect(answer.status, invalid.name).toBe(400);
      expect((answer.body as ErrorBody).error.code, invalid.name).toBe('INVALID_REQUEST');
    }
    const notJson = await t.client.call('POST', '/transfers/check', tokenOf('P-ACME'), undefined, { 'content-type': 'application/json' });
    expect(notJson.status).toBe(400);
    expect((await t.client.call('POST', '/transfers/check', null, CASES[0]?.body)).status).toBe(401);

    expect(await everything()).toEqual(before);
  });

  it('says what each reason is: the lock\'s last day, the billing advice, and of another transfer only BUSY', async () => {
    const locked = (await check('P-CORAL', { customerIds: ['C-A10'], toPartnerId: 'P-CORAL' })).body as Eligibility;
    const lastLockedDay = daysAfter(today, 29);
    expect(locked.customers).toEqual([
      {
        id: 'C-A10',
        eligible: false,
        reasons: [
          {
            code: 'LOCKED',
            message: `C-A10 was transferred recently and is locked until ${lastLockedDay}; a new request is possible from ${daysAfter(today, 30)}.`,
            until: lastLockedDay,
          },
        ],
      },
    ]);
    expect(((await check('P-ACME', { customerIds: ['C-A23'], toPartnerId: 'P-BLUE' })).body as Eligibility).customers[0]?.reasons).toEqual([
      expect.objectContaining({ code: 'LOCKED', until: today }),
    ]);

    const eligible = (await check('P-ACME', { customerIds: ['C-A20'], toPartnerId: 'P-BLUE' })).body as Eligibility;
    expect(eligible.billing).toMatchObject({ aligned: null, advice: expect.stringContaining('Acme IT Services') });

    // P-BLUE, the new partner named, learns that C-A01 is busy; not in which transfer, nor with whom.
    const busy = await check('P-BLUE', { customerIds: ['C-A01'], toPartnerId: 'P-BLUE' });
    expect((busy.body as Eligibility).customers).toEqual([{ id: 'C-A01', eligible: false, reasons: [{ code: 'BUSY', message: 'C-A01 is already in another active transfer.' }] }]);
    const text = JSON.stringify(busy.body);
    for (const secret of [busyTransfer.id, 'P-DUNE', 'Dune Digital']) expect(text).not.toContain(secret);
    // A partner that is neither side learns nothing of it: not even that it is busy or locked.
    const stranger = JSON.stringify((await check('P-DUNE', { customerIds: ['C-A23'], toPartnerId: 'P-BLUE' })).body);
    for (const secret of ['LOCKED', 'BUSY', 'P-ACME', 'Acme IT Services', today]) expect(stranger).not.toContain(secret);

    // To a partner, MIXED_PARTNERS names no partner; to an operator it does.
    const mixed = (await check('P-ACME', { customerIds: ['C-A28', 'C-B02'], toPartnerId: 'P-CORAL' })).body as Eligibility;
    expect(JSON.stringify(mixed)).not.toContain('P-BLUE');
    const mixedToOperator = (await check('operator', { customerIds: ['C-A28', 'C-B02'], toPartnerId: 'P-CORAL', ticketId: 'SUP-7003' })).body as Eligibility;
    expect(mixedToOperator.problems[0]?.message).toContain('P-ACME, P-BLUE');
  });

  it('agrees with POST /transfers asked the same in the same state', async () => {
    for (const c of CASES) {
      const checked = await check(c.who, c.body);
      expect(checked.status, c.name).toBe(200);
      const answer = checked.body as Eligibility;
      const created = await t.client.call('POST', '/transfers', tokenOf(c.who), c.body);
      if (answer.eligible) {
        expect(created.status, `${c.name}: ${JSON.stringify(created.body)}`).toBe(201);
        expect((created.body as TransferView).billing, c.name).toEqual(answer.billing);
      } else {
        const error = (created.body as ErrorBody).error;
        expect([created.status, error.code], c.name).toEqual(c.create);
        expect(checkCodesFor(error).some((code) => checkCodesOf(answer).includes(code)), `${c.name}: ${error.code} vs ${checkCodesOf(answer).join(', ')}`).toBe(true);
      }
      expect(answer.eligible, c.name).toBe(c.create[0] === 201);
    }
    // The 400s are the very same, status and body.
    for (const invalid of INVALID) {
      const checked = await check(invalid.who, invalid.body);
      const created = await t.client.call('POST', '/transfers', tokenOf(invalid.who), invalid.body);
      expect(created.status, invalid.name).toBe(400);
      expect(checked.body, invalid.name).toEqual(created.body);
    }
  });
});
