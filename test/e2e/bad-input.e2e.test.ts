import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dateAt } from '../../lambdas/domain/dates.ts';
import type { ApiAnswer, TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { documentClient, emailIds, executionStates, scanTable, sfnClient, withoutRelayMarks } from './support.ts';

/**
 * Bad input on every JSON route answers the contract's error, in words a person understands, and
 * writes nothing: not an item, not an email, not an execution.
 */

type Who = 'P-ACME' | 'P-BLUE' | 'P-CORAL' | 'P-DUNE' | 'operator';

interface Row {
  name: string;
  who: Who;
  method: 'GET' | 'POST';
  /** `{REL}`, `{ACC}` and `{CAN}` stand for the transfers waiting for release, for acceptance, and cancelled. */
  path: string;
  /** Sent as is; absent on GET. */
  body?: string;
  headers?: Record<string, string>;
  status: number;
  code: string;
  /** What the message must mention, so the person knows what to fix. */
  mentions?: RegExp;
}

const today = dateAt(new Date(), 'America/New_York');
const yesterday = addDays(today, -1);
const tooFar = addDays(today, 181);
const inAWeek = addDays(today, 7);
const j = (value: unknown): string => JSON.stringify(value);

let t: TestStack;
let db: DynamoDBDocumentClient;
let sfn: SFNClient;
const tokens = new Map<Who, string>();
const ids = { REL: '', ACC: '', CAN: '' };

function tokenOf(who: Who): string {
  const token = tokens.get(who);
  if (token === undefined) throw new Error(`no token for ${who}`);
  return token;
}

function resolvePath(path: string): string {
  return path.replace(/\{(REL|ACC|CAN)\}/g, (_, name: keyof typeof ids) => ids[name]);
}

async function everything(): Promise<{ table: Record<string, unknown>[]; emails: string[]; executions: string[] }> {
  return { table: withoutRelayMarks(await scanTable(db, t.stack.tableName)), emails: await emailIds(t), executions: await executionStates(sfn, t.stack.stateMachineArn) };
}

/** Waits until the workflows of the set-up transfers have done all they do before a decision. */
async function settled(): Promise<void> {
  let last = '';
  let stableSince = Date.now();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const now = JSON.stringify(await everything());
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 1_000) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('The set-up transfers did not settle within 20 s');
}

async function create(who: Who, body: Record<string, unknown>, status: string): Promise<string> {
  const answer = await t.client.call('POST', '/transfers', tokenOf(who), body);
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  expect((answer.body as TransferView).status).toBe(status);
  return (answer.body as TransferView).id;
}

beforeAll(async () => {
  t = await startTestStack({ seedFile: TEST_DIRECTORY });
  db = documentClient(t.stack);
  sfn = sfnClient(t.stack);
  tokens.set('operator', await t.token('operator'));
  for (const partnerId of ['P-ACME', 'P-BLUE', 'P-CORAL', 'P-DUNE'] as const) tokens.set(partnerId, await t.token({ partnerId }));

  const since = Date.now() / 1000 - 1;
  ids.CAN = await create('P-ACME', { customerIds: ['C-A03'], toPartnerId: 'P-BLUE' }, 'AWAITING_RELEASE');
  await t.client.waitForLink('billing@acme-it.example', since);
  const cancelled = await t.client.call('POST', `/transfers/${ids.CAN}/cancel`, tokenOf('P-ACME'), { reason: 'Set up as cancelled' });
  expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
  ids.REL = await create('P-BLUE', { customerIds: ['C-A01'], toPartnerId: 'P-BLUE' }, 'AWAITING_RELEASE');
  await t.client.waitForLink('billing@acme-it.example', since);
  ids.ACC = await create('P-ACME', { customerIds: ['C-A02'], toPartnerId: 'P-CORAL', release: { transferDate: 'immediate', signedBy: 'Alice Smith' } }, 'AWAITING_ACCEPTANCE');
  await t.client.waitForLink('admin@coralcloud.example', since);
  await settled();
}, 60_000);

afterAll(async () => {
  db?.destroy();
  sfn?.destroy();
  await t?.stop();
});

