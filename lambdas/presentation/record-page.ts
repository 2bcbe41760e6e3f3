import type { BillingAdvice } from '../domain/billing.ts';
import type { ChainVerdict, ConsentRecordDocument, SignedConsent } from '../domain/consent-record.ts';
import { DECLINE_REASON_LABELS } from '../domain/decline-reasons.ts';
import type { Actor, HistoryEvent, PartyRef, Step, TransferSummary } from '../domain/transfer.ts';
import { blocksHtml, type Block, type Fact } from './blocks.ts';
import { COLOURS } from './brand.ts';
import { html, type SafeHtml } from './html.ts';
import { PAGE_CONTENT_SECURITY_POLICY, card, pageLayout, sha256 } from './page-layout.ts';
import { askedParty, billingBlocks, customerLine, dateWithStart, decisionLabel, formatInstant, partyLabel, roleOf, statusLabel } from './wording.ts';

/**
 * The consent record of a transfer, as a printable page. Its content is built once
 * (`recordContent`) and drawn twice: here as HTML, and by record-pdf.ts as a PDF, so that both say
 * the same thing.
 */

// ---------------------------------------------------------------------------------------------
// Text as typed, with nothing hidden

// C0 and C1 controls, bidi overrides and isolates, and the line and paragraph separators can hide
// or reorder what a reader sees: a record shows each of them as its code point.
// eslint-disable-next-line no-control-regex
const HIDDEN_IN_LINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// The same, less the tab and line feed, which a typed text (a statement, a reason, a note) may hold.
// eslint-disable-next-line no-control-regex
const HIDDEN_IN_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** A character as "[U+XXXX]". */
export function codePoint(char: string): string {
  return `[U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}]`;
}

/** A one-line value (a name, an address, a user agent): every control shown as its code point. */
function line(value: string): string {
  return value.replace(HIDDEN_IN_LINE, codePoint);
}

/** A typed text: line breaks (CR LF and CR as LF) and tabs kept, other controls shown as code points. */
function typed(value: string): string {
  return value.replace(/\r\n?/g, '\n').replace(HIDDEN_IN_TEXT, codePoint);
}

function party(ref: PartyRef): PartyRef {
  return { id: line(ref.id), name: line(ref.name) };
}

// ---------------------------------------------------------------------------------------------
// The content, shared by the page and the PDF

/** A part of a section: a block as emails and pages have them, a subheading, or a monospaced value. */
export type RecordPart = Block | { kind: 'subheading'; text: string } | { kind: 'code'; label: string; text: string };

export interface RecordSection {
  title: string;
  parts: RecordPart[];
}

export interface HistoryRow {
  seq: string;
  at: string;
  event: string;
  actor: string;
  detail: string;
  /** The event's full SHA-256 (hex); null for an event written before history was chained. */
  hash: string | null;
  /** The first event at which a broken chain does not hold. */
  firstBad: boolean;
}

export interface RecordContent {
  title: string;
  transferId: string;
  produced: string;
  intro: string;
  transfer: RecordSection;
  consents: { title: string; intro: string; items: RecordSection[] };
  history: { title: string; intro: string; head: readonly string[]; rows: HistoryRow[] };
  integrity: RecordSection;
  fingerprint: string;
}

/** How an instant is shown; the PDF swaps the offset's minus sign, which its fonts lack. */
export type InstantFormat = (iso: string) => string;

/** Characters of a hash shown in the history table; the full hash is in the page's attributes. */
export const SHORT_HASH = 12;

export const FIRST_BAD_MARK = 'first bad';

const VIA_LABELS: Record<SignedConsent['via'], string> = {
  request: 'With the transfer request',
  api: 'Through the portal API',
  link: 'Through the emailed approval link',
};

/** The same, inside a sentence. */
const VIA_WORDS: Record<SignedConsent['via'], string> = {
  request: 'with the transfer request',
  api: 'through the portal API',
  link: 'through the emailed approval link',
};

const STEP_NAMES: Record<Step, string> = { release: 'Release', acceptance: 'Acceptance' };

const OUTCOME_WORDS: Record<NonNullable<TransferSummary['outcomes']>[number]['outcome'], string> = {
  moved: 'moved',
  'already-moved': 'already with the new partner',
  failed: 'not moved',
};

