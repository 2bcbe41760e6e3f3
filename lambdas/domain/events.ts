import { randomUUID } from 'node:crypto';
import { summaryOf, type HistoryEvent, type TransferStatus, type TransferSummary } from './transfer.ts';

/**
 * What the provider's systems (EventBridge) and the partners' (webhooks) are told: every status change
 * and every written consent, as one event each. They are written to the outbox in the same transaction
 * as the change they tell of, so none is lost and none is invented.
 */
export const EVENT_TYPES = [
  'transfer.requested',
  'transfer.released',
  'transfer.accepted',
  'transfer.scheduled',
  'transfer.completed',
  'transfer.declined',
  'transfer.expired',
  'transfer.cancelled',
  'transfer.failed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The event a partner's webhook test sends (`POST /webhooks/{id}/test`); never one of a transfer. */
export const WEBHOOK_TEST_EVENT = 'webhook.test';

/** The EventBridge source of every event. */
export const EVENT_SOURCE = 'customer-transfer';

export interface TransferEvent {
  /** Unique; the same on every delivery and replay, so receivers can drop repeats. */
  id: string;
  type: EventType;
  /** When the change was recorded (ISO 8601 UTC). */
  occurredAt: string;
  transferId: string;
  /** The transfer as the change left it: its summary (no history, no domains, nothing server-only). */
  transfer: TransferSummary;
}

/** The written consents, by the history event that records them. */
const CONSENT_EVENTS: Partial<Record<string, EventType>> = {
  REQUESTED: 'transfer.requested',
  RELEASED: 'transfer.released',
  ACCEPTED: 'transfer.accepted',
  DECLINED: 'transfer.declined',
};

/** The statuses whose entry is told; the others (waiting for acceptance, re-homing under way) are steps of a consent or of the move. */
const STATUS_EVENTS: Partial<Record<TransferStatus, EventType>> = {
  SCHEDULED: 'transfer.scheduled',
  COMPLETED: 'transfer.completed',
  DECLINED: 'transfer.declined',
  EXPIRED: 'transfer.expired',
  CANCELLED: 'transfer.cancelled',
  FAILED: 'transfer.failed',
};

/** A new event id: `evt_` and a random UUID without dashes. */
export function newEventId(): string {
  return `evt_${randomUUID().replaceAll('-', '')}`;
}

/**
 * The events one recorded change emits: one per written consent among its history events, then one for
 * the status it entered (unless a consent already told it, as a decline does), in that order.
 */
export function eventsOf(change: { history: readonly HistoryEvent[]; enteredStatus?: TransferStatus; transfer: TransferSummary; at: string }): TransferEvent[] {
  // Never the history (nor anything else a summary does not show), whatever the caller hands in.
  const { history: _history, ...facts } = change.transfer as TransferSummary & { history?: unknown };
  const transfer = summaryOf(facts);
  const types: EventType[] = change.history.flatMap((event) => {
    const type = CONSENT_EVENTS[event.type];
    return type ? [type] : [];
  });
  const entered = change.enteredStatus ? STATUS_EVENTS[change.enteredStatus] : undefined;
  if (entered && !types.includes(entered)) types.push(entered);
  return types.map((type) => ({ id: newEventId(), type, occurredAt: change.at, transferId: transfer.id, transfer }));
}
