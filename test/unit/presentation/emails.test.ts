import { describe, expect, it } from 'vitest';
import { DECLINE_REASON_LABELS } from '../../../lambdas/domain/decline-reasons.ts';
import type { Notice } from '../../../lambdas/domain/notices.ts';
import type { Transfer } from '../../../lambdas/domain/transfer.ts';
import { COLOURS, PROVIDER_NAME } from '../../../lambdas/presentation/brand.ts';
import {
  approvalRequestEmail,
  cancellationNoticeEmail,
  confirmationEmail,
  declineNoticeEmail,
  expiryNoticeEmail,
  failureAlertEmail,
  renderNotice,
  scheduleNoticeEmail,
  type EmailMessage,
} from '../../../lambdas/presentation/emails.ts';
import { everyEmail, EXPIRES, RECIPIENTS, scheduled, WAKE, ZONE } from './email-cases.ts';
import { ESCAPED_HOSTILE, HOSTILE, hostileTransfer, LINK, sampleTransfer } from './fixtures.ts';

const TAG = /<\/?[a-z!][^>]*>/i;

describe('every email', () => {
  describe.each(everyEmail(hostileTransfer(), HOSTILE))('%s, with markup in every name', (_name, email) => {
    it('escapes customer names, partner names, notes, reasons and signers in the HTML part', () => {
      expect(email.html).not.toContain('<script');
      expect(email.html).not.toContain(HOSTILE);
      expect(email.html).toContain(ESCAPED_HOSTILE);
      expect(email.html).toContain(`Note ${ESCAPED_HOSTILE}`);
      expect(email.html).toContain(`From ${ESCAPED_HOSTILE}`);
      expect(email.html).toContain(`To ${ESCAPED_HOSTILE}`);
    });

    it('has a single-line subject even though names hold line breaks', () => {
      expect(email.subject).not.toMatch(/[\r\n]/);
      // eslint-disable-next-line no-control-regex
      expect(email.subject).not.toMatch(/[\u0000-\u001f\u007f]/);
      expect(email.subject.length).toBeGreaterThan(10);
    });
  });

  it('escapes the decline reason and signer, and the failure error', () => {
    const emails = Object.fromEntries(everyEmail(hostileTransfer(), HOSTILE));
    expect(emails['decline notice']?.html).toContain(`Reason ${ESCAPED_HOSTILE}`);
    expect(emails['decline notice']?.html).toContain(`Signer ${ESCAPED_HOSTILE}`);
    expect(emails['cancellation notice']?.html).toContain(`Canceller ${ESCAPED_HOSTILE}`);
    expect(emails['failure alert']?.html).toContain(`Error ${ESCAPED_HOSTILE}`);
    expect(emails['failure alert']?.html).toContain(`Reason ${ESCAPED_HOSTILE}`);
  });

  describe.each(everyEmail(sampleTransfer()))('%s', (_name, email) => {
    it('goes to the recipients given', () => {
      expect(email.to).toEqual(RECIPIENTS);
    });

    it('has a text part without HTML tags and an HTML document', () => {
      expect(email.text).not.toMatch(TAG);
      expect(email.html).toMatch(/^<!DOCTYPE html>\n<html lang="en">/);
      expect(email.html).toContain('<meta name="viewport"');
      expect(email.html).toMatch(new RegExp(`<span class="brand"[^>]*>${PROVIDER_NAME}</span>`));
    });

    it('carries the transfer id and the summary (customers, from, to, date, status) in both parts', () => {
      for (const part of [email.text, email.html]) {
        expect(part).toContain('tr-20250301-0001');
        expect(part).toContain('Acme Widgets Ltd (cust-acme)');
        expect(part).toContain('Northwind IT (partner-north)');
        expect(part).toContain('Southgate Networks (partner-south)');
        expect(part).toContain('Transfer date');
        expect(part).toContain('Status');
      }
    });
  });
});

