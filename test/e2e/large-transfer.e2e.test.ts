import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DirectoryFile } from '../../lambdas/domain/directory.ts';
import type { TransferView } from '../../local/local-client.ts';
import { seedDirectory } from '../../local/stack.ts';
import { startTestStack, type TestStack } from './local-stack.ts';
import { poll } from './support.ts';

/**
 * A transfer at the size limits: 50 customers (the most one request may name) of 400 domains each, one
 * of them with 3,000 users. Every answer of the API stays below Lambda's 6 MB, the transfer keeps its
 * customers' domains, listings keep summaries, and a customer's users come a page at a time.
 */

const LAMBDA_ANSWER_LIMIT = 6 * 1024 * 1024;
const CUSTOMERS = 50;
const DOMAINS = 400;
const USERS = 3000;
const FROM = 'P-LARGE-FROM';
const TO = 'P-LARGE-TO';
const customerId = (c: number) => `C-LARGE${String(c).padStart(2, '0')}`;
const domainOf = (c: number, d: number) => `d${String(d).padStart(3, '0')}.${customerId(c).toLowerCase()}.large.example`;
const userOf = (u: number) => `user${String(u).padStart(4, '0')}@c-large00.large.example`;

function largeDirectory(): DirectoryFile {
  return {
    partners: [
      { id: FROM, name: 'Large From', invoiceDay: 1, contacts: ['ops@large-from.example'] },
      { id: TO, name: 'Large To', invoiceDay: 1, contacts: ['ops@large-to.example'] },
    ],
    customers: Array.from({ length: CUSTOMERS }, (_, c) => ({
      id: customerId(c),
      name: `Large Customer ${c}`,
      partnerId: FROM,
      domains: Array.from({ length: DOMAINS }, (_, d) => domainOf(c, d)),
      settings: { spamThreshold: 5, quarantineDays: 30 },
      users: Array.from({ length: c === 0 ? USERS : 1 }, (_, u) => ({ email: c === 0 ? userOf(u) : `admin@${customerId(c).toLowerCase()}.large.example`, settings: { digest: 'daily', u } })),
    })),
  };
}

interface Answer {
  status: number;
  body: unknown;
}

let t: TestStack;
let dir: string;
/** Every answer of the API this test received: route and size in bytes. */
const answers: { route: string; bytes: number }[] = [];
let from = '';
let to = '';
let operator = '';

/** Calls the API and measures the answer's body in bytes, as Lambda would count it. */
async function api(route: string, method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${t.stack.urls.api}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  answers.push({ route, bytes: Buffer.byteLength(text, 'utf8') });
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
}

