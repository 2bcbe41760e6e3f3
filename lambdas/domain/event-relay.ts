import type { Clock } from './ports.ts';
import { EVENT_TYPES, type TransferEvent } from './events.ts';

/**
 * Where an outbox event stands: still to publish, published already, or gone: its request was
 * withdrawn whole (a workflow that could not start), so the change it tells of never stood.
 */
export type OutboxState = 'pending' | 'relayed' | 'gone';

/** The outbox as the relay sees it: where each event stands, and marking events published. */
export interface OutboxPort {
  states(events: readonly TransferEvent[]): Promise<Map<string, OutboxState>>;
  markRelayed(events: readonly TransferEvent[], at: string): Promise<void>;
}

/** Where events go for the provider's systems (EventBridge on AWS and in the local stack). */
export interface EventPublisherPort {
  /** Publishes up to {@link PUBLISH_BATCH} events; answers the ids that were not accepted. */
  publish(events: readonly TransferEvent[]): Promise<string[]>;
}

/** Where events become partner webhook deliveries; writing a delivery twice leaves the first. */
export interface WebhookFanOutPort {
  fanOut(events: readonly TransferEvent[]): Promise<number>;
}

/** EventBridge takes at most 10 entries per PutEvents. */
export const PUBLISH_BATCH = 10;

/**
 * Events in the order their changes were written, and the events of one change (one transaction: the
 * same transfer and instant) in the order of the transfer's life. The stream hands the items of one
 * transaction in no promised order; a transfer's transactions it hands in order (one partition).
 */
export function inChangeOrder(events: readonly TransferEvent[]): TransferEvent[] {
  const changeOf = (event: TransferEvent) => `${event.transferId}\u0000${event.occurredAt}`;
  const firstSeen = new Map<string, number>();
  events.forEach((event, index) => {
    if (!firstSeen.has(changeOf(event))) firstSeen.set(changeOf(event), index);
  });
  const rank = (event: TransferEvent): [number, number] => [firstSeen.get(changeOf(event)) ?? 0, EVENT_TYPES.indexOf(event.type)];
  return [...events].sort((a, b) => {
    const [changeA, typeA] = rank(a);
    const [changeB, typeB] = rank(b);
    return changeA - changeB || typeA - typeB;
  });
}

/**
 * Publishes outbox events once each, in the order written (see {@link inChangeOrder}). An event already
 * marked published (a retry of a batch, a replay of the stream) is passed over; an event the bus refused
 * stops the relay there, and it and every event not yet tried are answered as still to publish (those the
 * bus took meanwhile are marked, and passed over when they are handed again). Each batch becomes its
 * webhook deliveries first: that step may run twice for an event (it keeps what it wrote before), so the
 * bus, which cannot tell a repeat, is only given an event once its deliveries are written.
 */
export class EventRelay {
  constructor(
    private readonly outbox: OutboxPort,
    private readonly publisher: EventPublisherPort,
    private readonly clock: Clock,
    private readonly webhooks?: WebhookFanOutPort,
  ) {}

  /** Relays `events`; answers the ids still to publish (to be handed again), if any. */
  async relay(events: readonly TransferEvent[]): Promise<{ unpublished: string[]; published: number; skipped: number; deliveries: number }> {
    const states = await this.outbox.states(events);
    const pending = inChangeOrder(events.filter((event) => states.get(event.id) === 'pending'));
    let published = 0;
    let deliveries = 0;
    for (let start = 0; start < pending.length; start += PUBLISH_BATCH) {
      const batch = pending.slice(start, start + PUBLISH_BATCH);
      try {
        deliveries += (await this.webhooks?.fanOut(batch)) ?? 0;
      } catch (error) {
        if (published === 0) throw error;
        // What was published stays marked; the rest is handed again.
        return { unpublished: pending.slice(start).map((event) => event.id), published, skipped: events.length - pending.length, deliveries };
      }
      const failed = new Set(await this.publisher.publish(batch));
      // Every event the bus took is marked, so a retry never publishes it twice (EventBridge does not
      // promise order anyway; each event carries its time and the transfer as it stood).
      const out = batch.filter((event) => !failed.has(event.id));
      if (out.length > 0) await this.outbox.markRelayed(out, this.clock.now().toISOString());
      published += out.length;
      if (failed.size > 0) {
        const unpublished = [...batch.filter((event) => failed.has(event.id)), ...pending.slice(start + PUBLISH_BATCH)].map((event) => event.id);
        return { unpublished, published, skipped: events.length - pending.length, deliveries };
      }
    }
    return { unpublished: [], published, skipped: events.length - pending.length, deliveries };
  }
}
