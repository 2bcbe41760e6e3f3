import { canonicalJson, inChainOrder, sha256, verifyChain } from './history-chain.ts';
import type { TransferState } from './ports.ts';
import { summaryOf, type ConsentRecord, type HistoryEvent, type TransferSummary } from './transfer.ts';

/** Where a transfer's history chain stands, as `verify` and the record report it. */
export type ChainVerdict =
  /** Every event is chained, each names the hash of the one before, and the transfer's head names the last. */
  | { state: 'intact'; events: number; head: string }
  /** Written before history was chained: nothing to check. */
  | { state: 'unchained'; events: number }
  /** Events written before the chain began, then an intact chain. */
  | { state: 'partly-chained'; unchained: number; events: number; head: string }
  /** The first event that does not hold: altered, removed, inserted or out of order. */
  | { state: 'broken'; events: number; at: { seq: number | null; type: string | null; at: string | null }; problem: string };

/** One written consent or refusal as the record shows it: what was signed, by whom, when and from where. */
export interface SignedConsent extends ConsentRecord {
  /** When it was recorded (ISO 8601 UTC). */
  at: string;
  /** The history event that recorded it. */
  eventSeq: number | null;
}

/** The consent record of a transfer: everything a dispute needs, and its SHA-256 fingerprint. */
export interface ConsentRecordDocument {
  transfer: TransferSummary;
  consents: SignedConsent[];
  events: HistoryEvent[];
  chain: ChainVerdict;
  /** SHA-256 (hex) of the record's canonical content: the transfer, its consents and the chain's head. */
  fingerprint: string;
  /** When this copy was produced (ISO 8601 UTC); not part of the fingerprint. */
  generatedAt: string;
  /** The provider's time zone (IANA name) in which the record shows times. */
  timeZone: string;
}

const CONSENT_EVENTS = new Set(['RELEASED', 'ACCEPTED', 'DECLINED']);

/** The written consents (and refusals) among a transfer's events, as they were signed. */
export function signedConsents(events: readonly HistoryEvent[]): SignedConsent[] {
  return events
    .filter((event) => CONSENT_EVENTS.has(event.type) && typeof event.detail.statement === 'string' && typeof event.detail.decision === 'string')
    .map((event) => ({ ...(event.detail as unknown as ConsentRecord), at: event.at, eventSeq: event.seq ?? null }));
}

/**
 * The SHA-256 of a record's content: the transfer as it stands, its consents and every event with its
 * chain fields. The same transfer gives the same fingerprint on the page, in the PDF and from `verify`.
 */
export function recordFingerprint(content: { transfer: TransferSummary; consents: SignedConsent[]; events: HistoryEvent[] }): string {
  return sha256(canonicalJson({ transfer: content.transfer, consents: content.consents, events: content.events }));
}

/** A transfer's consent record, from the transfer's own items as one read gives them. */
export function consentRecord(state: Pick<TransferState, 'transfer' | 'chainHead'>, options: { now: Date; timeZone: string }): ConsentRecordDocument {
  const { history, ...transfer } = state.transfer;
  const events = inChainOrder(history);
  const consents = signedConsents(events);
  return {
    transfer: summaryOf(transfer),
    consents,
    events,
    chain: verifyChain(transfer.id, events, state.chainHead ?? null),
    fingerprint: recordFingerprint({ transfer: summaryOf(transfer), consents, events }),
    generatedAt: options.now.toISOString(),
    timeZone: options.timeZone,
  };
}
