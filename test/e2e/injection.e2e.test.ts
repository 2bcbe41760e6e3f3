import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dateAt } from '../../lambdas/domain/dates.ts';
import type { StoredEmail, TransferView } from '../../local/local-client.ts';
import { startTestStack, type TestStack } from './local-stack.ts';
import { poller } from './support.ts';

/**
 * A directory and requests full of markup, quotes, entities and line breaks, driven through every
 * page and email the system produces. Nothing of it may become markup or a header: the pages and
 * the HTML parts carry it escaped, the text parts carry it as written, subjects stay one line.
 */

const HOSTILE_DIRECTORY = new URL('../fixtures/hostile-directory.json', import.meta.url);

interface DirectoryFixture {
  partners: { id: string; name: string; contacts: string[] }[];
  customers: { id: string; name: string; partnerId: string; domains: string[]; settings: Record<string, unknown>; users: unknown[] }[];
}

const NOTE = `<script>alert('note')</script> "quoted" & 'single' &amp; <img src=x onerror=alert(1)>\r\nsecond line\u2028third`;
const REASON = `<script>alert('reason')</script> "no" & 'never' &amp; "><img src=x onerror=alert(2)>\r\nline two\u2028end`;
const CANCEL_REASON = `</blockquote><script>alert('cancel')</script> & "bye"\r\nmore`;
/** HTML is allowed in a signer's name (it is only text); control characters are not. */
const SIGNER_HTML = `Mallory "><img src=x onerror=alert(1)> <script>alert(2)</script> & O'Neil`;
const SIGNER_HTML_2 = `<b onmouseover=alert(1)>Host Signer</b> &amp; 'x'`;
const TEXTAREA_BREAKOUT = `</textarea><script>alert('form')</script>"><img src=x onerror=alert(3)>`;

const today = dateAt(new Date(), 'America/New_York');
const LINK = /https?:\/\/[^\s"'<>]+\/approvals\/[A-Za-z0-9_-]+/;

let t: TestStack;
let directory: DirectoryFixture;
let evil: string;
let host: string;
let operator: string;

/** Every page served during the test, checked together at the end (and as they come). */
const pages: { what: string; status: number; headers: Headers; html: string; hasTransfer: boolean }[] = [];

beforeAll(async () => {
  directory = JSON.parse(await readFile(HOSTILE_DIRECTORY, 'utf8')) as DirectoryFixture;
  t = await startTestStack({ seedFile: HOSTILE_DIRECTORY });
  evil = await t.token({ partnerId: 'P-EVIL', subject: "o'hara@evil.example" });
  host = await t.token({ partnerId: 'P-HOST', subject: 'security+x@host.example' });
  operator = await t.token('operator');
});

afterAll(async () => {
  await t?.stop();
});

// ---------------------------------------------------------------------------------------------
// Helpers

function partnerName(id: string): string {
  const partner = directory.partners.find((p) => p.id === id);
  if (!partner) throw new Error(`no partner ${id} in the fixture`);
  return partner.name;
}

function customerName(id: string): string {
  const customer = directory.customers.find((c) => c.id === id);
  if (!customer) throw new Error(`no customer ${id} in the fixture`);
  return customer.name;
}

/** HTML escaping as a browser needs it, written independently of the product's. */
function escaped(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A subject as it must go out: every line break or control character folded into one space. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/ {2,}/g, ' ').trim();
}

const poll = poller(20_000, 150);

async function emailAbout(transferId: string, subjectStart: string, recipient?: string): Promise<StoredEmail> {
  return poll(`"${subjectStart}" about ${transferId}`, async () =>
    (await t.client.emails(0)).find(
      (e) => e.subject.startsWith(subjectStart) && e.subject.includes(transferId) && (recipient === undefined || e.destination.to.includes(recipient)),
    ),
  );
}

function linkIn(email: StoredEmail): string {
  const link = LINK.exec(email.body.text ?? '')?.[0];
  if (!link) throw new Error(`no approval link in "${email.subject}"`);
  return link;
}

async function fetchPage(what: string, url: string, init: RequestInit = {}, hasTransfer = true): Promise<{ status: number; html: string }> {
  const response = await fetch(url, init);
  const html = await response.text();
  pages.push({ what, status: response.status, headers: response.headers, html, hasTransfer });
  return { status: response.status, html };
}

