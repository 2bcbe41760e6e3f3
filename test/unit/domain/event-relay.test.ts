import { describe, expect, it } from 'vitest';
import {
  EventRelay,
  inChangeOrder,
  type EventPublisherPort,
  type OutboxPort,
  type OutboxState,
  type WebhookFanOutPort,
} from '../../../lambdas/domain/event-relay.ts';
import type { TransferEvent } from '../../../lambdas/domain/events.ts';

const NOW = new Date('2026-03-10T16:00:05.000Z');

function events(count: number): TransferEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `evt_${String(i).padStart(32, '0')}`,
    type: 'transfer.requested',
    occurredAt: '2026-03-10T16:00:00.000Z',
    transferId: `TR-${i}`,
    transfer: {} as TransferEvent['transfer'],
  }));
}

class Outbox implements OutboxPort {
  readonly marked = new Map<string, string>();
  /** Events whose request was withdrawn whole: their items are gone. */
  readonly gone = new Set<string>();
  async states(events: readonly TransferEvent[]): Promise<Map<string, OutboxState>> {
    return new Map(events.map((e): [string, OutboxState] => [e.id, this.gone.has(e.id) ? 'gone' : this.marked.has(e.id) ? 'relayed' : 'pending']));
  }
  async markRelayed(events: readonly TransferEvent[], at: string): Promise<void> {
    for (const { id } of events) if (!this.marked.has(id)) this.marked.set(id, at);
  }
}

/** A bus that keeps what it accepted, and refuses the ids it is told to. */
class Bus implements EventPublisherPort {
  readonly accepted: string[] = [];
  readonly calls: number[] = [];
  refuse = new Set<string>();
  async publish(batch: readonly TransferEvent[]): Promise<string[]> {
    this.calls.push(batch.length);
    const refused = batch.filter((e) => this.refuse.has(e.id)).map((e) => e.id);
    this.accepted.push(...batch.filter((e) => !this.refuse.has(e.id)).map((e) => e.id));
    return refused;
  }
}

describe('the relay of outbox events', () => {
  it('publishes every event once, in order, at most ten per call, and marks each published', async () => {
    const outbox = new Outbox();
    const bus = new Bus();
    const all = events(23);
    expect(await new EventRelay(outbox, bus, { now: () => NOW }).relay(all)).toEqual({ unpublished: [], published: 23, skipped: 0, deliveries: 0 });
    expect(bus.accepted).toEqual(all.map((e) => e.id));
    expect(bus.calls).toEqual([10, 10, 3]);
    expect([...outbox.marked.values()]).toEqual(all.map(() => NOW.toISOString()));
  });

  it('passes over events published already: a retried batch or a replayed stream publishes nothing twice', async () => {
    const outbox = new Outbox();
    const bus = new Bus();
    const relay = new EventRelay(outbox, bus, { now: () => NOW });
    const all = events(5);
    await relay.relay(all.slice(0, 3));
    expect(await relay.relay(all)).toEqual({ unpublished: [], published: 2, skipped: 3, deliveries: 0 });
    expect(bus.accepted).toEqual(all.map((e) => e.id));
  });

  it('publishes nothing of a request withdrawn whole (its outbox items are gone): no event is invented', async () => {
    const outbox = new Outbox();
    const bus = new Bus();
    const all = events(3);
    outbox.gone.add(all[1]?.id ?? '');
    expect(await new EventRelay(outbox, bus, { now: () => NOW }).relay(all)).toEqual({ unpublished: [], published: 2, skipped: 1, deliveries: 0 });
    expect(bus.accepted).toEqual([all[0]?.id, all[2]?.id]);
  });

  it('stops at the first event the bus refused and hands it back with every later one; what the bus took is never published twice', async () => {
    const outbox = new Outbox();
    const bus = new Bus();
    const relay = new EventRelay(outbox, bus, { now: () => NOW });
    const all = events(24);
    bus.refuse = new Set([all[12]?.id ?? '']);
    // The first ten go out; of the next ten, all but the refused one; the last four wait for the retry.
    expect(await relay.relay(all)).toEqual({ unpublished: [all[12]?.id, ...all.slice(20).map((e) => e.id)], published: 19, skipped: 0, deliveries: 0 });
    expect(bus.calls).toEqual([10, 10]);
    bus.refuse = new Set();
    // The stream hands the refused event and every later one again.
    expect(await relay.relay(all.slice(12))).toEqual({ unpublished: [], published: 5, skipped: 7, deliveries: 0 });
    expect(bus.accepted.toSorted()).toEqual(all.map((e) => e.id).toSorted());
    expect(bus.accepted).toHaveLength(24);
  });
});

