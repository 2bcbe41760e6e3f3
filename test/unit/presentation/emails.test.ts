import { describe, expect, it } from 'vitest';
import type { EmailMessage } from '../../../lambdas/domain/ports.ts';
import type { Transfer } from '../../../lambdas/domain/transfer.ts';
import { PROVIDER_NAME } from '../../../lambdas/presentation/brand.ts';
import {
  approvalRequestEmail,
  confirmationEmail,
  declineNoticeEmail,
  expiryNoticeEmail,
  failureAlertEmail,
  scheduleNoticeEmail,
} from '../../../lambdas/presentation/emails.ts';
import { ESCAPED_HOSTILE, HOSTILE, hostileTransfer, LINK, sampleTransfer } from './fixtures.ts';

const RECIPIENTS = ['partner@example.test', 'second@example.test'];
const EXPIRES = '2025-03-08T09:00:00.000Z';
const WAKE = '2025-03-31T22:00:00.000Z';

function scheduled(transfer: Transfer): Transfer {
  return { ...transfer, status: 'SCHEDULED', transferDate: '2025-04-01' };
}

/** Every email the module renders, for one transfer. */
function everyEmail(transfer: Transfer, text = 'plain'): [string, EmailMessage][] {
  return [
    ['approval request (release)', approvalRequestEmail({ transfer, step: 'release', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS })],
    [
      'approval request (acceptance, reminder)',
      approvalRequestEmail({ transfer: scheduled(transfer), step: 'acceptance', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS, reminder: true }),
    ],
    ['schedule notice (devops)', scheduleNoticeEmail({ transfer: scheduled(transfer), wakeAt: WAKE, recipients: RECIPIENTS, audience: 'devops' })],
    ['schedule notice (partner)', scheduleNoticeEmail({ transfer: scheduled(transfer), wakeAt: WAKE, recipients: RECIPIENTS, audience: 'partner' })],
    ['confirmation (previous)', confirmationEmail({ transfer: { ...transfer, status: 'COMPLETED' }, recipients: RECIPIENTS, recipientRole: 'previous' })],
    ['confirmation (new)', confirmationEmail({ transfer: { ...transfer, status: 'COMPLETED' }, recipients: RECIPIENTS, recipientRole: 'new' })],
    [
      'decline notice',
      declineNoticeEmail({ transfer: { ...transfer, status: 'DECLINED' }, step: 'acceptance', signedBy: `Signer ${text}`, reason: `Reason ${text}`, recipients: RECIPIENTS }),
    ],
    ['expiry notice', expiryNoticeEmail({ transfer: { ...transfer, status: 'EXPIRED' }, step: 'release', recipients: RECIPIENTS })],
    [
      'failure alert',
      failureAlertEmail({
        transfer: { ...transfer, status: 'FAILED' },
        outcomes: transfer.customers.map((customer) => ({ customerId: customer.id, outcome: 'failed', reason: `Reason ${text}` })),
        error: `Error ${text}`,
        recipients: RECIPIENTS,
      }),
    ],
  ];
}

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
      expect(email.html).toContain(`<span class="brand">${PROVIDER_NAME}</span>`);
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
  const release = () => approvalRequestEmail({ transfer: sampleTransfer(), step: 'release', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS });

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
    const dated = approvalRequestEmail({ transfer: scheduled(sampleTransfer()), step: 'acceptance', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS });
    expect(dated.subject).toMatch(/^Acceptance needed: /);
    expect(dated.text).toContain('As the new partner, Southgate Networks must accept them');
    expect(dated.text).toContain('Transfer date: 2025-04-01');
    const immediate = approvalRequestEmail({
      transfer: { ...sampleTransfer(), immediate: true },
      step: 'acceptance',
      link: LINK,
      expiresAt: EXPIRES,
      recipients: RECIPIENTS,
    });
    expect(immediate.text).toContain('Transfer date: Immediately');
  });

  it('links to the approval page: a button in HTML, the raw URL in text', () => {
    const email = release();
    expect(email.text).toContain(`\n${LINK}\n`);
    expect(email.html).toContain(`<a class="button" href="${LINK}">`);
  });

  it('says that opening the link changes nothing, and gives the deadline', () => {
    const email = release();
    expect(email.text).toContain('Opening the link changes nothing. Only submitting the signed form');
    expect(email.text).toContain('Please decide by 2025-03-08 09:00 UTC');
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
    const email = approvalRequestEmail({ transfer, step: 'acceptance', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS });
    expect(email.text).toContain('WARNING: The chosen date is not an invoice date of Northwind IT');
    expect(email.text).toContain('it does not block the transfer');
    expect(email.html).toContain('class="notice notice-warning"');
  });

  it('starts a reminder subject with "Reminder:"', () => {
    const email = approvalRequestEmail({ transfer: sampleTransfer(), step: 'release', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS, reminder: true });
    expect(email.subject).toMatch(/^Reminder: Release needed: /);
  });

  it('refuses a link that is not a web address', () => {
    expect(() =>
      approvalRequestEmail({ transfer: sampleTransfer(), step: 'release', link: 'javascript:alert(1)', expiresAt: EXPIRES, recipients: RECIPIENTS }),
    ).toThrow(RangeError);
  });
});