describe('approvalRequestEmail', () => {
  const release = () => approvalRequestEmail({ transfer: sampleTransfer(), step: 'release', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS }, ZONE);

  it('asks the current partner for a release and lets it choose the date', () => {
    const email = release();
    expect(email.subject).toBe(
      'Release needed: Acme Widgets Ltd and Brightside Dental from Northwind IT to Southgate Networks (tr-20250301-0001)',
    );
    expect(email.text).toContain('As the current partner, Northwind IT must release them');
    expect(email.text).toContain('Transfer date: To be chosen by you');
    expect(email.text).toContain('acme.example, acme-mail.example');
  });

  it('asks the new partner for an acceptance, with the agreed date or "immediate"', () => {
    const dated = approvalRequestEmail({ transfer: scheduled(sampleTransfer()), step: 'acceptance', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS }, ZONE);
    expect(dated.subject).toMatch(/^Acceptance needed: /);
    expect(dated.text).toContain('As the new partner, Southgate Networks must accept them');
    expect(dated.text).toContain('Transfer date: 2025-04-01 (from 00:00 Europe/Berlin)');
    const immediate = approvalRequestEmail(
      {
        transfer: { ...sampleTransfer(), immediate: true },
        step: 'acceptance',
        link: LINK,
        expiresAt: EXPIRES,
        recipients: RECIPIENTS,
      },
      ZONE,
    );
    expect(immediate.text).toContain('Transfer date: Immediately');
  });

  it('links to the approval page: one button link in HTML, the raw URL in text', () => {
    const email = release();
    expect(email.text).toContain(`\n${LINK}\n`);
    expect(email.html).toContain(`<a class="button" href="${LINK}"`);
    expect(email.html.match(/<a\s[^>]*href=/g)).toHaveLength(1);
  });

  it('says that opening the link changes nothing, and gives the deadline in the zone, named', () => {
    const email = release();
    expect(email.text).toContain('Opening the link changes nothing. Only submitting the signed form');
    expect(email.text).toContain('Please decide by 2025-03-08 10:00 (Europe/Berlin, UTC+01:00).');
    expect(email.html).toContain('Please decide by 2025-03-08 10:00 (Europe/Berlin, UTC+01:00).');
    const newYork = approvalRequestEmail({ transfer: sampleTransfer(), step: 'release', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS }, 'America/New_York');
    expect(newYork.text).toContain('Please decide by 2025-03-08 04:00 (America/New_York, UTC\u221205:00).');
    const utc = approvalRequestEmail({ transfer: sampleTransfer(), step: 'release', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS }, 'UTC');
    expect(utc.text).toContain('Please decide by 2025-03-08 09:00 (UTC).');
  });

  it('gives both invoice dates, the recommended date and the advice', () => {
    const email = release();
    expect(email.text).toContain('Next invoice date of Northwind IT (current partner): 2025-04-01');
    expect(email.text).toContain('Next invoice date of Southgate Networks (new partner): 2025-03-15');
    expect(email.text).toContain('Recommended transfer date: 2025-04-01');
    expect(email.text).toContain('avoids billing the customer twice');
  });

  it('warns only when the date is not aligned with billing', () => {
    expect(release().text).not.toContain('WARNING');
    expect(release().html).not.toContain('class="notice notice-warning"');
    const transfer = sampleTransfer({
      transferDate: '2025-04-10',
      billing: { ...sampleTransfer().billing, aligned: false, advice: 'Warning: 2025-04-10 is not an invoice date of Northwind IT.' },
    });
    const email = approvalRequestEmail({ transfer, step: 'acceptance', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS }, ZONE);
    expect(email.text).toContain('WARNING: The chosen date is not an invoice date of Northwind IT');
    expect(email.text).toContain('it does not block the transfer');
    expect(email.html).toContain('class="notice notice-warning"');
  });

  it('starts a reminder subject with "Reminder:"', () => {
    const email = approvalRequestEmail({ transfer: sampleTransfer(), step: 'release', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS, reminder: true }, ZONE);
    expect(email.subject).toMatch(/^Reminder: Release needed: /);
  });

  it('refuses a link that is not a web address', () => {
    expect(() =>
      approvalRequestEmail({ transfer: sampleTransfer(), step: 'release', link: 'javascript:alert(1)', expiresAt: EXPIRES, recipients: RECIPIENTS }, ZONE),
    ).toThrow(RangeError);
  });
});

describe('scheduleNoticeEmail', () => {
  it('escalates to DevOps to expect the re-homing on the date', () => {
    const email = scheduleNoticeEmail({ transfer: scheduled(sampleTransfer()), wakeAt: WAKE, recipients: RECIPIENTS, audience: 'devops' }, ZONE);
    expect(email.subject).toContain('Re-homing scheduled for 2025-04-01');
    expect(email.text).toContain('Escalation to the DevOps team');
    expect(email.text).toContain('the re-homing of 2 customers on 2025-04-01 (from 00:00 Europe/Berlin); the workflow starts at 2025-04-01 00:00 (Europe/Berlin, UTC+02:00).');
    const immediate = scheduleNoticeEmail(
      { transfer: { ...sampleTransfer(), status: 'SCHEDULED', immediate: true }, wakeAt: WAKE, recipients: RECIPIENTS, audience: 'devops' },
      ZONE,
    );
    expect(immediate.subject).toMatch(/^Re-homing scheduled immediately: /);
    expect(immediate.text).toContain('re-homing of 2 customers immediately');
  });

  it('tells the partners the transfer is agreed and when it happens', () => {
    const email = scheduleNoticeEmail({ transfer: scheduled(sampleTransfer()), wakeAt: WAKE, recipients: RECIPIENTS, audience: 'partner' }, ZONE);
    expect(email.subject).toContain('Transfer scheduled for 2025-04-01');
    expect(email.text).toContain('Both partners have agreed');
    expect(email.text).toContain('will move on 2025-04-01 (from 00:00 Europe/Berlin).');
  });
});

