import type { Clock, LinkKeyPort } from './ports.ts';
import { webhookHeaders, webhookSecret } from './webhook-signature.ts';
import {
  MAX_QUEUE_DELAY_SECONDS,
  type Delivery,
  type DeliveryQueuePort,
  type DeliveryWake,
  type EndpointSlotsPort,
  type StoredWebhook,
  type WebhookStorePort,
  type WebhookTransportPort,
} from './webhooks.ts';

/** The default waits between tries, in seconds: 5 s, 30 s, 2 min, 10 min, 1 h, 6 h, 24 h (eight tries in all). */
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = [5, 30, 120, 600, 3600, 21_600, 86_400];

/** A wait this close to due is not worth another message. */
const DUE_SLACK_MS = 1000;

/**
 * Tries to one endpoint at once while it answers quickly: at least {@link SLOW_ENDPOINT_SLOTS} requests
 * of the last minute, each answered under {@link QUICK_TRY_MS}, and no try under way for
 * {@link UNDER_WAY_SLOW_MS}.
 */
export const ENDPOINT_SLOTS = 10;
/**
 * Tries to one endpoint at once otherwise: a slow endpoint (each answer taking seconds), or one not
 * heard from lately, holds at most this many of the dispatcher's invocations, and every other endpoint
 * keeps the rest.
 */
export const SLOW_ENDPOINT_SLOTS = 3;
/** A request that an endpoint answers under this long is quick. */
const QUICK_TRY_MS = 2000;
/** A try under way this long (its request, and the writes around it) shows an endpoint that has turned slow. */
const UNDER_WAY_SLOW_MS = 5000;
/** Tries that ended longer ago than this no longer say how the endpoint answers. */
const TRY_REMEMBERED_MS = 60_000;
/** How long a slot is leased for one try: the try's 10 s limit, and a margin. */
const SLOT_LEASE_MS = 15_000;
/** When the last try is checked for a recorded outcome: well after the dispatcher's 30 s timeout. */
const FINAL_CHECK_SECONDS = 120;
/**
 * When a delivery held behind an earlier one of its transfer looks again by itself. The earlier one's
 * dispatcher wakes it as soon as that one is settled; this wait only covers a dispatcher that died in
 * between, so a held delivery costs one look, not one a second.
 */
const HELD_RECHECK_SECONDS = 20;
/** The longest a try put off for a busy endpoint waits before it asks again. */
const MAX_DEFERRAL_SECONDS = 60;

/** A try still unsettled this long after it began died with its dispatcher (the function times out after 30 s). */
const TRY_ABANDONED_AFTER_MS = 60_000;

/** Whether a delivery's last try began and was never settled, long enough ago that it never will be. */
function abandoned(delivery: Delivery, now: number): boolean {
  if (delivery.attempts === 0 || delivery.triedAt === null || delivery.lastAttempt?.at === delivery.triedAt) return false;
  return now - Date.parse(delivery.triedAt) >= TRY_ABANDONED_AFTER_MS;
}

/** When a wake that found the delivery's last try unsettled looks again: once the try's time is up, else once it is given up. */
function afterTryUnderWay(delivery: Delivery, now: number): number | undefined {
  if (delivery.attempts === 0 || delivery.triedAt === null || delivery.lastAttempt?.at === delivery.triedAt || abandoned(delivery, now)) return undefined;
  const began = Date.parse(delivery.triedAt);
  return now < began + SLOT_LEASE_MS ? began + SLOT_LEASE_MS : began + TRY_ABANDONED_AFTER_MS;
}

/** How an endpoint answers, as its last requests and the tries under way tell. */
type EndpointPace = 'quick' | 'slow' | 'unknown';

/** What the dispatcher did with one wake, for its log. */
export type DispatchOutcome =
  | 'delivered'
  | 'retrying'
  | 'failed'
  | 'dropped'
  | 'waiting'
  | 'held'
  | 'deferred'
  | 'stale'
  | 'missing';

