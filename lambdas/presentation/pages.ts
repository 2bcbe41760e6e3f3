import { SIGNER_PLACEHOLDER } from '../domain/consent.ts';
import { DECLINE_REASON_CODES, declineGround, declineReasonLabel } from '../domain/decline-reasons.ts';
import type { ConsentRecord, PartyRef, Step, Transfer, TransferSummary } from '../domain/transfer.ts';
import { blocksHtml, paragraph, type Block, type Fact } from './blocks.ts';
import { PROVIDER_NAME } from './brand.ts';
import { html, type SafeHtml } from './html.ts';
import { card, pageLayout } from './page-layout.ts';
import {
  askedParty,
  billingBlocks,
  customerCount,
  customerNames,
  dateWithStart,
  decisionLabel,
  formatInstant,
  MAIL_FLOW_UNCHANGED,
  pronoun,
  roleOf,
  statusLabel,
  summaryFacts,
} from './wording.ts';

export { PAGE_CONTENT_SECURITY_POLICY } from './page-layout.ts';

// ---------------------------------------------------------------------------------------------
// Approval page

export interface ApprovalPageView {
  transfer: Transfer;
  step: Step;
  /** The partner asked. */
  partner: PartyRef;
  /** The statement to sign, with SIGNER_PLACEHOLDER in it. */
  statement: string;
  /** Bounds for the date picker (YYYY-MM-DD). */
  today: string;
  latestDate: string;
  /** ISO instant the link expires. */
  expiresAt: string;
  /** The deployment's TRANSFER_TIMEZONE: times and a date's start are shown in it. */
  timeZone: string;
  /** From a rejected POST; shown at the top and next to fields. */
  errors?: { field: string; message: string }[];
  values?: {
    decision?: string;
    transferDate?: string;
    immediate?: boolean;
    signedBy?: string;
    reasonCode?: string;
    reason?: string;
    acknowledge?: boolean;
  };
}

type Errors = ReadonlyMap<string, readonly string[]>;

function groupErrors(errors: ApprovalPageView['errors']): Errors {
  const byField = new Map<string, string[]>();
  for (const { field, message } of errors ?? []) byField.set(field, [...(byField.get(field) ?? []), message]);
  return byField;
}

interface DecisionOption {
  value: 'release' | 'accept' | 'decline';
  label: string;
  hint: string;
}

function decisionOptions(transfer: Transfer, step: Step): DecisionOption[] {
  const { fromPartner, toPartner } = transfer;
  const decline: DecisionOption = {
    value: 'decline',
    label: `Decline: the customers stay with ${fromPartner.name}`,
    hint: 'Give the reason below. Both partners are told.',
  };
  if (step === 'release') {
    return [
      {
        value: 'release',
        label: `Release the customers to ${toPartner.name}`,
        hint: `Choose the transfer date below. ${toPartner.name} is then asked to accept.`,
      },
      decline,
    ];
  }
  return [
    {
      value: 'accept',
      label: `Accept the customers from ${fromPartner.name}`,
      hint: `${toPartner.name} manages and bills them from the transfer date.`,
    },
    decline,
  ];
}

/** The element an error message at the top links to, when the field is on this page. */
function fieldAnchor(view: ApprovalPageView, field: string): string | undefined {
  if (field === 'decision') return `decision-${decisionOptions(view.transfer, view.step)[0]?.value ?? 'decline'}`;
  if (field === 'transferDate' || field === 'immediate') return view.step === 'release' ? field : undefined;
  return ['signedBy', 'reasonCode', 'reason', 'acknowledge'].includes(field) ? field : undefined;
}

const FIELD_LABELS: Readonly<Record<string, string>> = {
  decision: 'Decision',
  transferDate: 'Transfer date',
  immediate: 'Immediate transfer',
  signedBy: 'Full name',
  reasonCode: 'Reason for declining',
  reason: 'Reason',
  acknowledge: 'Written consent',
};

function errorSummary(view: ApprovalPageView): SafeHtml | false {
  const errors = view.errors ?? [];
  if (errors.length === 0) return false;
  const items = errors.map(({ field, message }) => {
    const text = `${FIELD_LABELS[field] ?? field}: ${message}`;
    const anchor = fieldAnchor(view, field);
    return html`<li>${anchor ? html`<a href="#${anchor}">${text}</a>` : text}</li>`;
  });
  return html`<div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1">
<h2 id="error-summary-title">Your decision was not recorded</h2>
<p>Please correct the following and submit again:</p>
<ul>${items}</ul>
</div>
`;
}