describe('confirmationEmail', () => {
  it('tells the previous partner it no longer manages the customers, and that mail flow is unchanged', () => {
    const email = confirmationEmail({ transfer: sampleTransfer({ status: 'COMPLETED' }), recipients: RECIPIENTS, recipientRole: 'previous' }, ZONE);
    expect(email.text).toContain('Northwind IT no longer manages or bills them');
    expect(email.text).toContain('Mail flow is not affected');
  });

  it('tells the new partner the customers now belong to it', () => {
    const email = confirmationEmail({ transfer: sampleTransfer({ status: 'COMPLETED' }), recipients: RECIPIENTS, recipientRole: 'new' }, ZONE);
    expect(email.text).toContain('now belong to Southgate Networks');
  });
});

describe('declineNoticeEmail and expiryNoticeEmail', () => {
  it("names who declined, the signer, the reason's label and the words given, in both parts", () => {
    const email = declineNoticeEmail(
      { transfer: sampleTransfer(), step: 'release', signedBy: 'Jane Q. Public', reasonCode: 'CONTRACT_IN_FORCE', reason: 'Contract runs\nuntil June', recipients: RECIPIENTS },
      ZONE,
    );
    expect(email.subject).toBe('Transfer declined by Northwind IT: Acme Widgets Ltd and Brightside Dental (tr-20250301-0001)');
    expect(email.text).toContain('Declined by: Jane Q. Public, for Northwind IT\nReason: A contract with the customer is still in force\n');
    expect(email.text).toContain('In their words:\n> Contract runs\n> until June');
    expect(email.html).toMatch(/<th[^>]*>Reason<\/th><td[^>]*>A contract with the customer is still in force<\/td>/);
    expect(email.html).toMatch(/<blockquote[^>]*>Contract runs\nuntil June<\/blockquote>/);
  });

  it.each(Object.entries(DECLINE_REASON_LABELS))('states the label of %s; without words, the label alone', (code, label) => {
    const email = declineNoticeEmail(
      { transfer: sampleTransfer(), step: 'acceptance', signedBy: 'Bob', reasonCode: code as keyof typeof DECLINE_REASON_LABELS, reason: null, recipients: RECIPIENTS },
      ZONE,
    );
    expect(email.text).toContain(`Reason: ${label}\n`);
    expect(email.html).toContain(`>${label}</td>`);
    expect(email.text).not.toContain('In their words');
    expect(email.html).not.toContain('In their words');
  });

  it('says nobody answered within the approval window', () => {
    const email = expiryNoticeEmail({ transfer: sampleTransfer(), step: 'acceptance', recipients: RECIPIENTS }, ZONE);
    expect(email.subject).toBe('Transfer expired: no acceptance from Southgate Networks (tr-20250301-0001)');
    expect(email.text).toContain('within the approval window');
  });
});

describe('failureAlertEmail', () => {
  it("lists each customer's outcome", () => {
    const email = failureAlertEmail(
      {
        transfer: sampleTransfer({ status: 'FAILED' }),
        outcomes: [
          { customerId: 'cust-acme', outcome: 'moved' },
          { customerId: 'cust-brightside', outcome: 'failed', reason: 'ownership write timed out' },
        ],
        error: 'States.TaskFailed',
        recipients: RECIPIENTS,
      },
      ZONE,
    );
    expect(email.text).toContain('Acme Widgets Ltd (cust-acme) | Moved');
    expect(email.text).toContain('Brightside Dental (cust-brightside) | Failed | ownership write timed out');
    expect(email.text).toContain('1 of 2 customers is with the new partner');
    expect(email.html).toMatch(/<td[^>]*>Failed<\/td>/);
  });

  it('shows customers without an outcome as not attempted', () => {
    const email = failureAlertEmail({ transfer: sampleTransfer(), outcomes: [], error: 'boom', recipients: RECIPIENTS }, ZONE);
    expect(email.text).toContain('Acme Widgets Ltd (cust-acme) | Not attempted');
  });
});

