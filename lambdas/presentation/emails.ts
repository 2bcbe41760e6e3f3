import juice from 'juice/client';
import { declineReasonLabel } from '../domain/decline-reasons.ts';
import {
  alertSubject,
  type ApprovalRequestNotice,
  type CancellationNotice,
  type ConfirmationNotice,
  type DeclineNotice,
  type ExpiryNotice,
  type FailureAlertNotice,
  type Notice,
  type ScheduleNotice,
} from '../domain/notices.ts';
import type { CustomerOutcome } from '../domain/ports.ts';
import type { Step, Transfer } from '../domain/transfer.ts';
import { action, BLOCK_CSS, blocksHtml, blocksText, heading, paragraph, type Block } from './blocks.ts';
import { COLOURS, FONT_STACK, PRODUCT_NAME, PROVIDER_NAME } from './brand.ts';
import { singleLine } from './escape.ts';
import { html, trusted, type SafeHtml } from './html.ts';
import {
  askedParty,
  billingBlocks,
  customerCount,
  customerLine,
  customerNames,
  dateWithStart,
  formatInstant,
  MAIL_FLOW_UNCHANGED,
  pronoun,
  roleOf,
  summaryFacts,
} from './wording.ts';

/** An email as SES sends it: a subject, a plain-text part and an HTML part that say the same. */
export interface EmailMessage {
  to: string[];
  subject: string;
  text: string;
  html: string;
}

/** What an email builder takes: the notice's facts, without its kind. */
type EmailInput<N extends Notice> = Omit<N, 'kind'>;

interface EmailContent {
  transfer: Transfer;
  subject: string;
  heading: string;
  /** The opening sentence, also the inbox preview. */
  lead: string;
  blocks: Block[];
}

/**
 * The email style sheet. juice copies every rule into the elements' style attributes, since several
 * webmail clients drop <style>; the sheet stays in the head for the clients that keep it, for its
 * phone layout (a media query cannot be inlined, so it overrides the inline styles with !important).
 * Colours are set with background-color, which juice also writes as the bgcolor of table cells.
 */
const EMAIL_CSS = `
body { margin: 0; padding: 0; background-color: ${COLOURS.page}; color: ${COLOURS.ink}; font-family: ${FONT_STACK}; font-size: 16px; line-height: 1.5; -webkit-text-size-adjust: 100%; }
td, th, p, li, blockquote, caption, h1, h2 { font-family: ${FONT_STACK}; }
td, th { font-size: 16px; line-height: 1.5; color: ${COLOURS.ink}; }
.wrapper { width: 100%; background-color: ${COLOURS.page}; }
.outer { padding: 24px 8px; }
.container { width: 100%; max-width: 640px; }
.masthead { background-color: ${COLOURS.brand}; color: #ffffff; padding: 16px 24px; border-radius: 10px 10px 0 0; }
.brand { font-size: 20px; font-weight: 700; letter-spacing: 0.02em; color: #ffffff; }
.product { font-size: 16px; padding-left: 4px; color: #ffffff; }
.card { background-color: ${COLOURS.card}; padding: 24px; border: 1px solid ${COLOURS.line}; border-top: 0; border-radius: 0 0 10px 10px; }
h1 { font-size: 22px; line-height: 1.3; margin: 0 0 12px; color: ${COLOURS.ink}; }
.lead { font-size: 17px; }
.footer { color: ${COLOURS.muted}; font-size: 13px; padding: 16px 24px 32px; }
a { color: ${COLOURS.brand}; }
${BLOCK_CSS}
.action { margin: 24px 0 8px; border-collapse: separate; }
.button-cell { background-color: ${COLOURS.brand}; border-radius: 6px; mso-padding-alt: 12px 22px; }
a.button { color: #ffffff; background-color: ${COLOURS.brand}; font-size: 16px; line-height: 1.25; }
@media (max-width: 480px) {
  .outer { padding: 16px 4px !important; }
  .card, .masthead, .footer { padding-left: 16px !important; padding-right: 16px !important; }
  .facts th, .facts td { display: block !important; width: auto !important; padding: 4px 0 !important; }
  .facts tr + tr td { border-top: 0 !important; }
  .facts tr + tr th { padding-top: 12px !important; }
  .action { width: 100% !important; }
  a.button { display: block !important; text-align: center !important; }
}
`;

