import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format } from 'node:util';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dateAt } from '../../lambdas/domain/dates.ts';
import { LOCAL_JWT_ALG, loadOrCreateSigningKey, localJwtSettings, signLocalToken } from '../../local/jwt-keys.ts';
import { LocalClient, type StoredEmail, type TransferView } from '../../local/local-client.ts';
import { AnswerContract } from '../contract/answers.ts';
import { startLocalStack, type LocalStack } from '../../local/stack.ts';
import { TEST_DIRECTORY } from './local-stack.ts';
import { documentClient, linksIn, poller, stepLinkFor } from './support.ts';

/**
 * No task token, approval-link secret or JWT reaches a log line, an error body or an email (but
 * the approval email carrying its own link). Every line of one end-to-end run is captured: the
 * local stack's log, and all the in-process handlers write to stdout, stderr and the console.
 */

const ACME_BILLING = 'billing@acme-it.example';
const BLUE = 'partners@bluewave.example';
const today = dateAt(new Date(), 'America/New_York');
const inAWeek = addDays(today, 7);

// ---------------------------------------------------------------------------------------------
// Capture

type Source = 'stack log' | 'stdout' | 'stderr' | 'console';
interface Line {
  source: Source;
  text: string;
}

const lines: Line[] = [];
const raw: Record<Source, string> = { 'stack log': '', stdout: '', stderr: '', console: '' };
const partial: Partial<Record<Source, string>> = {};
const restorers: (() => void)[] = [];

function record(source: Source, text: string): void {
  raw[source] += text;
  const parts = `${partial[source] ?? ''}${text}`.split('\n');
  partial[source] = parts.pop() ?? '';
  for (const part of parts) if (part.trim() !== '') lines.push({ source, text: part });
}

/** Takes over a stream's write while the run lasts: everything written is kept, nothing reaches the terminal. */
function tapStream(stream: NodeJS.WriteStream, source: Source): void {
  const original = stream.write;
  const replacement = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    record(source, typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const callback = rest.find((arg): arg is (error: Error | null) => void => typeof arg === 'function');
    callback?.(null);
    return true;
  };
  stream.write = replacement as typeof stream.write;
  restorers.push(() => {
    stream.write = original;
  });
}

/** The test runner replaces the global console; whatever a handler logs through it is kept too. */
function tapConsole(): void {
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) => record('console', `${format(...args)}\n`);
    restorers.push(() => {
      console[method] = original;
    });
  }
}

function stopCapture(): void {
  for (const restore of restorers.splice(0).reverse()) restore();
  for (const source of Object.keys(partial) as Source[]) {
    const rest = partial[source];
    if (rest && rest.trim() !== '') lines.push({ source, text: rest });
    partial[source] = '';
  }
}

// ---------------------------------------------------------------------------------------------
// The run

let stack: LocalStack;
let stateDir = '';
let otherStateDir = '';
let client: LocalClient;
let db: DynamoDBDocumentClient;
const jwts = new Set<string>();
const taskTokens = new Set<string>();
const linkNonces = new Set<string>();
const transferIds: string[] = [];
/** Every answer of the API and of the link pages: status and the body as sent. */
const answers: { what: string; status: number; text: string }[] = [];