async function postForm(what: string, url: string, fields: Record<string, string>): Promise<{ status: number; html: string }> {
  return fetchPage(what, url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

function cspSources(csp: string, directive: string): string[] {
  const found = csp
    .split(';')
    .map((part) => part.trim().split(/\s+/))
    .find(([name]) => name === directive);
  return found?.slice(1) ?? [];
}

function withoutScriptsAndStyles(html: string): string {
  return html.replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, '').replace(/<style\b[^>]*>[\s\S]*?<\/style>/gi, '');
}

/** The start tags of a document, with their attributes; script and style contents are left out. */
function startTags(html: string): { name: string; attributes: { name: string; value: string }[] }[] {
  const body = withoutScriptsAndStyles(html);
  return [...body.matchAll(/<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*\/?>/g)].map((match) => ({
    name: (match[1] ?? '').toLowerCase(),
    attributes: [...(match[2] ?? '').matchAll(/([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?/g)].map((a) => ({
      name: (a[1] ?? '').toLowerCase(),
      value: (a[2] ?? '').replace(/^["']|["']$/g, ''),
    })),
  }));
}

/**
 * Markup safety of one HTML document: the only scripts are the ones its policy allows by hash (none
 * in an email), no tag carries an event handler, an image or a javascript: URL, and no hostile
 * fragment appears raw.
 */
function expectNoMarkupInjected(what: string, html: string, allowedScriptHashes: readonly string[]): void {
  const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)].map((m) => m[1] ?? '');
  expect((html.match(/<script/gi) ?? []).length, `${what}: every <script is a whole element`).toBe(scripts.length);
  for (const script of scripts) {
    const hash = `'sha256-${createHash('sha256').update(script, 'utf8').digest('base64')}'`;
    expect(allowedScriptHashes, `${what}: a script the page's policy does not allow`).toContain(hash);
    expect(script, what).not.toMatch(/alert/);
  }
  const tags = startTags(html);
  expect(tags.length, `${what}: parsed as HTML`).toBeGreaterThan(10);
  for (const tag of tags) {
    const label = `${what}: <${tag.name} ${tag.attributes.map((a) => a.name).join(' ')}>`;
    expect(tag.name, label).not.toMatch(/^(img|iframe|object|embed|b)$/);
    for (const attribute of tag.attributes) {
      expect(attribute.name, label).not.toMatch(/^on/);
      expect(attribute.value, label).not.toMatch(/^\s*javascript:/i);
    }
  }
  // Belt and braces, on the raw text: nothing hostile unescaped.
  for (const raw of ['<script>alert', '"><img', '<img src=x', '<b onmouseover', '</textarea><script', '</blockquote><script']) {
    expect(html.includes(raw), `${what} contains ${raw}`).toBe(false);
  }
  // No onerror= inside a tag, outside its (escaped) attribute values; text never holds a raw quote.
  const markupOnly = withoutScriptsAndStyles(html).replace(/"[^"]*"/g, '""');
  expect(markupOnly, what).not.toMatch(/<[^>]*\sonerror\s*=/i);
}

/** The hostile names of the transfer's parties and customer, escaped once (not twice, not raw). */
function expectNamesEscaped(what: string, html: string, customerId: string): void {
  for (const name of [partnerName('P-EVIL'), partnerName('P-HOST'), customerName(customerId)]) {
    expect(html, `${what}: ${JSON.stringify(name)} escaped`).toContain(escaped(name));
  }
  expect(html, what).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  expect(html, what).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
  expect(html, what).toContain('&amp;amp;');
  expect(html, what).toContain('&#39;');
  expect(html, `${what}: escaped twice`).not.toContain('&amp;lt;');
}

async function createTransfer(token: string, body: Record<string, unknown>, status: string): Promise<TransferView> {
  const created = await t.client.call('POST', '/transfers', token, body);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const transfer = created.body as TransferView;
  expect(transfer.status).toBe(status);
  return transfer;
}

// ---------------------------------------------------------------------------------------------

describe('hostile names, notes, reasons and signers', () => {
  const ids: Record<'declined' | 'completed' | 'cancelled', string> = { declined: '', completed: '', cancelled: '' };

  it('keeps the hostile directory byte for byte', async () => {
    for (const customer of directory.customers) {
      const answer = await t.client.call('GET', `/customers/${customer.id}`, evil);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      const { id, name, partnerId, domains, settings, users } = customer;
      expect(answer.body).toEqual({ id, name, partnerId, domains, settings, users });
    }
  });

  it('refuses a signer with a line break or another control character, and accepts one with markup', async () => {
    const transfer = await createTransfer(host, { customerIds: ['C-X01'], toPartnerId: 'P-HOST', note: NOTE, requestedDate: addDays(today, 5) }, 'AWAITING_RELEASE');
    ids.declined = transfer.id;
    expect((transfer as TransferView & { note: string }).note).toBe(NOTE.trim());
    const request = await emailAbout(transfer.id, 'Release needed', "o'hara@evil.example");
    const releaseLink = linkIn(request);

    const page = await fetchPage('release page', releaseLink);
    expect(page.status).toBe(200);
    expect(page.html).toContain('name="signedBy"');

    // Another date than the one asked for, so that the new partner must accept it.
    const releaseDate = addDays(today, 7);
    for (const signedBy of ['Mallory\r\nBcc: x@example.com', 'Mallory\u2028Smith', 'Mallory\u0000Smith', '\u001b[31mMallory']) {
      const refused = await t.client.call('POST', `/transfers/${transfer.id}/release`, evil, { decision: 'release', transferDate: releaseDate, signedBy });
      expect(refused.status, JSON.stringify(signedBy)).toBe(400);
      expect(refused.body).toMatchObject({ error: { code: 'INVALID_REQUEST', message: expect.stringMatching(/signedBy: must be a single line of text/) } });
      // The message does not echo the control characters back.
      // eslint-disable-next-line no-control-regex
      expect(JSON.stringify(refused.body)).not.toMatch(/\\[rnu]|[\u0000-\u001f\u2028\u2029]/);
    }

    // A form sent back with errors shows what was typed, escaped, even where it tries to close the field.
    const incomplete = await postForm('form with errors', releaseLink, { decision: 'decline', signedBy: TEXTAREA_BREAKOUT, reason: TEXTAREA_BREAKOUT });
    expect(incomplete.status).toBe(400);
    expect(incomplete.html).toContain('Your decision was not recorded');
    expect(incomplete.html).toContain(`value="${escaped(TEXTAREA_BREAKOUT)}"`);
    expect(incomplete.html).toContain(`>${escaped(TEXTAREA_BREAKOUT)}</textarea>`);
    const formWithControl = await postForm('form with a control character', releaseLink, {
      decision: 'release',
      transferDate: releaseDate,
      signedBy: 'Mallory\r\nSmith',
      acknowledge: 'on',
    });
    expect(formWithControl.status).toBe(400);
    expect(formWithControl.html).toContain('single line');

    const released = await postForm('release recorded', releaseLink, {
      decision: 'release',
      transferDate: releaseDate,
      signedBy: SIGNER_HTML,
      acknowledge: 'on',
    });
    expect(released.status).toBe(200);
    expect(released.html).toContain('Your decision has been recorded');
    expect(released.html).toContain(escaped(SIGNER_HTML));
    const again = await postForm('release repeated', releaseLink, { decision: 'release', transferDate: releaseDate, signedBy: SIGNER_HTML, acknowledge: 'on' });
    expect(again.status).toBe(200);
    expect(again.html).toContain('This decision was already recorded');

    const after = await t.client.call('GET', `/transfers/${transfer.id}`, host);
    const release = (after.body as TransferView).history.find((e) => e.type === 'RELEASED');
    expect(release?.detail.signedBy).toBe(SIGNER_HTML);
    expect(String(release?.detail.statement)).toContain(`I, ${SIGNER_HTML}, am authorised to act for ${partnerName('P-EVIL')}`);
  });

  it('declines with a hostile reason and shows every page of the used and closed links', async () => {
    const id = ids.declined;
    const releaseLink = linkIn(await emailAbout(id, 'Release needed'));
    const acceptLink = linkIn(await emailAbout(id, 'Acceptance needed', 'security+x@host.example'));
    const page = await fetchPage('acceptance page', acceptLink);
    expect(page.status).toBe(200);

    const declined = await t.client.call('POST', `/transfers/${id}/acceptance`, host, { decision: 'decline', reason: REASON, signedBy: SIGNER_HTML_2 });
    expect(declined.status, JSON.stringify(declined.body)).toBe(200);
    expect((declined.body as TransferView).status).toBe('DECLINED');
    await emailAbout(id, 'Transfer declined');

    expect((await fetchPage('closed acceptance link', acceptLink)).status).toBe(409);
    const used = await fetchPage('used release link', releaseLink);
    expect(used.status).toBe(409);
    expect(used.html).toContain('already been used');
    const stale = await postForm('stale acceptance form', acceptLink, { decision: 'accept', signedBy: SIGNER_HTML_2, acknowledge: 'on' });
    expect(stale.status).toBe(409);
    const unknown = await fetchPage('unknown link', `${t.stack.urls.api}/approvals/${'A'.repeat(43)}`, {}, false);
    expect(unknown.status).toBe(404);
  });

  it('completes a transfer consented with hostile signers, and cancels another with a hostile reason', async () => {
    const completed = await createTransfer(
      evil,
      { customerIds: ['C-X02'], toPartnerId: 'P-HOST', note: NOTE, release: { transferDate: 'immediate', signedBy: SIGNER_HTML } },
      'AWAITING_ACCEPTANCE',
    );
    ids.completed = completed.id;
    const acceptLink = linkIn(await emailAbout(completed.id, 'Acceptance needed', 'security+x@host.example'));
    expect((await fetchPage('acceptance page (up-front release)', acceptLink)).status).toBe(200);
    const accepted = await postForm('acceptance recorded', acceptLink, { decision: 'accept', signedBy: SIGNER_HTML_2, acknowledge: 'on' });
    expect(accepted.status).toBe(200);
    expect(accepted.html).toContain(escaped(SIGNER_HTML_2));
    const done = await t.client.waitForStatus(completed.id, operator, ['COMPLETED', 'FAILED'], 20_000);
    expect(done.status).toBe('COMPLETED');
    await emailAbout(completed.id, 'Transfer completed', 'security+x@host.example');
    await emailAbout(completed.id, 'Transfer completed', "o'hara@evil.example");
    // The move changed the owner only: the hostile data is still byte for byte what was seeded.
    const moved = await t.client.call('GET', '/customers/C-X02', host);
    const seeded = directory.customers.find((c) => c.id === 'C-X02');
    expect(moved.body).toEqual({ ...seeded, partnerId: 'P-HOST' });

    const cancelled = await createTransfer(host, { customerIds: ['C-X03'], toPartnerId: 'P-HOST', note: NOTE }, 'AWAITING_RELEASE');
    ids.cancelled = cancelled.id;
    await emailAbout(cancelled.id, 'Release needed');
    const answer = await t.client.call('POST', `/transfers/${cancelled.id}/cancel`, evil, { reason: CANCEL_REASON });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    await emailAbout(cancelled.id, 'Transfer cancelled');
  });

  it('serves every page escaped, under a strict Content-Security-Policy', () => {
    expect(pages.map((p) => p.what)).toEqual([
      'release page',
      'form with errors',
      'form with a control character',
      'release recorded',
      'release repeated',
      'acceptance page',
      'closed acceptance link',
      'used release link',
      'stale acceptance form',
      'unknown link',
      'acceptance page (up-front release)',
      'acceptance recorded',
    ]);
    for (const page of pages) {
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp, `${page.what}: Content-Security-Policy`).not.toBe('');
      expect(csp, page.what).not.toMatch(/unsafe-inline|unsafe-eval|unsafe-hashes/);
      expect(cspSources(csp, 'default-src'), page.what).toEqual(["'none'"]);
      expect(page.headers.get('content-type'), page.what).toBe('text/html; charset=utf-8');
      expect(page.headers.get('x-content-type-options'), page.what).toBe('nosniff');
      expectNoMarkupInjected(page.what, page.html, cspSources(csp, 'script-src'));
      if (page.hasTransfer) expectNamesEscaped(page.what, page.html, page.what.includes('up-front') || page.what === 'acceptance recorded' ? 'C-X02' : 'C-X01');
    }
    const byName = (what: string) => pages.find((p) => p.what === what)?.html ?? '';
    // The request's note and the signers, escaped where they are shown.
    expect(byName('release page')).toContain(escaped(NOTE.trim()));
    expect(byName('release recorded')).toContain(escaped(SIGNER_HTML));
    expect(byName('release repeated')).toContain(escaped(SIGNER_HTML));
    expect(byName('acceptance recorded')).toContain(escaped(SIGNER_HTML_2));
    // The approval page keeps its one script, allowed by hash.
    expect(byName('release page')).toMatch(/<script>[\s\S]+<\/script>/);
  });

  it('sends every email with its HTML part escaped, its text part as written and a one-line subject', async () => {
    const emails = await t.client.emails(0);
    const about = (id: string) => emails.filter((e) => e.subject.includes(id));
    const kinds = (id: string) => about(id).map((e) => /^[\w-]+ \w+/.exec(e.subject)?.[0] ?? e.subject).sort();
    expect(kinds(ids.declined)).toEqual(['Acceptance needed', 'Release needed', 'Transfer declined']);
    expect(kinds(ids.completed)).toEqual(['Acceptance needed', 'Re-homing scheduled', 'Transfer completed', 'Transfer completed', 'Transfer scheduled'].sort());
    expect(kinds(ids.cancelled)).toEqual(['Release needed', 'Transfer cancelled']);

    for (const email of emails) {
      const what = `email "${email.subject}" to ${email.destination.to.join(', ')}`;
      // eslint-disable-next-line no-control-regex
      expect(email.subject, what).not.toMatch(/[\r\n\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
      expect(email.subject, what).toBe(oneLine(email.subject));
      const html = email.body.html ?? '';
      const text = email.body.text ?? '';
      expect(html, what).not.toBe('');
      expect(text, what).not.toBe('');
      expectNoMarkupInjected(what, html, []);
      const customerId = email.subject.includes(ids.declined) ? 'C-X01' : email.subject.includes(ids.completed) ? 'C-X02' : 'C-X03';
      expectNamesEscaped(what, html, customerId);
      // The text part says it as written: markup is only text there.
      for (const raw of [partnerName('P-EVIL'), partnerName('P-HOST'), customerName(customerId)]) expect(text, what).toContain(raw);
      expect(text, what).toContain('<script>alert(1)</script>');
      expect(text, what).not.toContain('&lt;');
    }

    // Subjects are exactly what the system composes, folded onto one line, and stored as sent.
    const evilName = partnerName('P-EVIL');
    const hostName = partnerName('P-HOST');
    const expected = [
      oneLine(`Release needed: ${customerName('C-X01')} from ${evilName} to ${hostName} (${ids.declined})`),
      oneLine(`Acceptance needed: ${customerName('C-X01')} from ${evilName} to ${hostName} (${ids.declined})`),
      oneLine(`Transfer declined by ${hostName}: ${customerName('C-X01')} (${ids.declined})`),
      oneLine(`Transfer completed: ${customerName('C-X02')} now with ${hostName} (${ids.completed})`),
      oneLine(`Transfer cancelled: ${customerName('C-X03')} (${ids.cancelled})`),
    ];
    const subjects = emails.map((e) => e.subject);
    for (const subject of expected) expect(subjects, subject).toContain(subject);

    // Note, reason and signers: escaped in HTML, as written in text.
    const declineNotice = about(ids.declined).find((e) => e.subject.startsWith('Transfer declined'));
    expect(declineNotice?.body.html).toContain(escaped(REASON));
    expect(declineNotice?.body.html).toContain(escaped(SIGNER_HTML_2));
    expect(declineNotice?.body.text).toContain(REASON.split('\r\n')[0]);
    expect(declineNotice?.body.text).toContain(SIGNER_HTML_2);
    const releaseRequest = about(ids.declined).find((e) => e.subject.startsWith('Release needed'));
    expect(releaseRequest?.body.html).toContain(escaped(NOTE.trim()));
    expect(releaseRequest?.body.text).toContain(NOTE.trim());
    const cancellation = about(ids.cancelled).find((e) => e.subject.startsWith('Transfer cancelled'));
    expect(cancellation?.body.html).toContain(escaped(CANCEL_REASON));
    expect(cancellation?.body.text).toContain(CANCEL_REASON.split('\r\n')[0]);
    // Recipients are the seeded contacts, quotes and all, and nothing else.
    expect(new Set(emails.flatMap((e) => e.destination.to))).toEqual(
      new Set(["o'hara@evil.example", 'billing@evil.example', 'security+x@host.example', 'devops@example.com']),
    );
  });
});
