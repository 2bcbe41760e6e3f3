import type { BillingAdvice } from './billing.ts';
import type { CalendarDate } from './dates.ts';
import type { DeclineReasonCode } from './decline-reasons.ts';
import { ConflictError } from './errors.ts';

export const TRANSFER_STATUSES = [
  'AWAITING_RELEASE',
  'AWAITING_ACCEPTANCE',
  'SCHEDULED',
  'IN_PROGRESS',
  'COMPLETED',
  'DECLINED',
  'EXPIRED',
  'CANCELLED',
  'FAILED',
] as const;
export type TransferStatus = (typeof TRANSFER_STATUSES)[number];

const NEXT: Record<TransferStatus, readonly TransferStatus[]> = {
  AWAITING_RELEASE: ['AWAITING_ACCEPTANCE', 'SCHEDULED', 'DECLINED', 'EXPIRED', 'CANCELLED'],
  AWAITING_ACCEPTANCE: ['SCHEDULED', 'DECLINED', 'EXPIRED', 'CANCELLED'],
  SCHEDULED: ['IN_PROGRESS', 'CANCELLED', 'FAILED'],
  IN_PROGRESS: ['COMPLETED', 'FAILED'],
  COMPLETED: [],
  DECLINED: [],
  EXPIRED: [],
  CANCELLED: [],
  FAILED: [],
};

/** The one way out of FAILED: an operator redrives the execution after fixing the cause, and re-homing resumes. */
const REDRIVE: Partial<Record<TransferStatus, TransferStatus>> = { FAILED: 'IN_PROGRESS' };

export function isTerminal(status: TransferStatus): boolean {
  return NEXT[status].length === 0;
}

export function canTransition(from: TransferStatus, to: TransferStatus, options: { redrive?: boolean } = {}): boolean {
  return NEXT[from].includes(to) || (options.redrive === true && REDRIVE[from] === to);
}

/** The statuses a transfer may be in just before entering `to`. */
export function statusesBefore(to: TransferStatus): TransferStatus[] {
  return TRANSFER_STATUSES.filter((from) => NEXT[from].includes(to));
}

export function assertTransition(from: TransferStatus, to: TransferStatus): void {
  if (!canTransition(from, to)) {
    throw new ConflictError('INVALID_STATE', `The transfer is ${from}; it cannot become ${to}.`);
  }
}

/** The two written consents the workflow waits for. */
export type Step = 'release' | 'acceptance';
export const STEP_STATUS: Record<Step, TransferStatus> = {
  release: 'AWAITING_RELEASE',
  acceptance: 'AWAITING_ACCEPTANCE',
};

export interface PartyRef {
  id: string;
  name: string;
}

/** A customer of a transfer as listings show it: never its domains, which may run to thousands. */
export interface CustomerSummary {
  id: string;
  name: string;
  domainCount: number;
}

/** A customer of a transfer with the snapshot of its domains taken when the request was filed. */
export interface TransferCustomer extends CustomerSummary {
  /** The first domains in the directory's order, at most SNAPSHOT_MAX_DOMAINS names and SNAPSHOT_MAX_DOMAIN_BYTES of them. */
  domains: string[];
  /** True when `domains` holds fewer than `domainCount`; GET /customers/{id} pages through them all. */
  domainsTruncated: boolean;
}

/**
 * Per customer a transfer keeps at most 1,000 domain names and 64 KiB of them (as JSON), so that each
 * customer's snapshot item stays far below DynamoDB's 400 KB and a transfer of 50 customers below
 * Lambda's 6 MB answer (50 × 64 KiB = 3.2 MiB).
 */
export const SNAPSHOT_MAX_DOMAINS = 1000;
export const SNAPSHOT_MAX_DOMAIN_BYTES = 64 * 1024;

const utf8 = new TextEncoder();

