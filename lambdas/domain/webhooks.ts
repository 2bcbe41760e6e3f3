import { randomBytes } from 'node:crypto';
import type { Caller } from './caller.ts';
import { NotFoundError, ValidationError } from './errors.ts';
import { EVENT_TYPES, newEventId, WEBHOOK_TEST_EVENT, type EventType, type TransferEvent } from './events.ts';
import type { Clock, LinkKeyPort } from './ports.ts';
import { createWebhookBody, parseInput, webhookActionQuery, webhookListQuery } from './requests.ts';
import type { WebhookAttempt } from './webhook-targets.ts';
import { webhookSecret } from './webhook-signature.ts';

/**
 * Partner webhooks (Standard Webhooks): who hears of which transfers, and what became of each
 * message. A partner registers endpoints for the transfers it is a party to; an operator, citing a
 * ticket, registers one for a partner or one of the provider's own, which hears of every transfer.
 */

export { WEBHOOK_TEST_EVENT };
export type WebhookEventType = EventType | typeof WEBHOOK_TEST_EVENT;

/** Endpoints one owner (a partner, or the provider) may register. */
export const MAX_WEBHOOKS_PER_OWNER = 10;
/** Failed deliveries `GET /webhooks` lists, newest first. */
export const RECENT_FAILURES = 20;

export interface Webhook {
  /** `wh_` and 32 hex digits. */
  id: string;
  /** The partner whose transfers it hears of; null: the provider's own, which hears of every transfer. */
  partnerId: string | null;
  url: string;
  /** The event types it receives. */
  events: EventType[];
  createdAt: string;
  createdBy: { kind: 'partner' | 'operator'; name: string; ticketId: string | null };
}

/** As stored: the nonce its secret is derived from (with the server key); never the secret. */
export interface StoredWebhook extends Webhook {
  nonce: string;
}

export interface WebhookTestEvent {
  id: string;
  type: typeof WEBHOOK_TEST_EVENT;
  occurredAt: string;
  transferId: null;
  webhook: { id: string; url: string };
}

/** What one message carries: a transfer event as EventBridge's detail holds it, or a test event. */
export type WebhookMessage = TransferEvent | WebhookTestEvent;

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'dropped';

/** One event for one webhook. The queue's message names it; the table holds its state. */
export interface DeliveryRef {
  webhookId: string;
  eventId: string;
  /** null for a test event. */
  transferId: string | null;
}

/** The queue's message: a delivery and the tries it had when the message was sent (an older message is stale). */
export interface DeliveryWake extends DeliveryRef {
  attempt: number;
  /** How often this try was put off because its endpoint had every slot busy (it waits longer each time). */
  deferrals?: number;
}

export interface Delivery extends DeliveryRef {
  /** The webhook's owner (null: the provider), so failures list under it. */
  partnerId: string | null;
  /** The webhook's URL when the delivery was made, for the record. */
  url: string;
  eventType: WebhookEventType;
  /** The event's place in its transfer's life: earlier events reach a webhook first. */
  order: string;
  /** The exact body every try sends. */
  body: string;
  status: DeliveryStatus;
  /** Tries made so far. */
  attempts: number;
  createdAt: string;
  /** When the last try began (set as it is counted; the outcome follows in `lastAttempt`). */
  triedAt: string | null;
  /** When the next try is due should this one fail; null after the last try. */
  nextAttemptAt: string | null;
  lastAttempt: (WebhookAttempt & { at: string }) | null;
  settledAt: string | null;
  /** Why a delivery was dropped (its webhook deleted). */
  note?: string;
}

/** The webhooks and deliveries of the table. */
export interface WebhookStorePort {
  /** Adds a webhook; refuses a second one of the same owner with the same URL, or one over `limit`. */
  add(webhook: StoredWebhook, limit: number): Promise<void>;
  owned(partnerId: string | null): Promise<StoredWebhook[]>;
  find(id: string): Promise<StoredWebhook | undefined>;
  remove(webhook: StoredWebhook): Promise<void>;
  recentFailures(partnerId: string | null, limit: number): Promise<Delivery[]>;
  /** The webhooks of these partners, and the provider's own. */
  subscribersOf(partnerIds: readonly string[]): Promise<StoredWebhook[]>;
  /** Writes each delivery not written yet; a delivery already there is left as it is. */
  addDeliveries(deliveries: readonly Delivery[]): Promise<void>;
  delivery(ref: DeliveryRef): Promise<Delivery | undefined>;
  /** The deliveries of the same webhook and transfer (for their order). */
  siblings(ref: DeliveryRef): Promise<Delivery[]>;
  /** Every delivery of a transfer's events (operator view). */
  deliveriesOf(transferId: string): Promise<Delivery[]>;
  /** Counts a try: `attempts` from `seen` to `seen + 1`, only while pending with `seen` tries; false when another got there first. */
  claim(ref: DeliveryRef, seen: number, at: string, nextAttemptAt: string | null): Promise<boolean>;
  /** Records a try's outcome (and a final status); a failure is also listed under its owner. */
  settle(delivery: Delivery, change: Pick<Delivery, 'status' | 'lastAttempt' | 'settledAt'> & { note?: string }): Promise<void>;
}