function errorId(field: string): string {
  return `${field}-error`;
}

function fieldError(errors: Errors, field: string): SafeHtml | false {
  const messages = errors.get(field);
  if (!messages) return false;
  // The messages read on after the field's name at the top ("Reason: say why…"); on their own, as sentences.
  const sentences = messages.map((message) => `${message.charAt(0).toUpperCase()}${message.slice(1)}`);
  return html`<p class="field-error" id="${errorId(field)}"><span class="visually-hidden">Error: </span>${sentences.join(' ')}</p>`;
}

/** aria-describedby (hints, then the error) and aria-invalid for a control. */
function describedBy(errors: Errors, field: string, hintIds: readonly string[]): SafeHtml {
  const invalid = errors.has(field);
  const ids = invalid ? [...hintIds, errorId(field)] : hintIds;
  return html`${ids.length > 0 && html` aria-describedby="${ids.join(' ')}"`}${invalid && html` aria-invalid="true"`}`;
}

function decisionFieldset(view: ApprovalPageView, errors: Errors): SafeHtml {
  const chosen = view.values?.decision;
  const question =
    view.step === 'release'
      ? `Does ${view.partner.name} release the customers to ${view.transfer.toPartner.name}?`
      : `Does ${view.partner.name} accept the customers from ${view.transfer.fromPartner.name}?`;
  const options = decisionOptions(view.transfer, view.step).map((option) => {
    const id = `decision-${option.value}`;
    return html`<div class="choice"><input type="radio" id="${id}" name="decision" value="${option.value}" required${chosen === option.value && html` checked`} aria-describedby="${id}-hint"><div><label for="${id}">${option.label}</label><p class="hint" id="${id}-hint">${option.hint}</p></div></div>
`;
  });
  return html`<fieldset${errors.has('decision') && html` aria-describedby="${errorId('decision')}"`}>
<legend>${question}</legend>
${fieldError(errors, 'decision')}${options}</fieldset>
`;
}

function transferDateFieldset(view: ApprovalPageView, errors: Errors): SafeHtml {
  const { transfer, values } = view;
  const date = values?.transferDate ?? transfer.requestedDate ?? transfer.billing.recommendedDate;
  const immediate = values ? values.immediate === true : transfer.immediate;
  return html`<fieldset>
<legend>Transfer date</legend>
<p class="hint" id="transferDate-hint">The customers move at the start of the chosen date (00:00 ${view.timeZone}). Choose a date from ${view.today} to ${view.latestDate}. Recommended: ${transfer.billing.recommendedDate}, the next invoice date of ${transfer.fromPartner.name}. Another date is allowed, but without proration both partners may bill the customer for part of a period.</p>
<div class="field">
<label for="transferDate">Date</label>
${fieldError(errors, 'transferDate')}<input type="date" id="transferDate" name="transferDate" min="${view.today}" max="${view.latestDate}" value="${date}"${describedBy(errors, 'transferDate', ['transferDate-hint'])}>
</div>
${fieldError(errors, 'immediate')}<div class="check"><input type="checkbox" id="immediate" name="immediate" value="on"${immediate && html` checked`}${describedBy(errors, 'immediate', [])}><label for="immediate">Transfer immediately instead, as soon as ${transfer.toPartner.name} accepts</label></div>
</fieldset>
`;
}

function agreedDate(transfer: Transfer, timeZone: string): SafeHtml {
  const when = transfer.immediate
    ? 'Immediately, as soon as you accept'
    : transfer.transferDate
      ? dateWithStart(transfer.transferDate, timeZone)
      : 'Not chosen';
  return html`<dl class="readonly"><dt>Transfer date chosen by ${transfer.fromPartner.name}</dt><dd>${when}</dd></dl>
`;
}

/**
 * The ground of a decline, from the closed list, and the decliner's own words (needed for "another
 * reason" or when none is chosen). Shown whatever is chosen without script; the page's script shows
 * it only while "decline" is chosen.
 */
