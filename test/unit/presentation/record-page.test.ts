import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ChainVerdict, ConsentRecordDocument } from '../../../lambdas/domain/consent-record.ts';
import { escapeHtml } from '../../../lambdas/presentation/escape.ts';
import { RECORD_CONTENT_SECURITY_POLICY, recordPage } from '../../../lambdas/presentation/record-page.ts';
import { acceptanceConsent, chained, FINGERPRINT, recordDocument, recordTransfer, releaseConsent } from './record-fixtures.ts';

const ID = 'tr-20261201-7f3a';

/** The markup of the section whose heading has `id`, up to its end. */
function section(page: string, id: string): string {
  const start = page.indexOf(`aria-labelledby="${id}"`);
  expect(start, `section ${id}`).toBeGreaterThan(-1);
  return page.slice(start, page.indexOf('</section>', start));
}

function transferCard(page: string): string {
  const start = page.indexOf('<h2>Transfer</h2>');
  expect(start).toBeGreaterThan(-1);
  return page.slice(start, page.indexOf('</section>', start));
}

function consents(page: string): string[] {
  return [...page.matchAll(/<article class="consent"[\s\S]*?<\/article>/g)].map((match) => match[0]);
}

function historyRows(page: string): string[] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(section(page, 'history-title'))?.[1] ?? '';
  return [...body.matchAll(/<tr[\s\S]*?<\/tr>/g)].map((match) => match[0]);
}

