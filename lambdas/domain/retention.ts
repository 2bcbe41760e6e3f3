import type { TransferEvent } from './events.ts';
import { canTransition, isTerminal, TRANSFER_STATUSES, type TransferStatus } from './transfer.ts';

/** Seven years (2,557 days, two of them leap days): how long a closed transfer is kept by default. */
export const DEFAULT_RETENTION_DAYS = 2557;

const DAY_SECONDS = 86_400;

/**
 * The statuses a transfer never leaves: completed, declined, expired, cancelled. FAILED is not one of
 * them, since an operator may redrive it; it is kept until it closes.
 */
export const CLOSED_STATUSES: readonly TransferStatus[] = TRANSFER_STATUSES.filter(
  (status) => isTerminal(status) && !canTransition(status, 'IN_PROGRESS', { redrive: true }),
);

export function isClosed(status: TransferStatus): boolean {
  return CLOSED_STATUSES.includes(status);
}

/** The instant (epoch seconds, as DynamoDB's TTL reads it) a transfer closed at `closedAt` is removed. */
export function retentionExpiry(closedAt: string, retentionDays: number): number {
  const at = Date.parse(closedAt);
  if (Number.isNaN(at)) throw new Error(`"${closedAt}" is not an instant.`);
  return Math.floor(at / 1000) + retentionDays * DAY_SECONDS;
}

/** Where a closed transfer's items are given the instant they expire. */
export interface RetentionPort {
  /**
   * Gives the transfer item, then every other item of the transfer (history, party views, steps, customer
   * snapshots), the expiry `expiresAtEpoch`; an item that already expires sooner keeps its own. Running
   * it again changes nothing.
   */
  retire(transferId: string, expiresAtEpoch: number): Promise<number>;
}

/**
 * The transfers that `events` close, each with the instant it expires: the transfer's earliest event
 * with a closed status counts (a replay or a later event of a closed transfer gives the same instant).
 */
export function closedBy(events: readonly TransferEvent[], retentionDays: number): Map<string, number> {
  const closed = new Map<string, number>();
  for (const event of events) {
    if (!isClosed(event.transfer.status)) continue;
    const expiry = retentionExpiry(event.occurredAt, retentionDays);
    const known = closed.get(event.transferId);
    if (known === undefined || expiry < known) closed.set(event.transferId, expiry);
  }
  return closed;
}

/** Gives each transfer that `events` close its expiry; answers how many items were stamped. */
export async function retireClosed(events: readonly TransferEvent[], retentionDays: number, port: RetentionPort): Promise<number> {
  let stamped = 0;
  for (const [transferId, expiresAtEpoch] of closedBy(events, retentionDays)) stamped += await port.retire(transferId, expiresAtEpoch);
  return stamped;
}