function declineReasonFields(values: ApprovalPageView['values'], errors: Errors): SafeHtml {
  const chosen = values?.reasonCode ?? '';
  const options = DECLINE_REASON_CODES.map(
    (code) => html`<option value="${code}"${chosen === code && html` selected`}>${declineReasonLabel(code)}</option>`,
  );
  return html`<div class="decline-reason" data-decline-only>
<div class="field">
<label for="reasonCode">Reason for declining <span class="label-note">(if you decline)</span></label>
<p class="hint" id="reasonCode-hint">Both partners see the reason you choose and any words you add.</p>
${fieldError(errors, 'reasonCode')}<select id="reasonCode" name="reasonCode"${describedBy(errors, 'reasonCode', ['reasonCode-hint'])}><option value=""${chosen === '' && html` selected`}>Choose a reason</option>${options}</select>
</div>
<div class="field">
<label for="reason">Reason for declining, in your words <span class="label-note">(required for “${declineReasonLabel('OTHER')}” or when no reason is chosen)</span></label>
<p class="hint" id="reason-hint">Optional for any other reason, to say more.</p>
${fieldError(errors, 'reason')}<textarea id="reason" name="reason" rows="4" maxlength="1000"${describedBy(errors, 'reason', ['reason-hint'])}>${values?.reason ?? ''}</textarea>
</div>
</div>
`;
}

/** The statement as signed, with the place of the typed name highlighted. */
function statementHtml(statement: string): SafeHtml {
  const parts = statement.split(SIGNER_PLACEHOLDER);
  const marked = parts.map((part, index) => html`${index > 0 && html`<mark class="placeholder">${SIGNER_PLACEHOLDER}</mark>`}${part}`);
  return html`<blockquote class="statement" id="statement">${marked}</blockquote>`;
}

function signatureFields(view: ApprovalPageView, errors: Errors): SafeHtml {
  const party = view.partner;
  return html`<div class="field">
<h3 id="statement-title">The statement you sign</h3>
${statementHtml(view.statement)}
<p class="hint">If you decline, you sign instead that ${party.name} declines the transfer, for the reason you give.</p>
</div>
<div class="field">
<label for="signedBy">Your full name</label>
<p class="hint" id="signedBy-hint">Your typed name is your signature: it takes the place of “${SIGNER_PLACEHOLDER}” in the statement.</p>
${fieldError(errors, 'signedBy')}<input type="text" id="signedBy" name="signedBy" autocomplete="name" spellcheck="false" required minlength="2" maxlength="120" value="${view.values?.signedBy ?? ''}"${describedBy(errors, 'signedBy', ['signedBy-hint'])}>
</div>
<div class="field">
${fieldError(errors, 'acknowledge')}<div class="check"><input type="checkbox" id="acknowledge" name="acknowledge" value="on" required${view.values?.acknowledge === true && html` checked`}${describedBy(errors, 'acknowledge', ['statement'])}><label for="acknowledge">I have read the statement above and I sign it with my full name; this is my written consent.</label></div>
</div>
`;
}

/** No action attribute: the form posts back to the page's own URL, so the link's secret is never repeated. */
function decisionForm(view: ApprovalPageView, errors: Errors): SafeHtml {
  return html`<section class="card" aria-labelledby="decision-title">
<h2 id="decision-title">Your decision</h2>
<form method="post" data-approval>
${decisionFieldset(view, errors)}${view.step === 'release' ? transferDateFieldset(view, errors) : agreedDate(view.transfer, view.timeZone)}${declineReasonFields(view.values, errors)}${signatureFields(view, errors)}<button type="submit" class="button">Submit signed decision</button>
</form>
<p class="fineprint">This link expires at ${formatInstant(view.expiresAt, view.timeZone)}. Opening this page changed nothing: only submitting the form records a decision, with your name, the time and your IP address.</p>
</section>
`;
}

function approvalTitle(view: ApprovalPageView): string {
  return view.step === 'release'
    ? `Release customers to ${view.transfer.toPartner.name}`
    : `Accept customers from ${view.transfer.fromPartner.name}`;
}