/** Transfer history types in plain words; an unknown type is shown in words made from its name. */
const EVENT_LABELS: Record<string, string> = {
  REQUESTED: 'Transfer requested',
  APPROVAL_REQUESTED: 'Consent asked for',
  REMINDER_SENT: 'Reminder sent',
  WINDOW_EXTENDED: 'Deadline extended',
  RELEASED: 'Released',
  ACCEPTED: 'Accepted',
  DECLINED: 'Declined',
  DECLINE_NOTICE_SENT: 'Decline notices sent',
  EXPIRED: 'Expired without an answer',
  CANCELLED: 'Cancelled',
  NOTICE_FAILED: 'A notice could not be sent',
  SCHEDULED: 'Scheduled',
  REHOME_STARTED: 'Re-homing started',
  REHOME_REDRIVEN: 'Re-homing resumed after a failure',
  CUSTOMER_MOVED: 'Customer moved',
  FAILED: 'Failed',
  COMPLETED: 'Completed',
  CONFIRMATIONS_SENT: 'Confirmations sent',
  CONFIRMATION_FAILED: 'Confirmations could not be sent',
};

export function eventLabel(type: string): string {
  const known = EVENT_LABELS[type];
  if (known !== undefined) return known;
  const words = line(type).replace(/_+/g, ' ').trim().toLowerCase();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : 'Unnamed event';
}

/** What a stored value says, whatever its type: stored history is read, never trusted to match today's types. */
function said(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'string') return line(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    const items = value.map(said).filter((item): item is string => item !== null);
    return items.length > 0 ? items.join(', ') : null;
  }
  return line(JSON.stringify(value));
}

function saidText(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? typed(value) : said(value);
}

function joined(parts: readonly (string | null | false | undefined)[]): string {
  return parts.filter((part): part is string => typeof part === 'string' && part !== '').join('; ');
}

class Reader {
  constructor(
    readonly doc: ConsentRecordDocument,
    readonly time: InstantFormat,
  ) {}

  partner(id: unknown): string | null {
    const { fromPartner, toPartner } = this.doc.transfer;
    const known = [fromPartner, toPartner].find((p) => p.id === id);
    return known ? partyLabel(party(known)) : said(id);
  }

  customer(id: unknown): string | null {
    const known = this.doc.transfer.customers.find((c) => c.id === id);
    return known ? `${line(known.name)} (${line(known.id)})` : said(id);
  }

  step(value: unknown): string {
    return value === 'release' || value === 'acceptance' ? `the ${value} (${roleOf(value)})` : (said(value) ?? 'a step');
  }

  instant(value: unknown): string | null {
    return typeof value === 'string' && value !== '' ? this.time(value) : said(value);
  }

  actor(actor: Actor | undefined): string {
    if (!actor) return 'Unknown';
    const name = typeof actor.name === 'string' && actor.name !== '' ? line(actor.name) : null;
    if (actor.kind === 'system') return name && name !== 'workflow' ? `System (${name})` : 'Workflow';
    if (actor.kind === 'operator') return `${name ?? 'An operator'} (operator)`;
    const partner = actor.partnerId ? this.partner(actor.partnerId) : null;
    return partner ? `${name ?? 'A partner'}, for ${partner}` : (name ?? 'A partner');
  }
}

function reasonLabel(code: SignedConsent['reasonCode'] | undefined): string {
  // A decline recorded before reasons had codes is OTHER.
  return code === null || code === undefined || !(code in DECLINE_REASON_LABELS) ? `${DECLINE_REASON_LABELS.OTHER} (recorded before decline reasons had codes)` : DECLINE_REASON_LABELS[code];
}

function signedDate(reader: Reader, immediate: boolean, date: string | null): string {
  if (immediate) return 'Immediately, once both partners have agreed';
  return date ? dateWithStart(line(date), reader.doc.timeZone) : 'None';
}