function cells(row: string): string[] {
  return [...row.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((match) => match[1] ?? '');
}

/** Text content of some markup, entities left as they are. */
function text(markup: string): string {
  return markup.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
}

function withChain(chain: ChainVerdict, extra: Partial<ConsentRecordDocument> = {}): string {
  return recordPage(recordDocument({ chain, ...extra }));
}

describe('recordPage', () => {
  const doc = recordDocument();
  const page = recordPage(doc);

  it('is a complete document with the title, the transfer id and every section, in order', () => {
    expect(page.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(page).toContain(`<title>Consent record ${ID} · Customer Transfer · MailShield</title>`);
    expect(page).toMatch(new RegExp(`<h1>Consent record <span class="record-id">${ID}</span></h1>`));
    const order = ['<h1>', '<h2>Transfer</h2>', '>Written consents</h2>', '>History</h2>', '>Integrity</h2>'].map((marker) => page.indexOf(marker));
    expect(order.every((at) => at > -1)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(page).toContain('Produced 2027-01-04 11:20 (America/New_York, UTC−05:00).');
  });

  it("states the transfer's facts", () => {
    const facts = text(transferCard(page));
    for (const fact of [
      'Transfer ID tr-20261201-7f3a',
      'Status Completed',
      'Customers Acme Widgets Ltd (cust-acme) 3 mail domains Brightside Dental (cust-brightside) 1 mail domain',
      'Current partner (releases) Northwind IT (partner-north)',
      'New partner (accepts) Southgate Networks (partner-south)',
      'Date asked for 2027-01-01',
      'Transfer date 2027-01-01 (from 00:00 America/New_York)',
      'Requested at 2026-12-01 09:02 (America/New_York, UTC−05:00)',
      'Ticket None',
      'Note Customer asked to move at the start of the year.',
    ]) {
      expect(facts).toContain(fact);
    }
    expect(text(transferCard(recordPage(recordDocument({ transfer: recordTransfer({ ticketId: 'SUP-88120' }) }))))).toContain('Ticket SUP-88120');
  });

  it('shows each written consent: step, decision, the statement verbatim, signer, time, IP, user agent, channel and billing seen', () => {
    const [release, acceptance] = consents(page);
    expect(release).toBeDefined();
    expect(acceptance).toBeDefined();
    const releaseText = text(release ?? '');
    expect(releaseText).toContain('1. Release by Northwind IT, the current partner: Released');
    expect(releaseText).toContain('Decision Released');
    expect(release).toContain(`<blockquote>${escapeHtml(doc.consents[0]?.statement)}</blockquote>`);
    expect(releaseText).toContain('Signed by Dana Whitfield');
    expect(releaseText).toContain('Signed at 2026-12-02 17:05 (America/New_York, UTC−05:00)');
    expect(releaseText).toContain('IP address 203.0.113.24');
    expect(releaseText).toContain('User agent Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36');
    expect(releaseText).toContain('Given Through the emailed approval link');
    expect(releaseText).toContain('Billing advice the signer saw');
    expect(releaseText).toContain('2027-01-01 is an invoice date of Northwind IT: the customer is billed once.');
    expect(releaseText).not.toContain('Operator acted');

    const acceptanceText = text(acceptance ?? '');
    expect(acceptanceText).toContain('2. Acceptance by Southgate Networks, the new partner: Accepted');
    expect(acceptance).toContain(`<blockquote>${escapeHtml(doc.consents[1]?.statement)}</blockquote>`);
    expect(acceptanceText).toContain('Signed by Priya Raman');
    expect(acceptanceText).toContain('IP address 2001:db8:4f::17');
    expect(acceptanceText).toContain('Given Through the portal API');
  });

  it('keeps a statement exactly as signed: line breaks, tabs and runs of spaces', () => {
    const transfer = recordTransfer();
    const statement = 'I, Dana Whitfield,  am authorised.\n\tNorthwind IT releases the customers.\r\nSigned.';
    const shown = recordPage(recordDocument({ consents: [releaseConsent(transfer, { statement })] }));
    expect(shown).toContain('<blockquote>I, Dana Whitfield,  am authorised.\n\tNorthwind IT releases the customers.\nSigned.</blockquote>');
    expect(shown).toMatch(/blockquote \{[^}]*white-space: pre-wrap/);
  });

  it('names the operator ticket of a consent given for a partner, and the decline with its ground', () => {
    const transfer = recordTransfer({ status: 'DECLINED' });
    const declined = releaseConsent(transfer, {
      decision: 'decline',
      reasonCode: 'OUTSTANDING_BALANCE',
      reason: 'Invoice 4471 is 60 days overdue.',
      via: 'api',
      ticketId: 'SUP-5512',
    });
    const shown = text(consents(recordPage(recordDocument({ transfer, consents: [declined] })))[0] ?? '');
    expect(shown).toContain('Decision Declined');
    expect(shown).toContain('Reason The customer has an outstanding balance');
    expect(shown).toContain('Reason as written Invoice 4471 is 60 days overdue.');
    expect(shown).toContain('Operator acted, citing ticket SUP-5512');
  });

  it('shows a legacy consent without billing advice or reason code', () => {
    const transfer = recordTransfer({ status: 'DECLINED' });
    const legacy = releaseConsent(transfer, { decision: 'decline', reason: 'We never agreed to this.', billing: undefined });
    delete (legacy as { reasonCode?: unknown }).reasonCode;
    const noBilling = acceptanceConsent(transfer, { billing: null });
    const [first, second] = consents(recordPage(recordDocument({ transfer, consents: [legacy, noBilling] }))).map(text);
    expect(first).toContain('Reason Another reason (recorded before decline reasons had codes)');
    expect(first).toContain('Reason as written We never agreed to this.');
    expect(first).toContain('Billing advice the signer saw Not kept for this consent');
    expect(second).toContain('Billing advice the signer saw Not kept for this consent');
  });

  it('says so when no consent has been recorded yet', () => {
    const shown = recordPage(recordDocument({ consents: [] }));
    expect(consents(shown)).toHaveLength(0);
    expect(shown).toContain('No written consent or refusal has been recorded for this transfer.');
  });

  it('lists every history event in order, in plain words, with its hash shortened and the full hash in attributes', () => {
    const rows = historyRows(page);
    expect(rows).toHaveLength(doc.events.length);
    expect(rows.map((row) => text(cells(row)[0] ?? ''))).toEqual(doc.events.map((event) => String(event.seq)));
    expect(rows.map((row) => text(cells(row)[2] ?? ''))).toEqual([
      'Transfer requested',
      'Consent asked for',
      'Released',
      'Consent asked for',
      'Accepted',
      'Scheduled',
      'Re-homing started',
      'Customer moved',
      'Customer moved',
      'Completed',
      'Confirmations sent',
    ]);
    const released = cells(rows[2] ?? '');
    expect(text(released[1] ?? '')).toBe('2026-12-02 17:05 (America/New_York, UTC−05:00)');
    expect(text(released[3] ?? '')).toBe('Dana Whitfield, for Northwind IT (partner-north)');
    expect(text(released[4] ?? '')).toBe('Signed by Dana Whitfield; through the emailed approval link; for 2027-01-01');
    const hash = doc.events[2]?.hash ?? '';
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(released[5]).toBe(`<code class="hash" title="${hash}" data-hash="${hash}">${hash.slice(0, 12)}</code>`);
    expect(text(cells(rows[7] ?? '')[4] ?? '')).toBe(
      'Acme Widgets Ltd (cust-acme) moved from Northwind IT (partner-north) to Southgate Networks (partner-south); locked until 2027-03-31',
    );
  });

  it('shows events written before chaining without number or hash, and an unknown type in words', () => {
    const transfer = recordTransfer();
    const events = [
      { at: transfer.createdAt, type: 'REQUESTED', actor: transfer.requestedBy, detail: { customerIds: ['cust-acme'] } },
      { at: transfer.updatedAt, type: 'PORTAL_NOTE_ADDED', actor: { kind: 'operator' as const, name: 'ops@mailshield.example' }, detail: { text: 'Called the partner.' } },
    ];
    const rows = historyRows(recordPage(recordDocument({ events, chain: { state: 'unchained', events: 2 } })));
    expect(cells(rows[0] ?? '').map(text)).toEqual([
      '—',
      '2026-12-01 09:02 (America/New_York, UTC−05:00)',
      'Transfer requested',
      'priya.raman@southgate.example, for Southgate Networks (partner-south)',
      'Customers: Acme Widgets Ltd (cust-acme); no date asked for',
      'not chained',
    ]);
    expect(cells(rows[1] ?? '').map(text).slice(2, 5)).toEqual(['Portal note added', 'ops@mailshield.example (operator)', 'text: Called the partner.']);
  });

  it('states each chain verdict in plain words', () => {
    const head = doc.events.at(-1)?.hash ?? '';
    const integrity = (shown: string) => text(section(shown, 'integrity-title'));
    expect(integrity(page)).toContain(`Intact All 11 events are chained: each names the hash of the one before, and the transfer names the last (${head.slice(0, 12)})`);
    expect(integrity(withChain({ state: 'unchained', events: 11 }))).toContain('Unchained Recorded before history was chained; cannot be checked.');
    expect(integrity(withChain({ state: 'partly-chained', unchained: 3, events: 11, head }))).toContain(
      'Partly chained The first 3 events were recorded before history was chained; they cannot be checked. The events after them are chained and intact',
    );
    const broken = withChain({
      state: 'broken',
      events: 11,
      at: { seq: 5, type: 'ACCEPTED', at: '2026-12-03T15:41:09.000Z' },
      problem: 'its hash does not match its content',
    });
    expect(integrity(broken)).toContain(
      'Broken The chain does not hold from event #5 (Accepted) of 2026-12-03 10:41 (America/New_York, UTC−05:00): its hash does not match its content.',
    );
    const rows = historyRows(broken);
    expect(rows[4]).toMatch(/^<tr class="first-bad">/);
    expect(text(cells(rows[4] ?? '')[0] ?? '')).toBe('5 first bad');
    expect(rows.filter((row) => row.includes('first-bad'))).toHaveLength(1);
    expect(integrity(withChain({ state: 'broken', events: 11, at: { seq: null, type: null, at: null }, problem: 'the head names no event' }))).toContain(
      'The chain does not hold from event without a number: the head names no event.',
    );
  });

  it('shows the full fingerprint, breakable, and how to check it', () => {
    const integrity = section(page, 'integrity-title');
    expect(integrity).toContain(`<code>${FINGERPRINT}</code>`);
    expect(page).toMatch(/\.code-block code \{[^}]*word-break: break-all/);
    expect(integrity).toContain(`<code>npm run transfers -- verify ${ID}</code>`);
    expect(text(integrity)).toContain('It prints the same fingerprint');
  });

  it('shows times in the zone the record names', () => {
    const berlin = recordPage(recordDocument({ timeZone: 'Europe/Berlin' }));
    expect(text(consents(berlin)[0] ?? '')).toContain('Signed at 2026-12-02 23:05 (Europe/Berlin, UTC+01:00)');
    expect(berlin).toContain('Produced 2027-01-04 17:20 (Europe/Berlin, UTC+01:00).');
    expect(berlin).not.toContain('America/New_York');
    const utc = recordPage(recordDocument({ timeZone: 'UTC' }));
    expect(text(consents(utc)[0] ?? '')).toContain('Signed at 2026-12-02 22:05 (UTC)');
  });

  it('escapes everything people typed, and shows hidden characters as code points', () => {
    const hostile = '<script>alert("x")</script> & \'Co\'';
    const transfer = recordTransfer({
      customers: [{ id: 'cust-evil', name: `Evil ${hostile}`, domainCount: 1 }],
      fromPartner: { id: 'partner-from', name: `From ${hostile}` },
      toPartner: { id: 'partner-to', name: `To \u202Eevil\u202C ${hostile}` },
      note: `Note ${hostile}`,
      ticketId: `T-${hostile}`,
    });
    const userAgent = `Mozilla/5.0 "quoted" \u001b[31mred\u001b[0m\r\nX-Injected: 1\u0000`;
    const consent = releaseConsent(transfer, {
      signedBy: `Mallory ${hostile}`,
      statement: `I agree ${hostile}\nline two`,
      userAgent,
      sourceIp: `10.0.0.1"><img src=x onerror=alert(1)>`,
      decision: 'decline',
      reasonCode: 'OTHER',
      reason: `<img src=x onerror=alert(2)>`,
      ticketId: `SUP-${hostile}`,
    });
    const events = chained([{ at: consent.at, type: 'DECLINED', actor: { kind: 'partner', partnerId: 'partner-from', name: `Mallory ${hostile}` }, detail: { ...consent } }]);
    const shown = recordPage(recordDocument({ transfer, consents: [consent], events, chain: { state: 'intact', events: 1, head: events[0]?.hash ?? '' } }));

    expect(shown).not.toContain('<script>alert');
    expect(shown).not.toContain('<img');
    expect(shown).not.toMatch(/<script\b/);
    expect(shown).toContain(`Mallory ${escapeHtml(hostile)}`);
    expect(shown).toContain(`<blockquote>I agree ${escapeHtml(hostile)}\nline two</blockquote>`);
    expect(shown).toContain(`10.0.0.1&quot;&gt;&lt;img src=x onerror=alert(1)&gt;`);
    expect(shown).toContain('Mozilla/5.0 &quot;quoted&quot; [U+001B][31mred[U+001B][0m[U+000D][U+000A]X-Injected: 1[U+0000]');
    expect(shown).toContain('To [U+202E]evil[U+202C]');
    // eslint-disable-next-line no-control-regex
    expect(shown).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u202e]/);
  });

  it('prints black on white without navigation, a consent kept on one page, under a CSP that allows its styles by hash', () => {
    const print = /@media print \{([\s\S]*?)\n\}/.exec(page)?.[1] ?? '';
    expect(print).toContain('.skip-link, .logo { display: none; }');
    expect(print).toMatch(/\* \{ color: #000000 !important; background: #ffffff !important;/);
    expect(print).toMatch(/\.consent \{ break-inside: avoid; page-break-inside: avoid; \}/);
    expect(print).toContain('.history thead { display: table-header-group; }');
    const styles = [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((match) => match[1] ?? '');
    expect(styles).toHaveLength(2);
    for (const style of styles) {
      expect(RECORD_CONTENT_SECURITY_POLICY).toContain(`'sha256-${createHash('sha256').update(style).digest('base64')}'`);
    }
    expect(page.indexOf('<style>', page.indexOf('<style>') + 1)).toBeLessThan(page.indexOf('</head>'));
    expect(page).not.toMatch(/<script\b/);
    expect(page).not.toMatch(/\sstyle="/);
    expect(RECORD_CONTENT_SECURITY_POLICY).toMatch(/^default-src 'none'; style-src 'sha256-[^']+' 'sha256-[^']+'; /);
  });
});
