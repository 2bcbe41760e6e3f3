import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dateAt } from '../../lambdas/domain/dates.ts';
import { directoryFileSchema, type DirectoryFile } from '../../lambdas/domain/directory.ts';
import { LOCAL_JWT_ALG, loadOrCreateSigningKey, localJwtSettings, signLocalToken, type LocalSigningKey } from '../../local/jwt-keys.ts';
import { LocalClient, type ApiAnswer, type StoredEmail, type TransferView } from '../../local/local-client.ts';
import { AnswerContract } from '../contract/answers.ts';
import { startLocalStack, type LocalStack } from '../../local/stack.ts';
import { TEST_DIRECTORY } from './local-stack.ts';

/**
 * Every portal route against every kind of caller, as one table: the parties of a transfer, a
 * partner with no part in it, an operator with and without a support ticket, and five kinds of
 * token the JWT authorizer must refuse. Each cell that changes state acts on a transfer (or a
 * customer) of its own, and each refused cell is checked to have changed nothing (nor, on the
 * operator-only routes, emailed anyone).
 */

// ---------------------------------------------------------------------------------------------
// The expected matrix

const CALLERS = [
  'current partner',
  'new partner',
  'unrelated partner',
  'operator + ticket',
  'operator, no ticket',
  'no token',
  'expired token',
  'wrong audience',
  'wrong issuer',
  'bad signature',
  'forged claims',
] as const;
type CallerName = (typeof CALLERS)[number];

const ROUTES = [
  'POST /transfers',
  'GET /transfers',
  'GET /transfers/{id}',
  'POST /transfers/{id}/release',
  'POST /transfers/{id}/acceptance',
  'POST /transfers/{id}/cancel',
  'POST /transfers/{id}/remind',
  'POST /transfers/{id}/extend',
  'GET /customers/{id}',
] as const;
type RouteName = (typeof ROUTES)[number];

// Rows are routes, columns the callers in the order of CALLERS. The unrelated partner's request is
// 403, not 404: there is no transfer id to probe, and a partner may file only for its own customers
// or to itself. Every refused token claims the operator role, so that it alone stands in the way.
// Remind and extend are for operators only: the role is checked before the transfer is looked up,
// so every partner gets 403 whether or not it is a party (or the transfer exists), which tells an
// outsider nothing either; partners send a ticket id there, so that their role alone stands in the way.
//                                     current  new  unrel  op+tkt  op  | none  exp  aud  iss  sig  forged
const EXPECTED: Record<RouteName, readonly number[]> = {
  'POST /transfers':                 [201,    201, 403,   201,    400,  401,  401, 401, 401, 401, 401],
  'GET /transfers':                  [200,    200, 200,   200,    200,  401,  401, 401, 401, 401, 401],
  'GET /transfers/{id}':             [200,    200, 404,   200,    200,  401,  401, 401, 401, 401, 401],
  'POST /transfers/{id}/release':    [200,    403, 404,   200,    400,  401,  401, 401, 401, 401, 401],
  'POST /transfers/{id}/acceptance': [403,    200, 404,   200,    400,  401,  401, 401, 401, 401, 401],
  'POST /transfers/{id}/cancel':     [200,    200, 404,   200,    400,  401,  401, 401, 401, 401, 401],
  'POST /transfers/{id}/remind':     [403,    403, 403,   200,    400,  401,  401, 401, 401, 401, 401],
  'POST /transfers/{id}/extend':     [403,    403, 403,   200,    400,  401,  401, 401, 401, 401, 401],
  'GET /customers/{id}':             [200,    404, 404,   200,    200,  401,  401, 401, 401, 401, 401],
};

