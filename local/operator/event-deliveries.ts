/**
 * A transfer's outbox events and, under each, its webhook deliveries, as the operator view and
 * `npm run transfers -- show` present them, read from the table itself (so the same reading works on
 * DynamoDB Local and on AWS). Never a delivery's body, a partner's answer, a secret, or a URL's query
 * string, user info or fragment (a partner may put its token there).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoWebhookStore } from '../../lambdas/adapters/dynamo-webhooks.ts';
import { queryPartition } from '../../lambdas/adapters/query-partition.ts';
import { keys, OUTBOX_PREFIX } from '../../lambdas/adapters/table-keys.ts';
import type { Delivery } from '../../lambdas/domain/webhooks.ts';
import { EVENT_TYPES } from '../../lambdas/domain/events.ts';
import { oneLine } from './redact.ts';

export interface DeliveryView {
  webhookId: string;
  /** The URL's host and path only. */
  target: string;
  status: string;
  /** Tries made so far. */
  attempts: number;
  /** The last try's HTTP status; null when it had no answer, or no try finished yet. */
  lastStatus: number | null;
  /** Why the last try failed, in a sentence. */
  lastError: string | null;
  lastAttemptAt: string | null;
  /** When the next try is due; only while the delivery is pending. */
  nextAttemptAt: string | null;
  /** When it was delivered, failed for good, or dropped. */
  settledAt: string | null;
  /** Why it was dropped, or why its outcome is unknown. */
  note: string | null;
}

export interface EventView {
  id: string;
  type: string;
  occurredAt: string;
  /** When the relay published it to the bus; null while it has not (or when its outbox item is gone). */
  relayedAt: string | null;
  /** False when only its deliveries are left (the outbox item expired before them). */
  inOutbox: boolean;
  deliveries: DeliveryView[];
}

/** Where the operator view reads a transfer's events and deliveries from. */
export interface EventDeliveriesSource {
  /** The transfer's events in the order they happened, each with its deliveries; empty when there are none. */
  eventsOf(transferId: string): Promise<EventView[]>;
}

/** Any URL inside free text loses its query and fragment (up to a space, sparing the sentence's punctuation). */
const URL_TAIL = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#]*)[?#]\S*?(?=[.,;:!)\]]*(?:\s|$))/gi;

function text(value: unknown, max: number): string | null {
  return typeof value === 'string' && value !== '' ? oneLine(value.replace(URL_TAIL, '$1'), max) : null;
}

function time(value: unknown): string | null {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : null;
}

/** `host[:port]/path` of a URL; the query string, fragment and user info are never shown. */
export function urlTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return oneLine(`${parsed.host}${parsed.pathname}`, 200);
  } catch {
    const rest = url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split(/[?#]/)[0] ?? '';
    return oneLine(rest.replace(/^[^/@]*@/, ''), 200);
  }
}

/** One delivery as shown: picked field by field, so its body and the partner's answer never come along. */
export function deliveryView(delivery: Delivery): DeliveryView {
  const last = delivery.lastAttempt as Partial<NonNullable<Delivery['lastAttempt']>> | null | undefined;
  const status = typeof delivery.status === 'string' ? oneLine(delivery.status, 20) : 'unknown';
  return {
    webhookId: oneLine(String(delivery.webhookId), 80),
    target: typeof delivery.url === 'string' ? urlTarget(delivery.url) : '',
    status,
    attempts: typeof delivery.attempts === 'number' ? delivery.attempts : 0,
    lastStatus: typeof last?.status === 'number' ? last.status : null,
    lastError: last?.ok === true ? null : text(last?.error, 240),
    lastAttemptAt: time(last?.at),
    nextAttemptAt: status === 'pending' ? time(delivery.nextAttemptAt) : null,
    settledAt: time(delivery.settledAt),
    note: text(delivery.note, 240),
  };
}

/** The place of an event in its transfer's life: its time, then the order of types within one change. */
function orderOf(occurredAt: string, type: string): string {
  const rank = EVENT_TYPES.indexOf(type as (typeof EVENT_TYPES)[number]);
  return `${occurredAt}#${String(rank === -1 ? 99 : rank).padStart(2, '0')}`;
}

/**
 * The outbox items of a transfer joined with its deliveries, in the order the events happened; a
 * delivery whose event has left the outbox still shows, under the event it names.
 */
export function eventDeliveries(outboxItems: readonly Record<string, unknown>[], deliveries: readonly Delivery[]): EventView[] {
  const events = new Map<string, EventView & { order: string }>();
  for (const item of outboxItems) {
    const event = item.event as Record<string, unknown> | undefined;
    if (item.kind !== 'outbox' || typeof event?.id !== 'string') continue;
    const type = typeof event.type === 'string' ? event.type : 'unknown';
    const occurredAt = time(event.occurredAt) ?? '';
    events.set(event.id, {
      id: oneLine(event.id, 80),
      type: oneLine(type, 60),
      occurredAt,
      relayedAt: time(item.relayedAt),
      inOutbox: true,
      deliveries: [],
      order: orderOf(occurredAt, type),
    });
  }
  const sorted = [...deliveries].sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)) || String(a.webhookId).localeCompare(String(b.webhookId)));
  for (const delivery of sorted) {
    const id = String(delivery.eventId);
    let event = events.get(id);
    if (event === undefined) {
      const occurredAt = time(String(delivery.order).split('#')[0]) ?? '';
      const type = typeof delivery.eventType === 'string' ? delivery.eventType : 'unknown';
      event = { id: oneLine(id, 80), type: oneLine(type, 60), occurredAt, relayedAt: null, inOutbox: false, deliveries: [], order: orderOf(occurredAt, type) };
      events.set(id, event);
    }
    event.deliveries.push(deliveryView(delivery));
  }
  return [...events.values()]
    .sort((a, b) => a.order.localeCompare(b.order) || a.id.localeCompare(b.id))
    .map(({ order: _order, ...event }) => event);
}

/** A transfer's outbox items and deliveries, read consistently from its partition of the table. */
export class TableEventDeliveries implements EventDeliveriesSource {
  private readonly webhooks: DynamoWebhookStore;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.webhooks = new DynamoWebhookStore(db, tableName);
  }

  async eventsOf(transferId: string): Promise<EventView[]> {
    const [outbox, deliveries] = await Promise.all([
      queryPartition(this.db, this.tableName, keys.transfer(transferId).pk, OUTBOX_PREFIX),
      this.webhooks.deliveriesOf(transferId),
    ]);
    return eventDeliveries(outbox, deliveries);
  }
}