function approvalIntro(view: ApprovalPageView): SafeHtml {
  const { transfer, step, partner } = view;
  const ask =
    step === 'release'
      ? `${PROVIDER_NAME} asks ${partner.name}, as the current partner, to release ${customerNames(transfer.customers)} (${customerCount(transfer.customers)}) to ${transfer.toPartner.name}, or to decline.`
      : `${transfer.fromPartner.name} has released ${customerNames(transfer.customers)} (${customerCount(transfer.customers)}). ${PROVIDER_NAME} asks ${partner.name}, as the new partner, to accept ${pronoun(transfer.customers)}, or to decline.`;
  return html`<section class="card">
<p class="eyebrow">Written consent needed · ${step === 'release' ? 'Release' : 'Acceptance'}</p>
<h1>${approvalTitle(view)}</h1>
<p class="lead">${ask}</p>
<p>Nothing changes until you submit the signed form below. ${MAIL_FLOW_UNCHANGED}</p>
</section>
`;
}

export function approvalPage(view: ApprovalPageView): string {
  const errors = groupErrors(view.errors);
  const title = approvalTitle(view);
  return pageLayout({
    title: errors.size > 0 ? `Error: ${title}` : title,
    main: html`${errorSummary(view)}${approvalIntro(view)}${card('Transfer details', [summaryFacts(view.transfer, view.timeZone, view.step)])}${card('Billing advice', billingBlocks(view.transfer))}${decisionForm(view, errors)}`,
    script: true,
  });
}

// ---------------------------------------------------------------------------------------------
// Decision recorded

export interface DecisionRecordedView {
  transfer: TransferSummary;
  step: Step;
  consent: ConsentRecord;
  /** ISO instant the decision was recorded. */
  at: string;
  /** The same decision was submitted again; the first one stands. */
  repeated: boolean;
  /** The deployment's TRANSFER_TIMEZONE: times and a date's start are shown in it. */
  timeZone: string;
}

/** What was decided, by whom, for which date or why (a decline's ground as its signed statement puts it). */
function consentFacts(transfer: TransferSummary, step: Step, consent: ConsentRecord, timeZone: string): Fact[] {
  const party = askedParty(transfer, step);
  const date = consent.immediate ? 'Immediately' : consent.transferDate ? dateWithStart(consent.transferDate, timeZone) : undefined;
  const declined = consent.decision === 'decline';
  return [
    { label: 'Decision', value: `${decisionLabel(consent.decision)} (${roleOf(step)})` },
    { label: 'Signed by', value: `${consent.signedBy}, for ${party.name}` },
    ...(!declined && date ? [{ label: 'Transfer date', value: date }] : []),
    ...(declined ? [{ label: 'Reason', value: declineGround(consent.reasonCode ?? 'OTHER', consent.reason) }] : []),
  ];
}

function recordedFacts(view: DecisionRecordedView): Fact[] {
  const { consent } = view;
  return [
    ...consentFacts(view.transfer, view.step, consent, view.timeZone),
    { label: 'Recorded at', value: formatInstant(view.at, view.timeZone) },
    ...(consent.sourceIp ? [{ label: 'From IP address', value: consent.sourceIp }] : []),
  ];
}

function nextSteps(view: DecisionRecordedView): string {
  const { transfer, consent } = view;
  const them = pronoun(transfer.customers);
  if (consent.decision === 'decline') {
    return `The transfer is closed and both partners are told. Nothing changes for the customers; they stay with ${transfer.fromPartner.name}.`;
  }
  const when = consent.immediate || transfer.immediate ? 'immediately' : `on ${consent.transferDate ?? transfer.transferDate ?? 'the agreed date'}`;
  const scheduled = `Both partners have agreed. The customers move to ${transfer.toPartner.name} ${when}, at the start of the day (00:00 ${view.timeZone}), and both partners receive a confirmation when it is done.`;
  switch (transfer.status) {
    case 'AWAITING_RELEASE':
    case 'AWAITING_ACCEPTANCE':
      return consent.step === 'release'
        ? `${transfer.toPartner.name} is now asked to accept ${them}. Once it accepts, the transfer is scheduled and both partners are told.`
        : scheduled;
    case 'SCHEDULED':
      return scheduled;
    case 'IN_PROGRESS':
      return `The customers are being moved to ${transfer.toPartner.name} now; both partners receive a confirmation when it is done.`;
    case 'COMPLETED':
      return `The transfer is complete: the customers now belong to ${transfer.toPartner.name}.`;
    default:
      return `The transfer is now: ${statusLabel(transfer.status)}.`;
  }
}