/** The error code the contract pairs with each refusal. */
const CODE_OF: Readonly<Record<number, string>> = { 400: 'INVALID_REQUEST', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND' };
/** Status of a transfer after each successful action. */
const STATUS_AFTER: Partial<Record<RouteName, string>> = {
  'POST /transfers/{id}/release': 'AWAITING_ACCEPTANCE',
  'POST /transfers/{id}/acceptance': 'SCHEDULED',
  'POST /transfers/{id}/cancel': 'CANCELLED',
  // An operator's reminder or extension leaves the step waiting.
  'POST /transfers/{id}/remind': 'AWAITING_RELEASE',
  'POST /transfers/{id}/extend': 'AWAITING_RELEASE',
};
/** The routes only operators may call. */
const OPERATOR_ROUTES: readonly RouteName[] = ['POST /transfers/{id}/remind', 'POST /transfers/{id}/extend'];
const TICKET = 'SUP-4711';
const DAY_MS = 86_400_000;

function expectedStatus(route: RouteName, caller: CallerName): number {
  const status = EXPECTED[route][CALLERS.indexOf(caller)];
  if (status === undefined) throw new Error(`no expectation for ${route} × ${caller}`);
  return status;
}

// ---------------------------------------------------------------------------------------------
// The stack, started here so that the test holds its state directory (and so its signing key)

const OPERATOR_SUBJECT = 'operator@provider.example';
const today = dateAt(new Date(), 'America/New_York');
const inAWeek = addDays(today, 7);
const UNRELATED = 'P-DUNE';
const NEW_PARTNER = 'P-BLUE';
/** Customers added to the test directory for this matrix, which needs more than its fifty. */
const EXTRA_ACME_CUSTOMERS = 20;
const extraId = (i: number) => `C-A${String(41 + i)}`;
/** Customers handed out one per cell: Acme's forty, then Coral's ten, then Acme's extra twenty; all go to Bluewave. */
const CUSTOMER_POOL: { id: string; owner: string }[] = [
  ...Array.from({ length: 40 }, (_, i) => ({ id: `C-A${String(i + 1).padStart(2, '0')}`, owner: 'P-ACME' })),
  ...Array.from({ length: 10 }, (_, i) => ({ id: `C-C${String(i + 1).padStart(2, '0')}`, owner: 'P-CORAL' })),
  ...Array.from({ length: EXTRA_ACME_CUSTOMERS }, (_, i) => ({ id: extraId(i), owner: 'P-ACME' })),
];
let directory: DirectoryFile;

/** The test directory with Acme's extra customers, written to the state directory for the stack to seed. */
async function writeDirectory(): Promise<string> {
  const base = directoryFileSchema.parse(JSON.parse(await readFile(TEST_DIRECTORY, 'utf8')));
  const extra = Array.from({ length: EXTRA_ACME_CUSTOMERS }, (_, i) => {
    const id = extraId(i);
    const domain = `${id.toLowerCase()}.example`;
    return {
      id,
      name: `Customer ${id.slice(2)}`,
      partnerId: 'P-ACME',
      domains: [domain],
      settings: { spamThreshold: 5, quarantineDays: 30, tlsRequired: false },
      users: [{ email: `admin@${domain}`, settings: { digest: 'daily', language: 'en' } }],
    };
  });
  directory = { partners: base.partners, customers: [...base.customers, ...extra] };
  const file = join(stateDir, 'directory.json');
  await writeFile(file, JSON.stringify(directory));
  return file;
}

function contactsOf(partnerId: string): string[] {
  return directory.partners.find((p) => p.id === partnerId)?.contacts ?? [];
}

let stack: LocalStack;
let stateDir = '';
let otherStateDir = '';
let client: LocalClient;
const partnerTokens = new Map<string, string>();
let operatorToken = '';
const badTokens = new Map<CallerName, string>();

async function partnerToken(partnerId: string): Promise<string> {
  const known = partnerTokens.get(partnerId);
  if (known !== undefined) return known;
  const token = await signLocalToken({ stateDir, partnerId, subject: `someone@${partnerId.toLowerCase()}.example` });
  partnerTokens.set(partnerId, token);
  return token;
}

interface WrongTokenOptions {
  key: LocalSigningKey['privateKey'];
  kid: string;
  issuer: string;
  audience: string;
  issuedAt: number;
  expiresAt: number;
}

/** A token that would make its bearer an operator, were it accepted. */
function operatorClaimsToken(options: WrongTokenOptions): Promise<string> {
  const settings = localJwtSettings();
  return new SignJWT({ [settings.rolesClaim]: ['operator'] })
    .setProtectedHeader({ alg: LOCAL_JWT_ALG, kid: options.kid, typ: 'JWT' })
    .setSubject('mallory@attacker.example')
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt(options.issuedAt)
    .setExpirationTime(options.expiresAt)
    .sign(options.key);
}

/** A genuine partner token whose payload was edited to claim the operator role; the signature is the original one. */
async function forgedToken(): Promise<string> {
  const genuine = await signLocalToken({ stateDir, partnerId: UNRELATED, subject: 'mallory@dune.example' });
  const [header, , signature] = genuine.split('.');
  const settings = localJwtSettings();
  const claims = { ...decodeJwt(genuine), [settings.rolesClaim]: ['operator'] };
  return `${header ?? ''}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature ?? ''}`;
}

async function makeBadTokens(): Promise<void> {
  const settings = localJwtSettings();
  const real = await loadOrCreateSigningKey(stateDir);
  const other = await loadOrCreateSigningKey(otherStateDir);
  const now = Math.floor(Date.now() / 1000);
  const valid = { key: real.privateKey, kid: real.kid, issuer: settings.issuer, audience: settings.audience, issuedAt: now, expiresAt: now + 3600 };
  badTokens.set('expired token', await operatorClaimsToken({ ...valid, issuedAt: now - 7200, expiresAt: now - 60 }));
  badTokens.set('wrong audience', await operatorClaimsToken({ ...valid, audience: 'another-portal' }));
  badTokens.set('wrong issuer', await operatorClaimsToken({ ...valid, issuer: 'https://issuer.attacker.example/' }));
  // Signed with another key, yet naming the stack's key id: only the signature itself can tell.
  badTokens.set('bad signature', await operatorClaimsToken({ ...valid, key: other.privateKey }));
  badTokens.set('forged claims', await forgedToken());
  // The same claims, correctly signed, are accepted: so each refusal above is down to its one fault.
  const control = await operatorClaimsToken(valid);
  const answer = await client.call('GET', '/transfers?limit=1', control);
  expect(answer.status, 'a correctly signed operator token is accepted').toBe(200);
}

// ---------------------------------------------------------------------------------------------
// Fixtures: one transfer to read, and a fresh transfer or customer per cell that acts

interface Target {
  customerId: string;
  from: string;
  to: string;
  transferId: string | null;
}

let poolIndex = 0;
function nextCustomer(): { id: string; owner: string } {
  const customer = CUSTOMER_POOL[poolIndex++];
  if (!customer) throw new Error('The customer pool is used up');
  return customer;
}

async function createTransfer(upFrontRelease: boolean): Promise<Target> {
  const customer = nextCustomer();
  const body = {
    customerIds: [customer.id],
    toPartnerId: NEW_PARTNER,
    ...(upFrontRelease ? { release: { transferDate: 'immediate', signedBy: 'Alice Smith' } } : {}),
  };
  const answer = await client.call('POST', '/transfers', await partnerToken(customer.owner), body);
  if (answer.status !== 201) throw new Error(`set-up request answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return { customerId: customer.id, from: customer.owner, to: NEW_PARTNER, transferId: (answer.body as TransferView).id };
}

async function operatorView(id: string): Promise<TransferView> {
  const answer = await client.call('GET', `/transfers/${id}`, operatorToken);
  if (answer.status !== 200) throw new Error(`GET /transfers/${id} answered ${answer.status}`);
  return answer.body as TransferView;
}

/** Waits until the workflow of a set-up transfer has asked for its step, after which nothing writes to it until a decision. */
async function waitForApprovalRequest(target: Target): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (target.transferId === null) return;
    const view = await operatorView(target.transferId);
    if (view.history.some((e) => e.type === 'APPROVAL_REQUESTED')) return;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`The workflow of ${target.transferId ?? '?'} did not ask for its step within 20 s`);
}

const ACTION_ROUTES = [
  'POST /transfers/{id}/release',
  'POST /transfers/{id}/acceptance',
  'POST /transfers/{id}/cancel',
  'POST /transfers/{id}/remind',
  'POST /transfers/{id}/extend',
] as const;
let readFixture: Target;
const targets = new Map<string, Target>();
const cellKey = (route: RouteName, caller: CallerName) => `${route} × ${caller}`;

async function createFixtures(): Promise<void> {
  readFixture = await createTransfer(false);
  const plan: { key: string; upFront: boolean }[] = [];
  for (const route of ACTION_ROUTES) {
    for (const caller of CALLERS) plan.push({ key: cellKey(route, caller), upFront: route === 'POST /transfers/{id}/acceptance' });
  }
  for (const caller of CALLERS) {
    const customer = nextCustomer();
    targets.set(cellKey('POST /transfers', caller), { customerId: customer.id, from: customer.owner, to: NEW_PARTNER, transferId: null });
  }
  // Requests in small batches; customers are handed out in order before each batch starts.
  for (let i = 0; i < plan.length; i += 12) {
    const batch = plan.slice(i, i + 12);
    const created = await Promise.all(batch.map(({ upFront }) => createTransfer(upFront)));
    batch.forEach(({ key }, index) => {
      const target = created[index];
      if (target) targets.set(key, target);
    });
  }
  await Promise.all([readFixture, ...targets.values()].map(waitForApprovalRequest));
}

const contract = new AnswerContract();

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'transfer-e2e-authz-'));
  otherStateDir = await mkdtemp(join(tmpdir(), 'transfer-e2e-authz-other-'));
  stack = await startLocalStack({
    stateDir,
    ports: { dynamodb: 0, ses: 0, sfn: 0, api: 0, events: 0 },
    // Every answer is checked against the OpenAPI document, as startTestStack does.
    onAnswer: (answer) => contract.check(answer),
    maxWaitSeconds: 1,
    maxRetryIntervalMs: 200,
    seedFile: await writeDirectory(),
    env: { POWERTOOLS_LOG_LEVEL: 'WARN' },
  });
  client = new LocalClient(stack.urls.api, stack.urls.ses);
  operatorToken = await signLocalToken({ stateDir, operator: true, subject: OPERATOR_SUBJECT });
  await makeBadTokens();
  await createFixtures();
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  for (const dir of [stateDir, otherStateDir]) if (dir) await rm(dir, { recursive: true, force: true });
  const failure = contract.failure();
  if (failure !== undefined) throw new Error(failure);
});

// ---------------------------------------------------------------------------------------------
// One cell

interface Request {
  method: 'GET' | 'POST';
  path: string;
  body?: Record<string, unknown>;
}

const RELEASE = { decision: 'release', transferDate: inAWeek, signedBy: 'Alice Smith' };
const ACCEPT = { decision: 'accept', signedBy: 'Dana Lee' };
const CANCEL = { reason: 'No longer needed' };

/** The caller's token; the refused kinds carry operator claims, so that only the token's fault stands in the way. */
async function tokenOf(caller: CallerName, target: Target): Promise<string | null> {
  switch (caller) {
    case 'current partner':
      return partnerToken(target.from);
    case 'new partner':
      return partnerToken(target.to);
    case 'unrelated partner':
      return partnerToken(UNRELATED);
    case 'operator + ticket':
    case 'operator, no ticket':
      return operatorToken;
    case 'no token':
      return null;
    default: {
      const token = badTokens.get(caller);
      if (token === undefined) throw new Error(`no token for ${caller}`);
      return token;
    }
  }
}

/**
 * Bodies carry a ticket id for the operator with a ticket and for every refused token (which claims to
 * be an operator); on the operator-only routes, partners carry one too.
 */
function withTicket(caller: CallerName, body: Record<string, unknown>, partnersToo = false): Record<string, unknown> {
  const partner = ['current partner', 'new partner', 'unrelated partner'].includes(caller);
  return caller === 'operator, no ticket' || (partner && !partnersToo) ? body : { ...body, ticketId: TICKET };
}

function targetOf(route: RouteName, caller: CallerName): Target {
  if (route === 'GET /transfers' || route === 'GET /transfers/{id}' || route === 'GET /customers/{id}') return readFixture;
  const target = targets.get(cellKey(route, caller));
  if (!target) throw new Error(`no target for ${cellKey(route, caller)}`);
  return target;
}

function requestOf(route: RouteName, caller: CallerName, target: Target): Request {
  const id = target.transferId ?? '';
  switch (route) {
    case 'POST /transfers':
      return { method: 'POST', path: '/transfers', body: withTicket(caller, { customerIds: [target.customerId], toPartnerId: target.to }) };
    case 'GET /transfers':
      return { method: 'GET', path: '/transfers?limit=100' };
    case 'GET /transfers/{id}':
      return { method: 'GET', path: `/transfers/${id}` };
    case 'POST /transfers/{id}/release':
      return { method: 'POST', path: `/transfers/${id}/release`, body: withTicket(caller, RELEASE) };
    case 'POST /transfers/{id}/acceptance':
      return { method: 'POST', path: `/transfers/${id}/acceptance`, body: withTicket(caller, ACCEPT) };
    case 'POST /transfers/{id}/cancel':
      return { method: 'POST', path: `/transfers/${id}/cancel`, body: withTicket(caller, CANCEL) };
    case 'POST /transfers/{id}/remind':
      return { method: 'POST', path: `/transfers/${id}/remind`, body: withTicket(caller, {}, true) };
    case 'POST /transfers/{id}/extend':
      return { method: 'POST', path: `/transfers/${id}/extend`, body: withTicket(caller, { days: 1 }, true) };
    case 'GET /customers/{id}':
      return { method: 'GET', path: `/customers/${target.customerId}` };
  }
}

interface CellResult {
  route: RouteName;
  caller: CallerName;
  expected: number;
  actual: number;
  problems: string[];
}

function visibleTo(caller: CallerName, target: Target): string | null {
  if (caller === 'current partner') return target.from;
  if (caller === 'new partner') return target.to;
  if (caller === 'unrelated partner') return UNRELATED;
  return null;
}

const LINK = /https?:\/\/[^\s"'<>]+\/approvals\/[A-Za-z0-9_-]+/;
const linkIn = (email: StoredEmail | undefined): string | undefined => LINK.exec(email?.body.text ?? '')?.[0];

/** Emails about one transfer whose subject starts with the given words. */
async function emailsAbout(transferId: string, subjectStart: string): Promise<StoredEmail[]> {
  return (await client.emails(0)).filter((e) => e.subject.startsWith(subjectStart) && e.subject.includes(transferId));
}

/** The one event of a type in a transfer's history, recorded by the operator for the ticket, or what is wrong with it. */
function operatorEvent(history: TransferView['history'], type: string, problems: string[]): TransferView['history'][number] | undefined {
  const events = history.filter((e) => e.type === type);
  if (events.length !== 1) {
    problems.push(`${events.length} ${type} events, not 1`);
    return undefined;
  }
  const [event] = events;
  if (event?.actor.kind !== 'operator' || event.actor.name !== OPERATOR_SUBJECT) problems.push(`${type} not by the operator`);
  if (event?.detail.ticketId !== TICKET || event.detail.step !== 'release') problems.push(`${type} without the ticket or step`);
  return event;
}

/** An operator's reminder: recorded, and the current partner emailed the very link of its request. */
async function reminderProblems(target: Target, history: TransferView['history']): Promise<string[]> {
  const problems: string[] = [];
  const event = operatorEvent(history, 'REMINDER_SENT', problems);
  if (event && event.detail.partnerId !== target.from) problems.push('reminder recorded for another partner');
  const id = target.transferId ?? '';
  const [request] = await emailsAbout(id, 'Release needed');
  const reminders = await emailsAbout(id, 'Reminder: Release needed');
  if (reminders.length !== 1) problems.push(`${reminders.length} reminder emails, not 1`);
  const [reminder] = reminders;
  if (linkIn(request) === undefined || linkIn(reminder) !== linkIn(request)) problems.push('the reminder does not carry the link of the request');
  if ([...(reminder?.destination.to ?? [])].sort().join() !== [...contactsOf(target.from)].sort().join()) problems.push('reminder emailed to others');
  return problems;
}

/** An operator's extension: recorded from the step's deadline to one day later. */
function extensionProblems(history: TransferView['history']): string[] {
  const problems: string[] = [];
  const requested = history.find((e) => e.type === 'APPROVAL_REQUESTED' && e.detail.step === 'release');
  const from = String(requested?.detail.expiresAt);
  const event = operatorEvent(history, 'WINDOW_EXTENDED', problems);
  const to = new Date(Date.parse(from) + DAY_MS).toISOString();
  if (event && (event.detail.from !== from || event.detail.to !== to || event.detail.days !== 1)) {
    problems.push(`extended ${String(event.detail.from)} → ${String(event.detail.to)}, not ${from} → ${to}`);
  }
  return problems;
}

/** What a successful answer must hold, beyond its status. */
async function successProblems(route: RouteName, caller: CallerName, target: Target, answer: ApiAnswer): Promise<string[]> {
  const problems: string[] = [];
  const body = answer.body as Record<string, unknown> & Partial<TransferView>;
  switch (route) {
    case 'POST /transfers': {
      if (answer.headers.get('location') !== `/transfers/${String(body.id)}`) problems.push('no Location of the new transfer');
      const customers = (body.customers ?? []) as { id: string }[];
      if (customers.map((c) => c.id).join() !== target.customerId) problems.push('another customer in the request');
      break;
    }
    case 'GET /transfers': {
      const items = ((body as { items?: { id: string; fromPartner: { id: string }; toPartner: { id: string } }[] }).items ?? []);
      const partner = visibleTo(caller, target);
      if (partner !== null && items.some((item) => item.fromPartner.id !== partner && item.toPartner.id !== partner)) {
        problems.push('lists a transfer of others');
      }
      const listed = items.some((item) => item.id === target.transferId);
      if (listed !== (caller !== 'unrelated partner')) problems.push(listed ? 'lists the transfer to an outsider' : 'misses a transfer of its own');
      break;
    }
    case 'GET /transfers/{id}':
      if (body.id !== target.transferId) problems.push('another transfer');
      if (!Array.isArray(body.history)) problems.push('no history');
      break;
    case 'GET /customers/{id}':
      if (body.id !== target.customerId || body.partnerId !== target.from) problems.push('another customer or owner');
      break;
    default: {
      const after = STATUS_AFTER[route];
      if (body.id !== target.transferId || body.status !== after) problems.push(`answered ${String(body.status)}, not ${String(after)}`);
      if (route === 'POST /transfers/{id}/remind') problems.push(...(await reminderProblems(target, body.history ?? [])));
      if (route === 'POST /transfers/{id}/extend') problems.push(...extensionProblems(body.history ?? []));
    }
  }
  return problems;
}

function errorProblems(expected: number, answer: ApiAnswer): string[] {
  const problems: string[] = [];
  const error = (answer.body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (error?.code !== CODE_OF[expected]) problems.push(`code ${String(error?.code)}, not ${CODE_OF[expected] ?? '?'}`);
  if (typeof error?.message !== 'string' || error.message.length < 10) problems.push('no readable message');
  if (expected === 401 && answer.headers.get('www-authenticate') !== 'Bearer') problems.push('no WWW-Authenticate: Bearer');
  if (expected === 400 && !/ticketId/.test(String(error?.message))) problems.push('message does not name ticketId');
  return problems;
}

async function runCell(route: RouteName, caller: CallerName): Promise<CellResult> {
  const expected = expectedStatus(route, caller);
  const target = targetOf(route, caller);
  const request = requestOf(route, caller, target);
  const before = target.transferId !== null && route !== 'POST /transfers' ? await operatorView(target.transferId) : null;
  const answer = await client.call(request.method, request.path, await tokenOf(caller, target), request.body);
  const problems = answer.status === expected
    ? expected < 300 ? await successProblems(route, caller, target, answer) : errorProblems(expected, answer)
    : [`body ${JSON.stringify(answer.body).slice(0, 200)}`];
  // A refused call writes nothing: the transfer it aimed at is as it was.
  if (before && expected >= 300) {
    const after = await operatorView(before.id);
    if (after.status !== before.status || after.history.length !== before.history.length || after.updatedAt !== before.updatedAt) {
      problems.push(`changed the transfer: ${before.status} → ${after.status}, ${before.history.length} → ${after.history.length} events`);
    }
    // Nor did a refused reminder reach the partner.
    if (OPERATOR_ROUTES.includes(route) && (await emailsAbout(before.id, 'Reminder:')).length > 0) problems.push('emailed a reminder');
  }
  return { route, caller, expected, actual: answer.status, problems };
}

function printMatrix(results: CellResult[]): string {
  const shortName: Record<CallerName, string> = {
    'current partner': 'current',
    'new partner': 'new',
    'unrelated partner': 'unrelated',
    'operator + ticket': 'op+ticket',
    'operator, no ticket': 'op',
    'no token': 'none',
    'expired token': 'expired',
    'wrong audience': 'aud',
    'wrong issuer': 'iss',
    'bad signature': 'sig',
    'forged claims': 'forged',
  };
  const header = `${'route'.padEnd(34)}${CALLERS.map((c) => shortName[c].padStart(10)).join('')}`;
  const lines = ROUTES.map((route) => {
    const cells = CALLERS.map((caller) => {
      const result = results.find((r) => r.route === route && r.caller === caller);
      if (!result) return '?'.padStart(10);
      const ok = result.actual === result.expected && result.problems.length === 0;
      return (ok ? `${result.actual} ✓` : `${result.actual}≠${result.expected}✗`).padStart(10);
    });
    return `${route.padEnd(34)}${cells.join('')}`;
  });
  return [header, '-'.repeat(header.length), ...lines].join('\n');
}

// ---------------------------------------------------------------------------------------------

describe('who may call which route', () => {
  it('answers every route for every caller as the expected matrix says, and a refused call changes nothing', async () => {
    expect(Object.values(EXPECTED).every((row) => row.length === CALLERS.length)).toBe(true);
    const results: CellResult[] = [];
    for (const route of ROUTES) {
      for (const caller of CALLERS) results.push(await runCell(route, caller));
    }
    console.log(`Authorization matrix (status ✓ as expected, actual≠expected ✗):\n${printMatrix(results)}`);

    // Requests refused by the authorizer, or by the rules, filed nothing: no transfer names their customers.
    const refusedCustomers = CALLERS.filter((caller) => expectedStatus('POST /transfers', caller) >= 300).map(
      (caller) => targetOf('POST /transfers', caller).customerId,
    );
    const all = await client.call('GET', '/transfers?limit=100', operatorToken);
    expect(all.status).toBe(200);
    const items = (all.body as { items: { customers: { id: string }[] }[]; nextToken?: string }).items;
    expect((all.body as { nextToken?: string }).nextToken, 'every transfer on one page').toBeUndefined();
    expect(items.flatMap((item) => item.customers.map((c) => c.id)).filter((id) => refusedCustomers.includes(id))).toEqual([]);
    // Set-up transfers, plus the three the matrix filed.
    expect(items).toHaveLength(1 + ACTION_ROUTES.length * CALLERS.length + 3);

    const failures = results
      .filter((r) => r.actual !== r.expected || r.problems.length > 0)
      .map((r) => `${r.route} × ${r.caller}: ${r.actual} (expected ${r.expected}) ${r.problems.join('; ')}`);
    expect(failures).toEqual([]);
    expect(results).toHaveLength(ROUTES.length * CALLERS.length);
  });
});