// ---------------------------------------------------------------------------------------------
// The table. Every row would succeed but for the one thing it gets wrong.

const REQUEST = { customerIds: ['C-A10'], toPartnerId: 'P-BLUE' };
const RELEASE = { decision: 'release', transferDate: inAWeek, signedBy: 'Alice Smith' };
const ACCEPT = { decision: 'accept', signedBy: 'Carl Reef' };
const CANCEL = { reason: 'No longer needed' };
const badBodies = (path: string, who: Who): Row[] => [
  { name: 'malformed JSON', who, method: 'POST', path, body: '{"decision": "release",', status: 400, code: 'INVALID_REQUEST', mentions: /not valid JSON/ },
  { name: 'JSON with single quotes', who, method: 'POST', path, body: "{'reason': 'x'}", status: 400, code: 'INVALID_REQUEST', mentions: /not valid JSON/ },
  { name: 'an empty body', who, method: 'POST', path, body: '', status: 400, code: 'INVALID_REQUEST', mentions: /JSON body/ },
  { name: 'a blank body', who, method: 'POST', path, body: ' \n\t ', status: 400, code: 'INVALID_REQUEST', mentions: /JSON body/ },
  { name: 'a JSON array', who, method: 'POST', path, body: '[{"reason": "No longer needed"}]', status: 400, code: 'INVALID_REQUEST' },
  { name: 'a JSON string', who, method: 'POST', path, body: '"release"', status: 400, code: 'INVALID_REQUEST' },
  { name: 'JSON null', who, method: 'POST', path, body: 'null', status: 400, code: 'INVALID_REQUEST' },
  { name: 'a JSON number', who, method: 'POST', path, body: '42', status: 400, code: 'INVALID_REQUEST' },
];
const withRequest = (name: string, change: Record<string, unknown>, mentions: RegExp, who: Who = 'P-ACME'): Row => ({
  name,
  who,
  method: 'POST',
  path: '/transfers',
  body: j({ ...REQUEST, ...change }),
  status: 400,
  code: 'INVALID_REQUEST',
  mentions,
});
const withRelease = (name: string, body: Record<string, unknown>, mentions: RegExp): Row => ({
  name,
  who: 'P-ACME',
  method: 'POST',
  path: '/transfers/{REL}/release',
  body: j(body),
  status: 400,
  code: 'INVALID_REQUEST',
  mentions,
});
const withAcceptance = (name: string, body: Record<string, unknown>, mentions: RegExp): Row => ({
  name,
  who: 'P-CORAL',
  method: 'POST',
  path: '/transfers/{ACC}/acceptance',
  body: j(body),
  status: 400,
  code: 'INVALID_REQUEST',
  mentions,
});
const withCancel = (name: string, body: Record<string, unknown>, mentions: RegExp): Row => ({
  name,
  who: 'P-ACME',
  method: 'POST',
  path: '/transfers/{REL}/cancel',
  body: j(body),
  status: 400,
  code: 'INVALID_REQUEST',
  mentions,
});

const IMPOSSIBLE_DATES = ['2026-02-30', '2027-02-29', '2026-11-31', '2026-13-01', '2026-00-10', '2026-12-00'];
const BAD_DATE_FORMATS = ['2026/12/01', '01-12-2026', '2026-12-1', '20261201', 'tomorrow', `${inAWeek}T00:00:00Z`, ` ${inAWeek}`, '', 'Immediate', 'now'];
const BAD_SIGNERS: [string, string][] = [
  ['a line feed', 'Alice\nSmith'],
  ['a carriage return', 'Alice\r\nSmith'],
  ['a NUL', 'Alice\u0000Smith'],
  ['a tab', 'Alice\tSmith'],
  ['an ANSI escape', '\u001b[31mAlice Smith'],
  ['a DEL', 'Alice Smith\u007f'],
  ['a C1 next-line control', 'Alice\u0085Smith'],
  ['a Unicode line separator', 'Alice\u2028Smith'],
  ['a Unicode paragraph separator', 'Alice\u2029Smith'],
];
const fiftyOne = [
  ...Array.from({ length: 40 }, (_, i) => `C-A${String(i + 1).padStart(2, '0')}`),
  ...Array.from({ length: 10 }, (_, i) => `C-B${String(i + 1).padStart(2, '0')}`),
  'C-C01',
];

