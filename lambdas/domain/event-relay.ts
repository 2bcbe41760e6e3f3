import type { Clock } from './ports.ts';
import type { TransferEvent } from './events.ts';

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

/** EventBridge takes at most 10 entries per PutEvents. */
export const PUBLISH_BATCH = 10;

/**
 * Publishes outbox events once each, in the order written. An event already marked published (a retry
 * of a batch, a replay of the stream) is passed over; an event the bus refused stops the relay there,
 * so that it and every later one are handed again (those the bus took meanwhile are passed over then).
 */
export class EventRelay {
  constructor(
    private readonly outbox: OutboxPort,
    private readonly publisher: EventPublisherPort,
    private readonly clock: Clock,
  ) {}

  /** Relays `events` in order; answers the first that must be tried again, if any. */
  async relay(events: readonly TransferEvent[]): Promise<{ retryFrom?: string; published: number; skipped: number }> {
    const states = await this.outbox.states(events);
    const pending = events.filter((event) => states.get(event.id) === 'pending');
    let published = 0;
    for (let start = 0; start < pending.length; start += PUBLISH_BATCH) {
      const batch = pending.slice(start, start + PUBLISH_BATCH);
      const failed = new Set(await this.publisher.publish(batch));
      // Every event the bus took is marked, so a retry never publishes it twice (EventBridge does not
      // promise order anyway; each event carries its time and the transfer as it stood).
      const out = batch.filter((event) => !failed.has(event.id));
      if (out.length > 0) await this.outbox.markRelayed(out, this.clock.now().toISOString());
      published += out.length;
      const firstFailed = batch.find((event) => failed.has(event.id));
      if (firstFailed) return { retryFrom: firstFailed.id, published, skipped: events.length - pending.length };
    }
    return { published, skipped: events.length - pending.length };
  }
}
