import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dateAt } from '../../lambdas/domain/dates.ts';
import { signLocalToken } from '../../local/jwt-keys.ts';
import { LocalClient, type StoredEmail, type TransferView } from '../../local/local-client.ts';
import { AnswerContract } from '../contract/answers.ts';
import { startLocalStack, type LocalStack } from '../../local/stack.ts';
import { TEST_DIRECTORY } from './local-stack.ts';
import { documentClient, eventsOf, linksIn, poll, scanTable, stepLinkFor, withoutRelayMarks } from './support.ts';

/**
 * Approval links as their holders, and the mail scanners in front of them, meet them: opening a
 * link changes nothing, a secret decides only its own transfer, step and partner, a tampered one is
 * unknown, a used, expired or superseded one says so, and the table keeps only hashes.
 */

// Each waiting step expires after WINDOW_SECONDS (no reminder is due before), so a link created
// when the suite starts has expired by its end; every other link is used within seconds.
const WINDOW_SECONDS = 15;
const ACME_BILLING = 'billing@acme-it.example';
const BLUE = 'partners@bluewave.example';
const CORAL = 'admin@coralcloud.example';
const today = dateAt(new Date(), 'America/New_York');
const inAWeek = addDays(today, 7);

let stack: LocalStack;
let stateDir = '';
let client: LocalClient;
let db: DynamoDBDocumentClient;
const tokens = { acme: '', blue: '', coral: '', operator: '' };
/** The transfer whose link is left to expire, and its link. */
let expiring = { id: '', link: '' };

type Item = Record<string, unknown>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const secretOf = (link: string) => link.slice(link.lastIndexOf('/') + 1);
const linkTo = (secret: string) => `${stack.urls.api}/approvals/${secret}`;

async function create(token: string, body: Record<string, unknown>): Promise<TransferView> {
  const answer = await client.call('POST', '/transfers', token, body);
  if (answer.status !== 201) throw new Error(`POST /transfers answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body as TransferView;
}

async function view(id: string): Promise<TransferView> {
  const answer = await client.call('GET', `/transfers/${id}`, tokens.operator);
  if (answer.status !== 200) throw new Error(`GET /transfers/${id} answered ${answer.status}`);
  return answer.body as TransferView;
}

/** Every item about some transfers: theirs, their links', and their customers'. */
async function snapshotOf(transfers: TransferView[]): Promise<Item[]> {
  const ids = new Set(transfers.map((t) => t.id));
  const customers = new Set(transfers.flatMap((t) => (t.customers as { id: string }[]).map((c) => `CUSTOMER#${c.id}`)));
  return withoutRelayMarks(await scanTable(db, stack.tableName)).filter(
    (item) =>
      ids.has(String(item.pk).replace(/^TRANSFER#/, '')) ||
      (item.kind === 'link' && ids.has(String(item.transferId))) ||
      customers.has(String(item.pk)),
  );
}

/** Waits until nothing about these transfers changes any more (their workflows are waiting for a decision). */
async function settled(transfers: TransferView[]): Promise<Item[]> {
  let last = '';
  let stableSince = Date.now();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const items = await snapshotOf(transfers);
    const now = JSON.stringify(items);
    const linksSent = items.filter((i) => String(i.sk).startsWith('STEP#')).every((i) => typeof i.linkSentAt === 'string');
    if (now !== last || !linksSent) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 600) {
      return items;
    }
    await sleep(150);
  }
  throw new Error('The transfers did not settle within 15 s');
}

async function emailsAbout(transferId: string): Promise<StoredEmail[]> {
  return (await client.emails(0)).filter((e) => e.subject.includes(transferId));
}

async function open(link: string, method: 'GET' | 'HEAD' = 'GET', headers: Record<string, string> = {}) {
  const response = await fetch(link, { method, headers });
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', html: await response.text() };
}

const RELEASE_FORM = { decision: 'release', transferDate: inAWeek, signedBy: 'Alice Smith', acknowledge: 'on' };
const ACCEPT_FORM = { decision: 'accept', signedBy: 'Dana Lee', acknowledge: 'on' };

const contract = new AnswerContract();

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'transfer-e2e-links-'));
  stack = await startLocalStack({
    stateDir,
    ports: { dynamodb: 0, ses: 0, sfn: 0, api: 0, events: 0 },
    // Every answer is checked against the OpenAPI document, as startTestStack does.
    onAnswer: (answer) => contract.check(answer),
    maxWaitSeconds: 1,
    maxRetryIntervalMs: 200,
    seedFile: TEST_DIRECTORY,
    env: {
      POWERTOOLS_LOG_LEVEL: 'WARN',
      TRANSFER_APPROVAL_WINDOW_SECONDS: String(WINDOW_SECONDS),
      TRANSFER_REMINDER_INTERVAL_SECONDS: '3600',
    },
  });
  client = new LocalClient(stack.urls.api, stack.urls.ses);
  db = documentClient(stack);
  tokens.acme = await signLocalToken({ stateDir, partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
  tokens.blue = await signLocalToken({ stateDir, partnerId: 'P-BLUE', subject: 'dana@bluewave.example' });
  tokens.coral = await signLocalToken({ stateDir, partnerId: 'P-CORAL', subject: 'carl@coralcloud.example' });
  tokens.operator = await signLocalToken({ stateDir, operator: true, subject: 'operator@provider.example' });
  // Left alone from the start, so that its link has expired when the last test looks at it.
  const transfer = await create(tokens.coral, { customerIds: ['C-C01'], toPartnerId: 'P-BLUE' });
  expiring = { id: transfer.id, link: await stepLinkFor(client, CORAL, transfer.id, 'Release') };
}, 90_000);