const CREATE_ROWS: Row[] = [
  ...badBodies('/transfers', 'P-ACME'),
  withRequest('an empty object', { customerIds: undefined, toPartnerId: undefined }, /customerIds: is required; toPartnerId: is required/),
  withRequest('customerIds as a string', { customerIds: 'C-A10' }, /customerIds/),
  withRequest('customerIds of numbers', { customerIds: [10] }, /customerIds\.0/),
  withRequest('toPartnerId as a number', { toPartnerId: 5 }, /toPartnerId/),
  withRequest('toPartnerId null', { toPartnerId: null }, /toPartnerId/),
  withRequest('note as a number', { note: 5 }, /note/),
  withRequest('release as a string', { release: 'yes' }, /release/),
  withRequest('release without its signer', { release: { transferDate: 'immediate' } }, /release\.signedBy: is required/),
  withRequest('requestedDate null', { requestedDate: null }, /requestedDate/),
  withRequest('an unknown field', { priority: 'high' }, /unknown field: priority/),
  withRequest('two unknown fields', { priority: 'high', fromPartnerId: 'P-ACME' }, /unknown fields: priority, fromPartnerId/),
  withRequest('an unknown field in the release', { release: { transferDate: 'immediate', signedBy: 'Alice Smith', witness: 'Bob' } }, /release: unknown field: witness/),
  {
    name: 'a __proto__ field',
    who: 'P-ACME',
    method: 'POST',
    path: '/transfers',
    body: '{"customerIds":["C-A10"],"toPartnerId":"P-BLUE","__proto__":{"status":"COMPLETED"}}',
    status: 400,
    code: 'INVALID_REQUEST',
    mentions: /unknown field: __proto__/,
  },
  withRequest('a requested date in the past', { requestedDate: yesterday }, new RegExp(`requestedDate ${yesterday} is in the past`)),
  withRequest('a requested date more than 180 days ahead', { requestedDate: tooFar }, /requestedDate .* more than 180 days ahead/),
  withRequest('a release date in the past', { release: { transferDate: yesterday, signedBy: 'Alice Smith' } }, /release\.transferDate .* in the past/),
  withRequest('a release date more than 180 days ahead', { release: { transferDate: tooFar, signedBy: 'Alice Smith' } }, /release\.transferDate .* 180 days/),
  ...IMPOSSIBLE_DATES.map((date) => withRequest(`the impossible date ${date}`, { requestedDate: date }, /requestedDate.*YYYY-MM-DD/)),
  ...BAD_DATE_FORMATS.map((date) => withRequest(`the date format "${date}"`, { requestedDate: date }, /requestedDate.*YYYY-MM-DD/)),
  withRequest('a date as a number', { requestedDate: 20261201 }, /requestedDate/),
  withRequest('an impossible release date', { release: { transferDate: '2027-02-29', signedBy: 'Alice Smith' } }, /release\.transferDate.*YYYY-MM-DD/),
  withRequest(
    'a requested date other than the release date',
    { requestedDate: addDays(today, 3), release: { transferDate: inAWeek, signedBy: 'Alice Smith' } },
    /requestedDate and release\.transferDate differ/,
  ),
  withRequest('no customers', { customerIds: [] }, /customerIds: must name at least one customer/),
  withRequest('a customer twice', { customerIds: ['C-A10', 'C-A11', 'C-A10'] }, /customerIds: must not name a customer twice/),
  withRequest('51 customers', { customerIds: fiftyOne }, /customerIds: may name at most 50 customers/),
  withRequest('an empty customer id', { customerIds: [''] }, /customerIds\.0: must not be empty/),
  withRequest('a customer id with a space', { customerIds: ['C A10'] }, /customerIds\.0/),
  withRequest('a customer id of 65 characters', { customerIds: ['C'.repeat(65)] }, /customerIds\.0: must be at most 64 characters/),
  withRequest('a note over 1000 characters', { note: 'n'.repeat(1001) }, /note: must be at most 1000 characters/),
  withRequest('a signer over 120 characters', { release: { transferDate: 'immediate', signedBy: 'A'.repeat(121) } }, /release\.signedBy: must be at most 120 characters/),
  withRequest('a one-letter signer', { release: { transferDate: 'immediate', signedBy: 'A' } }, /release\.signedBy: must be the full name/),
  withRequest('a blank signer', { release: { transferDate: 'immediate', signedBy: '   ' } }, /release\.signedBy/),
  ...BAD_SIGNERS.map(([what, signedBy]) =>
    withRequest(`a signer with ${what}`, { release: { transferDate: 'immediate', signedBy } }, /release\.signedBy: must be a single line of text/),
  ),
  withRequest('a ticket id with a line break', { ticketId: 'SUP-1\nSUP-2' }, /ticketId: must be a single line/, 'operator'),
  withRequest('an operator without ticketId', {}, /ticketId is required/, 'operator'),
  withRequest('an operator with an empty ticketId', { ticketId: '' }, /ticketId: must not be empty/, 'operator'),
  {
    name: 'an unusable Idempotency-Key header',
    who: 'P-ACME',
    method: 'POST',
    path: '/transfers',
    body: j(REQUEST),
    headers: { 'Idempotency-Key': 'k'.repeat(129) },
    status: 400,
    code: 'INVALID_REQUEST',
    mentions: /Idempotency-Key/,
  },
  { ...withRequest('a past date with an Idempotency-Key', { requestedDate: yesterday }, /in the past/), headers: { 'Idempotency-Key': 'bad-input-1' } },
  { name: 'an unknown customer', who: 'P-ACME', method: 'POST', path: '/transfers', body: j({ ...REQUEST, customerIds: ['C-ZZZ'] }), status: 422, code: 'UNKNOWN_CUSTOMER', mentions: /Unknown customer: C-ZZZ/ },
  {
    name: 'a known and two unknown customers',
    who: 'P-BLUE',
    method: 'POST',
    path: '/transfers',
    body: j({ ...REQUEST, customerIds: ['C-A10', 'C-NOPE', 'C-GONE'] }),
    status: 422,
    code: 'UNKNOWN_CUSTOMER',
    mentions: /Unknown customers: C-NOPE, C-GONE/,
  },
  {
    name: 'an unknown customer with an Idempotency-Key',
    who: 'P-ACME',
    method: 'POST',
    path: '/transfers',
    body: j({ ...REQUEST, customerIds: ['C-ZZZ'] }),
    headers: { 'Idempotency-Key': 'bad-input-2' },
    status: 422,
    code: 'UNKNOWN_CUSTOMER',
    mentions: /C-ZZZ/,
  },
  { name: 'the same partner on both sides', who: 'P-ACME', method: 'POST', path: '/transfers', body: j({ ...REQUEST, toPartnerId: 'P-ACME' }), status: 422, code: 'SAME_PARTNER', mentions: /already belong to P-ACME/ },
  {
    name: 'customers of different partners',
    who: 'operator',
    method: 'POST',
    path: '/transfers',
    body: j({ customerIds: ['C-A10', 'C-B05'], toPartnerId: 'P-CORAL', ticketId: 'SUP-9' }),
    status: 422,
    code: 'MIXED_PARTNERS',
    mentions: /same partner/,
  },
  { name: 'an unknown new partner', who: 'P-ACME', method: 'POST', path: '/transfers', body: j({ ...REQUEST, toPartnerId: 'P-NOPE' }), status: 422, code: 'UNKNOWN_PARTNER', mentions: /P-NOPE/ },
  {
    name: 'a release up front by the new partner',
    who: 'P-BLUE',
    method: 'POST',
    path: '/transfers',
    body: j({ ...REQUEST, release: { transferDate: 'immediate', signedBy: 'Dana Lee' } }),
    status: 403,
    code: 'FORBIDDEN',
    mentions: /Only the current partner/,
  },
  { name: 'a request by an unrelated partner', who: 'P-DUNE', method: 'POST', path: '/transfers', body: j(REQUEST), status: 403, code: 'FORBIDDEN', mentions: /own customers/ },
  { name: 'a lock override by a partner', who: 'P-ACME', method: 'POST', path: '/transfers', body: j({ ...REQUEST, lockOverride: { reason: 'Customer insists' } }), status: 403, code: 'FORBIDDEN', mentions: /operator/ },
  { name: 'a customer already in another transfer', who: 'P-ACME', method: 'POST', path: '/transfers', body: j({ ...REQUEST, customerIds: ['C-A10', 'C-A01'] }), status: 409, code: 'CUSTOMER_BUSY', mentions: /C-A01 is already in another active transfer/ },
];

