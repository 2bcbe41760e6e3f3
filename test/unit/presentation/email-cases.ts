// The emails of every builder in lambdas/presentation/emails.ts, for the unit tests and the browser test.
import type { Transfer } from '../../../lambdas/domain/transfer.ts';
import {
  approvalRequestEmail,
  cancellationNoticeEmail,
  confirmationEmail,
  declineNoticeEmail,
  expiryNoticeEmail,
  failureAlertEmail,
  scheduleNoticeEmail,
  type EmailMessage,
} from '../../../lambdas/presentation/emails.ts';
import { LINK } from './fixtures.ts';

export const RECIPIENTS = ['partner@example.test', 'second@example.test'];
export const EXPIRES = '2025-03-08T09:00:00.000Z';
/** 2025-04-01 00:00 in Berlin (summer time), the start of the transfer date of `scheduled`. */
export const WAKE = '2025-03-31T22:00:00.000Z';
export const ZONE = 'Europe/Berlin';

export function scheduled(transfer: Transfer): Transfer {
  return { ...transfer, status: 'SCHEDULED', transferDate: '2025-04-01' };
}

/** Agreed for a date that is no invoice date of the current partner: the billing warning shows. */
export function offInvoiceDate(transfer: Transfer): Transfer {
  return {
    ...scheduled(transfer),
    status: 'AWAITING_ACCEPTANCE',
    transferDate: '2025-04-10',
    billing: { ...transfer.billing, aligned: false, advice: 'Warning: 2025-04-10 is not an invoice date of Northwind IT (next: 2025-04-01, 2025-05-01).' },
  };
}

/** Every email the module renders, for one transfer: one per builder and variant. */
export function everyEmail(transfer: Transfer, text = 'plain', timeZone = ZONE): [string, EmailMessage][] {
  return [
    ['approval request (release)', approvalRequestEmail({ transfer, step: 'release', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS }, timeZone)],
    [
      'approval request (acceptance, reminder)',
      approvalRequestEmail(
        { transfer: scheduled(transfer), step: 'acceptance', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS, reminder: true },
        timeZone,
      ),
    ],
    [
      'approval request (acceptance, date off the invoice dates)',
      approvalRequestEmail({ transfer: offInvoiceDate(transfer), step: 'acceptance', link: LINK, expiresAt: EXPIRES, recipients: RECIPIENTS }, timeZone),
    ],
    ['schedule notice (devops)', scheduleNoticeEmail({ transfer: scheduled(transfer), wakeAt: WAKE, recipients: RECIPIENTS, audience: 'devops' }, timeZone)],
    ['schedule notice (partner)', scheduleNoticeEmail({ transfer: scheduled(transfer), wakeAt: WAKE, recipients: RECIPIENTS, audience: 'partner' }, timeZone)],
    ['confirmation (previous)', confirmationEmail({ transfer: { ...transfer, status: 'COMPLETED' }, recipients: RECIPIENTS, recipientRole: 'previous' }, timeZone)],
    ['confirmation (new)', confirmationEmail({ transfer: { ...transfer, status: 'COMPLETED' }, recipients: RECIPIENTS, recipientRole: 'new' }, timeZone)],
    [
      'decline notice',
      declineNoticeEmail(
        {
          transfer: { ...transfer, status: 'DECLINED' },
          step: 'acceptance',
          signedBy: `Signer ${text}`,
          reasonCode: 'CUSTOMER_NOT_CONSENTED',
          reason: `Reason ${text}`,
          recipients: RECIPIENTS,
        },
        timeZone,
      ),
    ],
    [
      'cancellation notice',
      cancellationNoticeEmail(
        { transfer: { ...transfer, status: 'CANCELLED' }, cancelledBy: `Canceller ${text}`, reason: `Reason ${text}`, recipients: RECIPIENTS },
        timeZone,
      ),
    ],
    ['expiry notice', expiryNoticeEmail({ transfer: { ...transfer, status: 'EXPIRED' }, step: 'release', recipients: RECIPIENTS }, timeZone)],
    [
      'failure alert',
      failureAlertEmail(
        {
          transfer: { ...transfer, status: 'FAILED' },
          outcomes: transfer.customers.map((customer) => ({ customerId: customer.id, outcome: 'failed', reason: `Reason ${text}` })),
          error: `Error ${text}`,
          recipients: RECIPIENTS,
        },
        timeZone,
      ),
    ],
  ];
}
