import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { acceptanceStatement, releaseStatement, SIGNER_PLACEHOLDER } from '../../../lambdas/domain/consent.ts';
import type { Step, Transfer } from '../../../lambdas/domain/transfer.ts';
import {
  approvalPage,
  decisionRecordedPage,
  linkProblemPage,
  linkProblemStatus,
  PAGE_CONTENT_SECURITY_POLICY,
  type ApprovalPageView,
  type LinkProblem,
} from '../../../lambdas/presentation/pages.ts';
import { DECLINE_REASON_CODES, DECLINE_REASON_LABELS } from '../../../lambdas/domain/decline-reasons.ts';
import { ESCAPED_HOSTILE, HOSTILE, hostileTransfer, LINK, releaseConsent, sampleTransfer } from './fixtures.ts';

const ZONE = 'America/New_York';

function view(step: Step, transfer: Transfer = sampleTransfer(), extra: Partial<ApprovalPageView> = {}): ApprovalPageView {
  return {
    transfer,
    step,
    partner: step === 'release' ? transfer.fromPartner : transfer.toPartner,
    statement: step === 'release' ? releaseStatement(transfer) : acceptanceStatement(transfer),
    today: '2025-03-01',
    latestDate: '2025-06-29',
    expiresAt: '2025-03-08T09:00:00.000Z',
    timeZone: ZONE,
    ...extra,
  };
}

function accepting(transfer: Transfer = sampleTransfer()): Transfer {
  return { ...transfer, status: 'AWAITING_ACCEPTANCE', transferDate: '2025-04-01' };
}

/** The opening tags of the form controls. */
function controls(page: string): string[] {
  return page.match(/<(?:input|textarea|select|button)\b[^>]*>/g) ?? [];
}

function attribute(tag: string, name: string): string | undefined {
  return new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
}

function controlNamed(page: string, name: string, value?: string): string {
  const tag = controls(page).find((t) => attribute(t, 'name') === name && (value === undefined || attribute(t, 'value') === value));
  if (!tag) throw new Error(`no control ${name}${value ? `=${value}` : ''}`);
  return tag;
}

/** The page's own inline script is the only one. */
function scriptCount(page: string): number {
  return page.match(/<script/g)?.length ?? 0;
}