describe('emails list a bounded number of domains', () => {
  /** 50 customers of 1,000 domains each (the transfer's snapshot cap), the last domain of each holding markup. */
  function largeTransfer(): Transfer {
    return sampleTransfer({
      customers: Array.from({ length: 50 }, (_, c) => ({
        id: `cust-${c}`,
        name: `Customer ${c}`,
        domains: Array.from({ length: 1000 }, (_, d) => (d === 3 ? `${HOSTILE}.example` : `d${d}.customer-${c}.example`)),
        domainCount: 4000,
        domainsTruncated: true,
      })),
    });
  }

  it.each(everyEmail(largeTransfer()))('%s names the first 20 domains of each customer and says how many more there are', (_name, email) => {
    for (const part of [email.text, email.html]) {
      expect(part).toContain('d19.customer-0.example and 3,980 more');
      expect(part).not.toContain('d20.customer-0.example');
      expect(part).toContain('d19.customer-49.example and 3,980 more');
    }
    expect(email.html).toContain(`${ESCAPED_HOSTILE}.example`);
    expect(email.html).not.toContain(HOSTILE);
    // 50 customers × 20 names: far from SES's limits, whatever the customers' size.
    expect(email.html.length + email.text.length).toBeLessThan(400_000);
  });

  it('a customer with fewer domains than shown lists them all; one without any says so', () => {
    const transfer = sampleTransfer({
      customers: [
        { id: 'c-few', name: 'Few', domains: ['a.example', 'b.example'], domainCount: 2, domainsTruncated: false },
        { id: 'c-none', name: 'None', domains: [], domainCount: 0, domainsTruncated: false },
      ],
    });
    const email = confirmationEmail({ transfer: { ...transfer, status: 'COMPLETED' }, recipients: RECIPIENTS, recipientRole: 'new' }, ZONE);
    expect(email.text).toContain('Few (c-few): a.example, b.example\n');
    expect(email.text).toContain('None (c-none): no mail domains');
  });
});

describe('renderNotice', () => {
  const transfer = sampleTransfer();
  const notices: Notice[] = [
    { kind: 'approval-request', transfer, step: 'release', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS },
    { kind: 'schedule', transfer: scheduled(transfer), wakeAt: WAKE, audience: 'partner', recipients: RECIPIENTS },
    { kind: 'confirmation', transfer, recipientRole: 'new', recipients: RECIPIENTS },
    { kind: 'decline', transfer, step: 'release', signedBy: 'Jane', reasonCode: 'DISPUTE', reason: null, recipients: RECIPIENTS },
    { kind: 'cancellation', transfer, cancelledBy: 'Northwind IT', reason: 'No longer wanted', recipients: RECIPIENTS },
    { kind: 'expiry', transfer, step: 'acceptance', recipients: RECIPIENTS },
    { kind: 'failure-alert', transfer, outcomes: [], error: 'boom', problem: 'confirmations', recipients: RECIPIENTS },
  ];
  const builders: Record<Notice['kind'], (notice: never, timeZone: string) => EmailMessage> = {
    'approval-request': approvalRequestEmail,
    schedule: scheduleNoticeEmail,
    confirmation: confirmationEmail,
    decline: declineNoticeEmail,
    cancellation: cancellationNoticeEmail,
    expiry: expiryNoticeEmail,
    'failure-alert': failureAlertEmail,
  };

  it.each(notices.map((notice) => [notice.kind, notice] as const))('renders a %s notice with its builder, in the zone given', (kind, notice) => {
    expect(renderNotice(notice, ZONE)).toEqual(builders[kind](notice as never, ZONE));
    expect(renderNotice(notice, ZONE).to).toEqual(RECIPIENTS);
  });

  it('titles a failed confirmation as such', () => {
    expect(renderNotice(notices[6] as Notice, ZONE).subject).toBe(
      'Action needed: confirmations not sent for transfer tr-20250301-0001 (Northwind IT to Southgate Networks)',
    );
  });
});

/** The attributes of the first opening tag that matches. */
function tagWith(html: string, pattern: RegExp): string {
  const tag = html.match(pattern)?.[0];
  if (!tag) throw new Error(`no tag matching ${pattern}`);
  return tag;
}