/**
 * Slots of an endpoint: at most so many tries to one webhook at once, each slot leased for a while (so
 * a dispatcher that dies mid-try frees its slot when the lease runs out).
 */
export interface EndpointSlotsPort {
  /** The webhook's slots that were ever used: whose lease is live at `now`, and how long their last tries took. */
  slots(webhookId: string, now: Date): Promise<EndpointSlot[]>;
  /** A lease on slot `slot` until `until`, or undefined when another try holds it. */
  take(webhookId: string, slot: number, until: Date, now: Date): Promise<string | undefined>;
  /** Frees the slot (unless its lease ran out and another try holds it now), noting how long the try took. */
  release(webhookId: string, lease: string, tryMs: number, now: Date): Promise<void>;
}

export interface EndpointSlot {
  slot: number;
  /** When the try holding it took it; null when it is free (or its lease ran out). */
  leasedAt: Date | null;
  /** The last try made in it that ended: how long it held the slot, and when it ended. */
  lastTry: { ms: number; endedAt: Date } | null;
}

/** Wakes the dispatcher for deliveries, after a delay (SQS on AWS and in the local stack). */
export interface DeliveryQueuePort {
  /** At most {@link MAX_QUEUE_DELAY_SECONDS}. */
  wake(wakes: readonly DeliveryWake[], delaySeconds: number): Promise<void>;
}

/** SQS delays a message by at most 15 minutes; a longer wait is made of several. */
export const MAX_QUEUE_DELAY_SECONDS = 900;

/** Sends one try (see the HTTP transport): never throws for the receiver's faults. */
export interface WebhookTransportPort {
  post(url: string, headers: Record<string, string>, body: string): Promise<WebhookAttempt>;
}

/** Whether a URL may be registered: syntax, scheme and (after DNS) addresses. */
export interface WebhookTargetsPort {
  check(url: string): Promise<{ ok: true } | { ok: false; reason: string }>;
}

/** A new webhook id: `wh_` and 32 hex digits. */
export function newWebhookId(): string {
  return `wh_${randomBytes(16).toString('hex')}`;
}

/** The place of an event in its transfer's life: its time, then the order of types within one change. */
export function deliveryOrder(event: WebhookMessage): string {
  const rank = event.type === WEBHOOK_TEST_EVENT ? 0 : EVENT_TYPES.indexOf(event.type);
  return `${event.occurredAt}#${String(rank).padStart(2, '0')}`;
}

/** A webhook as its owner sees it: never its nonce. */
export function publicWebhook({ nonce: _nonce, ...webhook }: StoredWebhook): Webhook {
  return webhook;
}

/** A delivery as the operator view and `GET /webhooks` show it: not its body. */
export function deliverySummary({ body: _body, ...delivery }: Delivery): Omit<Delivery, 'body'> {
  return delivery;
}

/** Whose webhooks a caller manages: its own partner's; an operator names a partner, or none for the provider's. */
function ownerOf(caller: Caller, partnerId: string | undefined): string | null {
  if (caller.kind === 'partner') {
    if (partnerId !== undefined && partnerId !== caller.partnerId) throw new NotFoundError('No such partner among yours.');
    return caller.partnerId;
  }
  return partnerId ?? null;
}

function requireTicket(caller: Caller, ticketId: string | undefined, action: string): string | null {
  if (caller.kind === 'operator' && !ticketId) {
    throw new ValidationError(`An operator ${action} only citing a support ticket: ticketId is required.`, {
      issues: [{ field: 'ticketId', message: 'is required for operators' }],
    });
  }
  return ticketId ?? null;
}

/** Registering, listing, removing and testing webhooks. */
export class WebhookService {
  constructor(
    private readonly deps: {
      store: WebhookStorePort;
      queue: DeliveryQueuePort;
      targets: WebhookTargetsPort;
      linkKey: LinkKeyPort;
      clock: Clock;
    },
  ) {}

  /** `POST /webhooks`: the webhook with its secret, which is shown this once. */
  async register(caller: Caller, input: unknown): Promise<Webhook & { secret: string }> {
    const body = parseInput(createWebhookBody, input, 'webhook');
    const ticketId = requireTicket(caller, body.ticketId, 'registers a webhook');
    const target = await this.deps.targets.check(body.url);
    if (!target.ok) {
      throw new ValidationError(`The webhook URL cannot be used: ${target.reason}`, { issues: [{ field: 'url', message: target.reason }] });
    }
    const webhook: StoredWebhook = {
      id: newWebhookId(),
      partnerId: ownerOf(caller, body.partnerId),
      url: body.url,
      events: body.events ?? [...EVENT_TYPES],
      createdAt: this.deps.clock.now().toISOString(),
      createdBy: { kind: caller.kind, name: caller.subject, ticketId },
      nonce: randomBytes(16).toString('base64url'),
    };
    await this.deps.store.add(webhook, MAX_WEBHOOKS_PER_OWNER);
    return { ...publicWebhook(webhook), secret: webhookSecret(await this.deps.linkKey.key(), webhook.id, webhook.nonce) };
  }