/** Inline styles for the clients that drop <style>; the sheet itself stays for those that keep it. */
function inlineStyles(document: string): string {
  return juice(document, { removeStyleTags: false, preserveImportant: true, resolveCSSVariables: false });
}

/** The one layout of every HTML email: header band, a card with the content, a footer. */
function emailLayout(content: { title: string; heading: string; lead: string; body: SafeHtml; footer: string }): string {
  const document = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${content.title}</title>
<style>${trusted(EMAIL_CSS)}</style>
</head>
<body>
<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">${content.lead}</div>
<table role="presentation" class="wrapper" width="100%" cellpadding="0" cellspacing="0" border="0">
<tr><td class="outer" align="center">
<!--[if mso]><table role="presentation" width="640" align="center" cellpadding="0" cellspacing="0" border="0"><tr><td><![endif]-->
<table role="presentation" class="container" cellpadding="0" cellspacing="0" border="0">
<tr><td class="masthead"><span class="brand">${PROVIDER_NAME}</span> <span class="product">${PRODUCT_NAME}</span></td></tr>
<tr><td class="card">
<h1>${content.heading}</h1>
<p class="lead">${content.lead}</p>
${content.body}</td></tr>
<tr><td class="footer">${content.footer}</td></tr>
</table>
<!--[if mso]></td></tr></table><![endif]-->
</td></tr>
</table>
</body>
</html>
`.toString();
  return inlineStyles(document);
}

function composeEmail(recipients: readonly string[], content: EmailContent): EmailMessage {
  const subject = singleLine(content.subject);
  const footer =
    `This is an automated message from ${PROVIDER_NAME} ${PRODUCT_NAME} about transfer ${content.transfer.id}. ` +
    'Please quote the transfer ID in any question about it.';
  return {
    to: [...recipients],
    subject,
    text: [content.heading, '', content.lead, '', blocksText(content.blocks), '', '-- ', footer, ''].join('\n'),
    html: emailLayout({ title: subject, heading: content.heading, lead: content.lead, body: blocksHtml(content.blocks), footer }),
  };
}

/** The email of a notice, its times in `timeZone` (the deployment's TRANSFER_TIMEZONE). */
export function renderNotice(notice: Notice, timeZone: string): EmailMessage {
  switch (notice.kind) {
    case 'approval-request':
      return approvalRequestEmail(notice, timeZone);
    case 'schedule':
      return scheduleNoticeEmail(notice, timeZone);
    case 'confirmation':
      return confirmationEmail(notice, timeZone);
    case 'decline':
      return declineNoticeEmail(notice, timeZone);
    case 'cancellation':
      return cancellationNoticeEmail(notice, timeZone);
    case 'expiry':
      return expiryNoticeEmail(notice, timeZone);
    case 'failure-alert':
      return failureAlertEmail(notice, timeZone);
  }
}

/** That mail flow is untouched, set apart: it is what a partner most needs to be sure of. */
function mailFlowNotice(): Block {
  return { kind: 'notice', tone: 'info', text: MAIL_FLOW_UNCHANGED };
}

function transferSummary(transfer: Transfer, timeZone: string, viewer?: Step): Block[] {
  return [heading('Transfer summary'), summaryFacts(transfer, timeZone, viewer)];
}

/** When the re-homing happens, for sentences ("… will move immediately" / "… on 2025-05-01 (from 00:00 …)"). */
function scheduledWhen(transfer: Transfer, wakeAt: string, timeZone: string): string {
  if (transfer.immediate) return 'immediately';
  if (transfer.transferDate) return `on ${dateWithStart(transfer.transferDate, timeZone)}`;
  return `at ${formatInstant(wakeAt, timeZone)}`;
}

/** For subjects: "immediately" / "for 2025-05-01". */
function scheduledFor(transfer: Transfer, wakeAt: string, timeZone: string): string {
  if (transfer.immediate) return 'immediately';
  return `for ${transfer.transferDate ?? formatInstant(wakeAt, timeZone)}`;
}

function approvalAsk(transfer: Transfer, step: Step): string {
  const { fromPartner, toPartner, customers } = transfer;
  const them = pronoun(customers);
  if (step === 'release') {
    return (
      `${toPartner.name} is to take over ${customerNames(customers)} from ${fromPartner.name}. ` +
      `As the current partner, ${fromPartner.name} must release ${them} in writing before anything changes. ` +
      `Please release the transfer and choose its date, or decline it with a reason.`
    );
  }
  return (
    `${fromPartner.name} has released ${customerNames(customers)} for transfer to ${toPartner.name}. ` +
    `As the new partner, ${toPartner.name} must accept ${them} in writing before anything changes. ` +
    'Please accept the transfer or decline it with a reason.'
  );
}

export function approvalRequestEmail(input: EmailInput<ApprovalRequestNotice>, timeZone: string): EmailMessage {
  const { transfer, step, link, expiresAt, reminder = false } = input;
  const party = askedParty(transfer, step);
  const what = step === 'release' ? 'release' : 'acceptance';
  const deadline = formatInstant(expiresAt, timeZone);
  return composeEmail(input.recipients, {
    transfer,
    subject:
      `${reminder ? 'Reminder: ' : ''}${step === 'release' ? 'Release' : 'Acceptance'} needed: ` +
      `${customerNames(transfer.customers)} from ${transfer.fromPartner.name} to ${transfer.toPartner.name} (${transfer.id})`,
    heading: `${reminder ? 'Reminder: your' : 'Your'} ${what} is needed`,
    lead: approvalAsk(transfer, step),
    blocks: [
      ...(reminder ? [paragraph(`We have not received a decision from ${party.name} yet.`)] : []),
      ...transferSummary(transfer, timeZone, step),
      heading('Billing advice'),
      ...billingBlocks(transfer),
      heading('Your decision'),
      paragraph(`Please decide by ${deadline}. Without a decision by then the transfer expires and nothing changes.`),
      action(step === 'release' ? 'Review and release or decline' : 'Review and accept or decline', link),
      paragraph(
        'Opening the link changes nothing. Only submitting the signed form on that page records a decision: ' +
          'you sign a written statement by typing your full name, and the decision is recorded with your name, ' +
          'the time and your IP address.',
      ),
      paragraph(`The link is meant for ${party.name} only and works until ${deadline}. Please do not forward it.`),
      mailFlowNotice(),
    ],
  });
}

export function scheduleNoticeEmail(input: EmailInput<ScheduleNotice>, timeZone: string): EmailMessage {
  const { transfer, wakeAt } = input;
  const { fromPartner, toPartner, customers } = transfer;
  const when = scheduledWhen(transfer, wakeAt, timeZone);
  const moving = `${customerNames(customers)} from ${fromPartner.name} to ${toPartner.name}`;
  if (input.audience === 'devops') {
    return composeEmail(input.recipients, {
      transfer,
      subject: `Re-homing scheduled ${scheduledFor(transfer, wakeAt, timeZone)}: ${customerCount(customers)} from ${fromPartner.name} to ${toPartner.name} (${transfer.id})`,
      heading: 'Re-homing scheduled',
      lead:
        `Escalation to the DevOps team: both partners have agreed to move ${moving}. ` +
        `Please expect the re-homing of ${customerCount(customers)} ${when}; the workflow starts at ${formatInstant(wakeAt, timeZone)}.`,
      blocks: [
        paragraph(
          `Only ownership changes. ${MAIL_FLOW_UNCHANGED} If any customer cannot be moved, operators receive an alert listing each customer's outcome.`,
        ),
        ...transferSummary(transfer, timeZone),
      ],
    });
  }
  return composeEmail(input.recipients, {
    transfer,
    subject: `Transfer scheduled ${scheduledFor(transfer, wakeAt, timeZone)}: ${moving} (${transfer.id})`,
    heading: 'Transfer agreed and scheduled',
    lead: `Both partners have agreed: ${moving} will move ${when}.`,
    blocks: [
      paragraph('Until then nothing changes. When the move is done, both partners receive a confirmation.'),
      mailFlowNotice(),
      ...transferSummary(transfer, timeZone),
      heading('Billing advice'),
      ...billingBlocks(transfer),
    ],
  });
}

