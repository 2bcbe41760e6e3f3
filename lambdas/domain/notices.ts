import { DECLINE_REASON_CODES, type DeclineReasonCode } from './decline-reasons.ts';
import type { CustomerOutcome } from './ports.ts';
import type { Step, Transfer } from './transfer.ts';

/**
 * What a use case tells people, as facts rather than text: the mailer's adapter renders a notice
 * (HTML and plain text, times in the deployment's zone), and another channel can take the same one.
 * Every notice names its transfer with its customers' domains, and who receives it.
 */
interface NoticeBase {
  transfer: Transfer;
  recipients: readonly string[];
}

/** The asked partner's link to its approval page; a reminder sends the same link again. */
export interface ApprovalRequestNotice extends NoticeBase {
  kind: 'approval-request';
  step: Step;
  link: string;
  /** ISO instant the link expires. */
  expiresAt: string;
  reminder?: boolean;
}

/** Both partners agreed: DevOps is told to expect the re-homing, the partners when it happens. */
export interface ScheduleNotice extends NoticeBase {
  kind: 'schedule';
  /** ISO instant the workflow wakes to re-home. */
  wakeAt: string;
  audience: 'devops' | 'partner';
}

export interface ConfirmationNotice extends NoticeBase {
  kind: 'confirmation';
  recipientRole: 'previous' | 'new';
}

/** A partner declined in writing; both partners are told on what ground. */
export interface DeclineNotice extends NoticeBase {
  kind: 'decline';
  step: Step;
  signedBy: string;
  reasonCode: DeclineReasonCode;
  /** The decliner's own words, if any. */
  reason: string | null;
}

export interface CancellationNotice extends NoticeBase {
  kind: 'cancellation';
  /** Who cancelled, as shown: a partner's name or the provider's support with the ticket. */
  cancelledBy: string;
  reason: string;
}

export interface ExpiryNotice extends NoticeBase {
  kind: 'expiry';
  step: Step;
}

/** Operators' alert: the re-homing failed, or only the confirmations after a completed move. */
export interface FailureAlertNotice extends NoticeBase {
  kind: 'failure-alert';
  outcomes: readonly CustomerOutcome[];
  error: string;
  problem: 'rehome' | 'confirmations';
}

export type Notice =
  | ApprovalRequestNotice
  | ScheduleNotice
  | ConfirmationNotice
  | DeclineNotice
  | CancellationNotice
  | ExpiryNotice
  | FailureAlertNotice;

export type NoticeKind = Notice['kind'];

/** A decline's ground as recorded: a consent recorded before codes existed (or with an unknown one) declined for OTHER. */
export function recordedReasonCode(value: unknown): DeclineReasonCode {
  return DECLINE_REASON_CODES.find((code) => code === value) ?? 'OTHER';
}

/** The one-line headline of an operators' alert: the email's subject and the alert topic's. */
export function alertSubject(notice: FailureAlertNotice): string {
  const { transfer } = notice;
  const parties = `${transfer.fromPartner.name} to ${transfer.toPartner.name}`;
  return notice.problem === 'confirmations'
    ? `Action needed: confirmations not sent for transfer ${transfer.id} (${parties})`
    : `Action needed: re-homing failed for transfer ${transfer.id} (${parties})`;
}

/**
 * The alert as the topic carries it, in plain text for a pager or a chat: what failed and each
 * customer's outcome. The email to DevOps (rendered by the mailer) says the same at length.
 */
export function alertMessage(notice: FailureAlertNotice): string {
  const { transfer } = notice;
  const byId = new Map(notice.outcomes.map((outcome) => [outcome.customerId, outcome]));
  const lines = transfer.customers.map((customer) => {
    const outcome = byId.get(customer.id);
    return `  - ${customer.name} (${customer.id}): ${outcome?.outcome ?? 'not attempted'}${outcome?.reason ? ` (${outcome.reason})` : ''}`;
  });
  const listed = new Set(transfer.customers.map((customer) => customer.id));
  const others = notice.outcomes
    .filter((outcome) => !listed.has(outcome.customerId))
    .map((outcome) => `  - ${outcome.customerId}: ${outcome.outcome}${outcome.reason ? ` (${outcome.reason})` : ''}`);
  return [
    alertSubject(notice),
    '',
    `Error: ${notice.error}`,
    '',
    `Transfer ${transfer.id} from ${transfer.fromPartner.name} (${transfer.fromPartner.id}) to ${transfer.toPartner.name} (${transfer.toPartner.id}), status ${transfer.status}.`,
    'Outcome per customer:',
    ...lines,
    ...others,
    '',
  ].join('\n');
}
