import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dateAt } from '../../lambdas/domain/dates.ts';
import type { ApiAnswer } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';

/** GET /transfers as partners and operators: only one's own, newest first, filtered, paginated, and refusing bad queries. */

interface Listed {
  id: string;
  status: string;
  fromPartner: { id: string; name: string };
  toPartner: { id: string; name: string };
  createdAt: string;
  [key: string]: unknown;
}
interface Page {
  items: Listed[];
  nextToken?: string;
}
interface Created {
  id: string;
  from: string;
  to: string;
  status: string;
}
type Who = 'P-ACME' | 'P-BLUE' | 'P-CORAL' | 'P-DUNE' | 'operator';

const PARTNERS = ['P-ACME', 'P-BLUE', 'P-CORAL', 'P-DUNE'] as const;
const today = dateAt(new Date(), 'America/New_York');

let t: TestStack;
const tokens = new Map<Who, string>();
/** In creation order, oldest first. */
const created: Created[] = [];

function tokenOf(who: Who): string {
  const token = tokens.get(who);
  if (token === undefined) throw new Error(`no token for ${who}`);
  return token;
}

async function list(who: Who, query: Record<string, string> = {}): Promise<ApiAnswer> {
  const search = new URLSearchParams(query).toString();
  return t.client.call('GET', `/transfers${search ? `?${search}` : ''}`, tokenOf(who));
}

async function listPage(who: Who, query: Record<string, string> = {}): Promise<Page> {
  const answer = await list(who, query);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as Page;
}

/** Follows nextToken until the listing is exhausted; returns every page. */
async function allPages(who: Who, query: Record<string, string>): Promise<Page[]> {
  const pages: Page[] = [];
  let nextToken: string | undefined;
  do {
    const page = await listPage(who, { ...query, ...(nextToken !== undefined ? { nextToken } : {}) });
    pages.push(page);
    nextToken = page.nextToken;
    expect(pages.length, 'pagination must end').toBeLessThanOrEqual(20);
  } while (nextToken !== undefined);
  return pages;
}

function expectContractError(answer: ApiAnswer, status: number, code: string, mentions: RegExp, label = ''): string {
  expect(answer.status, `${label} ${JSON.stringify(answer.body)}`).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  const body = answer.body as { error?: { code?: unknown; message?: unknown; details?: unknown } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error?.code).toBe(code);
  const message = body.error?.message;
  expect(typeof message).toBe('string');
  const text = String(message);
  expect(text.length).toBeGreaterThan(10);
  expect(text).not.toMatch(/undefined|\[object Object\]|\n\s+at |Exception|stack/i);
  expect(text).toMatch(mentions);
  return text;
}

/** Newest first, as the API promises: by creation time, then id (both descending). */
function expectedFor(who: Who, status?: string): string[] {
  return created
    .filter((c) => who === 'operator' || c.from === who || c.to === who)
    .filter((c) => status === undefined || c.status === status)
    .map((c) => c.id)
    .reverse();
}

async function request(who: Who, body: Record<string, unknown>, status: string): Promise<Created> {
  const answer = await t.client.call('POST', '/transfers', tokenOf(who), body);
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  const transfer = answer.body as Listed;
  expect(transfer.status).toBe(status);
  const entry = { id: transfer.id, from: transfer.fromPartner.id, to: transfer.toPartner.id, status };
  created.push(entry);
  return entry;
}