async function call(method: 'GET' | 'POST', path: string, token: string | null, body?: unknown): Promise<{ status: number; json: unknown }> {
  if (token !== null) jwts.add(token);
  const response = await fetch(`${stack.urls.api}${path}`, {
    method,
    headers: {
      ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  answers.push({ what: `${method} ${path}`, status: response.status, text });
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: response.status, json };
}

async function page(link: string, method: 'GET' | 'HEAD' | 'POST', form?: Record<string, string>): Promise<{ status: number; html: string }> {
  const response = await fetch(link, {
    method,
    ...(form ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() } : {}),
  });
  const html = await response.text();
  answers.push({ what: `${method} link`, status: response.status, text: html });
  return { status: response.status, html };
}

const poll = poller(20_000, 150);

const secretOf = (link: string) => link.slice(link.lastIndexOf('/') + 1);

async function create(token: string, body: Record<string, unknown>): Promise<TransferView> {
  const answer = await call('POST', '/transfers', token, body);
  expect(answer.status, JSON.stringify(answer.json)).toBe(201);
  const transfer = answer.json as TransferView;
  transferIds.push(transfer.id);
  return transfer;
}

async function statusOf(id: string, token: string, wanted: string[]): Promise<TransferView> {
  return poll(`${id} to be ${wanted.join(' or ')}`, async () => {
    const answer = await call('GET', `/transfers/${id}`, token);
    const transfer = answer.json as TransferView;
    return wanted.includes(transfer.status) ? transfer : undefined;
  });
}

/** Task tokens and link nonces are never answered by the API: they are read where they live, in the step items. */
async function collectStepSecrets(): Promise<void> {
  let start: Record<string, unknown> | undefined;
  do {
    const result = await db.send(
      new ScanCommand({
        TableName: stack.tableName,
        ConsistentRead: true,
        ExclusiveStartKey: start,
        FilterExpression: 'begins_with(sk, :step)',
        ExpressionAttributeValues: { ':step': 'STEP#' },
      }),
    );
    for (const item of result.Items ?? []) {
      if (typeof item.taskToken === 'string') taskTokens.add(item.taskToken);
      if (typeof item.linkNonce === 'string') linkNonces.add(item.linkNonce);
    }
    start = result.LastEvaluatedKey;
  } while (start);
}

/** Tokens an attacker or a confused client would send; each is refused with 401. */
async function wrongTokens(): Promise<string[]> {
  const settings = localJwtSettings();
  const real = await loadOrCreateSigningKey(stateDir);
  const other = await loadOrCreateSigningKey(otherStateDir);
  const now = Math.floor(Date.now() / 1000);
  const sign = (key: typeof real.privateKey, kid: string, issuer: string, audience: string, iat: number, exp: number) =>
    new SignJWT({ [settings.partnerClaim]: 'P-ACME', [settings.rolesClaim]: [] })
      .setProtectedHeader({ alg: LOCAL_JWT_ALG, kid, typ: 'JWT' })
      .setSubject('someone@acme-it.example')
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(key);
  const genuine = await signLocalToken({ stateDir, partnerId: 'P-DUNE' });
  const [header, payload, signature] = genuine.split('.');
  return [
    await signLocalToken({ stateDir, partnerId: 'P-ACME', expiresInSeconds: -60 }),
    await sign(real.privateKey, real.kid, settings.issuer, 'another-portal', now, now + 600),
    await sign(real.privateKey, real.kid, 'https://issuer.attacker.example/', settings.audience, now, now + 600),
    await sign(other.privateKey, real.kid, settings.issuer, settings.audience, now, now + 600),
    await sign(other.privateKey, other.kid, settings.issuer, settings.audience, now, now + 600),
    `${header ?? ''}.${payload ?? ''}.${(signature ?? '').split('').reverse().join('')}`,
  ];
}

/** The emails of the run, read before the stack (and its SES emulator) stopped. */
const emailsSeen: StoredEmail[] = [];
let tokens: { acme: string; blue: string; coral: string; dune: string; operator: string };
const completed = { id: '', releaseLink: '', acceptLink: '' };

const contract = new AnswerContract();

beforeAll(async () => {
  // Capture from before the stack starts (the handlers' modules load then) until after it stopped.
  tapStream(process.stdout, 'stdout');
  tapStream(process.stderr, 'stderr');
  tapConsole();
  try {
    await run();
  } finally {
    await stack?.stop();
    stopCapture();
  }
}, 120_000);

async function run(): Promise<void> {
  stateDir = await mkdtemp(join(tmpdir(), 'transfer-e2e-secrets-'));
  otherStateDir = await mkdtemp(join(tmpdir(), 'transfer-e2e-secrets-other-'));
  stack = await startLocalStack({
    stateDir,
    ports: { dynamodb: 0, ses: 0, sfn: 0, api: 0, events: 0 },
    // Every answer is checked against the OpenAPI document, as startTestStack does.
    onAnswer: (answer) => contract.check(answer),
    maxWaitSeconds: 1,
    maxRetryIntervalMs: 200,
    seedFile: TEST_DIRECTORY,
    env: { POWERTOOLS_LOG_LEVEL: 'INFO' },
    log: (line) => record('stack log', `${line}\n`),
  });
  client = new LocalClient(stack.urls.api, stack.urls.ses);
  db = documentClient(stack);
  tokens = {
    acme: await signLocalToken({ stateDir, partnerId: 'P-ACME', subject: 'alice@acme-it.example' }),
    blue: await signLocalToken({ stateDir, partnerId: 'P-BLUE', subject: 'dana@bluewave.example' }),
    coral: await signLocalToken({ stateDir, partnerId: 'P-CORAL', subject: 'carl@coralcloud.example' }),
    dune: await signLocalToken({ stateDir, partnerId: 'P-DUNE', subject: 'mallory@dune.example' }),
    operator: await signLocalToken({ stateDir, operator: true, subject: 'operator@provider.example' }),
  };
  for (const token of Object.values(tokens)) jwts.add(token);

  // A full transfer through both links: request → release → acceptance → completed.
  const full = await create(tokens.blue, { customerIds: ['C-A01'], toPartnerId: 'P-BLUE' });
  completed.id = full.id;
  completed.releaseLink = await stepLinkFor(client, ACME_BILLING, full.id, 'Release', poll);
  await collectStepSecrets();
  expect((await page(completed.releaseLink, 'GET')).status).toBe(200);
  expect((await page(completed.releaseLink, 'HEAD')).status).toBe(200);
  const released = await page(completed.releaseLink, 'POST', { decision: 'release', transferDate: inAWeek, signedBy: 'Alice Smith', acknowledge: 'on' });
  expect(released.status).toBe(200);
  completed.acceptLink = await stepLinkFor(client, BLUE, full.id, 'Acceptance', poll);
  await collectStepSecrets();
  expect((await page(completed.acceptLink, 'POST', { decision: 'accept', signedBy: 'Dana Lee', acknowledge: 'on' })).status).toBe(200);

  // A decline through a link, and one through the API.
  const declinedByLink = await create(tokens.acme, { customerIds: ['C-A02'], toPartnerId: 'P-CORAL' });
  const declineLink = await stepLinkFor(client, ACME_BILLING, declinedByLink.id, 'Release', poll);
  await collectStepSecrets();
  expect((await page(declineLink, 'POST', { decision: 'decline', reason: 'Customer stays with us', signedBy: 'Alice Smith', acknowledge: 'on' })).status).toBe(200);
  const declinedByApi = await create(tokens.acme, { customerIds: ['C-A03'], toPartnerId: 'P-BLUE', release: { transferDate: 'immediate', signedBy: 'Alice Smith' } });
  await stepLinkFor(client, BLUE, declinedByApi.id, 'Acceptance', poll);
  await collectStepSecrets();
  expect((await call('POST', `/transfers/${declinedByApi.id}/acceptance`, tokens.blue, { decision: 'decline', reason: 'No capacity', signedBy: 'Dana Lee' })).status).toBe(200);

  // A cancel while the release is awaited.
  const cancelled = await create(tokens.acme, { customerIds: ['C-A04'], toPartnerId: 'P-BLUE' });
  const cancelledLink = await stepLinkFor(client, ACME_BILLING, cancelled.id, 'Release', poll);
  await collectStepSecrets();
  expect((await call('POST', `/transfers/${cancelled.id}/cancel`, tokens.blue, { reason: 'Requested by mistake' })).status).toBe(200);

  // Failed logins, and calls the rules refuse.
  for (const token of await wrongTokens()) {
    jwts.add(token);
    expect((await call('GET', '/transfers', token)).status).toBe(401);
    expect((await call('POST', '/transfers', token, { customerIds: ['C-A05'], toPartnerId: 'P-BLUE' })).status).toBe(401);
    expect((await call('GET', `/transfers/${full.id}`, token)).status).toBe(401);
  }
  expect((await call('GET', '/transfers', null)).status).toBe(401);
  expect((await call('GET', `/transfers/${full.id}`, tokens.dune)).status).toBe(404);
  expect((await call('POST', `/transfers/${cancelled.id}/release`, tokens.blue, { decision: 'release', transferDate: 'immediate', signedBy: 'Dana Lee' })).status).toBe(403);
  expect((await call('POST', `/transfers/${declinedByLink.id}/release`, tokens.acme, { decision: 'release', transferDate: 'immediate', signedBy: 'Alice Smith' })).status).toBe(409);
  expect((await call('POST', '/transfers', tokens.operator, { customerIds: ['C-A05'], toPartnerId: 'P-BLUE' })).status).toBe(400);

  // Bad links: tampered, a task token offered as a secret, and links no longer open.
  await collectStepSecrets();
  const secret = secretOf(completed.releaseLink);
  for (const bad of [`${secret.slice(0, 42)}${secret.endsWith('A') ? 'B' : 'A'}`, secret.slice(0, 30), ...[...taskTokens].slice(0, 2)]) {
    expect((await page(`${stack.urls.api}/approvals/${bad}`, 'GET')).status).toBe(404);
    expect((await page(`${stack.urls.api}/approvals/${bad}`, 'POST', { decision: 'release', signedBy: 'Eve Mallory', acknowledge: 'on', immediate: 'on' })).status).toBe(404);
  }
  expect((await page(completed.releaseLink, 'GET')).status).toBe(409);
  expect((await page(completed.releaseLink, 'POST', { decision: 'decline', reason: 'Too late', signedBy: 'Alice Smith', acknowledge: 'on' })).status).toBe(409);
  expect((await page(cancelledLink, 'GET')).status).toBe(409);
  expect((await page(cancelledLink, 'POST', { decision: 'release', signedBy: 'Alice Smith', acknowledge: 'on', immediate: 'on' })).status).toBe(409);

  await statusOf(full.id, tokens.operator, ['COMPLETED']);
  await statusOf(declinedByLink.id, tokens.operator, ['DECLINED']);
  await statusOf(declinedByApi.id, tokens.operator, ['DECLINED']);
  // Let the last workflow steps (confirmations, notices) write their lines.
  await poll('the completion emails', async () => {
    const emails = await client.emails(0);
    return emails.some((e) => e.subject.startsWith('Transfer completed') && e.subject.includes(full.id)) ? true : undefined;
  });
  await collectStepSecrets();
  emailsSeen.push(...(await client.emails(0)));
}

afterAll(async () => {
  stopCapture();
  db?.destroy();
  for (const dir of [stateDir, otherStateDir]) if (dir) await rm(dir, { recursive: true, force: true });
  const failure = contract.failure();
  if (failure !== undefined) throw new Error(failure);
});

// ---------------------------------------------------------------------------------------------
// The checks

/** The forms a value can take in a log line, a JSON body or a URL, and fragments long enough to be unguessable. */
function formsOf(value: string, kind: 'jwt' | 'opaque'): string[] {
  const forms = new Set<string>([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1), JSON.stringify(JSON.stringify(value)).slice(1, -1)]);
  if (kind === 'jwt') {
    // The header is the same for every token; the claims and the signature are each a token's own.
    const [, payload, signature] = value.split('.');
    for (const part of [payload, signature]) if (part && part.length >= 20) forms.add(part);
  } else {
    forms.add(value.slice(0, 24));
    forms.add(value.slice(-24));
    if (/^[A-Za-z0-9_-]+$/.test(value)) forms.add(Buffer.from(value, 'base64url').toString('hex'));
  }
  return [...forms];
}