  /** `GET /webhooks`: the owner's webhooks and its recent failed deliveries. */
  async list(caller: Caller, query: unknown): Promise<{ webhooks: Webhook[]; failures: Array<Omit<Delivery, 'body'>> }> {
    const { partnerId } = parseInput(webhookListQuery, query ?? {}, 'query');
    const owner = ownerOf(caller, partnerId);
    const [webhooks, failures] = await Promise.all([this.deps.store.owned(owner), this.deps.store.recentFailures(owner, RECENT_FAILURES)]);
    return { webhooks: webhooks.map(publicWebhook), failures: failures.map(deliverySummary) };
  }

  /** `DELETE /webhooks/{id}`: deliveries still pending are dropped when they come up. */
  async remove(caller: Caller, id: string, query: unknown): Promise<void> {
    const { ticketId } = parseInput(webhookActionQuery, query ?? {}, 'query');
    requireTicket(caller, ticketId, 'removes a webhook');
    await this.deps.store.remove(await this.owned(caller, id));
  }

  /** `POST /webhooks/{id}/test`: queues a `webhook.test` event for it; answers the event's id. */
  async test(caller: Caller, id: string, query: unknown): Promise<{ eventId: string }> {
    const { ticketId } = parseInput(webhookActionQuery, query ?? {}, 'query');
    requireTicket(caller, ticketId, 'tests a webhook');
    const webhook = await this.owned(caller, id);
    const now = this.deps.clock.now().toISOString();
    const event: WebhookTestEvent = { id: newEventId(), type: WEBHOOK_TEST_EVENT, occurredAt: now, transferId: null, webhook: { id: webhook.id, url: webhook.url } };
    const delivery = newDelivery(webhook, event, now);
    await this.deps.store.addDeliveries([delivery]);
    await this.deps.queue.wake([{ webhookId: webhook.id, eventId: event.id, transferId: null, attempt: 0 }], 0);
    return { eventId: event.id };
  }

  /** A webhook the caller may manage; another's is not found (its existence is not told). */
  private async owned(caller: Caller, id: string): Promise<StoredWebhook> {
    const webhook = /^wh_[0-9a-f]{32}$/.test(id) ? await this.deps.store.find(id) : undefined;
    if (webhook === undefined || (caller.kind === 'partner' && webhook.partnerId !== caller.partnerId)) {
      throw new NotFoundError('No such webhook.');
    }
    return webhook;
  }
}

/** A delivery of `event` to `webhook`, before its first try. */
export function newDelivery(webhook: StoredWebhook, event: WebhookMessage, now: string): Delivery {
  return {
    webhookId: webhook.id,
    eventId: event.id,
    transferId: event.transferId,
    partnerId: webhook.partnerId,
    url: webhook.url,
    eventType: event.type,
    order: deliveryOrder(event),
    body: JSON.stringify(event),
    status: 'pending',
    attempts: 0,
    createdAt: now,
    triedAt: null,
    nextAttemptAt: null,
    lastAttempt: null,
    settledAt: null,
  };
}

/**
 * The relay's part for webhooks: each event becomes one delivery per webhook that hears of it (its
 * parties' and the provider's, of its type), written once whatever the retries, then queued. A
 * partner's endpoint is never called here, so none can slow a transfer or the relay.
 */
export class WebhookFanOut {
  constructor(
    private readonly deps: { store: WebhookStorePort; queue: DeliveryQueuePort; clock: Clock },
  ) {}

  async fanOut(events: readonly TransferEvent[]): Promise<number> {
    const subscribers = new Map<string, Promise<StoredWebhook[]>>();
    const partiesOf = (event: TransferEvent) => [...new Set([event.transfer.fromPartner.id, event.transfer.toPartner.id])].sort();
    const now = this.deps.clock.now().toISOString();
    const deliveries: Delivery[] = [];
    for (const event of events) {
      const parties = partiesOf(event);
      const key = parties.join('\u0000');
      let webhooks = subscribers.get(key);
      if (webhooks === undefined) {
        webhooks = this.deps.store.subscribersOf(parties);
        subscribers.set(key, webhooks);
      }
      for (const webhook of await webhooks) {
        if (webhook.events.includes(event.type)) deliveries.push(newDelivery(webhook, event, now));
      }
    }
    if (deliveries.length === 0) return 0;
    await this.deps.store.addDeliveries(deliveries);
    // A delivery written by an earlier try is woken again: a wake of a delivery already tried is stale and dropped.
    const wakes = deliveries.map(({ webhookId, eventId, transferId }) => ({ webhookId, eventId, transferId, attempt: 0 }));
    await this.deps.queue.wake(wakes, 0);
    return deliveries.length;
  }
}