function consentSummary(reader: Reader, detail: Record<string, unknown>): string {
  const signer = said(detail.signedBy);
  const via = typeof detail.via === 'string' && detail.via in VIA_WORDS ? VIA_WORDS[detail.via as SignedConsent['via']] : said(detail.via);
  const decline =
    detail.decision === 'decline'
      ? `reason: ${reasonLabel(typeof detail.reasonCode === 'string' && detail.reasonCode in DECLINE_REASON_LABELS ? (detail.reasonCode as SignedConsent['reasonCode']) : null)}${
          saidText(detail.reason) ? `: ${saidText(detail.reason) ?? ''}` : ''
        }`
      : detail.immediate === true
        ? 'immediately'
        : said(detail.transferDate) && `for ${said(detail.transferDate) ?? ''}`;
  return joined([signer && `Signed by ${signer}`, via, decline, detail.decision === 'decline' && `declining ${reader.step(detail.step)}`, detail.ticketId != null && `ticket ${said(detail.ticketId) ?? ''}`]);
}

/** The main detail of a history event, in words. */
function eventDetail(reader: Reader, event: HistoryEvent): string {
  const d = typeof event.detail === 'object' && event.detail !== null ? event.detail : {};
  switch (event.type) {
    case 'REQUESTED': {
      const lock = typeof d.lockOverride === 'object' && d.lockOverride !== null ? (d.lockOverride as Record<string, unknown>) : null;
      const customers = Array.isArray(d.customerIds) ? d.customerIds.map((id) => reader.customer(id)).join(', ') : said(d.customerIds);
      return joined([
        customers && `Customers: ${customers}`,
        d.toPartnerId !== undefined && `to ${reader.partner(d.toPartnerId) ?? ''}`,
        d.requestedDate ? `date asked for: ${said(d.requestedDate) ?? ''}` : 'no date asked for',
        d.ticketId != null && `ticket ${said(d.ticketId) ?? ''}`,
        lock && `lock overridden: ${saidText(lock.reason) ?? ''}`,
        d.note != null && `note: ${saidText(d.note) ?? ''}`,
        d.sourceIp != null && `from ${said(d.sourceIp) ?? ''}`,
      ]);
    }
    case 'APPROVAL_REQUESTED':
    case 'REMINDER_SENT':
      return joined([
        `Asked ${reader.partner(d.partnerId) ?? 'the partner'} for ${reader.step(d.step)}`,
        said(d.recipients) && `sent to ${said(d.recipients) ?? ''}`,
        d.expiresAt != null && `answer by ${reader.instant(d.expiresAt) ?? ''}`,
        d.ticketId != null && `ticket ${said(d.ticketId) ?? ''}`,
      ]);
    case 'WINDOW_EXTENDED':
      return joined([
        `Deadline of ${reader.step(d.step)} moved by ${said(d.days) ?? '?'} days`,
        d.from != null && `from ${reader.instant(d.from) ?? ''}`,
        d.to != null && `to ${reader.instant(d.to) ?? ''}`,
        d.ticketId != null && `ticket ${said(d.ticketId) ?? ''}`,
      ]);
    case 'RELEASED':
    case 'ACCEPTED':
    case 'DECLINED':
      return consentSummary(reader, d);
    case 'DECLINE_NOTICE_SENT':
      return `Both partners told that ${reader.step(d.step)} was declined`;
    case 'EXPIRED':
      return `No answer to ${reader.step(d.step)} in time`;
    case 'CANCELLED':
      return joined([d.reason != null && `Reason: ${saidText(d.reason) ?? ''}`, d.ticketId != null && `ticket ${said(d.ticketId) ?? ''}`, d.sourceIp != null && `from ${said(d.sourceIp) ?? ''}`]);
    case 'SCHEDULED':
      return joined([
        d.immediate === true ? 'Immediately' : d.transferDate != null && `Transfer date ${said(d.transferDate) ?? ''}`,
        d.wakeAt != null && `re-homing starts ${reader.instant(d.wakeAt) ?? ''}`,
        d.escalatedTo != null && `escalated to ${said(d.escalatedTo) ?? ''}`,
      ]);
    case 'CUSTOMER_MOVED':
      return joined([
        `${reader.customer(d.customerId) ?? 'A customer'} moved from ${reader.partner(d.fromPartnerId) ?? '?'} to ${reader.partner(d.toPartnerId) ?? '?'}`,
        d.lockedUntil != null && `locked until ${said(d.lockedUntil) ?? ''}`,
      ]);
    case 'COMPLETED':
    case 'FAILED': {
      const outcomes = Array.isArray(d.outcomes)
        ? d.outcomes.map((o: unknown) => {
            const outcome = typeof o === 'object' && o !== null ? (o as Record<string, unknown>) : {};
            const word = typeof outcome.outcome === 'string' && outcome.outcome in OUTCOME_WORDS ? OUTCOME_WORDS[outcome.outcome as keyof typeof OUTCOME_WORDS] : said(outcome.outcome);
            return `${reader.customer(outcome.customerId) ?? '?'} ${word ?? '?'}${outcome.reason != null ? ` (${saidText(outcome.reason) ?? ''})` : ''}`;
          })
        : [];
      return joined([saidText(d.error), outcomes.join(', '), d.lockedUntil != null && `locked until ${said(d.lockedUntil) ?? ''}`]);
    }
    case 'CONFIRMATIONS_SENT':
      return joined([said(d.previousPartner) && `To the previous partner: ${said(d.previousPartner) ?? ''}`, said(d.newPartner) && `to the new partner: ${said(d.newPartner) ?? ''}`]);
    case 'CONFIRMATION_FAILED':
      return saidText(d.error) ?? '';
    case 'NOTICE_FAILED':
      return joined([said(d.notice) && `Notice: ${said(d.notice) ?? ''}`]);
    default:
      return joined(Object.entries(d).map(([key, value]) => (saidText(value) === null ? null : `${line(key)}: ${saidText(value) ?? ''}`)));
  }
}