interface Sensitive {
  what: string;
  value: string;
  forms: string[];
}

/** What the run collected, in every form to look for. */
function sensitive(): { secrets: Sensitive[]; jwts: Sensitive[]; taskTokens: Sensitive[]; serverSide: Sensitive[] } {
  const linkKey = process.env.APPROVAL_LINK_KEY ?? '';
  return {
    secrets: [...new Set(emailsSeen.flatMap(linksIn).map(secretOf))].map((value) => ({ what: 'link secret', value, forms: formsOf(value, 'opaque') })),
    jwts: [...jwts].map((value) => ({ what: 'JWT', value, forms: formsOf(value, 'jwt') })),
    taskTokens: [...taskTokens].map((value) => ({ what: 'task token', value, forms: formsOf(value, 'opaque') })),
    // What a link secret is derived from: the nonces of the step items and the server's link key.
    serverSide: [
      ...[...linkNonces].map((value) => ({ what: 'link nonce', value, forms: formsOf(value, 'opaque') })),
      ...(linkKey ? [{ what: 'approval-link key', value: linkKey, forms: formsOf(linkKey, 'opaque') }] : []),
    ],
  };
}

function found(text: string, values: Sensitive[]): string[] {
  return values.filter((v) => v.forms.some((form) => text.includes(form))).map((v) => `${v.what} ${v.value.slice(0, 6)}…`);
}