export function decisionRecordedPage(view: DecisionRecordedView): string {
  const title = view.repeated ? 'This decision was already recorded' : 'Your decision has been recorded';
  const lead = view.repeated
    ? 'This link was already used to record the decision below. Submitting again changed nothing; the recorded decision stands.'
    : `Thank you. ${view.consent.signedBy}'s signed decision is recorded as shown below.`;
  const recorded: Block[] = [
    { kind: 'facts', rows: recordedFacts(view) },
    { kind: 'quote', label: 'Statement signed', text: view.consent.statement },
  ];
  return pageLayout({
    title,
    main: html`<section class="card">
<p class="eyebrow">${decisionLabel(view.consent.decision)}</p>
<h1>${title}</h1>
<p class="lead">${lead}</p>
</section>
${card('Recorded decision', recorded)}${card('What happens next', [paragraph(nextSteps(view)), paragraph(MAIL_FLOW_UNCHANGED), paragraph('You can close this page.')])}${card('Transfer details', [summaryFacts(view.transfer, view.timeZone)])}`,
  });
}

// ---------------------------------------------------------------------------------------------
// Link problems

export type LinkProblem = 'not-found' | 'expired' | 'used' | 'superseded' | 'closed' | 'try-again' | 'submit-again';

const LINK_PROBLEM_STATUS: Record<LinkProblem, number> = {
  'not-found': 404,
  expired: 410,
  used: 409,
  superseded: 410,
  closed: 409,
  'try-again': 503,
  'submit-again': 503,
};

/** The HTTP status a link problem page is served with. */
export function linkProblemStatus(problem: LinkProblem): number {
  return LINK_PROBLEM_STATUS[problem];
}

function problemWording(problem: LinkProblem, transfer: TransferSummary | undefined): { title: string; text: string[] } {
  const status = transfer ? ` Its status is now: ${statusLabel(transfer.status)}.` : '';
  switch (problem) {
    case 'not-found':
      return {
        title: 'This link is not recognised',
        text: [
          'This approval link is not valid. It may have been copied incompletely.',
          'Please open the complete link from the most recent email about the transfer. Nothing was recorded.',
        ],
      };
    case 'expired':
      return {
        title: 'This link has expired',
        text: [
          'The approval window has passed, so a decision can no longer be given with this link. Nothing was recorded.',
          'If the transfer is still wanted, a new transfer request has to be filed.',
        ],
      };
    case 'used':
      return {
        title: 'This link has already been used',
        text: [`A decision was already recorded with this link, and it cannot be changed here.${status}`],
      };
    case 'superseded':
      return {
        title: 'A newer link was sent',
        text: [
          'This link was replaced by a newer one. Nothing was recorded with it.',
          'Please use the link in the most recent email about this transfer.',
        ],
      };
    case 'closed':
      return {
        title: 'This transfer is no longer waiting for this decision',
        text: [`The transfer is no longer waiting for this decision, for example because it was cancelled or declined.${status} Nothing was recorded.`],
      };
    case 'submit-again':
      return {
        title: 'Almost done: please submit again',
        text: [
          'Your decision is recorded, but the service could not pass it on yet.',
          'Please go back and submit the same form again in a moment to finish. Your decision will not be recorded twice.',
        ],
      };
    case 'try-again':
      return {
        title: 'Please try again',
        text: [
          'The service is briefly unavailable; nothing was recorded.',
          'Please go back to the form and submit it again in a moment.',
        ],
      };
  }
}

/** `consent`: the decision a used link recorded, shown so that its holder knows what stands; a transfer's dates start in `timeZone`. */
export function linkProblemPage(
  problem: LinkProblem,
  detail?: { timeZone: string; transfer?: TransferSummary; message?: string; consent?: ConsentRecord },
): string {
  const transfer = detail?.transfer;
  const consent = detail?.consent;
  const wording = problemWording(problem, transfer);
  const blocks: Block[] = [...wording.text, ...(detail?.message ? [detail.message] : [])].map(paragraph);
  return pageLayout({
    title: wording.title,
    main: html`<section class="card">
<h1>${wording.title}</h1>
${blocksHtml(blocks)}</section>
${transfer && consent && detail && card('Recorded decision', [{ kind: 'facts', rows: consentFacts(transfer, consent.step, consent, detail.timeZone) }])}${transfer && detail && card('Transfer details', [summaryFacts(transfer, detail.timeZone)])}`,
  });
}