function transferSection(reader: Reader): RecordSection {
  const t = reader.doc.transfer;
  const from = party(t.fromPartner);
  const to = party(t.toPartner);
  const rows: Fact[] = [
    { label: 'Transfer ID', value: line(t.id) },
    { label: 'Status', value: statusLabel(t.status) },
    {
      label: t.customers.length === 1 ? 'Customer' : 'Customers',
      value: t.customers.map((c) => customerLine({ id: line(c.id), name: line(c.name), domainCount: c.domainCount })),
    },
    { label: 'Current partner (releases)', value: partyLabel(from) },
    { label: 'New partner (accepts)', value: partyLabel(to) },
    { label: 'Date asked for', value: t.requestedDate ? line(t.requestedDate) : 'None' },
    { label: 'Transfer date', value: t.immediate || t.transferDate ? signedDate(reader, t.immediate, t.transferDate) : 'Not agreed' },
    {
      label: 'Accepted by the new partner for',
      value: t.acceptedDate === 'immediate' ? 'Immediately' : t.acceptedDate ? line(t.acceptedDate) : 'Not accepted',
    },
  ];
  if (t.decline) {
    const { decline } = t;
    rows.push({
      label: 'Declined',
      value: `${STEP_NAMES[decline.step]} declined by ${line(decline.signedBy)} at ${reader.time(decline.at)}: ${reasonLabel(decline.reasonCode)}${
        decline.reason ? `: ${typed(decline.reason)}` : ''
      }`,
    });
  }
  if (t.outcomes && t.outcomes.length > 0) {
    rows.push({
      label: 'Outcome',
      value: t.outcomes.map((o) => ({
        main: `${reader.customer(o.customerId) ?? ''}: ${OUTCOME_WORDS[o.outcome]}`,
        ...(o.reason ? { detail: typed(o.reason) } : {}),
      })),
    });
  }
  rows.push(
    { label: 'Requested by', value: reader.actor(t.requestedBy) },
    { label: 'Requested at', value: reader.time(t.createdAt) },
    { label: 'Last changed', value: reader.time(t.updatedAt) },
    { label: 'Ticket', value: t.ticketId ? line(t.ticketId) : 'None' },
  );
  if (t.note) rows.push({ label: 'Note', value: typed(t.note) });
  return { title: 'Transfer', parts: [{ kind: 'facts', rows }] };
}

function billingSeen(reader: Reader, billing: BillingAdvice): Block[] {
  const t = reader.doc.transfer;
  return billingBlocks({
    ...t,
    fromPartner: party(t.fromPartner),
    toPartner: party(t.toPartner),
    billing: {
      fromPartnerNextInvoiceDate: line(billing.fromPartnerNextInvoiceDate),
      toPartnerNextInvoiceDate: line(billing.toPartnerNextInvoiceDate),
      recommendedDate: line(billing.recommendedDate),
      aligned: billing.aligned,
      advice: typed(billing.advice),
    },
  });
}

export const BILLING_NOT_KEPT = 'Not kept for this consent: it was recorded before the billing advice shown to a signer was kept with the consent.';

