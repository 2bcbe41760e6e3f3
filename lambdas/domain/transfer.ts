import type { BillingAdvice } from './billing.ts';
import type { CalendarDate } from './dates.ts';
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

export interface CustomerSummary {
  id: string;
  name: string;
  domains: string[];
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
}

export interface Transfer {
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
  requestedBy: Actor;
  createdAt: string;
  updatedAt: string;
}

export interface TransferWithHistory extends Transfer {
  history: HistoryEvent[];
}

/** A written consent or refusal, recorded identically whether given up front, by API or by link. */
export interface ConsentRecord {
  step: Step;
  decision: 'release' | 'accept' | 'decline';
  signedBy: string;
  statement: string;
  transferDate: CalendarDate | null;
  immediate: boolean;
  reason: string | null;
  via: 'request' | 'api' | 'link';
  ticketId: string | null;
  sourceIp: string | null;
  userAgent: string | null;
}