describe('scheduleNoticeEmail', () => {
  it('escalates to DevOps to expect the re-homing on the date', () => {
    const email = scheduleNoticeEmail({ transfer: scheduled(sampleTransfer()), wakeAt: WAKE, recipients: RECIPIENTS, audience: 'devops' });
    expect(email.subject).toContain('Re-homing scheduled for 2025-04-01');
    expect(email.text).toContain('Escalation to the DevOps team');
    expect(email.text).toContain('2025-03-31 22:00 UTC');
    const immediate = scheduleNoticeEmail({ transfer: { ...sampleTransfer(), status: 'SCHEDULED', immediate: true }, wakeAt: WAKE, recipients: RECIPIENTS, audience: 'devops' });
    expect(immediate.subject).toMatch(/^Re-homing scheduled immediately: /);
    expect(immediate.text).toContain('re-homing of 2 customers immediately');
  });

  it('tells the partners the transfer is agreed and when it happens', () => {
    const email = scheduleNoticeEmail({ transfer: scheduled(sampleTransfer()), wakeAt: WAKE, recipients: RECIPIENTS, audience: 'partner' });
    expect(email.subject).toContain('Transfer scheduled for 2025-04-01');
    expect(email.text).toContain('Both partners have agreed');
    expect(email.text).toContain('will move on 2025-04-01 (from 00:00');
  });
});

describe('confirmationEmail', () => {
  it('tells the previous partner it no longer manages the customers, and that mail flow is unchanged', () => {
    const email = confirmationEmail({ transfer: sampleTransfer({ status: 'COMPLETED' }), recipients: RECIPIENTS, recipientRole: 'previous' });
    expect(email.text).toContain('Northwind IT no longer manages or bills them');
    expect(email.text).toContain('Mail flow is not affected');
  });

  it('tells the new partner the customers now belong to it', () => {
    const email = confirmationEmail({ transfer: sampleTransfer({ status: 'COMPLETED' }), recipients: RECIPIENTS, recipientRole: 'new' });
    expect(email.text).toContain('now belong to Southgate Networks');
  });
});

describe('declineNoticeEmail and expiryNoticeEmail', () => {
  it('names who declined, the signer and the reason', () => {
    const email = declineNoticeEmail({ transfer: sampleTransfer(), step: 'release', signedBy: 'Jane Q. Public', reason: 'Contract runs\nuntil June', recipients: RECIPIENTS });
    expect(email.subject).toBe('Transfer declined by Northwind IT: Acme Widgets Ltd and Brightside Dental (tr-20250301-0001)');
    expect(email.text).toContain('Declined by: Jane Q. Public, for Northwind IT');
    expect(email.text).toContain('> Contract runs\n> until June');
  });

  it('says nobody answered within the approval window', () => {
    const email = expiryNoticeEmail({ transfer: sampleTransfer(), step: 'acceptance', recipients: RECIPIENTS });
    expect(email.subject).toBe('Transfer expired: no acceptance from Southgate Networks (tr-20250301-0001)');
    expect(email.text).toContain('within the approval window');
  });
});

describe('failureAlertEmail', () => {
  it("lists each customer's outcome", () => {
    const email = failureAlertEmail({
      transfer: sampleTransfer({ status: 'FAILED' }),
      outcomes: [
        { customerId: 'cust-acme', outcome: 'moved' },
        { customerId: 'cust-brightside', outcome: 'failed', reason: 'ownership write timed out' },
      ],
      error: 'States.TaskFailed',
      recipients: RECIPIENTS,
    });
    expect(email.text).toContain('Acme Widgets Ltd (cust-acme) | Moved');
    expect(email.text).toContain('Brightside Dental (cust-brightside) | Failed | ownership write timed out');
    expect(email.text).toContain('1 of 2 customers is with the new partner');
    expect(email.html).toContain('<td>Failed</td>');
  });

  it('shows customers without an outcome as not attempted', () => {
    const email = failureAlertEmail({ transfer: sampleTransfer(), outcomes: [], error: 'boom', recipients: RECIPIENTS });
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
    const email = confirmationEmail({ transfer: { ...transfer, status: 'COMPLETED' }, recipients: RECIPIENTS, recipientRole: 'new' });
    expect(email.text).toContain('Few (c-few): a.example, b.example\n');
    expect(email.text).toContain('None (c-none): no mail domains');
  });
});