const RELEASE_ROWS: Row[] = [
  ...badBodies('/transfers/{REL}/release', 'P-ACME'),
  withRelease('an empty object', {}, /decision must be "release" or "decline"/),
  withRelease('accept, which is no release decision', { decision: 'accept', signedBy: 'Alice Smith' }, /decision must be "release" or "decline"/),
  withRelease('an upper-case decision', { ...RELEASE, decision: 'RELEASE' }, /decision must be "release" or "decline"/),
  withRelease('a release without a date', { decision: 'release', signedBy: 'Alice Smith' }, /transferDate: must be a date written YYYY-MM-DD or "immediate"/),
  withRelease('a release without a signer', { decision: 'release', transferDate: inAWeek }, /signedBy: is required/),
  withRelease('a date in the past', { ...RELEASE, transferDate: yesterday }, new RegExp(`transferDate ${yesterday} is in the past`)),
  withRelease('a date more than 180 days ahead', { ...RELEASE, transferDate: tooFar }, /more than 180 days ahead/),
  ...IMPOSSIBLE_DATES.map((date) => withRelease(`the impossible date ${date}`, { ...RELEASE, transferDate: date }, /transferDate.*YYYY-MM-DD/)),
  ...BAD_DATE_FORMATS.map((date) => withRelease(`the date format "${date}"`, { ...RELEASE, transferDate: date }, /transferDate.*YYYY-MM-DD/)),
  withRelease('a date as a boolean', { ...RELEASE, transferDate: true }, /transferDate/),
  withRelease('a signer as a number', { ...RELEASE, signedBy: 42 }, /signedBy/),
  withRelease('an unknown field', { ...RELEASE, comment: 'fine' }, /unknown field: comment/),
  withRelease('a decline without a reason', { decision: 'decline', signedBy: 'Alice Smith' }, /reason: is required/),
  withRelease('a decline with a two-letter reason', { decision: 'decline', signedBy: 'Alice Smith', reason: 'no' }, /reason: must say why/),
  withRelease('a decline with a reason over 1000 characters', { decision: 'decline', signedBy: 'Alice Smith', reason: 'r'.repeat(1001) }, /reason: must be at most 1000 characters/),
  withRelease('a decline with a date', { decision: 'decline', signedBy: 'Alice Smith', reason: 'Not now', transferDate: inAWeek }, /unknown field: transferDate/),
  withRelease('a signer over 120 characters', { ...RELEASE, signedBy: 'A'.repeat(121) }, /signedBy: must be at most 120 characters/),
  ...BAD_SIGNERS.map(([what, signedBy]) => withRelease(`a signer with ${what}`, { ...RELEASE, signedBy }, /signedBy: must be a single line of text/)),
  withRelease('a ticket id over 64 characters', { ...RELEASE, ticketId: 'T'.repeat(65) }, /ticketId: must be at most 64 characters/),
  { ...withRelease('an operator without ticketId', RELEASE, /ticketId is required/), who: 'operator' },
  { name: 'the new partner releasing', who: 'P-BLUE', method: 'POST', path: '/transfers/{REL}/release', body: j(RELEASE), status: 403, code: 'FORBIDDEN', mentions: /Only the current partner/ },
  { name: 'an unrelated partner', who: 'P-DUNE', method: 'POST', path: '/transfers/{REL}/release', body: j(RELEASE), status: 404, code: 'NOT_FOUND', mentions: /was not found/ },
  { name: 'a partner of other transfers', who: 'P-CORAL', method: 'POST', path: '/transfers/{REL}/release', body: j(RELEASE), status: 404, code: 'NOT_FOUND', mentions: /was not found/ },
  // Malformed JSON is refused before the transfer is looked up, alike for every id, so it tells nothing.
  { name: 'an unrelated partner\'s malformed JSON', who: 'P-DUNE', method: 'POST', path: '/transfers/{REL}/release', body: '{', status: 400, code: 'INVALID_REQUEST', mentions: /not valid JSON/ },
  { name: 'malformed JSON for an unknown id', who: 'P-DUNE', method: 'POST', path: '/transfers/TR-nope/release', body: '{', status: 400, code: 'INVALID_REQUEST', mentions: /not valid JSON/ },
  // A well-formed but invalid body of a non-party is answered as an unknown transfer.
  { name: 'an unrelated partner\'s invalid body', who: 'P-DUNE', method: 'POST', path: '/transfers/{REL}/release', body: j({ decision: 'accept' }), status: 404, code: 'NOT_FOUND' },
  { name: 'an unknown transfer', who: 'P-ACME', method: 'POST', path: '/transfers/TR-20261124-0000000000/release', body: j(RELEASE), status: 404, code: 'NOT_FOUND', mentions: /TR-20261124-0000000000 was not found/ },
  { name: 'an unknown transfer, for an operator', who: 'operator', method: 'POST', path: '/transfers/TR-nope/release', body: j({ ...RELEASE, ticketId: 'SUP-1' }), status: 404, code: 'NOT_FOUND' },
  { name: 'a release of a transfer waiting for acceptance', who: 'P-ACME', method: 'POST', path: '/transfers/{ACC}/release', body: j(RELEASE), status: 409, code: 'NOT_WAITING', mentions: /AWAITING_ACCEPTANCE.*not waiting for the release/ },
  { name: 'a release of a cancelled transfer', who: 'P-ACME', method: 'POST', path: '/transfers/{CAN}/release', body: j(RELEASE), status: 409, code: 'NOT_WAITING', mentions: /CANCELLED/ },
];