/**
 * Delivers webhook messages, one try per wake. The table holds each delivery's state; a wake is only a
 * prompt, and may come twice (SQS delivers at least once) or late: a wake for a delivery that moved on
 * since it was sent is stale and dropped, and a try is counted (conditionally) before it is made, so
 * two wakes never make the same try. The next try's wake is queued before the try, so a dispatcher
 * that dies mid-try still leaves the delivery to be tried again (once that try is given up: while it
 * may still be under way, the wake waits); a try that succeeds makes it stale.
 * A transfer's events reach a webhook in the order of its life: a delivery waits while an earlier one
 * of the same webhook and transfer is still pending.
 */
export class WebhookDispatcher {
  constructor(
    private readonly deps: {
      store: WebhookStorePort;
      queue: DeliveryQueuePort;
      transport: WebhookTransportPort;
      linkKey: LinkKeyPort;
      clock: Clock;
      /** Seconds to wait before each retry; its length is the number of retries. */
      retrySchedule: readonly number[];
      /** Caps the tries to one endpoint at once ({@link ENDPOINT_SLOTS}); without it, none. */
      slots?: EndpointSlotsPort;
      /** Jitter for a put-off try's wait, in [0, 1). */
      random?: () => number;
    },
  ) {}

  async dispatch(wake: DeliveryWake): Promise<DispatchOutcome> {
    const { store, queue, clock } = this.deps;
    const delivery = await store.delivery(wake);
    if (delivery === undefined) return 'missing';
    if (delivery.status !== 'pending' || delivery.attempts !== wake.attempt) return 'stale';

    const webhook = await store.find(wake.webhookId);
    if (webhook === undefined) {
      const at = clock.now().toISOString();
      await store.settle(delivery, { status: 'dropped', lastAttempt: delivery.lastAttempt, settledAt: at, note: 'The webhook was removed.' });
      await this.wakeNext(delivery);
      return 'dropped';
    }

    const now = clock.now();
    if (delivery.attempts > this.deps.retrySchedule.length) {
      // The check queued with the last try: that try died before its outcome was recorded.
      await store.settle(delivery, {
        status: 'failed',
        lastAttempt: delivery.lastAttempt,
        settledAt: now.toISOString(),
        note: 'The last try was made, but its outcome was never recorded.',
      });
      await this.wakeNext(delivery);
      return 'failed';
    }
    if (delivery.nextAttemptAt !== null && Date.parse(delivery.nextAttemptAt) - now.getTime() > DUE_SLACK_MS) {
      await queue.wake([wake], delaySeconds(Date.parse(delivery.nextAttemptAt) - now.getTime()));
      return 'waiting';
    }
    // A slow endpoint may still be answering the try before (its retry is due sooner than its time limit): no second message meanwhile.
    const lookAgainAt = afterTryUnderWay(delivery, now.getTime());
    if (lookAgainAt !== undefined) {
      await queue.wake([wake], delaySeconds(lookAgainAt - now.getTime()));
      return 'waiting';
    }

    const earlier = await this.earlierPending(delivery, now.getTime());
    if (earlier !== undefined) {
      // While the earlier one is queued or under way, its settling wakes this one; else this one looks again when its next try is due.
      const underWay = earlier.attempts === 0 || (earlier.lastAttempt?.at !== earlier.triedAt && !abandoned(earlier, now.getTime()));
      const until = underWay || earlier.nextAttemptAt === null ? HELD_RECHECK_SECONDS * 1000 : Date.parse(earlier.nextAttemptAt) - now.getTime();
      await queue.wake([wake], delaySeconds(until));
      return 'held';
    }

    const slots = this.deps.slots;
    const acquired = slots ? await this.acquire(slots, webhook.id, now) : undefined;
    if (acquired !== undefined && 'busy' in acquired) {
      // Put off, without counting a try: behind a quick endpoint for a second; behind one not known yet
      // a second longer each time; behind a slow one twice as long each time (with jitter), so its
      // backlog stays quiet.
      const deferrals = acquired.busy === 'quick' ? (wake.deferrals ?? 0) : (wake.deferrals ?? 0) + 1;
      const wait = deferralSeconds(acquired.busy, deferrals, this.deps.random ?? Math.random);
      await queue.wake([{ ...wake, ...(deferrals > 0 ? { deferrals } : {}) }], delaySeconds(wait * 1000));
      return 'deferred';
    }
    // The slot is held for the request alone: freed once the endpoint answered, before the outcome is written.
    let held = acquired?.lease;
    const release = async (requestMs?: number) => {
      const lease = held;
      held = undefined;
      const end = this.deps.clock.now();
      if (slots && lease !== undefined) await slots.release(webhook.id, lease, requestMs ?? end.getTime() - now.getTime(), end);
    };
    try {
      return await this.attempt(wake, delivery, webhook, now, release);
    } finally {
      await release();
    }
  }