export function confirmationEmail(input: EmailInput<ConfirmationNotice>, timeZone: string): EmailMessage {
  const { transfer } = input;
  const { fromPartner, toPartner, customers } = transfer;
  const them = pronoun(customers);
  const lead =
    input.recipientRole === 'previous'
      ? `${customerNames(customers)} moved from ${fromPartner.name} to ${toPartner.name}. ` +
        `${fromPartner.name} no longer manages or bills ${them}.`
      : `${customerNames(customers)} now belong${customers.length === 1 ? 's' : ''} to ${toPartner.name}, ` +
        `which manages and bills ${them} from now on.`;
  return composeEmail(input.recipients, {
    transfer,
    subject: `Transfer completed: ${customerNames(customers)} now with ${toPartner.name} (${transfer.id})`,
    heading: 'Transfer completed',
    lead,
    blocks: [mailFlowNotice(), ...transferSummary(transfer, timeZone)],
  });
}

/** The ground of a decline: its label always, the decliner's words when given. */
function declineReasonBlocks(input: EmailInput<DeclineNotice>): Block[] {
  const words = input.reason?.trim() ?? '';
  return [
    {
      kind: 'facts',
      rows: [
        { label: 'Declined by', value: `${input.signedBy}, for ${askedParty(input.transfer, input.step).name}` },
        { label: 'Reason', value: declineReasonLabel(input.reasonCode) },
      ],
    },
    ...(words ? [{ kind: 'quote', label: 'In their words', text: words } satisfies Block] : []),
  ];
}