const ACCEPTANCE_ROWS: Row[] = [
  ...badBodies('/transfers/{ACC}/acceptance', 'P-CORAL'),
  withAcceptance('an empty object', {}, /decision must be "accept" or "decline"/),
  withAcceptance('release, which is no acceptance decision', RELEASE, /decision must be "accept" or "decline"/),
  withAcceptance('an accept with a date', { ...ACCEPT, transferDate: inAWeek }, /unknown field: transferDate/),
  withAcceptance('an accept without a signer', { decision: 'accept' }, /signedBy: is required/),
  withAcceptance('a decline without a reason', { decision: 'decline', signedBy: 'Carl Reef' }, /reason: is required/),
  withAcceptance('a decline with a blank reason', { decision: 'decline', signedBy: 'Carl Reef', reason: '     ' }, /reason: must say why/),
  withAcceptance('a signer over 120 characters', { ...ACCEPT, signedBy: 'C'.repeat(121) }, /signedBy: must be at most 120 characters/),
  ...BAD_SIGNERS.map(([what, signedBy]) => withAcceptance(`a signer with ${what}`, { ...ACCEPT, signedBy }, /signedBy: must be a single line of text/)),
  withAcceptance('a signer as an object', { ...ACCEPT, signedBy: { first: 'Carl' } }, /signedBy/),
  { ...withAcceptance('an operator without ticketId', ACCEPT, /ticketId is required/), who: 'operator' },
  { name: 'the current partner accepting', who: 'P-ACME', method: 'POST', path: '/transfers/{ACC}/acceptance', body: j(ACCEPT), status: 403, code: 'FORBIDDEN', mentions: /Only the new partner/ },
  { name: 'an unrelated partner', who: 'P-BLUE', method: 'POST', path: '/transfers/{ACC}/acceptance', body: j(ACCEPT), status: 404, code: 'NOT_FOUND' },
  { name: 'an acceptance while the release is awaited', who: 'P-BLUE', method: 'POST', path: '/transfers/{REL}/acceptance', body: j(ACCEPT), status: 409, code: 'NOT_WAITING', mentions: /AWAITING_RELEASE.*not waiting for the acceptance/ },
  { name: 'an acceptance of a cancelled transfer', who: 'P-BLUE', method: 'POST', path: '/transfers/{CAN}/acceptance', body: j(ACCEPT), status: 409, code: 'NOT_WAITING', mentions: /CANCELLED/ },
  { name: 'an unknown transfer', who: 'P-CORAL', method: 'POST', path: '/transfers/TR-20261124-ZZZZZZZZZZ/acceptance', body: j(ACCEPT), status: 404, code: 'NOT_FOUND' },
];