function consentSection(reader: Reader, consent: SignedConsent, index: number): RecordSection {
  const asked = party(askedParty(reader.doc.transfer, consent.step));
  const decision: Fact[] = [
    { label: 'Step', value: `${STEP_NAMES[consent.step]}, asked of the ${roleOf(consent.step)}, ${partyLabel(asked)}` },
    { label: 'Decision', value: decisionLabel(consent.decision) },
  ];
  if (consent.decision === 'decline') {
    decision.push(
      { label: 'Reason', value: reasonLabel(consent.reasonCode) },
      { label: 'Reason as written', value: consent.reason ? typed(consent.reason) : 'None written' },
    );
  } else {
    decision.push({ label: 'Transfer date signed for', value: signedDate(reader, consent.immediate, consent.transferDate) });
  }
  const signature: Fact[] = [
    { label: 'Signed by', value: line(consent.signedBy) },
    { label: 'Signed at', value: reader.time(consent.at) },
    { label: 'IP address', value: consent.sourceIp ? line(consent.sourceIp) : 'Not recorded' },
    { label: 'User agent', value: consent.userAgent ? line(consent.userAgent) : 'Not recorded' },
    { label: 'Given', value: VIA_LABELS[consent.via] },
  ];
  if (consent.ticketId) signature.push({ label: 'Operator acted, citing ticket', value: line(consent.ticketId) });
  if (consent.eventSeq !== null) signature.push({ label: 'Recorded by history event', value: `#${consent.eventSeq}` });
  return {
    title: `${index + 1}. ${STEP_NAMES[consent.step]} by ${asked.name}, the ${roleOf(consent.step)}: ${decisionLabel(consent.decision)}`,
    parts: [
      { kind: 'facts', rows: decision },
      { kind: 'quote', label: 'The statement signed, exactly as recorded', text: typed(consent.statement) },
      { kind: 'facts', rows: signature },
      { kind: 'subheading', text: 'Billing advice the signer saw' },
      ...(consent.billing ? billingSeen(reader, consent.billing) : [{ kind: 'paragraph', text: BILLING_NOT_KEPT } satisfies Block]),
    ],
  };
}

function historyRows(reader: Reader): HistoryRow[] {
  const { chain } = reader.doc;
  const badSeq = chain.state === 'broken' ? chain.at.seq : null;
  return reader.doc.events.map((event) => {
    const firstBad = badSeq !== null && event.seq === badSeq;
    return {
      seq: typeof event.seq === 'number' ? String(event.seq) : '—',
      at: reader.time(event.at),
      event: eventLabel(event.type),
      actor: reader.actor(event.actor),
      detail: eventDetail(reader, event),
      hash: typeof event.hash === 'string' && event.hash !== '' ? line(event.hash) : null,
      firstBad,
    };
  });
}

function shortHash(hash: string): string {
  return hash.slice(0, SHORT_HASH);
}

/** The chain's verdict in words; everything but "intact" is a warning. */
export function chainVerdict(chain: ChainVerdict, time: InstantFormat): Block {
  switch (chain.state) {
    case 'intact':
      return {
        kind: 'notice',
        tone: 'info',
        title: 'Intact',
        text:
          `All ${chain.events} events are chained: each names the hash of the one before, and the transfer names the last ` +
          `(${shortHash(line(chain.head))}). An event altered, removed, inserted or reordered after it was written would break the chain.`,
      };
    case 'unchained':
      return {
        kind: 'notice',
        tone: 'warning',
        title: 'Unchained',
        text: `Recorded before history was chained; cannot be checked. Its ${chain.events} events are shown as stored.`,
      };
    case 'partly-chained':
      return {
        kind: 'notice',
        tone: 'warning',
        title: 'Partly chained',
        text:
          `The first ${chain.unchained} events were recorded before history was chained; they cannot be checked. ` +
          `The events after them are chained and intact, up to the one the transfer names last (${shortHash(line(chain.head))}).`,
      };
    case 'broken': {
      const { at } = chain;
      const which = [at.seq !== null ? `#${at.seq}` : 'without a number', at.type !== null && `(${eventLabel(at.type)})`, at.at !== null && `of ${time(at.at)}`]
        .filter((part): part is string => typeof part === 'string')
        .join(' ');
      return {
        kind: 'notice',
        tone: 'warning',
        title: 'Broken',
        text:
          `The chain does not hold from event ${which}: ${typed(chain.problem)}. ` +
          'That event, or one next to it, was altered, removed, inserted or reordered after it was written; the record cannot be relied on from there.',
      };
    }
  }
}