describe('approvalPage', () => {
  const release = approvalPage(view('release'));
  const acceptance = approvalPage(view('acceptance', accepting()));

  it('is a complete, responsive English document', () => {
    expect(release).toMatch(/^<!DOCTYPE html>\n<html lang="en">/);
    expect(release).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(release).toContain('<meta name="referrer" content="no-referrer">');
    expect(release).toContain('<span class="brand">MailShield</span><span class="product">Customer Transfer</span>');
    expect(release).toContain(':focus-visible');
  });

  it('has one form that posts back to its own URL: no action attribute, and no URL anywhere', () => {
    const forms = release.match(/<form\b[^>]*>/g) ?? [];
    expect(forms).toEqual(['<form method="post" data-approval>']);
    expect(release).not.toContain(LINK);
    expect(release).not.toMatch(/https?:\/\//);
    expect(release).not.toMatch(/\saction=/);
  });

  it('uses the contract field names, release variant', () => {
    const names = new Set(controls(release).map((tag) => attribute(tag, 'name')).filter((name) => name !== undefined));
    expect(names).toEqual(new Set(['decision', 'transferDate', 'immediate', 'signedBy', 'acknowledge', 'reasonCode', 'reason']));
    expect(controlNamed(release, 'decision', 'release')).toContain('type="radio"');
    expect(controlNamed(release, 'decision', 'decline')).toContain('type="radio"');
    expect(controls(release).filter((tag) => attribute(tag, 'name') === 'decision')).toHaveLength(2);
    expect(controlNamed(release, 'immediate')).toMatch(/type="checkbox".*value="on"/);
    expect(controlNamed(release, 'acknowledge')).toMatch(/type="checkbox".*value="on".*required/);
    expect(controlNamed(release, 'signedBy')).toMatch(/type="text".*autocomplete="name".*required/);
    expect(controlNamed(release, 'reason')).toMatch(/^<textarea /);
  });

  it('bounds the date picker and prefills it with the recommended date', () => {
    const date = controlNamed(release, 'transferDate');
    expect(attribute(date, 'type')).toBe('date');
    expect(attribute(date, 'min')).toBe('2025-03-01');
    expect(attribute(date, 'max')).toBe('2025-06-29');
    expect(attribute(date, 'value')).toBe('2025-04-01');
  });

  it('prefills the date with the requested date, or the posted one', () => {
    const requested = approvalPage(view('release', sampleTransfer({ requestedDate: '2025-05-01' })));
    expect(attribute(controlNamed(requested, 'transferDate'), 'value')).toBe('2025-05-01');
    const posted = approvalPage(view('release', sampleTransfer({ requestedDate: '2025-05-01' }), { values: { transferDate: '2025-05-15' } }));
    expect(attribute(controlNamed(posted, 'transferDate'), 'value')).toBe('2025-05-15');
  });

  it('uses the contract field names, acceptance variant, with the agreed date read-only', () => {
    const names = new Set(controls(acceptance).map((tag) => attribute(tag, 'name')).filter((name) => name !== undefined));
    expect(names).toEqual(new Set(['decision', 'signedBy', 'acknowledge', 'reasonCode', 'reason']));
    expect(controlNamed(acceptance, 'decision', 'accept')).toContain('type="radio"');
    expect(controlNamed(acceptance, 'decision', 'decline')).toContain('type="radio"');
    expect(acceptance).toContain('<dt>Transfer date chosen by Northwind IT</dt><dd>2025-04-01 (from 00:00 America/New_York)</dd>');
    const immediate = approvalPage(view('acceptance', { ...accepting(), transferDate: null, immediate: true }));
    expect(immediate).toContain('<dd>Immediately, as soon as you accept</dd>');
  });

  it('says who asks what in each variant', () => {
    expect(release).toContain('<h1>Release customers to Southgate Networks</h1>');
    expect(release).toContain('MailShield asks Northwind IT, as the current partner, to release');
    expect(acceptance).toContain('<h1>Accept customers from Northwind IT</h1>');
    expect(acceptance).toContain('MailShield asks Southgate Networks, as the new partner, to accept');
  });

  it.each([
    ['release', release],
    ['acceptance', acceptance],
  ])('%s: labels every control with <label for>, and has no duplicate ids', (_step, page) => {
    const ids = controls(page)
      .filter((tag) => !tag.startsWith('<button'))
      .map((tag) => attribute(tag, 'id'));
    expect(ids).not.toContain(undefined);
    for (const id of ids) expect(page).toContain(`<label for="${id ?? ''}">`);
    const allIds = [...page.matchAll(/\sid="([^"]*)"/g)].map((match) => match[1]);
    expect(new Set(allIds).size).toBe(allIds.length);
  });

  it('groups the radios in a fieldset with a legend, and says when the reason is needed to decline', () => {
    expect(release).toMatch(/<fieldset>\s*<legend>Does Northwind IT release the customers to Southgate Networks\?<\/legend>/);
    expect(release).toContain('<legend>Transfer date</legend>');
    expect(release).toContain('<label for="reasonCode">Reason for declining <span class="label-note">(if you decline)</span></label>');
    expect(release).toContain(
      '<label for="reason">Reason for declining, in your words <span class="label-note">(required for “Another reason” or when no reason is chosen)</span></label>',
    );
  });

  describe('the decline reason list', () => {
    const options = (page: string) => [...page.matchAll(/<option value="([^"]*)"( selected)?>([^<]*)<\/option>/g)].map((m) => ({ value: m[1], selected: m[2] !== undefined, label: m[3] }));

    it.each([
      ['release', release],
      ['acceptance', acceptance],
    ])('%s: a select of the plain labels, "Choose a reason" first and chosen, beside the words, both shown only for a decline', (_step, page) => {
      expect(controlNamed(page, 'reasonCode')).toBe('<select id="reasonCode" name="reasonCode" aria-describedby="reasonCode-hint">');
      expect(options(page)).toEqual([
        { value: '', selected: true, label: 'Choose a reason' },
        ...DECLINE_REASON_CODES.map((code) => ({ value: code, selected: false, label: DECLINE_REASON_LABELS[code] })),
      ]);
      // One group the page's script hides while another decision is chosen; without script it shows.
      const group = page.slice(page.indexOf('<div class="decline-reason" data-decline-only>'));
      expect(group.indexOf('<select id="reasonCode"')).toBeGreaterThan(0);
      expect(group.indexOf('<select id="reasonCode"')).toBeLessThan(group.indexOf('<textarea id="reason"'));
      expect(page).not.toMatch(/<div[^>]*data-decline-only[^>]*hidden/);
    });

    it('keeps the reason chosen in a rejected POST, and links its error', () => {
      const page = approvalPage(
        view('release', sampleTransfer(), {
          errors: [{ field: 'reasonCode', message: 'must be one of the listed reasons' }],
          values: { decision: 'decline', reasonCode: 'DISPUTE' },
        }),
      );
      expect(options(page).filter((option) => option.selected)).toEqual([{ value: 'DISPUTE', selected: true, label: DECLINE_REASON_LABELS.DISPUTE }]);
      expect(page).toContain('<a href="#reasonCode">Reason for declining: must be one of the listed reasons</a>');
      expect(controlNamed(page, 'reasonCode')).toContain('aria-describedby="reasonCode-hint reasonCode-error" aria-invalid="true"');
    });

    it('chooses nothing for a posted value that is not a code', () => {
      const page = approvalPage(view('release', sampleTransfer(), { values: { decision: 'decline', reasonCode: `${HOSTILE}` } }));
      expect(options(page).filter((option) => option.selected)).toEqual([]);
      expect(page).not.toContain(HOSTILE);
    });
  });

  it('shows the customers with their domains, both partners and the statement with the placeholder', () => {
    expect(release).toContain('Acme Widgets Ltd (cust-acme)<span class="detail">acme.example, acme-mail.example</span>');
    expect(release).toContain('Northwind IT (partner-north)');
    expect(release).toContain('Southgate Networks (partner-south)');
    expect(release).toContain(`I, <mark class="placeholder">${SIGNER_PLACEHOLDER}</mark>, am authorised to act for Northwind IT`);
    expect(release).toContain('I have read the statement above and I sign it with my full name; this is my written consent.');
  });

  it('gives the expiry in the deployment\'s time zone, named, and says what is recorded', () => {
    expect(release).toContain('This link expires at 2025-03-08 04:00 (America/New_York, UTC\u221205:00).');
    expect(approvalPage(view('release', sampleTransfer(), { timeZone: 'UTC' }))).toContain('This link expires at 2025-03-08 09:00 (UTC).');
    expect(release).toContain('The customers move at the start of the chosen date (00:00 America/New_York).');
    expect(release).toContain('with your name, the time and your IP address');
  });

  it('shows the billing advice, and the warning only when the date is not aligned', () => {
    expect(release).toContain('Recommended transfer date</th><td>2025-04-01');
    expect(release).toContain('Next invoice date of Southgate Networks (new partner)</th><td>2025-03-15');
    expect(release).not.toContain('class="notice notice-warning"');
    const aligned = approvalPage(view('acceptance', { ...accepting(), billing: { ...sampleTransfer().billing, aligned: true, advice: 'Aligned.' } }));
    expect(aligned).not.toContain('class="notice notice-warning"');
    const notAligned = approvalPage(
      view('acceptance', { ...accepting(), billing: { ...sampleTransfer().billing, aligned: false, advice: 'Warning: 2025-04-10 is not an invoice date.' } }),
    );
    expect(notAligned).toContain('<div class="notice notice-warning"><p class="notice-title">The chosen date is not an invoice date of Northwind IT</p>');
  });

  describe('after a rejected POST', () => {
    const page = approvalPage(
      view('release', sampleTransfer(), {
        errors: [
          { field: 'signedBy', message: 'must be the full name of the person signing' },
          { field: 'decision', message: 'choose whether to agree or decline' },
          { field: 'form', message: `unknown field: ${HOSTILE}` },
        ],
        values: { decision: 'decline', signedBy: HOSTILE, reason: `Because ${HOSTILE}`, immediate: true, acknowledge: true },
      }),
    );

    it('announces the errors at the top, linked to the fields', () => {
      expect(page).toContain('<title>Error: Release customers to Southgate Networks');
      expect(page).toMatch(/<div class="error-summary" role="alert"/);
      expect(page).toContain('<a href="#signedBy">Full name: must be the full name of the person signing</a>');
      expect(page).toContain('<a href="#decision-release">Decision: choose whether to agree or decline</a>');
      expect(page).toContain(`<li>form: unknown field: ${ESCAPED_HOSTILE}</li>`);
    });

    it('shows each error next to its field and links it with aria-describedby', () => {
      expect(page).toContain('<p class="field-error" id="signedBy-error">');
      expect(controlNamed(page, 'signedBy')).toContain('aria-describedby="signedBy-hint signedBy-error" aria-invalid="true"');
      expect(page).toContain('<fieldset aria-describedby="decision-error">');
      expect(controlNamed(page, 'reason')).not.toContain('aria-invalid');
    });

    it('keeps what was typed, escaped', () => {
      expect(attribute(controlNamed(page, 'decision', 'decline'), 'value')).toBe('decline');
      expect(controlNamed(page, 'decision', 'decline')).toContain(' checked');
      expect(controlNamed(page, 'decision', 'release')).not.toContain(' checked');
      expect(controlNamed(page, 'immediate')).toContain(' checked');
      expect(controlNamed(page, 'acknowledge')).toContain(' checked');
      expect(controlNamed(page, 'signedBy')).toContain(`value="${ESCAPED_HOSTILE}"`);
      expect(page).toContain(`>Because ${ESCAPED_HOSTILE}</textarea>`);
      expect(scriptCount(page)).toBe(1);
    expect(page).not.toContain(HOSTILE);
    });
  });

  it.each(['release', 'acceptance'] as const)('%s: escapes markup in every name and note', (step) => {
    const transfer = step === 'release' ? hostileTransfer() : accepting(hostileTransfer());
    const page = approvalPage(view(step, transfer));
    expect(scriptCount(page)).toBe(1);
    expect(page).not.toContain(HOSTILE);
    expect(page).toContain(`Note ${ESCAPED_HOSTILE}`);
    expect(page).toContain(`From ${ESCAPED_HOSTILE}`);
    expect(page).toContain(`To ${ESCAPED_HOSTILE}`);
    expect(page).not.toContain(HOSTILE);
  });

  it('has no script other than its own inline one, which the CSP allows by hash', () => {
    const scripts = [...release.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1] ?? '');
    const styles = [...release.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((match) => match[1] ?? '');
    expect(scripts).toHaveLength(1);
    expect(styles).toHaveLength(1);
    const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    expect(PAGE_CONTENT_SECURITY_POLICY).toContain(`script-src ${hash(scripts[0] ?? '')}`);
    expect(PAGE_CONTENT_SECURITY_POLICY).toContain(`style-src ${hash(styles[0] ?? '')}`);
    expect(release).not.toMatch(/\sstyle="/);
  });
});

describe('decisionRecordedPage', () => {
  const transfer = accepting();
  const consent = releaseConsent(transfer);

  it('confirms the decision, signer, date, time and exact statement, and what happens next', () => {
    const page = decisionRecordedPage({ transfer, step: 'release', consent, at: '2025-03-02T10:15:00.000Z', repeated: false, timeZone: ZONE });
    expect(page).toContain('<h1>Your decision has been recorded</h1>');
    expect(page).toContain('<th scope="row">Decision</th><td>Released (current partner)</td>');
    expect(page).toContain('<th scope="row">Signed by</th><td>Jane Q. Public, for Northwind IT</td>');
    expect(page).toContain('<th scope="row">Transfer date</th><td>2025-04-01 (from 00:00 America/New_York)</td>');
    expect(page).toContain('<th scope="row">Recorded at</th><td>2025-03-02 05:15 (America/New_York, UTC\u221205:00)</td>');
    expect(page).toContain(`<blockquote>${consent.statement}</blockquote>`);
    expect(page).toContain('Southgate Networks is now asked to accept them');
    expect(page).not.toContain('<form');
  });

  it('says when the decision was already recorded, and shows the recorded one', () => {
    const page = decisionRecordedPage({ transfer, step: 'release', consent, at: '2025-03-02T10:15:00.000Z', repeated: true, timeZone: ZONE });
    expect(page).toContain('<h1>This decision was already recorded</h1>');
    expect(page).toContain('Jane Q. Public, for Northwind IT');
  });

  it('tells a decliner the transfer is closed', () => {
    const declined = releaseConsent(transfer, { decision: 'decline', reason: 'Contract runs until June', transferDate: null });
    const page = decisionRecordedPage({ transfer: { ...transfer, status: 'DECLINED' }, step: 'release', consent: declined, at: '2025-03-02T10:15:00.000Z', repeated: false, timeZone: ZONE });
    expect(page).toContain('<th scope="row">Reason</th><td>Contract runs until June</td>');
    expect(page).toContain('The transfer is closed');
    const recorded = page.slice(page.indexOf('<h2>Recorded decision</h2>'), page.indexOf('<h2>What happens next</h2>'));
    expect(recorded).toContain('Declined (current partner)');
    expect(recorded).not.toContain('Transfer date');
  });

  it("states a decline's ground by its label, with the words given (a decline recorded before codes: the words alone)", () => {
    const declined = releaseConsent(transfer, { decision: 'decline', reasonCode: 'CONTRACT_IN_FORCE', reason: 'Runs until June', transferDate: null });
    const page = decisionRecordedPage({ transfer: { ...transfer, status: 'DECLINED' }, step: 'release', consent: declined, at: '2025-03-02T10:15:00.000Z', repeated: false, timeZone: ZONE });
    expect(page).toContain('<th scope="row">Reason</th><td>A contract with the customer is still in force: Runs until June</td>');
    const bare = releaseConsent(transfer, { decision: 'decline', reasonCode: 'DISPUTE', reason: null, transferDate: null });
    const used = linkProblemPage('used', { timeZone: ZONE, transfer: { ...transfer, status: 'DECLINED' }, consent: bare });
    expect(used).toContain('<th scope="row">Reason</th><td>There is a dispute about the customer</td>');
  });

  it('tells an accepting partner the transfer is scheduled, at the start of the day in the named zone', () => {
    const accepted = releaseConsent(transfer, { step: 'acceptance', decision: 'accept' });
    const page = decisionRecordedPage({ transfer: { ...transfer, status: 'SCHEDULED' }, step: 'acceptance', consent: accepted, at: '2025-03-02T10:15:00.000Z', repeated: false, timeZone: ZONE });
    expect(page).toContain('Both partners have agreed. The customers move to Southgate Networks on 2025-04-01, at the start of the day (00:00 America/New_York)');
  });

  it('escapes the signer, reason, statement and names', () => {
    const hostile = hostileTransfer({ status: 'DECLINED' });
    const record = releaseConsent(hostile, { decision: 'decline', signedBy: `Signer ${HOSTILE}`, reason: `Reason ${HOSTILE}` });
    const page = decisionRecordedPage({ transfer: hostile, step: 'release', consent: record, at: '2025-03-02T10:15:00.000Z', repeated: false, timeZone: ZONE });
    expect(page).not.toContain('<script');
    expect(page).toContain(`Signer ${ESCAPED_HOSTILE}`);
    expect(page).toContain(`Reason ${ESCAPED_HOSTILE}`);
    expect(page).toContain(`Note ${ESCAPED_HOSTILE}`);
  });
});

describe('linkProblemPage', () => {
  const problems: [LinkProblem, number, string][] = [
    ['not-found', 404, 'This link is not recognised'],
    ['expired', 410, 'The approval window has passed'],
    ['used', 409, 'A decision was already recorded with this link'],
    ['superseded', 410, 'A newer link was sent'],
    ['closed', 409, 'no longer waiting for this decision'],
    ['try-again', 503, 'The service is briefly unavailable; nothing was recorded'],
  ];

  it.each(problems)('%s: HTTP %i and clear wording', (problem, status, wording) => {
    expect(linkProblemStatus(problem)).toBe(status);
    const page = linkProblemPage(problem);
    expect(page).toContain(wording);
    expect(page).toMatch(/^<!DOCTYPE html>\n<html lang="en">/);
    expect(page).not.toContain('<form');
    expect(page).not.toContain('<script');
  });

  it('asks to submit again when the service is briefly unavailable', () => {
    expect(linkProblemPage('try-again')).toContain('submit it again');
  });

  it('shows the status of a closed transfer', () => {
    const page = linkProblemPage('closed', { timeZone: ZONE, transfer: sampleTransfer({ status: 'CANCELLED' }) });
    expect(page).toContain('Its status is now: Cancelled.');
    expect(page).toContain('<th scope="row">Status</th><td>Cancelled</td>');
  });

  it.each(problems.map(([problem]) => problem))('%s: escapes the transfer and the message', (problem) => {
    const page = linkProblemPage(problem, { timeZone: ZONE, transfer: hostileTransfer(), message: `Detail ${HOSTILE}` });
    expect(page).not.toContain('<script');
    expect(page).toContain(`Detail ${ESCAPED_HOSTILE}`);
    expect(page).toContain(`Note ${ESCAPED_HOSTILE}`);
  });
});

describe('pages list a bounded number of domains', () => {
  const large = sampleTransfer({
    customers: Array.from({ length: 50 }, (_, c) => ({
      id: `cust-${c}`,
      name: `Customer ${c}`,
      domains: Array.from({ length: 1000 }, (_, d) => (d === 0 ? `${HOSTILE}.example` : `d${d}.customer-${c}.example`)),
      domainCount: 1000,
      domainsTruncated: false,
    })),
  });

  it('the approval page names the first 20 domains of each customer, escaped, and counts the rest', () => {
    const page = approvalPage(view('release', large));
    expect(page).toContain('d19.customer-0.example and 980 more</span>');
    expect(page).not.toContain('d20.customer-0.example');
    expect(page).toContain(`${ESCAPED_HOSTILE}.example`);
    expect(page).not.toContain(HOSTILE);
    expect(page.length).toBeLessThan(400_000);
  });

  it('a page about a transfer read without its domains gives each customer\'s domain count', () => {
    const summary = { ...large, customers: large.customers.map(({ id, name, domainCount }) => ({ id, name, domainCount })) };
    const page = linkProblemPage('closed', { timeZone: ZONE, transfer: summary });
    expect(page).toContain('Customer 7 (cust-7)<span class="detail">1,000 mail domains</span>');
  });
});