const CANCEL_ROWS: Row[] = [
  ...badBodies('/transfers/{REL}/cancel', 'P-ACME'),
  withCancel('an empty object', {}, /reason: is required/),
  withCancel('an empty reason', { reason: '' }, /reason: must say why/),
  withCancel('a two-letter reason', { reason: 'no' }, /reason: must say why/),
  withCancel('a reason over 1000 characters', { reason: 'r'.repeat(1001) }, /reason: must be at most 1000 characters/),
  withCancel('a reason as a number', { reason: 42 }, /reason/),
  withCancel('an unknown field', { ...CANCEL, force: true }, /unknown field: force/),
  { ...withCancel('an operator without ticketId', CANCEL, /ticketId is required/), who: 'operator' },
  { name: 'an unrelated partner', who: 'P-DUNE', method: 'POST', path: '/transfers/{REL}/cancel', body: j(CANCEL), status: 404, code: 'NOT_FOUND' },
  { name: 'a partner of other transfers', who: 'P-CORAL', method: 'POST', path: '/transfers/{REL}/cancel', body: j(CANCEL), status: 404, code: 'NOT_FOUND' },
  { name: 'an unknown transfer', who: 'P-ACME', method: 'POST', path: '/transfers/TR-20261124-0000000000/cancel', body: j(CANCEL), status: 404, code: 'NOT_FOUND' },
  { name: 'a transfer already cancelled', who: 'P-BLUE', method: 'POST', path: '/transfers/{CAN}/cancel', body: j(CANCEL), status: 409, code: 'ALREADY_ENDED', mentions: /already CANCELLED/ },
];