afterAll(async () => {
  db?.destroy();
  await stack?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  const failure = contract.failure();
  if (failure !== undefined) throw new Error(failure);
});

// ---------------------------------------------------------------------------------------------

const SCANNER_AGENTS = [
  'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)',
  'Mozilla/5.0 (compatible; Barracuda Sentinel)',
  'Proofpoint URL Defense',
  'Mimecast',
  'Google-Safety',
  'curl/8.5.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Microsoft-Defender-SafeLinks',
  'python-requests/2.31.0',
  'Mozilla/5.0 (compatible; Cisco Secure Email)',
] as const;

describe('approval links', () => {
  it('change nothing when opened 50 times with GET and HEAD by mail scanners, and still work afterwards', async () => {
    const transfer = await create(tokens.acme, { customerIds: ['C-A01'], toPartnerId: 'P-BLUE' });
    const link = await stepLinkFor(client, ACME_BILLING, transfer.id, 'Release');
    const before = await settled([transfer]);
    const emailsBefore = await emailsAbout(transfer.id);
    expect(before.some((item) => item.pk === `LINK#${sha256(secretOf(link))}` && item.state === 'open')).toBe(true);

    const answers: { method: string; agent: string; status: number; contentType: string; html: string }[] = [];
    // Scanners come in bursts: five rounds of ten requests in parallel, alternating GET and HEAD.
    for (let round = 0; round < 5; round++) {
      const batch = Array.from({ length: 10 }, (_, i) => {
        const agent = SCANNER_AGENTS[(round * 3 + i) % SCANNER_AGENTS.length] ?? 'curl/8.5.0';
        const method = (round + i) % 2 === 0 ? 'GET' : 'HEAD';
        return open(link, method, { 'user-agent': agent, accept: 'text/html,*/*;q=0.8' }).then((a) => ({ ...a, method, agent }));
      });
      answers.push(...(await Promise.all(batch)));
    }
    expect(answers).toHaveLength(50);
    for (const answer of answers) {
      expect(answer.status, `${answer.method} by ${answer.agent}`).toBe(200);
      expect(answer.contentType).toMatch(/^text\/html/);
      if (answer.method === 'GET') {
        expect(answer.html).toContain('name="signedBy"');
        expect(answer.html).toContain(transfer.id);
      } else {
        expect(answer.html).toBe('');
      }
    }
    expect(answers.filter((a) => a.method === 'HEAD')).toHaveLength(25);

    // Not an item, not an email, not a status changed.
    expect(await snapshotOf([transfer])).toEqual(before);
    expect(await emailsAbout(transfer.id)).toEqual(emailsBefore);
    const unchanged = await view(transfer.id);
    expect(unchanged.status).toBe('AWAITING_RELEASE');
    expect(unchanged.history.map((e) => e.type)).toEqual(['REQUESTED', 'APPROVAL_REQUESTED']);

    // The link still decides.
    const released = await client.postForm(link, RELEASE_FORM);
    expect(released.status).toBe(200);
    expect(released.html).toContain('Your decision has been recorded');
    expect((await view(transfer.id)).status).toBe('AWAITING_ACCEPTANCE');
    expect((await client.call('POST', `/transfers/${transfer.id}/cancel`, tokens.acme, { reason: 'Test done' })).status).toBe(200);
  });

  it('decides only its own transfer, its own step and for its own partner; tampered secrets are unknown', async () => {
    const [a, b] = await Promise.all([
      create(tokens.acme, { customerIds: ['C-A02'], toPartnerId: 'P-BLUE' }),
      create(tokens.acme, { customerIds: ['C-A03'], toPartnerId: 'P-BLUE' }),
    ]);
    if (!a || !b) throw new Error('two transfers expected');
    const [linkA, linkB] = await Promise.all([stepLinkFor(client, ACME_BILLING, a.id, 'Release'), stepLinkFor(client, ACME_BILLING, b.id, 'Release')]);
    expect(linkA).not.toBe(linkB);
    const before = await settled([a, b]);
    const beforeB = await snapshotOf([b]);

    // Each link shows its own transfer only.
    const pageA = await open(linkA);
    const pageB = await open(linkB);
    expect(pageA.html).toContain(a.id);
    expect(pageA.html).not.toContain(b.id);
    expect(pageB.html).toContain(b.id);
    expect(pageB.html).not.toContain(a.id);

    // A release link cannot accept.
    const accepting = await client.postForm(linkA, ACCEPT_FORM);
    expect(accepting.status).toBe(400);
    expect(accepting.html).toContain('Your decision was not recorded');
    expect(accepting.html).toMatch(/choose release or decline/);

    // Tampered secrets: unknown, whatever the method, and nothing is recorded.
    const secret = secretOf(linkA);
    const swap = (s: string, at: number) => {
      const c = s.charAt(at);
      const other = c === 'A' ? 'B' : 'A';
      return `${s.slice(0, at)}${other}${s.slice(at + 1)}`;
    };
    const letterAt = secret.search(/[A-Za-z]/);
    const letter = secret.charAt(letterAt);
    const standardAlphabet = secret.replace(/-/g, '+').replace(/_/g, '/');
    const tampered: [string, string][] = [
      ['first character changed', swap(secret, 0)],
      ['middle character changed', swap(secret, 21)],
      ['last character changed', swap(secret, 42)],
      ['case of one letter flipped', `${secret.slice(0, letterAt)}${letter === letter.toUpperCase() ? letter.toLowerCase() : letter.toUpperCase()}${secret.slice(letterAt + 1)}`],
      ['last character cut', secret.slice(0, -1)],
      ['cut in half', secret.slice(0, 22)],
      ['one character more', `${secret}A`],
      ['doubled', `${secret}${secret}`],
      ['base64 padding added', `${secret}=`],
      ['a "+" in it', `${secret.slice(0, 10)}+${secret.slice(11)}`],
      ['a "." in it', `${secret.slice(0, 10)}.${secret.slice(11)}`],
      ['a "~" in it', `${secret.slice(0, 10)}~${secret.slice(11)}`],
      ['an encoded "/" in it', `${secret.slice(0, 10)}%2F${secret.slice(11)}`],
      ['an encoded space after it', `${secret}%20`],
      ['written in the standard base64 alphabet', encodeURIComponent(standardAlphabet === secret ? `${secret.slice(0, 42)}+` : standardAlphabet)],
      ['the stored hash instead of the secret', sha256(secret)],
      ['the secret of the other transfer, upper-cased', secretOf(linkB).toUpperCase()],
    ];
    for (const [what, variant] of tampered) {
      expect(variant, what).not.toBe(secret);
      const link = linkTo(variant);
      for (const method of ['GET', 'HEAD'] as const) {
        const answer = await open(link, method);
        expect(answer.status, `${method} with ${what}`).toBe(404);
        expect(answer.contentType, what).toMatch(/^text\/html/);
        if (method === 'GET') expect(answer.html, what).toContain('This link is not recognised');
      }
      const posted = await client.postForm(link, RELEASE_FORM);
      expect(posted.status, `POST with ${what}`).toBe(404);
      expect(posted.html).toContain('This link is not recognised');
    }
    expect(await snapshotOf([a, b])).toEqual(before);

    // Transfer A's link decides A, for A's current partner; B does not move.
    const released = await client.postForm(linkA, RELEASE_FORM);
    expect(released.status).toBe(200);
    const afterA = await view(a.id);
    expect(afterA.status).toBe('AWAITING_ACCEPTANCE');
    const consent = eventsOf(afterA, 'RELEASED');
    expect(consent).toHaveLength(1);
    expect(consent[0]?.actor).toEqual({ kind: 'partner', partnerId: 'P-ACME', name: 'Alice Smith' });
    expect(consent[0]?.detail).toMatchObject({ via: 'link', decision: 'release', signedBy: 'Alice Smith', transferDate: inAWeek });
    expect(await snapshotOf([b])).toEqual(beforeB);
    expect((await view(b.id)).status).toBe('AWAITING_RELEASE');
    expect((await open(linkB)).status).toBe(200);

    // A's acceptance link goes to the new partner and is a link of its own: it cannot release, and the
    // used release link cannot accept now that the transfer waits for the acceptance.
    const acceptLinkA = await stepLinkFor(client, BLUE, a.id, 'Acceptance');
    expect(secretOf(acceptLinkA)).not.toBe(secret);
    const acceptPage = await open(acceptLinkA);
    expect(acceptPage.status).toBe(200);
    expect(acceptPage.html).toContain('Bluewave Networks');
    const releasing = await client.postForm(acceptLinkA, { ...RELEASE_FORM, signedBy: 'Dana Lee' });
    expect(releasing.status).toBe(400);
    expect(releasing.html).toMatch(/choose accept or decline/);
    const lateAccept = await client.postForm(linkA, ACCEPT_FORM);
    expect(lateAccept.status).toBe(409);
    expect(lateAccept.html).toContain('This link has already been used');
    const stillWaiting = await view(a.id);
    expect(stillWaiting.status).toBe('AWAITING_ACCEPTANCE');
    expect(eventsOf(stillWaiting, 'ACCEPTED')).toEqual([]);

    const accepted = await client.postForm(acceptLinkA, ACCEPT_FORM);
    expect(accepted.status).toBe(200);
    const acceptance = eventsOf(await view(a.id), 'ACCEPTED');
    expect(acceptance.map((e) => e.actor)).toEqual([{ kind: 'partner', partnerId: 'P-BLUE', name: 'Dana Lee' }]);
    // Cancel B, so that it does not run into its expiry while the other tests run.
    expect((await client.call('POST', `/transfers/${b.id}/cancel`, tokens.acme, { reason: 'Test done' })).status).toBe(200);
  });

  it('says a used link was used, with the decision recorded, and records nothing more', async () => {
    const transfer = await create(tokens.acme, { customerIds: ['C-A04'], toPartnerId: 'P-BLUE' });
    const releaseLink = await stepLinkFor(client, ACME_BILLING, transfer.id, 'Release');
    expect((await client.postForm(releaseLink, RELEASE_FORM)).status).toBe(200);
    const acceptLink = await stepLinkFor(client, BLUE, transfer.id, 'Acceptance');
    const declined = await client.postForm(acceptLink, { decision: 'decline', reason: 'No contract with this customer', signedBy: 'Dana Lee', acknowledge: 'on' });
    expect(declined.status).toBe(200);
    await client.waitForStatus(transfer.id, tokens.operator, ['DECLINED'], 10_000);
    // The workflow still tells both partners of the decline; take the record once it has.
    let recorded = await view(transfer.id);
    for (let tries = 0; tries < 80 && !recorded.history.some((e) => e.type === 'DECLINE_NOTICE_SENT'); tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      recorded = await view(transfer.id);
    }
    expect(recorded.history.map((e) => e.type)).toContain('DECLINE_NOTICE_SENT');

    for (const [link, decision, signer, extra] of [
      [releaseLink, 'Released', 'Alice Smith', inAWeek],
      [acceptLink, 'Declined', 'Dana Lee', 'No contract with this customer'],
    ] as const) {
      const page = await open(link);
      expect(page.status).toBe(409);
      expect(page.html).toContain('This link has already been used');
      expect(page.html).toContain(transfer.id);
      // The page tells which decision stands: who signed what.
      expect(page.html, `the used page of the ${decision} link names the decision`).toContain(decision);
      expect(page.html, 'and its signer').toContain(signer);
      expect(page.html, 'and its date or reason').toContain(extra);
      expect((await open(link, 'HEAD')).status).toBe(409);
    }

    // The same form again answers with the decision already recorded; another decision is refused.
    const again = await client.postForm(releaseLink, RELEASE_FORM);
    expect(again.status).toBe(200);
    expect(again.html).toContain('This decision was already recorded');
    expect(again.html).toContain('Alice Smith');
    const other = await client.postForm(releaseLink, { decision: 'decline', reason: 'Changed my mind', signedBy: 'Alice Smith', acknowledge: 'on' });
    expect(other.status).toBe(409);
    expect(other.html).toContain('This link has already been used');
    const otherAccept = await client.postForm(acceptLink, ACCEPT_FORM);
    expect(otherAccept.status).toBe(409);

    const after = await view(transfer.id);
    expect(after.status).toBe('DECLINED');
    expect(after.history).toEqual(recorded.history);
  });

  it('says a superseded link was replaced, and records nothing with it', async () => {
    // The workflow supersedes a link only when a wait resumes after its link's deadline, a race the
    // expiry wins in practice; so the link item is put in that state directly.
    const transfer = await create(tokens.acme, { customerIds: ['C-A05'], toPartnerId: 'P-BLUE' });
    const link = await stepLinkFor(client, ACME_BILLING, transfer.id, 'Release');
    await settled([transfer]);
    await db.send(
      new UpdateCommand({
        TableName: stack.tableName,
        Key: { pk: `LINK#${sha256(secretOf(link))}`, sk: 'LINK' },
        UpdateExpression: 'SET #state = :superseded',
        ConditionExpression: '#state = :open',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':superseded': 'superseded', ':open': 'open' },
      }),
    );
    const before = await snapshotOf([transfer]);

    const page = await open(link);
    expect(page.status).toBe(410);
    expect(page.html).toContain('A newer link was sent');
    expect(page.html).toContain('Nothing was recorded');
    expect((await open(link, 'HEAD')).status).toBe(410);
    const posted = await client.postForm(link, RELEASE_FORM);
    expect(posted.status).toBe(410);
    expect(posted.html).toContain('A newer link was sent');

    expect(await snapshotOf([transfer])).toEqual(before);
    const after = await view(transfer.id);
    expect(after.status).toBe('AWAITING_RELEASE');
    expect(eventsOf(after, 'RELEASED')).toEqual([]);
    expect((await client.call('POST', `/transfers/${transfer.id}/cancel`, tokens.acme, { reason: 'Test done' })).status).toBe(200);
  });

  it('carries secrets of 256 bits, all distinct and evenly spread', async () => {
    const customers = Array.from({ length: 24 }, (_, i) => `C-A${String(i + 11).padStart(2, '0')}`);
    const transfers = await Promise.all(customers.map((id) => create(tokens.acme, { customerIds: [id], toPartnerId: 'P-BLUE' })));
    await poll('a release link for each of them', async () => {
      const subjects = (await client.emails(0)).filter((e) => e.subject.startsWith('Release needed')).map((e) => e.subject);
      return transfers.every((t) => subjects.some((subject) => subject.includes(t.id))) ? true : undefined;
    });
    await Promise.all(transfers.map((t) => client.call('POST', `/transfers/${t.id}/cancel`, tokens.acme, { reason: 'Test done' })));

    const links = new Set((await client.emails(0)).flatMap(linksIn));
    const secrets = [...links].map(secretOf);
    expect(secrets.length).toBeGreaterThanOrEqual(30);
    const decoded = secrets.map((s) => Buffer.from(s, 'base64url'));
    for (const [i, secret] of secrets.entries()) {
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const bytes = decoded[i] ?? Buffer.alloc(0);
      expect(bytes.length).toBeGreaterThanOrEqual(16);
      expect(bytes.length).toBe(32);
      expect(bytes.toString('base64url')).toBe(secret);
    }
    expect(new Set(secrets).size).toBe(secrets.length);
    expect(new Set(decoded.map((b) => b.toString('hex'))).size).toBe(secrets.length);

    // Characters 1-42 each carry 6 random bits (the 43rd only 4): over the 64 symbols, a chi-square
    // far below what any bias would give (63 degrees of freedom; 130 is beyond p = 1e-6).
    const counts = new Map<string, number>();
    for (const secret of secrets) for (const c of secret.slice(0, 42)) counts.set(c, (counts.get(c) ?? 0) + 1);
    const total = secrets.length * 42;
    const expected = total / 64;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const chiSquare = [...alphabet].reduce((sum, c) => sum + ((counts.get(c) ?? 0) - expected) ** 2 / expected, 0);
    expect(counts.size).toBeGreaterThanOrEqual(58);
    expect(chiSquare).toBeLessThan(130);
    // And the bits: about half are ones (five standard deviations).
    const bits = decoded.length * 256;
    const ones = decoded.reduce((sum, bytes) => sum + [...bytes].reduce((s, byte) => s + byte.toString(2).replace(/0/g, '').length, 0), 0);
    expect(Math.abs(ones / bits - 0.5)).toBeLessThan(5 * Math.sqrt(0.25 / bits));
    // No two secrets share a long prefix.
    const prefixes = new Set(secrets.map((s) => s.slice(0, 8)));
    expect(prefixes.size).toBe(secrets.length);
  });

  it('never keeps a plain secret in the table: only its SHA-256', async () => {
    const secrets = [...new Set((await client.emails(0)).flatMap(linksIn))].map(secretOf);
    expect(secrets.length).toBeGreaterThanOrEqual(30);
    const items = await scanTable(db, stack.tableName);
    // Each secret in any form a careless store might keep: as sent, its bytes in hex and in standard base64.
    const forms = secrets.flatMap((secret) => {
      const bytes = Buffer.from(secret, 'base64url');
      return [secret, bytes.toString('hex'), bytes.toString('base64').replace(/=+$/, '')];
    });
    const strings: { key: string; value: string }[] = [];
    const collect = (key: string, value: unknown): void => {
      if (typeof value === 'string') strings.push({ key, value });
      else if (Array.isArray(value)) value.forEach((v, i) => collect(`${key}[${i}]`, v));
      else if (value instanceof Set) [...(value as Set<unknown>)].forEach((v) => collect(`${key}{}`, v));
      else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) collect(`${key}.${k}`, v);
    };
    for (const item of items) collect(`${String(item.pk)}|${String(item.sk)}`, item);
    expect(strings.length).toBeGreaterThan(items.length);
    const leaks = strings.filter(({ value }) => forms.some((form) => value.includes(form))).map(({ key }) => key);
    expect(leaks).toEqual([]);
    // ... while each secret is findable by its hash, bound to one transfer, step and partner.
    const links = new Map(items.filter((item) => item.kind === 'link').map((item) => [String(item.pk), item]));
    for (const secret of secrets) {
      const item = links.get(`LINK#${sha256(secret)}`);
      expect(item, 'a link item keyed by the hash').toBeDefined();
      const transfer = items.find((i) => i.pk === `TRANSFER#${String(item?.transferId)}` && i.sk === 'TRANSFER') as
        | { fromPartner: { id: string }; toPartner: { id: string } }
        | undefined;
      expect(transfer, 'the transfer of the link').toBeDefined();
      expect(item?.partnerId).toBe(item?.step === 'release' ? transfer?.fromPartner.id : transfer?.toPartner.id);
      expect(Object.keys(item ?? {}).filter((key) => /secret|nonce|token|url/i.test(key))).toEqual([]);
    }
  });

  it('says an expired link expired, and records nothing with it', async () => {
    const expiredPage = await poll(
      'the link to expire',
      async () => {
        const page = await open(expiring.link);
        return page.status === 410 ? page : undefined;
      },
      WINDOW_SECONDS * 1000 + 15_000,
    );
    expect(expiredPage.html).toContain('This link has expired');
    expect(expiredPage.html).toContain('Nothing was recorded');
    const expired = await client.waitForStatus(expiring.id, tokens.operator, ['EXPIRED'], 15_000);
    const page = await open(expiring.link);
    expect(page.status).toBe(410);
    expect(page.html).toContain('This link has expired');
    expect((await open(expiring.link, 'HEAD')).status).toBe(410);
    const posted = await client.postForm(expiring.link, RELEASE_FORM);
    expect(posted.status).toBe(410);
    expect(posted.html).toContain('This link has expired');
    const after = await view(expiring.id);
    expect(after.status).toBe('EXPIRED');
    expect(after.history).toEqual(expired.history);
    expect(eventsOf(after, 'RELEASED')).toEqual([]);
  }, 45_000);
});
