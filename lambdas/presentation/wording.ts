import type { BillingAdvice } from '../domain/billing.ts';
import type { ConsentRecord, CustomerSummary, PartyRef, Step, TransferCustomer, TransferStatus, TransferSummary } from '../domain/transfer.ts';
import type { Block, Fact, FactLine } from './blocks.ts';

/** Wording shared by emails and pages, so a transfer is described the same way everywhere. */

export function partyLabel(party: PartyRef): string {
  return `${party.name} (${party.id})`;
}

/** The partner whose consent a step needs. */
export function askedParty(transfer: TransferSummary, step: Step): PartyRef {
  return step === 'release' ? transfer.fromPartner : transfer.toPartner;
}

export function roleOf(step: Step): string {
  return step === 'release' ? 'current partner' : 'new partner';
}

export function customerCount(customers: readonly CustomerSummary[]): string {
  return `${customers.length} customer${customers.length === 1 ? '' : 's'}`;
}

/** "it" or "them", for sentences about the customers. */
export function pronoun(customers: readonly CustomerSummary[]): string {
  return customers.length === 1 ? 'it' : 'them';
}

/** The customers' names, shortened after three so that a subject stays readable. */
export function customerNames(customers: readonly CustomerSummary[]): string {
  const names = customers.map((customer) => customer.name);
  if (names.length > 3) return `${names[0] ?? ''} and ${names.length - 1} other customers`;
  if (names.length <= 1) return names[0] ?? 'no customers';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1] ?? ''}`;
}

/** Domains named per customer in an email or a page; the rest are counted, so neither grows without bound. */
export const DOMAINS_SHOWN = 20;

function domainCount(count: number): string {
  return `${count.toLocaleString('en-US')} mail domain${count === 1 ? '' : 's'}`;
}

/** A customer and its first domains ("…, and 380 more"); from a summary, the number of its domains. */
export function customerLine(customer: CustomerSummary | TransferCustomer): FactLine {
  const main = `${customer.name} (${customer.id})`;
  if (customer.domainCount === 0) return { main, detail: 'no mail domains' };
  if (!('domains' in customer) || customer.domains.length === 0) return { main, detail: domainCount(customer.domainCount) };
  const shown = customer.domains.slice(0, DOMAINS_SHOWN);
  const more = customer.domainCount - shown.length;
  return { main, detail: more > 0 ? `${shown.join(', ')} and ${more.toLocaleString('en-US')} more` : shown.join(', ') };
}

const instantFormatters = new Map<string, Intl.DateTimeFormat>();

function instantFormatter(timeZone: string): Intl.DateTimeFormat {
  let formatter = instantFormatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
    instantFormatters.set(timeZone, formatter);
  }
  return formatter;
}

function isUtc(timeZone: string): boolean {
  return timeZone === 'UTC' || timeZone === 'Etc/UTC';
}

/** "GMT-05:00" (or "GMT" at zero) as "UTC−05:00", with a true minus sign. */
function utcOffset(gmt: string): string {
  const offset = gmt.replace(/^GMT/, '');
  return `UTC${offset === '' ? '+00:00' : offset.replace('-', '\u2212')}`;
}

/**
 * An instant as people of the deployment read it: date and minute (24-hour) in `timeZone`,
 * named with the zone and its UTC offset at that instant, e.g. "2026-12-02 17:05 (America/New_York, UTC−05:00)".
 */
export function formatInstant(iso: string, timeZone: string): string {
  const instant = new Date(iso);
  if (Number.isNaN(instant.getTime())) return iso;
  const parts = Object.fromEntries(instantFormatter(timeZone).formatToParts(instant).map((part) => [part.type, part.value]));
  const when = `${parts.year ?? ''}-${parts.month ?? ''}-${parts.day ?? ''} ${parts.hour ?? ''}:${parts.minute ?? ''}`;
  return isUtc(timeZone) ? `${when} (UTC)` : `${when} (${timeZone}, ${utcOffset(parts.timeZoneName ?? 'GMT')})`;
}

/** A calendar date with the moment it starts, since a transfer happens at the start of its date. */
export function dateWithStart(date: string, timeZone: string): string {
  return `${date} (from 00:00 ${isUtc(timeZone) ? 'UTC' : timeZone})`;
}

const STATUS_LABELS: Record<TransferStatus, string> = {
  AWAITING_RELEASE: 'Waiting for the current partner to release',
  AWAITING_ACCEPTANCE: 'Waiting for the new partner to accept',
  SCHEDULED: 'Agreed and scheduled',
  IN_PROGRESS: 'Being carried out',
  COMPLETED: 'Completed',
  DECLINED: 'Declined',
  EXPIRED: 'Expired (no answer in time)',
  CANCELLED: 'Cancelled',
  FAILED: 'Failed',
};

export function statusLabel(status: TransferStatus): string {
  return STATUS_LABELS[status];
}

export function decisionLabel(decision: ConsentRecord['decision']): string {
  return { release: 'Released', accept: 'Accepted', decline: 'Declined' }[decision];
}

/** When the transfer happens, as seen by the partner deciding `viewer` (the releasing partner may still choose). */
export function whenLabel(transfer: TransferSummary, timeZone: string, viewer?: Step): string {
  if (transfer.immediate) return 'Immediately, once both partners have agreed';
  if (transfer.transferDate) return dateWithStart(transfer.transferDate, timeZone);
  if (viewer === 'release') {
    return transfer.requestedDate
      ? `${transfer.requestedDate} requested; to be confirmed or changed by you`
      : 'To be chosen by you';
  }
  return transfer.requestedDate ? `${transfer.requestedDate} (requested, not agreed yet)` : 'Not chosen yet';
}

/** The short summary every email and page carries; a date's start in `timeZone`. */
export function summaryFacts(transfer: TransferSummary, timeZone: string, viewer?: Step): Block {
  const rows: Fact[] = [
    { label: 'Transfer ID', value: transfer.id },
    ...(transfer.ticketId ? [{ label: 'Ticket', value: transfer.ticketId }] : []),
    { label: transfer.customers.length === 1 ? 'Customer' : 'Customers', value: transfer.customers.map(customerLine) },
    { label: 'From (current partner)', value: partyLabel(transfer.fromPartner) },
    { label: 'To (new partner)', value: partyLabel(transfer.toPartner) },
    { label: 'Transfer date', value: whenLabel(transfer, timeZone, viewer) },
    { label: 'Status', value: statusLabel(transfer.status) },
    ...(transfer.note ? [{ label: 'Note', value: transfer.note }] : []),
  ];
  return { kind: 'facts', rows };
}

function billingWarning(billing: BillingAdvice, fromPartner: PartyRef): Block {
  return {
    kind: 'notice',
    tone: 'warning',
    title: `The chosen date is not an invoice date of ${fromPartner.name}`,
    // The title already warns; the advice's own "Warning:" prefix would say it twice.
    text: `${billing.advice.replace(/^Warning:\s*/i, '')} This is advice only: it does not block the transfer.`,
  };
}

/** Billing has no proration, so both partners' invoice dates matter; the advice never blocks. */
export function billingBlocks(transfer: TransferSummary): Block[] {
  const { billing, fromPartner, toPartner } = transfer;
  const facts: Block = {
    kind: 'facts',
    rows: [
      { label: `Next invoice date of ${fromPartner.name} (current partner)`, value: billing.fromPartnerNextInvoiceDate },
      { label: `Next invoice date of ${toPartner.name} (new partner)`, value: billing.toPartnerNextInvoiceDate },
      { label: 'Recommended transfer date', value: billing.recommendedDate },
    ],
  };
  const advice: Block =
    billing.aligned === false
      ? billingWarning(billing, fromPartner)
      : { kind: 'notice', tone: 'info', text: `${billing.advice} Billing advice never blocks the transfer.` };
  return [facts, advice];
}

export const MAIL_FLOW_UNCHANGED =
  'Mail flow is not affected: domains, settings and users stay exactly as they are; only the managing partner changes.';