beforeAll(async () => {
  t = await startTestStack({ seedFile: TEST_DIRECTORY });
  tokens.set('operator', await t.token('operator'));
  for (const partnerId of PARTNERS) tokens.set(partnerId, await t.token({ partnerId }));

  const release = (transferDate: string, signedBy: string) => ({ transferDate, signedBy });
  await request('P-ACME', { customerIds: ['C-A01'], toPartnerId: 'P-BLUE' }, 'AWAITING_RELEASE');
  await request('P-ACME', { customerIds: ['C-A02'], toPartnerId: 'P-CORAL', release: release('immediate', 'Alice Smith') }, 'AWAITING_ACCEPTANCE');
  await request('P-ACME', { customerIds: ['C-B01'], toPartnerId: 'P-ACME', requestedDate: addDays(today, 10) }, 'AWAITING_RELEASE');
  await request('P-BLUE', { customerIds: ['C-B02', 'C-B03'], toPartnerId: 'P-CORAL', release: release(addDays(today, 5), 'Dana Lee') }, 'AWAITING_ACCEPTANCE');
  await request('operator', { customerIds: ['C-C01'], toPartnerId: 'P-BLUE', ticketId: 'SUP-1' }, 'AWAITING_RELEASE');
  await request('P-CORAL', { customerIds: ['C-C02'], toPartnerId: 'P-ACME', release: release(addDays(today, 7), 'Carl Reef') }, 'AWAITING_ACCEPTANCE');
  const cancelled = await request('P-BLUE', { customerIds: ['C-A03', 'C-A04'], toPartnerId: 'P-BLUE' }, 'AWAITING_RELEASE');
  await request('P-CORAL', { customerIds: ['C-B04'], toPartnerId: 'P-CORAL' }, 'AWAITING_RELEASE');

  const cancel = await t.client.call('POST', `/transfers/${cancelled.id}/cancel`, tokenOf('P-ACME'), { reason: 'Changed our minds' });
  expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
  cancelled.status = 'CANCELLED';
});

afterAll(async () => {
  await t?.stop();
});