  /** One counted try, its outcome recorded; `answered` is told how long the request took once the endpoint answered. */
  private async attempt(
    wake: DeliveryWake,
    delivery: Delivery,
    webhook: StoredWebhook,
    now: Date,
    answered: (requestMs: number) => Promise<void>,
  ): Promise<DispatchOutcome> {
    const { store, queue, clock } = this.deps;
    const tried = delivery.attempts;
    const retryAfter = this.deps.retrySchedule[tried];
    const at = now.toISOString();
    const nextAttemptAt = retryAfter === undefined ? null : new Date(now.getTime() + retryAfter * 1000).toISOString();
    const next: DeliveryWake = { webhookId: wake.webhookId, eventId: wake.eventId, transferId: wake.transferId, attempt: tried + 1 };
    // The next try's wake; after the last try, a check that its outcome was recorded (a dispatcher may die mid-try).
    await queue.wake([next], delaySeconds((retryAfter ?? FINAL_CHECK_SECONDS) * 1000));
    if (!(await store.claim(wake, tried, at, nextAttemptAt))) return 'stale';

    const secret = webhookSecret(await this.deps.linkKey.key(), webhook.id, webhook.nonce);
    const attempt = await this.deps.transport.post(webhook.url, webhookHeaders(secret, delivery.eventId, now, delivery.body), delivery.body);
    await answered(attempt.durationMs);
    const claimed: Delivery = { ...delivery, attempts: tried + 1, triedAt: at, nextAttemptAt };
    const settledAt = clock.now().toISOString();
    if (attempt.ok) {
      await store.settle(claimed, { status: 'delivered', lastAttempt: { ...attempt, at }, settledAt });
      await this.wakeNext(delivery);
      return 'delivered';
    }
    if (nextAttemptAt === null) {
      await store.settle(claimed, { status: 'failed', lastAttempt: { ...attempt, at }, settledAt });
      await this.wakeNext(delivery);
      return 'failed';
    }
    await store.settle(claimed, { status: 'pending', lastAttempt: { ...attempt, at }, settledAt: null });
    // The try outlasted its wait: the retry's wake may have come meanwhile and put itself off until the try's
    // time was up. The retry is due, so it is woken now (whichever of the two wakes comes second is stale).
    if (Date.parse(settledAt) >= Date.parse(nextAttemptAt) - DUE_SLACK_MS) await queue.wake([next], 0);
    return 'retrying';
  }