const READ_ROWS: Row[] = [
  { name: 'a transfer of others', who: 'P-DUNE', method: 'GET', path: '/transfers/{REL}', status: 404, code: 'NOT_FOUND', mentions: /was not found/ },
  { name: 'a transfer of others, for a partner of other transfers', who: 'P-CORAL', method: 'GET', path: '/transfers/{REL}', status: 404, code: 'NOT_FOUND' },
  { name: 'an unknown transfer', who: 'P-ACME', method: 'GET', path: '/transfers/TR-20261124-0000000000', status: 404, code: 'NOT_FOUND', mentions: /TR-20261124-0000000000/ },
  { name: 'an unknown transfer, for an operator', who: 'operator', method: 'GET', path: '/transfers/TR-nope', status: 404, code: 'NOT_FOUND' },
  { name: 'a transfer id with odd characters', who: 'P-ACME', method: 'GET', path: '/transfers/%3Cscript%3E', status: 404, code: 'NOT_FOUND' },
  { name: 'a transfer id of 3000 characters', who: 'P-ACME', method: 'GET', path: `/transfers/${'T'.repeat(3000)}`, status: 404, code: 'NOT_FOUND' },
  { name: 'a customer of another partner', who: 'P-DUNE', method: 'GET', path: '/customers/C-A10', status: 404, code: 'NOT_FOUND', mentions: /Customer C-A10 was not found/ },
  { name: 'a customer of another partner, for the new partner', who: 'P-BLUE', method: 'GET', path: '/customers/C-A01', status: 404, code: 'NOT_FOUND' },
  { name: 'an unknown customer', who: 'P-ACME', method: 'GET', path: '/customers/C-ZZZ', status: 404, code: 'NOT_FOUND', mentions: /C-ZZZ/ },
  { name: 'an unknown customer, for an operator', who: 'operator', method: 'GET', path: '/customers/C-ZZZ', status: 404, code: 'NOT_FOUND' },
  { name: 'a customer id of 3000 characters', who: 'operator', method: 'GET', path: `/customers/${'C'.repeat(3000)}`, status: 404, code: 'NOT_FOUND' },
];