describe('HTML that survives clients without <style>', () => {
  describe.each(everyEmail(sampleTransfer()))('%s', (_name, email) => {
    it('carries its styles inline, and keeps the style sheet with its phone layout', () => {
      expect(tagWith(email.html, /<td class="card"[^>]*>/)).toMatch(/style="[^"]*background-color: #ffffff;[^"]*padding: 24px;/);
      expect(tagWith(email.html, /<td class="card"[^>]*>/)).toContain('bgcolor="#ffffff"');
      expect(tagWith(email.html, /<td class="masthead"[^>]*>/)).toContain(`bgcolor="${COLOURS.brand}"`);
      expect(tagWith(email.html, /<h1[^>]*>/)).toMatch(/style="[^"]*font-size: 22px;/);
      for (const th of email.html.match(/<th scope="row"[^>]*>/g) ?? []) expect(th).toContain(`color: ${COLOURS.muted};`);
      expect(email.html).toMatch(/<style>[\s\S]*@media \(max-width: 480px\)[\s\S]*!important[\s\S]*<\/style>/);
      // Every element of the body that a class styles has its style attribute too.
      const body = email.html.slice(email.html.indexOf('<body'));
      const unstyled = (body.match(/<[a-z0-9]+ [^>]*class="[^"]*"[^>]*>/g) ?? []).filter((tag) => !/\sstyle="/.test(tag));
      expect(unstyled).toEqual([]);
    });

    it('keeps the one link of its button a plain <a href>, in a coloured, padded table cell that Outlook keeps', () => {
      const links = email.html.match(/<a\s[^>]*>/g) ?? [];
      if (!email.text.includes(LINK)) {
        expect(links).toEqual([]);
        return;
      }
      expect(links).toHaveLength(1);
      const link = links[0] ?? '';
      expect(link).toMatch(new RegExp(`^<a class="button" href="${LINK}" style="[^"]*display: inline-block;[^"]*padding: 12px 22px;`));
      expect(link).toContain('color: #ffffff;');
      expect(link).toContain(`background-color: ${COLOURS.brand};`);
      const cell = tagWith(email.html, /<td class="button-cell"[^>]*>/);
      expect(cell).toContain(`bgcolor="${COLOURS.brand}"`);
      expect(cell).toContain('mso-padding-alt: 12px 22px;');
      expect(email.html).toMatch(/<td class="button-cell"[^>]*><a class="button" href="[^"]+"[^>]*>[^<]+<\/a><\/td>/);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The plain-text part and the HTML part say the same

const ENTITY: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

/** The HTML body's visible text, one entry per block (cell, paragraph, item, heading…), entities decoded. */
function htmlBlocks(html: string): string[] {
  const body = html
    .slice(html.indexOf('<body'))
    .replace(/<!--[\s\S]*?-->/g, '')
    // The inbox preview repeats the lead, hidden.
    .replace(/<div style="display:none[^"]*">[\s\S]*?<\/div>/, '')
    // The fallback for a button that does not work: the text part has only the address.
    .replace('If the button does not work, copy this address into your browser:', '');
  return body
    .split(/<\/?(?:p|h1|h2|li|td|th|tr|table|div|blockquote|caption|br|span)\b[^>]*>/)
    .map((part) => part.replace(/<[^>]+>/g, '').replace(/&(?:amp|lt|gt|quot|#39);/g, (entity) => ENTITY[entity] ?? entity))
    .filter((part) => part.trim() !== '');
}

/** The text part's lines, without its markers (underlines, bullets, quote marks, the signature separator, WARNING). */
function textLines(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !/^-+\s*$/.test(line))
    .map((line) => line.replace(/^\s*-\s/, '').replace(/^> ?/, '').replace(/^WARNING: /, ''))
    .filter((line) => line.trim() !== '');
}

/** Words only: the separators each part uses for the same thing (": ", " | ", "(…)", cells) count as one space. */
function words(text: string): string {
  return ` ${text.replace(/[:|()]/g, ' ').replace(/\s+/g, ' ').trim()} `;
}

describe('the plain-text part says what the HTML part says', () => {
  describe.each([...everyEmail(sampleTransfer()), ...everyEmail(hostileTransfer(), HOSTILE, 'UTC')])('%s', (_name, email) => {
    const html = htmlBlocks(email.html);
    const text = textLines(email.text);

    it('every block of the HTML body is in the text part', () => {
      const all = words(text.join('\n'));
      const brand = new Set([PROVIDER_NAME, 'Customer Transfer']);
      expect(html.filter((block) => !brand.has(block.trim()) && !all.includes(words(block)))).toEqual([]);
    });

    it('every line of the text part is in the HTML body', () => {
      const all = words(html.join('\n'));
      expect(text.filter((line) => !all.includes(words(line)))).toEqual([]);
    });
  });
});