  /**
   * A slot of the endpoint for one try: one of {@link ENDPOINT_SLOTS} while it answers quickly, else one
   * of {@link SLOW_ENDPOINT_SLOTS}. Without a free one, how the endpoint answers: quickly, slowly (a
   * request of the last minute took {@link QUICK_TRY_MS} or more, or a try has been under way for
   * {@link UNDER_WAY_SLOW_MS}), or not known yet (too few requests of the last minute to tell).
   */
  private async acquire(slots: EndpointSlotsPort, webhookId: string, now: Date): Promise<{ lease: string } | { busy: EndpointPace }> {
    const state = await slots.slots(webhookId, now);
    const leasedAt = state.flatMap((slot) => (slot.leasedAt === null ? [] : [slot.leasedAt.getTime()]));
    const recent = state.flatMap((slot) => (slot.lastTry !== null && now.getTime() - slot.lastTry.endedAt.getTime() < TRY_REMEMBERED_MS ? [slot.lastTry.ms] : []));
    const slow = recent.some((ms) => ms >= QUICK_TRY_MS) || leasedAt.some((at) => now.getTime() - at >= UNDER_WAY_SLOW_MS);
    const quick = !slow && recent.length >= SLOW_ENDPOINT_SLOTS;
    const allowed = quick ? ENDPOINT_SLOTS : SLOW_ENDPOINT_SLOTS;
    if (leasedAt.length < allowed) {
      const busy = new Set(state.filter((slot) => slot.leasedAt !== null).map((slot) => slot.slot));
      const free = Array.from({ length: allowed }, (_, slot) => slot).filter((slot) => !busy.has(slot));
      // From a random free slot on, so that dispatchers racing for one endpoint spread over its slots.
      const first = Math.floor((this.deps.random ?? Math.random)() * free.length);
      const until = new Date(now.getTime() + SLOT_LEASE_MS);
      for (let offset = 0; offset < free.length; offset += 1) {
        const slot = free[(first + offset) % free.length] ?? 0;
        const lease = await slots.take(webhookId, slot, until, now);
        if (lease !== undefined) return { lease };
      }
    }
    return { busy: quick ? 'quick' : slow ? 'slow' : 'unknown' };
  }

  /**
   * After a delivery is settled, the next one of its webhook and transfer still pending (held behind it)
   * is woken at once rather than left to look again by itself.
   */
  private async wakeNext(settled: Delivery): Promise<void> {
    const next = (await this.pendingSiblings(settled)).find((other) => other.order > settled.order);
    if (next === undefined) return;
    await this.deps.queue.wake([{ webhookId: next.webhookId, eventId: next.eventId, transferId: next.transferId, attempt: next.attempts }], 0);
  }

  /** The earliest delivery of the same webhook and transfer still pending, made for an earlier event. */
  private async earlierPending(delivery: Delivery, now: number): Promise<Delivery | undefined> {
    return (await this.pendingSiblings(delivery)).find(
      // A last try that died unsettled has no wake to come: what follows it would be held for ever.
      (other) => other.eventId !== delivery.eventId && other.order < delivery.order && !(other.nextAttemptAt === null && abandoned(other, now)),
    );
  }

  /** The pending deliveries of the same webhook and transfer, in the order of the transfer's life (none for a test event). */
  private async pendingSiblings(delivery: Delivery): Promise<Delivery[]> {
    if (delivery.transferId === null) return [];
    return (await this.deps.store.siblings(delivery)).filter((other) => other.status === 'pending').sort((a, b) => (a.order < b.order ? -1 : 1));
  }
}

/** How long a try put off for the `deferrals`-th time waits for a busy endpoint that answers as `busy` says. */
function deferralSeconds(busy: EndpointPace, deferrals: number, random: () => number): number {
  switch (busy) {
    case 'quick':
      return 1;
    case 'unknown':
      return Math.min(deferrals, 5);
    case 'slow':
      return Math.min(MAX_DEFERRAL_SECONDS, 2 ** Math.min(deferrals, 6)) * (0.5 + random() / 2);
  }
}

/** A queue delay for a wait of `ms`: whole seconds, at least 1, at most SQS's 15 minutes (a longer wait hops). */
export function delaySeconds(ms: number): number {
  return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(1, Math.ceil(ms / 1000)));
}

/** Reads `WEBHOOK_RETRY_SCHEDULE_SECONDS`: whole seconds, comma-separated, each at least 1. */
export function parseRetrySchedule(value: string): number[] | undefined {
  const parts = value.split(',').map((part) => part.trim());
  if (parts.length === 0 || parts.some((part) => !/^[1-9]\d{0,6}$/.test(part))) return undefined;
  return parts.map(Number);
}