/** The record's content, drawn by `recordPage` and `recordPdf`. */
export function recordContent(doc: ConsentRecordDocument, time: InstantFormat = (iso) => formatInstant(iso, doc.timeZone)): RecordContent {
  const reader = new Reader(doc, time);
  const id = line(doc.transfer.id);
  const fingerprint = line(doc.fingerprint);
  return {
    title: 'Consent record',
    transferId: id,
    produced: `Produced ${time(doc.generatedAt)}. When a copy is produced is not part of the fingerprint.`,
    intro:
      `What both partners signed for transfer ${id}, when, from where and through what, every event of its history as stored, ` +
      `and a fingerprint to check it by. Times are in ${line(doc.timeZone)}.`,
    transfer: transferSection(reader),
    consents: {
      title: 'Written consents',
      intro: doc.consents.length === 0 ? 'No written consent or refusal has been recorded for this transfer.' : '',
      items: doc.consents.map((consent, index) => consentSection(reader, consent, index)),
    },
    history: {
      title: 'History',
      intro: `Every event of the transfer, in the order stored (${doc.events.length}). Each chained event's hash is shown by its first ${SHORT_HASH} characters.`,
      head: ['#', 'Time', 'Event', 'By', 'Detail', 'Hash'],
      rows: historyRows(reader),
    },
    integrity: {
      title: 'Integrity',
      parts: [
        chainVerdict(doc.chain, time),
        { kind: 'code', label: "Fingerprint: SHA-256 of the transfer, its consents and the chain's head", text: fingerprint },
        { kind: 'code', label: 'To check it, run', text: `npm run transfers -- verify ${id}` },
        {
          kind: 'paragraph',
          text: 'It prints the same fingerprint when the stored record is unchanged, and exits with an error naming the first bad event when any stored event was altered or removed.',
        },
      ],
    },
    fingerprint,
  };
}

// ---------------------------------------------------------------------------------------------
// The page

const MONO = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace';

const RECORD_CSS = `
.record-id, code { font-family: ${MONO}; }
.record-id { font-size: 0.8em; font-weight: 600; overflow-wrap: anywhere; }
.produced { color: ${COLOURS.muted}; font-size: 14px; }
.facts td { white-space: pre-wrap; }
.consent { border-top: 1px solid ${COLOURS.line}; padding-top: 16px; margin-top: 16px; }
.consent h3 { font-size: 17px; margin: 0 0 12px; }
.consent h4 { font-size: 15px; margin: 16px 0 8px; }
.code-block { margin: 0 0 16px; }
.code-block .quote-label { font-weight: 600; margin: 0 0 4px; }
.code-block code { display: block; padding: 10px 12px; background: ${COLOURS.page}; border-radius: 6px; font-size: 15px; overflow-wrap: anywhere; word-break: break-all; }
/* Room for the history's six columns; the layout's single column is narrower. */
.masthead-inner, main, .site-footer { max-width: 1040px; }
.table-scroll { overflow-x: auto; margin: 0 0 16px; }
.history { font-size: 14px; min-width: 720px; margin: 0; }
/* Words are kept whole except in the detail, so that the narrow columns are never cut letter by letter. */
.history td { white-space: pre-wrap; overflow-wrap: break-word; }
.history td:nth-child(5) { overflow-wrap: anywhere; min-width: 14em; }
.history th:nth-child(5) { width: 36%; }
.history td:first-child, .hash { white-space: nowrap; }
.history .first-bad td { background: ${COLOURS.errorBg}; }
.bad-mark { display: block; color: ${COLOURS.error}; font-size: 12px; }
@media print {
  @page { size: A4; margin: 15mm; }
  * { color: #000000 !important; background: #ffffff !important; box-shadow: none !important; }
  .skip-link, .logo { display: none; }
  .masthead { border-bottom: 2px solid #000000; }
  .masthead-inner, main, .site-footer { max-width: none; margin: 0; padding: 0 0 8px; }
  .product { border-left-color: #000000; }
  .card { border: 0; border-radius: 0; padding: 0; margin: 0 0 18px; }
  .notice, blockquote, .code-block code, .data th, .data td { border-color: #000000; }
  .notice, .code-block code { border: 1px solid #000000; border-left-width: 4px; }
  .table-scroll { overflow: visible; }
  .history { min-width: 0; font-size: 9pt; }
  .history thead { display: table-header-group; }
  .history tr, .facts tr { break-inside: avoid; page-break-inside: avoid; }
  .consent { break-inside: avoid; page-break-inside: avoid; }
  h2, h3, h4, .quote-label { break-after: avoid; page-break-after: avoid; }
  a { text-decoration: none; }
}
`;