describe('secrets stay out of logs, error bodies and emails', () => {
  it('collected what it checks: log lines of every source, the tokens, secrets and task tokens of the run', () => {
    expect(lines.length).toBeGreaterThanOrEqual(60);
    const bySource = (source: Source) => lines.filter((l) => l.source === source);
    expect(bySource('stack log').length).toBeGreaterThan(20);
    // The handlers' Powertools lines went to stdout and were caught there.
    const powertools = bySource('stdout').flatMap((l) => {
      try {
        return [JSON.parse(l.text) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    expect(powertools.length).toBeGreaterThan(10);
    expect(powertools.some((l) => l.message === 'Transfer requested' && l.transferId === completed.id)).toBe(true);
    expect(powertools.some((l) => l.message === 'Decision recorded through a link' && l.transferId === completed.id)).toBe(true);
    expect(transferIds).toHaveLength(4);
    for (const id of transferIds) expect(lines.some((l) => l.text.includes(id)), `a line names ${id}`).toBe(true);
    expect(lines.filter((l) => / 401 \d+ms$/.test(l.text)).length).toBeGreaterThanOrEqual(19);

    const collected = sensitive();
    expect(collected.jwts.length).toBeGreaterThanOrEqual(11);
    expect(collected.taskTokens.length).toBeGreaterThanOrEqual(5);
    expect(collected.secrets.length).toBeGreaterThanOrEqual(5);
    expect(collected.serverSide.length).toBeGreaterThanOrEqual(5);
    expect(emailsSeen.length).toBeGreaterThan(10);
  });

  it('writes none of them in any log line, of any source', () => {
    const { secrets, jwts: jwtValues, taskTokens: tasks, serverSide } = sensitive();
    const all = [...secrets, ...jwtValues, ...tasks, ...serverSide];
    expect(all.length).toBeGreaterThan(25);
    expect(lines.length).toBeGreaterThan(0);
    const leaks = lines.flatMap((line) => found(line.text, all).map((what) => `${line.source}: ${what} in ${line.text.slice(0, 160)}`));
    expect(leaks).toEqual([]);
    // Also across line breaks, in the raw output of each source.
    for (const [source, text] of Object.entries(raw)) expect(found(text.replace(/\s+/g, ''), all), source).toEqual([]);
  });

  it('answers no task token, JWT or link nonce in any API or page body, and no secret in an API body or error page', () => {
    const { secrets, jwts: jwtValues, taskTokens: tasks, serverSide } = sensitive();
    expect(jwtValues.length * tasks.length * secrets.length).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status >= 400).length).toBeGreaterThan(25);
    for (const answer of answers) {
      const label = `${answer.what} → ${answer.status}`;
      expect(found(answer.text, [...jwtValues, ...tasks, ...serverSide]), label).toEqual([]);
      // A link page may show its own link; a portal answer or an error page shows none.
      if (answer.status >= 400 || !answer.what.endsWith(' link')) expect(found(answer.text, secrets), label).toEqual([]);
    }
  });

  it('emails no task token, JWT or nonce, and a secret only in the approval email of its own link', () => {
    const { secrets, jwts: jwtValues, taskTokens: tasks, serverSide } = sensitive();
    expect(jwtValues.length * tasks.length * secrets.length).toBeGreaterThan(0);
    expect(emailsSeen.length).toBeGreaterThan(10);
    for (const email of emailsSeen) {
      const label = `${email.subject} to ${email.destination.to.join(', ')}`;
      const text = `${email.subject}\n${email.body.text ?? ''}\n${email.body.html ?? ''}`;
      expect(found(text, [...jwtValues, ...tasks, ...serverSide]), label).toEqual([]);
      const own = new Set(linksIn(email).map(secretOf));
      const present = secrets.filter((secret) => secret.forms.some((form) => text.includes(form))).map((secret) => secret.value);
      expect(present.filter((value) => !own.has(value)), label).toEqual([]);
      if (own.size > 0) expect(email.subject, label).toMatch(/^(Reminder: )?(Release|Acceptance) needed/);
    }
  });
});