const TABLE: { route: string; rows: Row[] }[] = [
  { route: 'POST /transfers', rows: CREATE_ROWS },
  { route: 'POST /transfers/{id}/release', rows: RELEASE_ROWS },
  { route: 'POST /transfers/{id}/acceptance', rows: ACCEPTANCE_ROWS },
  { route: 'POST /transfers/{id}/cancel', rows: CANCEL_ROWS },
  { route: 'GET /transfers/{id} and GET /customers/{id}', rows: READ_ROWS },
];

/** The contract's error body, with a message that tells a person what went wrong. */
function expectReadableError(row: Row, answer: ApiAnswer): void {
  // Soft, so that one run reports every row that goes wrong.
  const check = expect.soft;
  const label = `${row.who} ${row.method} ${row.path.slice(0, 60)}: ${row.name} → ${JSON.stringify(answer.body).slice(0, 300)}`;
  check(answer.status, label).toBe(row.status);
  check(answer.headers.get('content-type'), label).toMatch(/^application\/json/);
  check(typeof answer.body, label).toBe('object');
  const body = answer.body as { error?: Record<string, unknown> };
  check(Object.keys(body), label).toEqual(['error']);
  const error = body.error ?? {};
  check(Object.keys(error).filter((key) => !['code', 'message', 'details'].includes(key)), label).toEqual([]);
  check(error.code, label).toBe(row.code);
  check(typeof error.message, label).toBe('string');
  const message = String(error.message);
  check(message.trim().length, label).toBeGreaterThanOrEqual(12);
  check(message, label).not.toMatch(/undefined|\[object Object\]|\bat .+:\d+:\d+|Error:|Exception|zod|stack/i);
  // No raw control characters echoed back, nor an oversized field of the body.
  // eslint-disable-next-line no-control-regex
  check(message, label).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
  if (row.body !== undefined) check(message, label).not.toMatch(/(.)\1{99}/);
  if (row.mentions) check(message, label).toMatch(row.mentions);
}

describe('bad input on every JSON route', () => {
  it('has rows for every kind of bad input the contract names', () => {
    const count = TABLE.reduce((sum, { rows }) => sum + rows.length, 0);
    expect(count).toBeGreaterThan(150);
    expect(new Set(TABLE.flatMap(({ rows }) => rows.map((row) => row.status)))).toEqual(new Set([400, 403, 404, 409, 422]));
  });

  it('answers each with the contract error and a readable message, and writes nothing, sends nothing, starts nothing', async () => {
    const before = await everything();
    expect(before.executions).toHaveLength(3);
    expect(before.table.filter((item) => item.kind === 'transfer').map((item) => item.status).sort()).toEqual([
      'AWAITING_ACCEPTANCE',
      'AWAITING_RELEASE',
      'CANCELLED',
    ]);

    for (const { route, rows } of TABLE) {
      for (const row of rows) {
        const answer = await t.client.call(row.method, resolvePath(row.path), tokenOf(row.who), row.body, row.headers);
        expectReadableError({ ...row, name: `[${route}] ${row.name}` }, answer);
      }
    }

    const after = await everything();
    expect(after.table).toEqual(before.table);
    expect(after.emails).toEqual(before.emails);
    expect(after.executions).toEqual(before.executions);
  });

  it('serves the good request afterwards, even under an Idempotency-Key a rejected request carried, and the snapshot sees it', async () => {
    const before = withoutRelayMarks(await scanTable(db, t.stack.tableName));
    const answer = await t.client.call('POST', '/transfers', tokenOf('P-ACME'), REQUEST, { 'Idempotency-Key': 'bad-input-1' });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    const transfer = answer.body as TransferView;
    expect(transfer.customers).toEqual([expect.objectContaining({ id: 'C-A10' })]);
    const after = withoutRelayMarks(await scanTable(db, t.stack.tableName));
    expect(after.length).toBeGreaterThan(before.length);
    expect(after.some((item) => item.pk === `TRANSFER#${transfer.id}` && item.sk === 'TRANSFER')).toBe(true);
  });
});