describe('GET /transfers lists what the caller may see', () => {
  it('shows each partner exactly the transfers where it is the current or the new partner, newest first', async () => {
    expect(created.map((c) => c.status)).toEqual([
      'AWAITING_RELEASE',
      'AWAITING_ACCEPTANCE',
      'AWAITING_RELEASE',
      'AWAITING_ACCEPTANCE',
      'AWAITING_RELEASE',
      'AWAITING_ACCEPTANCE',
      'CANCELLED',
      'AWAITING_RELEASE',
    ]);
    const expectedCounts: Record<(typeof PARTNERS)[number], number> = { 'P-ACME': 5, 'P-BLUE': 6, 'P-CORAL': 5, 'P-DUNE': 0 };
    for (const partnerId of PARTNERS) {
      const page = await listPage(partnerId, { limit: '100' });
      expect(page.nextToken, partnerId).toBeUndefined();
      expect(page.items.map((item) => item.id), partnerId).toEqual(expectedFor(partnerId));
      expect(page.items, partnerId).toHaveLength(expectedCounts[partnerId]);
      for (const item of page.items) {
        expect([item.fromPartner.id, item.toPartner.id], `${partnerId} sees ${item.id}`).toContain(partnerId);
      }
    }
  });

  it('shows an operator every transfer, newest first, with the right status each', async () => {
    const page = await listPage('operator');
    expect(page.nextToken).toBeUndefined();
    expect(page.items.map((item) => item.id)).toEqual(expectedFor('operator'));
    expect(page.items.map((item) => item.status)).toEqual([...created].reverse().map((c) => c.status));
    const times = page.items.map((item) => Date.parse(item.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('lists summaries: transfers as the API shows them, without table keys, history or domains (each customer\'s domain count instead)', async () => {
    const page = await listPage('P-ACME', { limit: '1' });
    const [item] = page.items;
    if (item === undefined) throw new Error('ACME has transfers');
    for (const key of ['pk', 'sk', 'kind', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'history']) expect(item).not.toHaveProperty(key);
    const single = await t.client.call('GET', `/transfers/${item.id}`, tokenOf('P-ACME'));
    expect(single.status).toBe(200);
    type Customer = { id: string; name: string; domainCount: number; domains: string[]; domainsTruncated: boolean };
    const { history, ...transfer } = single.body as Listed & { history: unknown[]; customers: Customer[] };
    expect(history.length).toBeGreaterThan(0);
    expect(transfer.customers.every((c) => c.domains.length === c.domainCount && c.domainCount > 0 && !c.domainsTruncated)).toBe(true);
    expect(item).toEqual({ ...transfer, customers: transfer.customers.map(({ id, name, domainCount }) => ({ id, name, domainCount })) });
  });

  it('filters by status, for partners and for operators', async () => {
    for (const who of [...PARTNERS, 'operator'] as const) {
      for (const status of ['AWAITING_ACCEPTANCE', 'AWAITING_RELEASE', 'CANCELLED', 'COMPLETED']) {
        const page = await listPage(who, { status });
        expect(page.items.map((item) => item.id), `${who} ${status}`).toEqual(expectedFor(who, status));
        expect(page.items.every((item) => item.status === status)).toBe(true);
        expect(page.nextToken).toBeUndefined();
      }
    }
    // Spelled out for the record, so the helper cannot hide a mistake.
    expect((await listPage('P-ACME', { status: 'AWAITING_ACCEPTANCE' })).items.map((i) => i.id)).toEqual([created[5]?.id, created[1]?.id]);
    expect((await listPage('operator', { status: 'AWAITING_ACCEPTANCE' })).items.map((i) => i.id)).toEqual([
      created[5]?.id,
      created[3]?.id,
      created[1]?.id,
    ]);
    expect((await listPage('P-BLUE', { status: 'CANCELLED' })).items.map((i) => i.id)).toEqual([created[6]?.id]);
  });

  it('pages with an opaque nextToken until exhausted: no duplicates, no gaps, the same list as unpaginated', async () => {
    const cases: { who: Who; query: Record<string, string> }[] = [
      { who: 'operator', query: { limit: '2' } },
      { who: 'P-ACME', query: { limit: '2' } },
      { who: 'P-BLUE', query: { limit: '2' } },
      { who: 'P-BLUE', query: { limit: '1', status: 'AWAITING_RELEASE' } },
      { who: 'operator', query: { limit: '2', status: 'AWAITING_ACCEPTANCE' } },
    ];
    for (const { who, query } of cases) {
      const label = `${who} ${JSON.stringify(query)}`;
      const pages = await allPages(who, query);
      const limit = Number(query.limit);
      const ids = pages.flatMap((page) => page.items.map((item) => item.id));
      const unpaginated = await listPage(who, query.status ? { status: query.status } : {});
      expect(ids, label).toEqual(unpaginated.items.map((item) => item.id));
      expect(ids, label).toEqual(expectedFor(who, query.status));
      expect(new Set(ids).size, label).toBe(ids.length);
      expect(pages.length, label).toBeGreaterThanOrEqual(Math.ceil(ids.length / limit));
      for (const page of pages) {
        expect(page.items.length, label).toBeLessThanOrEqual(limit);
        if (page.nextToken !== undefined) {
          expect(page.items, label).toHaveLength(limit);
          expect(page.nextToken, label).toMatch(/^[A-Za-z0-9_-]+$/);
        }
      }
    }
  });

  it('refuses a nextToken from another listing with 400', async () => {
    const acme = await listPage('P-ACME', { limit: '2' });
    const blue = await listPage('P-BLUE', { limit: '2' });
    const operator = await listPage('operator', { limit: '2' });
    const acmeReleases = await listPage('P-ACME', { limit: '1', status: 'AWAITING_RELEASE' });
    const tokensOf = [acme, blue, operator, acmeReleases].map((page) => {
      if (page.nextToken === undefined) throw new Error('every listing here has more than one page');
      return page.nextToken;
    });
    const [acmeToken = '', blueToken = '', operatorToken = '', acmeReleaseToken = ''] = tokensOf;

    const misuses: { who: Who; query: Record<string, string> }[] = [
      { who: 'P-BLUE', query: { limit: '2', nextToken: acmeToken } },
      { who: 'P-ACME', query: { limit: '2', nextToken: blueToken } },
      { who: 'P-CORAL', query: { limit: '2', nextToken: acmeToken } },
      { who: 'P-DUNE', query: { nextToken: blueToken } },
      { who: 'P-ACME', query: { nextToken: operatorToken } },
      { who: 'operator', query: { nextToken: acmeToken } },
      { who: 'P-BLUE', query: { status: 'AWAITING_RELEASE', nextToken: acmeReleaseToken } },
      // The same partner, but a listing of another status, or no status at all.
      { who: 'P-ACME', query: { status: 'AWAITING_ACCEPTANCE', nextToken: acmeReleaseToken } },
      { who: 'P-ACME', query: { nextToken: acmeReleaseToken } },
      { who: 'P-ACME', query: { status: 'AWAITING_RELEASE', nextToken: acmeToken } },
    ];
    for (const { who, query } of misuses) {
      expectContractError(await list(who, query), 400, 'INVALID_REQUEST', /nextToken/, `${who} ${JSON.stringify(query)}`);
    }
    // The tokens still work where they came from.
    expect((await listPage('P-ACME', { limit: '2', nextToken: acmeToken })).items.map((i) => i.id)).toEqual(expectedFor('P-ACME').slice(2, 4));
  });

  it('refuses a garbage nextToken with 400', async () => {
    const valid = (await listPage('P-ACME', { limit: '2' })).nextToken ?? '';
    const decoded = JSON.parse(Buffer.from(valid, 'base64url').toString('utf8')) as Record<string, unknown>;
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const garbage = [
      'garbage',
      '!!!',
      'x'.repeat(3000),
      encode([1, 2, 3]),
      encode('PARTY#P-ACME'),
      encode(null),
      // The right partition, but not a key this listing ever handed out.
      encode({ gsi1pk: 'PARTY#P-ACME' }),
      encode({ ...decoded, gsi1sk: 42 }),
      encode({ ...decoded, pk: { S: 'TRANSFER#x' } }),
      encode({ ...decoded, extra: 'field' }),
    ];
    for (const nextToken of garbage) {
      const label = Buffer.from(nextToken, 'base64url').toString('utf8').slice(0, 200);
      expectContractError(await list('P-ACME', { limit: '2', nextToken }), 400, 'INVALID_REQUEST', /nextToken/, label);
    }
    expectContractError(await list('P-ACME', { nextToken: '' }), 400, 'INVALID_REQUEST', /nextToken/);
  });

  it('refuses bad limits, unknown parameters and unknown statuses with a readable 400', async () => {
    const bad: { query: string; mentions: RegExp }[] = [
      { query: 'limit=0', mentions: /limit/ },
      { query: 'limit=101', mentions: /limit/ },
      { query: 'limit=-1', mentions: /limit/ },
      { query: 'limit=abc', mentions: /limit/ },
      { query: 'limit=1.5', mentions: /limit.*whole number/ },
      { query: 'limit=', mentions: /limit/ },
      { query: 'limit=2&limit=3', mentions: /limit/ },
      { query: 'foo=bar', mentions: /unknown field.*foo/ },
      { query: 'limit=2&sort=asc', mentions: /unknown field.*sort/ },
      { query: 'status=PENDING', mentions: /status/ },
      { query: 'status=awaiting_release', mentions: /status/ },
      { query: 'status=', mentions: /status/ },
    ];
    for (const who of ['P-ACME', 'operator'] as const) {
      for (const { query, mentions } of bad) {
        const answer = await t.client.call('GET', `/transfers?${query}`, tokenOf(who));
        const message = expectContractError(answer, 400, 'INVALID_REQUEST', mentions, `${who} ${query}`);
        expect(message, query).toMatch(/^The query is not valid\./);
      }
    }
  });
});