const PAGE_STYLE_SOURCES = /style-src ([^;]+)/.exec(PAGE_CONTENT_SECURITY_POLICY)?.[1] ?? '';

/** The record page's policy: the layout's style sheet and the record's, no script, no form. */
export const RECORD_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src ${PAGE_STYLE_SOURCES} ${sha256(RECORD_CSS)}`.replace(/\s+/g, ' '),
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

function partHtml(part: RecordPart): SafeHtml {
  switch (part.kind) {
    case 'subheading':
      return html`<h4>${part.text}</h4>\n`;
    case 'code':
      return html`<div class="code-block"><p class="quote-label">${part.label}</p><code>${part.text}</code></div>\n`;
    default:
      return blocksHtml([part]);
  }
}

function partsHtml(parts: readonly RecordPart[]): SafeHtml {
  return html`${parts.map(partHtml)}`;
}

function hashCell(hash: string | null): SafeHtml {
  if (hash === null) return html`<span title="Recorded before history was chained">not chained</span>`;
  return html`<code class="hash" title="${hash}" data-hash="${hash}">${shortHash(hash)}</code>`;
}

function historyHtml(history: RecordContent['history']): SafeHtml {
  const rows =
    history.rows.length === 0
      ? html`<tr><td colspan="${history.head.length}">No events.</td></tr>`
      : history.rows.map(
          (row) =>
            html`<tr${row.firstBad && html` class="first-bad"`}><td>${row.seq}${row.firstBad && html`<span class="bad-mark">${FIRST_BAD_MARK}</span>`}</td><td>${row.at}</td><td>${row.event}</td><td>${row.actor}</td><td>${row.detail}</td><td>${hashCell(row.hash)}</td></tr>\n`,
        );
  return html`<section class="card" aria-labelledby="history-title"><h2 id="history-title">${history.title}</h2>
<p>${history.intro}</p>
<div class="table-scroll" role="region" aria-labelledby="history-title" tabindex="0"><table class="data history"><thead><tr>${history.head.map(
    (cell) => html`<th scope="col">${cell}</th>`,
  )}</tr></thead><tbody>
${rows}</tbody></table></div>
</section>
`;
}

function consentsHtml(consents: RecordContent['consents']): SafeHtml {
  return html`<section class="card" aria-labelledby="consents-title"><h2 id="consents-title">${consents.title}</h2>
${consents.intro && html`<p>${consents.intro}</p>\n`}${consents.items.map(
    (item, index) => html`<article class="consent" aria-labelledby="consent-${index + 1}"><h3 id="consent-${index + 1}">${item.title}</h3>
${partsHtml(item.parts)}</article>
`,
  )}</section>
`;
}

/** The consent record as a complete printable HTML document; send it with RECORD_CONTENT_SECURITY_POLICY. */
export function recordPage(doc: ConsentRecordDocument): string {
  const content = recordContent(doc);
  const main = html`<section class="card">
<h1>${content.title} <span class="record-id">${content.transferId}</span></h1>
<p class="lead">${content.intro}</p>
<p class="produced">${content.produced}</p>
</section>
${card(content.transfer.title, content.transfer.parts.filter((part): part is Block => part.kind !== 'subheading' && part.kind !== 'code'))}${consentsHtml(content.consents)}${historyHtml(content.history)}<section class="card" aria-labelledby="integrity-title"><h2 id="integrity-title">${content.integrity.title}</h2>
${partsHtml(content.integrity.parts)}</section>
`;
  // The record's own style sheet goes in the head, after the layout's; its hash is in RECORD_CONTENT_SECURITY_POLICY.
  return pageLayout({ title: `${content.title} ${content.transferId}`, main }).replace('</head>', () => `<style>${RECORD_CSS}</style>\n</head>`);
}