/** The snapshot of a customer's domains: the first of `first` (in order) within both caps. */
export function transferCustomer(customer: { id: string; name: string }, first: readonly string[], domainCount: number): TransferCustomer {
  const domains: string[] = [];
  let bytes = 1; // the JSON array's brackets; each name adds its quoted form and a comma
  for (const domain of first.slice(0, SNAPSHOT_MAX_DOMAINS)) {
    bytes += utf8.encode(JSON.stringify(domain)).length + 1;
    if (bytes > SNAPSHOT_MAX_DOMAIN_BYTES) break;
    domains.push(domain);
  }
  const count = Math.max(domainCount, domains.length);
  return { id: customer.id, name: customer.name, domainCount: count, domains, domainsTruncated: domains.length < count };
}

export function customerSummary({ id, name, domainCount }: CustomerSummary): CustomerSummary {
  return { id, name, domainCount };
}

export interface Actor {
  kind: 'partner' | 'operator' | 'system';
  partnerId?: string;
  /** Subject of the token, or the name typed by a signer. */
  name?: string;
}

export interface HistoryEvent {
  at: string;
  type: string;
  actor: Actor;
  detail: Record<string, unknown>;
  /**
   * Its place in the transfer's hash chain (1 for the first event), and the SHA-256 (hex) of the
   * event before it and of itself; absent on events written before transfers were chained.
   */
  seq?: number;
  prevHash?: string;
  hash?: string;
}

/** A declined transfer's refusal, as its JSON shows it. */
export interface DeclineSummary {
  step: Step;
  reasonCode: DeclineReasonCode;
  reason: string | null;
  signedBy: string;
  at: string;
}

/** A transfer as listings show it: its customers without their domains, and no history. */
export interface TransferSummary {
  id: string;
  status: TransferStatus;
  customers: CustomerSummary[];
  fromPartner: PartyRef;
  toPartner: PartyRef;
  /** The date asked for when the request was filed, if any. */
  requestedDate: CalendarDate | null;
  /** The date the parties agreed on (or the current partner released for). */
  transferDate: CalendarDate | null;
  immediate: boolean;
  /** The date the new partner accepted (up front or by its decision), or "immediate"; null until then. */
  acceptedDate: CalendarDate | 'immediate' | null;
  /** Each customer's outcome once re-homing ran. */
  outcomes?: { customerId: string; outcome: 'moved' | 'already-moved' | 'failed'; reason?: string }[];
  billing: BillingAdvice;
  ticketId: string | null;
  note: string | null;
  /** Once declined: which step, on what ground, by whom and when. */
  decline?: DeclineSummary;
  requestedBy: Actor;
  createdAt: string;
  updatedAt: string;
}

/** A transfer with its customers' domain snapshots. */
export interface Transfer extends TransferSummary {
  customers: TransferCustomer[];
}

export interface TransferSummaryWithHistory extends TransferSummary {
  history: HistoryEvent[];
}

export interface TransferWithHistory extends Transfer {
  history: HistoryEvent[];
}

/** The summary of a transfer (customers without domains), e.g. for a listing. */
export function summaryOf(transfer: TransferSummary): TransferSummary {
  return { ...transfer, customers: transfer.customers.map(customerSummary) };
}

/** A written consent or refusal, recorded identically whether given up front, by API or by link. */
export interface ConsentRecord {
  step: Step;
  decision: 'release' | 'accept' | 'decline';
  signedBy: string;
  statement: string;
  transferDate: CalendarDate | null;
  immediate: boolean;
  /** A decline's ground (null for a release or acceptance; absent on declines recorded before codes: OTHER); `reason` is its text. */
  reasonCode?: DeclineReasonCode | null;
  reason: string | null;
  /** The billing advice shown to the signer when it signed (absent on consents recorded before it was kept). */
  billing?: BillingAdvice | null;
  via: 'request' | 'api' | 'link';
  ticketId: string | null;
  sourceIp: string | null;
  userAgent: string | null;
}