beforeAll(async () => {
  t = await startTestStack({ seedFile: null, maxWaitSeconds: 1 });
  dir = await mkdtemp(join(tmpdir(), 'large-directory-'));
  const file = join(dir, 'directory.json');
  await writeFile(file, JSON.stringify(largeDirectory()));
  const started = performance.now();
  const seeded = await seedDirectory(file, t.stack.urls.dynamodb, t.stack.tableName);
  console.log(`Seeded ${seeded.customers} customers (${(seeded as { items?: number }).items ?? '?'} items) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  expect(seeded).toMatchObject({ partners: 2, customers: CUSTOMERS });
  from = await t.token({ partnerId: FROM, subject: 'alice@large-from.example' });
  to = await t.token({ partnerId: TO, subject: 'dana@large-to.example' });
  operator = await t.token('operator');
}, 240_000);

afterAll(async () => {
  const largest = [...answers].sort((a, b) => b.bytes - a.bytes).slice(0, 3);
  console.log(`${answers.length} answers; largest: ${largest.map((a) => `${a.route} ${(a.bytes / 1024).toFixed(0)} KiB`).join(', ')}`);
  await t?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Transfer = TransferView & { customers: { id: string; name: string; domainCount: number; domains?: string[]; domainsTruncated?: boolean }[] };

function expectWholeSnapshot(transfer: Transfer): void {
  expect(transfer.customers).toHaveLength(CUSTOMERS);
  transfer.customers.forEach((customer, c) => {
    expect(customer).toEqual({
      id: customerId(c),
      name: `Large Customer ${c}`,
      domainCount: DOMAINS,
      domains: Array.from({ length: DOMAINS }, (_, d) => domainOf(c, d)),
      domainsTruncated: false,
    });
  });
}

describe('a transfer of 50 customers with 400 domains each', () => {
  it('is filed, released and accepted through the API and completes, every answer below 6 MB', async () => {
    const started = performance.now();
    const ids = Array.from({ length: CUSTOMERS }, (_, c) => customerId(c));
    const idempotent = { 'Idempotency-Key': 'large-transfer-1' };
    const created = await api('POST /transfers', 'POST', '/transfers', from, { customerIds: ids, toPartnerId: TO }, idempotent);
    expect(created.status, JSON.stringify(created.body).slice(0, 500)).toBe(201);
    const transfer = created.body as Transfer;
    expectWholeSnapshot(transfer);
    // The same request again gets the same answer, though it is larger than a DynamoDB item may be.
    const repeated = await api('POST /transfers (repeated)', 'POST', '/transfers', from, { customerIds: ids, toPartnerId: TO }, idempotent);
    expect(repeated.status).toBe(201);
    expect(repeated.body).toEqual(created.body);

    const read = await api('GET /transfers/{id}', 'GET', `/transfers/${transfer.id}`, to);
    expect(read.status).toBe(200);
    expectWholeSnapshot(read.body as Transfer);

    const released = await api('POST /transfers/{id}/release', 'POST', `/transfers/${transfer.id}/release`, from, {
      decision: 'release',
      transferDate: 'immediate',
      signedBy: 'Alice Smith',
    });
    expect(released.status, JSON.stringify(released.body).slice(0, 500)).toBe(200);
    expect((released.body as Transfer).status).toBe('AWAITING_ACCEPTANCE');
    expectWholeSnapshot(released.body as Transfer);

    const accepted = await api('POST /transfers/{id}/acceptance', 'POST', `/transfers/${transfer.id}/acceptance`, to, { decision: 'accept', signedBy: 'Dana Lee' });
    expect(accepted.status, JSON.stringify(accepted.body).slice(0, 500)).toBe(200);
    expect((accepted.body as Transfer).status).toBe('SCHEDULED');

    const done = await poll(
      'the transfer to complete',
      async () => {
        const now = await api('GET /transfers/{id}', 'GET', `/transfers/${transfer.id}`, from);
        const status = (now.body as Transfer).status;
        return ['COMPLETED', 'FAILED'].includes(status) ? (now.body as Transfer) : undefined;
      },
      120_000,
      500,
    );
    expect(done.status).toBe('COMPLETED');
    expectWholeSnapshot(done);
    expect(done.history.filter((e) => e.type === 'CUSTOMER_MOVED')).toHaveLength(CUSTOMERS);
    console.log(`Filed, decided and completed in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    // The emails list 20 domains per customer and count the rest.
    const confirmations = await poll('both confirmations', async () => {
      const sent = (await t.client.emails(0)).filter((e) => e.subject.startsWith('Transfer completed') && e.subject.includes(transfer.id));
      return sent.length >= 2 ? sent : undefined;
    });
    for (const email of confirmations) {
      expect(email.body.text).toContain(`${domainOf(49, 19)} and 380 more`);
      expect(email.body.text).not.toContain(domainOf(49, 20));
      expect(Buffer.byteLength(`${email.body.text ?? ''}${email.body.html ?? ''}`)).toBeLessThan(1024 * 1024);
    }

    for (const answer of answers) expect(answer.bytes, answer.route).toBeLessThan(LAMBDA_ANSWER_LIMIT);
  }, 240_000);

  it('GET /transfers returns summaries: each customer\'s id, name and domain count, no domains, no history', async () => {
    for (const [who, token] of [
      ['partner', from],
      ['operator', operator],
    ] as const) {
      const listed = await api('GET /transfers?limit=100', 'GET', '/transfers?limit=100', token);
      expect(listed.status, who).toBe(200);
      const items = (listed.body as { items: Transfer[] }).items;
      const large = items.find((item) => item.customers.length === CUSTOMERS);
      expect(large, who).toBeDefined();
      expect(large?.customers).toEqual(Array.from({ length: CUSTOMERS }, (_, c) => ({ id: customerId(c), name: `Large Customer ${c}`, domainCount: DOMAINS })));
      expect(Object.keys(large ?? {})).not.toContain('history');
      expect(large).toMatchObject({ status: 'COMPLETED', fromPartner: { id: FROM, name: 'Large From' }, toPartner: { id: TO, name: 'Large To' } });
      expect(JSON.stringify(listed.body)).not.toContain('large.example');
    }
    for (const answer of answers) expect(answer.bytes, answer.route).toBeLessThan(LAMBDA_ANSWER_LIMIT);
  });

  it('GET /customers/{id} pages through all 3,000 users (and every domain), each once, in order', async () => {
    // The customer moved: the new partner reads it now, the previous one no longer can.
    expect((await api('GET /customers/{id}', 'GET', `/customers/${customerId(0)}`, from)).status).toBe(404);
    for (const limit of [undefined, 37]) {
      const users: string[] = [];
      const domains: string[] = [];
      let nextToken: string | undefined;
      let pages = 0;
      do {
        const query = new URLSearchParams({ ...(limit ? { limit: String(limit) } : {}), ...(nextToken ? { nextToken } : {}) }).toString();
        const page = await api('GET /customers/{id}', 'GET', `/customers/${customerId(0)}${query ? `?${query}` : ''}`, to);
        expect(page.status, JSON.stringify(page.body).slice(0, 300)).toBe(200);
        const body = page.body as { id: string; partnerId: string; users: { email: string }[]; domains: string[]; settings: unknown; nextToken?: string };
        expect(body).toMatchObject({ id: customerId(0), name: 'Large Customer 0', partnerId: TO, settings: { spamThreshold: 5, quarantineDays: 30 } });
        expect(body.users.length).toBeLessThanOrEqual(limit ?? 100);
        users.push(...body.users.map((u) => u.email));
        domains.push(...body.domains);
        nextToken = body.nextToken;
        pages += 1;
      } while (nextToken && pages < 200);
      expect(users).toEqual(Array.from({ length: USERS }, (_, u) => userOf(u)));
      expect(domains).toEqual(Array.from({ length: DOMAINS }, (_, d) => domainOf(0, d)));
      expect(pages).toBe(Math.ceil(USERS / (limit ?? 100)));
    }
    const bad = await api('GET /customers/{id}', 'GET', `/customers/${customerId(0)}?nextToken=not-a-token`, to);
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { code: string } }).error.code).toBe('INVALID_REQUEST');
    expect((await api('GET /customers/{id}', 'GET', `/customers/${customerId(0)}?limit=101`, to)).status).toBe(400);
    for (const answer of answers) expect(answer.bytes, answer.route).toBeLessThan(LAMBDA_ANSWER_LIMIT);
  }, 120_000);
});