export function declineNoticeEmail(input: EmailInput<DeclineNotice>, timeZone: string): EmailMessage {
  const { transfer, step } = input;
  const party = askedParty(transfer, step);
  return composeEmail(input.recipients, {
    transfer,
    subject: `Transfer declined by ${party.name}: ${customerNames(transfer.customers)} (${transfer.id})`,
    heading: 'Transfer declined',
    lead:
      `${party.name}, as the ${roleOf(step)}, declined the transfer of ${customerNames(transfer.customers)} ` +
      `from ${transfer.fromPartner.name} to ${transfer.toPartner.name}. The transfer is closed; nothing changes for the customers.`,
    blocks: [
      ...declineReasonBlocks(input),
      paragraph('If the transfer is still wanted, a new transfer request can be filed.'),
      ...transferSummary(transfer, timeZone),
    ],
  });
}

export function cancellationNoticeEmail(input: EmailInput<CancellationNotice>, timeZone: string): EmailMessage {
  const { transfer } = input;
  return composeEmail(input.recipients, {
    transfer,
    subject: `Transfer cancelled: ${customerNames(transfer.customers)} (${transfer.id})`,
    heading: 'Transfer cancelled',
    lead:
      `The transfer of ${customerNames(transfer.customers)} from ${transfer.fromPartner.name} to ${transfer.toPartner.name} ` +
      'was cancelled before re-homing began. Nothing changed for the customers; approval links sent for it no longer work.',
    blocks: [
      { kind: 'facts', rows: [{ label: 'Cancelled by', value: input.cancelledBy }] },
      { kind: 'quote', label: 'Reason given', text: input.reason },
      ...transferSummary(transfer, timeZone),
    ],
  });
}