describe('the order events are published in', () => {
  const at = (second: number) => `2026-03-10T16:00:0${second}.000Z`;
  const change = (id: string, transferId: string, occurredAt: string, type: TransferEvent['type']): TransferEvent => ({
    id,
    type,
    occurredAt,
    transferId,
    transfer: {} as TransferEvent['transfer'],
  });

  it('keeps the changes in the order handed, and orders the events of one change by the transfer\'s life, whatever order the stream gave them', () => {
    // One transaction's items come in no promised order: an acceptance that scheduled the transfer, a request with its release.
    const handed = [
      change('a2', 'TR-A', at(1), 'transfer.scheduled'),
      change('b2', 'TR-B', at(0), 'transfer.released'),
      change('a1', 'TR-A', at(1), 'transfer.accepted'),
      change('b1', 'TR-B', at(0), 'transfer.requested'),
      change('a3', 'TR-A', at(5), 'transfer.completed'),
    ];
    expect(inChangeOrder(handed).map((e) => e.id)).toEqual(['a1', 'a2', 'b1', 'b2', 'a3']);
  });

  it('publishes in that order, and answers as still to publish what it did not publish, wherever it stood in the batch', async () => {
    const outbox = new Outbox();
    const bus = new Bus();
    const handed = [change('a2', 'TR-A', at(1), 'transfer.scheduled'), change('a1', 'TR-A', at(1), 'transfer.accepted')];
    bus.refuse = new Set(['a1']);
    // The acceptance, handed second, is published first: refused, both are still to publish.
    expect(await new EventRelay(outbox, bus, { now: () => NOW }).relay(handed)).toEqual({ unpublished: ['a1'], published: 1, skipped: 0, deliveries: 0 });
    expect(bus.calls).toEqual([2]);
  });
});

/** Webhook fan-out that makes two deliveries per event, notes how much the bus had taken when called, and fails the calls it is told to. */
class FanOut implements WebhookFanOutPort {
  readonly batches: string[][] = [];
  /** Events the bus had accepted when each batch was fanned out. */
  readonly publishedBefore: number[] = [];
  failOnCall = new Set<number>();

  constructor(private readonly bus: Bus) {}

  async fanOut(batch: readonly TransferEvent[]): Promise<number> {
    this.batches.push(batch.map((e) => e.id));
    this.publishedBefore.push(this.bus.accepted.length);
    if (this.failOnCall.has(this.batches.length)) throw new Error('DynamoDB is throttling');
    return 2 * batch.length;
  }
}

describe('the relay\'s webhook deliveries', () => {
  it('makes each batch\'s deliveries before publishing it, and none for events published already', async () => {
    const outbox = new Outbox();
    const bus = new Bus();
    const fanOut = new FanOut(bus);
    const relay = new EventRelay(outbox, bus, { now: () => NOW }, fanOut);
    const all = events(23);
    await relay.relay(all.slice(0, 2));

    expect(await relay.relay(all)).toEqual({ unpublished: [], published: 21, skipped: 2, deliveries: 42 });

    expect(fanOut.batches).toEqual([all.slice(0, 2), all.slice(2, 12), all.slice(12, 22), all.slice(22)].map((batch) => batch.map((e) => e.id)));
    // Each batch was fanned out while the bus still had only the batches before it.
    expect(fanOut.publishedBefore).toEqual([0, 2, 12, 22]);
    expect(bus.accepted).toEqual(all.map((e) => e.id));
  });

  it('fails whole when the first batch cannot be fanned out: nothing is published, nothing marked', async () => {
    const outbox = new Outbox();
    const bus = new Bus();
    const fanOut = new FanOut(bus);
    fanOut.failOnCall = new Set([1]);

    await expect(new EventRelay(outbox, bus, { now: () => NOW }, fanOut).relay(events(12))).rejects.toThrow('DynamoDB is throttling');

    expect(bus.calls).toEqual([]);
    expect(outbox.marked.size).toBe(0);
  });

  it('answers the rest as unpublished when a later batch cannot be fanned out, and publishes nothing of it', async () => {
    const outbox = new Outbox();
    const bus = new Bus();
    const fanOut = new FanOut(bus);
    fanOut.failOnCall = new Set([2]);
    const all = events(23);

    expect(await new EventRelay(outbox, bus, { now: () => NOW }, fanOut).relay(all)).toEqual({
      unpublished: all.slice(10).map((e) => e.id),
      published: 10,
      skipped: 0,
      deliveries: 20,
    });

    expect(bus.calls).toEqual([10]);
    expect(bus.accepted).toEqual(all.slice(0, 10).map((e) => e.id));
    expect([...outbox.marked.keys()]).toEqual(all.slice(0, 10).map((e) => e.id));
    // Handed again, the rest is fanned out and published; the first ten are passed over.
    expect(await new EventRelay(outbox, bus, { now: () => NOW }, new FanOut(bus)).relay(all)).toMatchObject({ unpublished: [], published: 13, skipped: 10 });
  });
});