export function expiryNoticeEmail(input: EmailInput<ExpiryNotice>, timeZone: string): EmailMessage {
  const { transfer, step } = input;
  const party = askedParty(transfer, step);
  const verb = step === 'release' ? 'release' : 'accept';
  return composeEmail(input.recipients, {
    transfer,
    subject: `Transfer expired: no ${step} from ${party.name} (${transfer.id})`,
    heading: 'Transfer expired',
    lead:
      `${party.name}, as the ${roleOf(step)}, did not ${verb} or decline the transfer within the approval window. ` +
      'The transfer has expired; nothing changed for the customers.',
    blocks: [paragraph('If the transfer is still wanted, a new transfer request can be filed.'), ...transferSummary(transfer, timeZone)],
  });
}

const OUTCOME_LABELS: Record<CustomerOutcome['outcome'], string> = {
  moved: 'Moved',
  'already-moved': 'Already moved (by an earlier attempt)',
  failed: 'Failed',
};

/** One row per customer of the transfer, plus any outcome about a customer the transfer does not list. */
function outcomeRows(transfer: Transfer, outcomes: readonly CustomerOutcome[]): string[][] {
  const byId = new Map(outcomes.map((outcome) => [outcome.customerId, outcome]));
  const known = new Set(transfer.customers.map((customer) => customer.id));
  const listed = transfer.customers.map((customer) => {
    const outcome = byId.get(customer.id);
    const line = customerLine(customer);
    return [line.main, outcome ? OUTCOME_LABELS[outcome.outcome] : 'Not attempted', outcome?.reason ?? ''];
  });
  const extra = outcomes
    .filter((outcome) => !known.has(outcome.customerId))
    .map((outcome) => [outcome.customerId, OUTCOME_LABELS[outcome.outcome], outcome.reason ?? '']);
  return [...listed, ...extra];
}

/** `problem` defaults to the re-homing itself. */
export function failureAlertEmail(
  input: Omit<EmailInput<FailureAlertNotice>, 'problem'> & { problem?: FailureAlertNotice['problem'] },
  timeZone: string,
): EmailMessage {
  const notice = { ...input, kind: 'failure-alert', problem: input.problem ?? 'rehome' } satisfies FailureAlertNotice;
  const { transfer, outcomes } = notice;
  const moved = outcomes.filter((outcome) => outcome.outcome !== 'failed').length;
  const parties = `${transfer.fromPartner.name} to ${transfer.toPartner.name}`;
  const confirmations = notice.problem === 'confirmations';
  return composeEmail(input.recipients, {
    transfer,
    subject: alertSubject(notice),
    heading: confirmations ? 'Confirmations not sent' : 'Re-homing failed',
    lead: confirmations
      ? `The transfer from ${parties} is completed: ${moved} of ${customerCount(transfer.customers)} ` +
        `${moved === 1 ? 'is' : 'are'} with the new partner. The confirmation emails to the partners could not be sent; ` +
        'please let both partners know. Mail flow is not affected.'
      : `The transfer from ${parties} could not be completed: ` +
        `${moved} of ${customerCount(transfer.customers)} ${moved === 1 ? 'is' : 'are'} with the new partner. ` +
        'Please investigate. Re-homing changes ownership only, so mail flow is not affected.',
    blocks: [
      { kind: 'quote', label: 'Error', text: input.error },
      { kind: 'table', caption: 'Outcome per customer', head: ['Customer', 'Outcome', 'Detail'], rows: outcomeRows(transfer, outcomes) },
      ...transferSummary(transfer, timeZone),
    ],
  });
}
