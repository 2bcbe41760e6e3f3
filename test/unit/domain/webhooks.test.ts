import { describe, expect, it } from 'vitest';
import type { Caller } from '../../../lambdas/domain/caller.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../../lambdas/domain/errors.ts';
import { EVENT_TYPES, type EventType, type TransferEvent } from '../../../lambdas/domain/events.ts';
import { summaryOf } from '../../../lambdas/domain/transfer.ts';
import { webhookSecret } from '../../../lambdas/domain/webhook-signature.ts';
import {
  MAX_WEBHOOKS_PER_OWNER,
  WebhookFanOut,
  WebhookService,
  newDelivery,
  type StoredWebhook,
  type WebhookTargetsPort,
} from '../../../lambdas/domain/webhooks.ts';
import { sampleTransfer } from '../adapters/support.ts';
import { FixedClock, InMemoryWebhookStore, LINK_KEY, NOW, RecordingDeliveryQueue, failure, linkKey } from './in-memory-ports.ts';

const NORTH_DEV: Caller = { kind: 'partner', partnerId: 'P-NORTH', subject: 'dev@northwind.example' };
const SOUTH_DEV: Caller = { kind: 'partner', partnerId: 'P-SOUTH', subject: 'dev@southgate.example' };
const OPERATOR: Caller = { kind: 'operator', subject: 'ops@provider.example' };

const WEBHOOK_ID = /^wh_[0-9a-f]{32}$/;

/** Targets that refuse the URLs they are told to, with a reason, and remember what they were asked. */
class ScriptedTargets implements WebhookTargetsPort {
  readonly refused = new Map<string, string>();
  readonly checked: string[] = [];
  async check(url: string): Promise<{ ok: true } | { ok: false; reason: string }> {
    this.checked.push(url);
    const reason = this.refused.get(url);
    return reason === undefined ? { ok: true } : { ok: false, reason };
  }
}

function setup() {
  const clock = new FixedClock(NOW);
  const store = new InMemoryWebhookStore();
  const queue = new RecordingDeliveryQueue(clock);
  const targets = new ScriptedTargets();
  const service = new WebhookService({ store, queue, targets, linkKey, clock });
  const fanOut = new WebhookFanOut({ store, queue, clock });
  return { clock, store, queue, targets, service, fanOut };
}

function storedOf(store: InMemoryWebhookStore, id: string): StoredWebhook {
  const webhook = store.webhooks.get(id);
  if (!webhook) throw new Error(`webhook ${id} is not stored`);
  return webhook;
}

describe('registering a webhook', () => {
  it('gives a partner its webhook with a secret shown once: every transfer type by default, only the nonce stored', async () => {
    const { service, store, targets } = setup();

    const created = await service.register(NORTH_DEV, { url: 'https://hooks.northwind.example/transfers' });

    expect(created).toEqual({
      id: expect.stringMatching(WEBHOOK_ID),
      partnerId: 'P-NORTH',
      url: 'https://hooks.northwind.example/transfers',
      events: [...EVENT_TYPES],
      createdAt: NOW.toISOString(),
      createdBy: { kind: 'partner', name: 'dev@northwind.example', ticketId: null },
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/),
    });
    expect(targets.checked).toEqual(['https://hooks.northwind.example/transfers']);
    const stored = storedOf(store, created.id);
    const { secret, ...shown } = created;
    expect(stored).toEqual({ ...shown, nonce: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) });
    // The secret is derived again from the server's key and the stored nonce; it is never stored.
    expect(secret).toBe(webhookSecret(LINK_KEY, created.id, stored.nonce));
    expect(JSON.stringify(stored)).not.toContain(secret.slice('whsec_'.length));
  });

  it('gives every webhook its own id and secret', async () => {
    const { service } = setup();
    const one = await service.register(NORTH_DEV, { url: 'https://hooks.northwind.example/one' });
    const two = await service.register(NORTH_DEV, { url: 'https://hooks.northwind.example/two' });
    expect(one.id).not.toBe(two.id);
    expect(one.secret).not.toBe(two.secret);
  });

  it('keeps the event types asked for', async () => {
    const { service } = setup();
    const created = await service.register(NORTH_DEV, { url: 'https://hooks.northwind.example/t', events: ['transfer.completed', 'transfer.failed'] });
    expect(created.events).toEqual(['transfer.completed', 'transfer.failed']);
  });

  it('refuses a target the policy refuses, saying why, and stores nothing', async () => {
    const { service, store, targets } = setup();
    const url = 'https://10.0.0.8/hooks';
    targets.refused.set(url, "The URL's host 10.0.0.8 is an IP address which is not a public address.");

    const error = await failure(service.register(NORTH_DEV, { url }));

    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({
      status: 400,
      message: expect.stringContaining('10.0.0.8 is an IP address which is not a public address'),
      details: { issues: [{ field: 'url', message: "The URL's host 10.0.0.8 is an IP address which is not a public address." }] },
    });
    expect(store.webhooks.size).toBe(0);
  });

  it('requires an operator to cite a ticket', async () => {
    const { service, store, targets } = setup();

    const error = await failure(service.register(OPERATOR, { url: 'https://crm.provider.example/hooks' }));

    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({
      status: 400,
      message: 'An operator registers a webhook only citing a support ticket: ticketId is required.',
      details: { issues: [{ field: 'ticketId', message: 'is required for operators' }] },
    });
    expect(targets.checked).toEqual([]);
    expect(store.webhooks.size).toBe(0);
  });

  it('lets an operator register one for a partner, and one of the provider\'s own, recording the ticket', async () => {
    const { service, store } = setup();

    const forSouth = await service.register(OPERATOR, { url: 'https://hooks.southgate.example/t', partnerId: 'P-SOUTH', ticketId: 'SUP-1234' });
    const provider = await service.register(OPERATOR, { url: 'https://crm.provider.example/hooks', ticketId: 'SUP-1235' });

    expect(forSouth).toMatchObject({ partnerId: 'P-SOUTH', createdBy: { kind: 'operator', name: 'ops@provider.example', ticketId: 'SUP-1234' } });
    expect(provider).toMatchObject({ partnerId: null, createdBy: { kind: 'operator', name: 'ops@provider.example', ticketId: 'SUP-1235' } });
    expect((await store.owned('P-SOUTH')).map((w) => w.id)).toEqual([forSouth.id]);
    expect((await store.owned(null)).map((w) => w.id)).toEqual([provider.id]);
  });

  it('refuses a partner that names another partner, and stores nothing', async () => {
    const { service, store } = setup();
    const error = await failure(service.register(NORTH_DEV, { url: 'https://hooks.northwind.example/t', partnerId: 'P-SOUTH' }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ status: 404, message: 'No such partner among yours.' });
    expect(store.webhooks.size).toBe(0);
    // Its own partner id is allowed.
    await expect(service.register(NORTH_DEV, { url: 'https://hooks.northwind.example/t', partnerId: 'P-NORTH' })).resolves.toMatchObject({ partnerId: 'P-NORTH' });
  });

  it('passes on the store\'s refusals: the same URL twice, or one over the limit', async () => {
    const { service } = setup();
    await service.register(NORTH_DEV, { url: 'https://hooks.northwind.example/0' });
    expect(await failure(service.register(NORTH_DEV, { url: 'https://hooks.northwind.example/0' }))).toMatchObject({ code: 'WEBHOOK_EXISTS' });
    for (let i = 1; i < MAX_WEBHOOKS_PER_OWNER; i += 1) await service.register(NORTH_DEV, { url: `https://hooks.northwind.example/${i}` });
    const error = await failure(service.register(NORTH_DEV, { url: 'https://hooks.northwind.example/one-more' }));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ code: 'TOO_MANY_WEBHOOKS' });
    // Another partner has its own count.
    await expect(service.register(SOUTH_DEV, { url: 'https://hooks.northwind.example/0' })).resolves.toMatchObject({ partnerId: 'P-SOUTH' });
  });

  it.each([
    ['an unknown event type', { url: 'https://h.example/t', events: ['transfer.bogus'] }, 'events.0', /must be one of transfer\.requested/],
    ['an event type twice', { url: 'https://h.example/t', events: ['transfer.completed', 'transfer.completed'] }, 'events', /must not name an event type twice/],
    ['an empty list of event types', { url: 'https://h.example/t', events: [] }, 'events', /must name at least one event type/],
    ['the test event, which is not a subscription', { url: 'https://h.example/t', events: ['webhook.test'] }, 'events.0', /must be one of/],
    ['an unknown field', { url: 'https://h.example/t', secret: 'whsec_mine' }, 'webhook', /unknown field: secret/],
    ['no URL', { events: ['transfer.completed'] }, 'url', /is required/],
    ['an empty URL', { url: '  ' }, 'url', /must not be empty/],
  ])('refuses a request with %s (400, naming the field), before checking the target', async (_label, body, field, message) => {
    const { service, store, targets } = setup();
    const error = await failure(service.register(NORTH_DEV, body));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).details).toEqual({ issues: [expect.objectContaining({ field, message: expect.stringMatching(message) })] });
    expect(targets.checked).toEqual([]);
    expect(store.webhooks.size).toBe(0);
  });
});

describe('listing webhooks', () => {
  async function registered() {
    const world = setup();
    const north = await world.service.register(NORTH_DEV, { url: 'https://hooks.northwind.example/t' });
    const south = await world.service.register(SOUTH_DEV, { url: 'https://hooks.southgate.example/t' });
    const provider = await world.service.register(OPERATOR, { url: 'https://crm.provider.example/hooks', ticketId: 'SUP-1' });
    return { ...world, north, south, provider };
  }

  it('shows a partner only its own webhooks, never a nonce or a secret', async () => {
    const { service, north, store } = await registered();
    const { webhooks, failures } = await service.list(NORTH_DEV, undefined);
    const { secret: _secret, ...shown } = north;
    expect(webhooks).toEqual([shown]);
    expect(failures).toEqual([]);
    expect(JSON.stringify(webhooks)).not.toContain(storedOf(store, north.id).nonce);
    expect(JSON.stringify(webhooks)).not.toContain('secret');
  });

  it('refuses a partner naming another partner', async () => {
    const { service } = await registered();
    expect(await failure(service.list(NORTH_DEV, { partnerId: 'P-SOUTH' }))).toBeInstanceOf(NotFoundError);
  });

  it('shows an operator a partner\'s webhooks when it names one, else the provider\'s own', async () => {
    const { service, south, provider } = await registered();
    expect((await service.list(OPERATOR, { partnerId: 'P-SOUTH' })).webhooks.map((w) => w.id)).toEqual([south.id]);
    expect((await service.list(OPERATOR, {})).webhooks.map((w) => w.id)).toEqual([provider.id]);
    expect(await failure(service.list(OPERATOR, { partnerId: 'P-SOUTH', extra: '1' }))).toMatchObject({
      status: 400,
      message: 'The query is not valid. query: unknown field: extra.',
      details: { issues: [{ field: 'query', message: 'unknown field: extra' }] },
    });
  });

  it('lists the owner\'s recent failed deliveries, newest first, without their bodies', async () => {
    const { service, store, north, south } = await registered();
    const event = transferEvent('transfer.requested', '2026-03-10T15:00:00.000Z');
    for (const [webhook, at] of [
      [north, '2026-03-10T16:00:00.000Z'],
      [south, '2026-03-10T16:30:00.000Z'],
      [north, '2026-03-10T17:00:00.000Z'],
    ] as const) {
      const delivery = { ...newDelivery(storedOf(store, webhook.id), { ...event, id: `evt_${at}` }, at), attempts: 8 };
      await store.addDeliveries([delivery]);
      await store.settle(delivery, { status: 'failed', lastAttempt: { ok: false, status: 500, error: 'HTTP 500', excerpt: '', durationMs: 3, at }, settledAt: at });
    }
    const { failures } = await service.list(NORTH_DEV, {});
    expect(failures.map((f) => [f.eventId, f.status])).toEqual([
      ['evt_2026-03-10T17:00:00.000Z', 'failed'],
      ['evt_2026-03-10T16:00:00.000Z', 'failed'],
    ]);
    for (const f of failures) expect(f).not.toHaveProperty('body');
  });
});

describe('removing and testing a webhook', () => {
  async function registered() {
    const world = setup();
    const north = await world.service.register(NORTH_DEV, { url: 'https://hooks.northwind.example/t' });
    return { ...world, north };
  }

  it('removes a partner\'s own webhook', async () => {
    const { service, store, north } = await registered();
    await service.remove(NORTH_DEV, north.id, undefined);
    expect(store.webhooks.has(north.id)).toBe(false);
  });

  it('answers another partner as if the webhook did not exist, and leaves it', async () => {
    const { service, store, north } = await registered();
    const unknown = await failure(service.remove(SOUTH_DEV, `wh_${'0'.repeat(32)}`, undefined));
    const removeOther = await failure(service.remove(SOUTH_DEV, north.id, undefined));
    const testOther = await failure(service.test(SOUTH_DEV, north.id, undefined));
    expect(unknown).toMatchObject({ status: 404, message: 'No such webhook.' });
    for (const error of [removeOther, testOther]) {
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as NotFoundError).message).toBe((unknown as NotFoundError).message);
    }
    expect(store.webhooks.has(north.id)).toBe(true);
    expect(store.written).toEqual([]);
  });

  it.each(['wh_123', `wh_${'A'.repeat(32)}`, `WEBHOOK#wh_${'0'.repeat(32)}`, `wh_${'0'.repeat(32)}/../x`, ''])(
    'answers a malformed id %j as not found, without looking it up',
    async (id) => {
      const { service, store } = await registered();
      store.found.length = 0;
      expect(await failure(service.remove(NORTH_DEV, id, undefined))).toBeInstanceOf(NotFoundError);
      expect(await failure(service.test(OPERATOR, id, { ticketId: 'SUP-1' }))).toBeInstanceOf(NotFoundError);
      expect(store.found).toEqual([]);
    },
  );

  it('requires an operator to cite a ticket to remove or test one, and then lets it act on any', async () => {
    const { service, store, north } = await registered();
    expect(await failure(service.remove(OPERATOR, north.id, {}))).toMatchObject({
      status: 400,
      message: 'An operator removes a webhook only citing a support ticket: ticketId is required.',
      details: { issues: [{ field: 'ticketId' }] },
    });
    expect(await failure(service.test(OPERATOR, north.id, null))).toMatchObject({
      status: 400,
      message: 'An operator tests a webhook only citing a support ticket: ticketId is required.',
      details: { issues: [{ field: 'ticketId' }] },
    });
    for (const act of [() => service.remove(OPERATOR, north.id, { ticketId: 'SUP-9', force: 'yes' }), () => service.test(OPERATOR, north.id, { ticketId: 'SUP-9', force: 'yes' })]) {
      expect(await failure(act())).toMatchObject({ status: 400, message: 'The query is not valid. query: unknown field: force.' });
    }
    await expect(service.test(OPERATOR, north.id, { ticketId: 'SUP-9' })).resolves.toEqual({ eventId: expect.stringMatching(/^evt_[0-9a-f]{32}$/) });
    await service.remove(OPERATOR, north.id, { ticketId: 'SUP-9' });
    expect(store.webhooks.has(north.id)).toBe(false);
  });

  it('tests one: a webhook.test delivery, without a transfer, woken at once for its first try', async () => {
    const { service, store, queue, north } = await registered();

    const { eventId } = await service.test(NORTH_DEV, north.id, undefined);

    expect(store.written).toEqual([
      {
        webhookId: north.id,
        eventId,
        transferId: null,
        partnerId: 'P-NORTH',
        url: north.url,
        eventType: 'webhook.test',
        order: `${NOW.toISOString()}#00`,
        body: expect.any(String),
        status: 'pending',
        attempts: 0,
        createdAt: NOW.toISOString(),
        triedAt: null,
        nextAttemptAt: null,
        lastAttempt: null,
        settledAt: null,
      },
    ]);
    expect(JSON.parse(store.written[0]?.body ?? '')).toEqual({
      id: eventId,
      type: 'webhook.test',
      occurredAt: NOW.toISOString(),
      transferId: null,
      webhook: { id: north.id, url: north.url },
    });
    expect(queue.sent).toEqual([{ wake: { webhookId: north.id, eventId, transferId: null, attempt: 0 }, delaySeconds: 0, at: NOW }]);
  });
});

function transferEvent(type: EventType, occurredAt: string, options: { id?: string; transferId?: string; from?: string; to?: string } = {}): TransferEvent {
  const transferId = options.transferId ?? 'TR-20260310-WEBHOOKS01';
  const transfer = summaryOf(
    sampleTransfer({
      id: transferId,
      fromPartner: { id: options.from ?? 'P-NORTH', name: 'From' },
      toPartner: { id: options.to ?? 'P-SOUTH', name: 'To' },
    }),
  );
  return { id: options.id ?? `evt_${type}_${occurredAt}`, type, occurredAt, transferId, transfer };
}

describe('fanning events out to webhooks', () => {
  async function subscribed() {
    const world = setup();
    const north = await world.service.register(NORTH_DEV, { url: 'https://hooks.northwind.example/t' });
    const southDone = await world.service.register(SOUTH_DEV, { url: 'https://hooks.southgate.example/t', events: ['transfer.completed'] });
    const east = await world.service.register({ kind: 'partner', partnerId: 'P-EAST', subject: 'dev@eastline.example' }, { url: 'https://hooks.eastline.example/t' });
    const provider = await world.service.register(OPERATOR, { url: 'https://crm.provider.example/hooks', ticketId: 'SUP-1' });
    return { ...world, north, southDone, east, provider };
  }

  it('makes one delivery per webhook of either party and of the provider, for the types each chose; none for another partner', async () => {
    const { fanOut, store, queue, north, southDone, provider } = await subscribed();
    const requested = transferEvent('transfer.requested', '2026-03-10T15:00:00.000Z');
    const completed = transferEvent('transfer.completed', '2026-03-12T09:00:00.000Z');

    expect(await fanOut.fanOut([requested, completed])).toBe(5);

    const made = store.written.map((d) => [d.eventId, d.webhookId]).toSorted();
    expect(made).toEqual(
      [
        [requested.id, north.id],
        [requested.id, provider.id],
        [completed.id, north.id],
        [completed.id, southDone.id],
        [completed.id, provider.id],
      ].toSorted(),
    );
    const toSouth = store.written.find((d) => d.webhookId === southDone.id);
    expect(toSouth).toMatchObject({ partnerId: 'P-SOUTH', transferId: completed.transferId, eventType: 'transfer.completed', status: 'pending', attempts: 0, url: southDone.url });
    // The body is the event as EventBridge's detail holds it.
    expect(JSON.parse(toSouth?.body ?? '')).toEqual(completed);
    expect(queue.sent.map((s) => s.delaySeconds)).toEqual([0, 0, 0, 0, 0]);
    expect(queue.sent.map((s) => s.wake).toSorted((a, b) => `${a.eventId}${a.webhookId}`.localeCompare(`${b.eventId}${b.webhookId}`))).toEqual(
      store.written
        .map((d) => ({ webhookId: d.webhookId, eventId: d.eventId, transferId: d.transferId, attempt: 0 }))
        .toSorted((a, b) => `${a.eventId}${a.webhookId}`.localeCompare(`${b.eventId}${b.webhookId}`)),
    );
  });

  it('tells a partner of the transfers it is a party to as the new partner too, and nothing of others\' transfers', async () => {
    const { fanOut, store, east, provider } = await subscribed();
    const elsewhere = transferEvent('transfer.requested', '2026-03-10T15:00:00.000Z', { transferId: 'TR-OTHER', from: 'P-SOUTH', to: 'P-NORTH' });
    const toEast = transferEvent('transfer.requested', '2026-03-10T15:00:00.000Z', { transferId: 'TR-EAST', from: 'P-NORTH', to: 'P-EAST' });
    await fanOut.fanOut([elsewhere, toEast]);
    expect(store.written.filter((d) => d.webhookId === east.id).map((d) => d.transferId)).toEqual(['TR-EAST']);
    expect(store.written.filter((d) => d.webhookId === provider.id).map((d) => d.transferId).toSorted()).toEqual(['TR-EAST', 'TR-OTHER']);
  });

  it('orders a transfer\'s deliveries by its life, however the events were handed', async () => {
    const { fanOut, store, north } = await subscribed();
    const life: Array<[EventType, string]> = [
      ['transfer.requested', '2026-03-10T15:00:00.000Z'],
      ['transfer.released', '2026-03-10T15:00:00.000Z'],
      ['transfer.accepted', '2026-03-10T16:00:00.000Z'],
      ['transfer.scheduled', '2026-03-10T16:00:00.000Z'],
      ['transfer.completed', '2026-04-01T00:00:09.000Z'],
    ];
    const events = life.map(([type, at]) => transferEvent(type, at));
    await fanOut.fanOut([events[3], events[1], events[4], events[0], events[2]].filter((e): e is TransferEvent => e !== undefined));
    const toNorth = store.written.filter((d) => d.webhookId === north.id);
    expect(toNorth.toSorted((a, b) => (a.order < b.order ? -1 : 1)).map((d) => d.eventType)).toEqual(life.map(([type]) => type));
    expect(new Set(toNorth.map((d) => d.order)).size).toBe(life.length);
  });

  it('writes nothing new when the same events come again, keeps what each delivery became, and wakes them again for their first try', async () => {
    const { fanOut, store, queue, clock } = await subscribed();
    const events = [transferEvent('transfer.requested', '2026-03-10T15:00:00.000Z'), transferEvent('transfer.completed', '2026-03-12T09:00:00.000Z')];
    await fanOut.fanOut(events);
    const first = structuredClone([...store.deliveries.values()]);
    const [tried] = [...store.deliveries.values()];
    if (!tried) throw new Error('a delivery');
    Object.assign(tried, { status: 'delivered', attempts: 1 });
    clock.current = new Date(NOW.getTime() + 60_000);

    expect(await fanOut.fanOut(events)).toBe(first.length);

    expect(store.written).toHaveLength(first.length);
    expect([...store.deliveries.values()]).toEqual(first.map((d, i) => (i === 0 ? { ...d, status: 'delivered', attempts: 1 } : d)));
    // Woken again, each as for its first try: a delivery tried since finds the wake stale.
    expect(queue.sent).toHaveLength(2 * first.length);
    expect(queue.sent.slice(first.length).map((s) => [s.wake.attempt, s.delaySeconds])).toEqual(first.map(() => [0, 0]));
  });

  it('reads the subscribers of a pair of parties once per batch, whichever of them is the new partner', async () => {
    const { fanOut, store } = await subscribed();
    const reads: string[][] = [];
    const read = store.subscribersOf.bind(store);
    store.subscribersOf = (partnerIds) => (reads.push([...partnerIds]), read(partnerIds));
    await fanOut.fanOut([
      transferEvent('transfer.requested', '2026-03-10T15:00:00.000Z', { transferId: 'TR-ONE', from: 'P-NORTH', to: 'P-SOUTH' }),
      transferEvent('transfer.requested', '2026-03-10T15:00:00.000Z', { transferId: 'TR-TWO', from: 'P-SOUTH', to: 'P-NORTH' }),
      transferEvent('transfer.released', '2026-03-10T15:00:00.000Z', { transferId: 'TR-ONE', from: 'P-NORTH', to: 'P-SOUTH' }),
    ]);
    expect(reads).toEqual([['P-NORTH', 'P-SOUTH']]);
  });

  it('never takes one pair of parties for another whose ids run together', async () => {
    const { fanOut, store, service } = setup();
    const partner = (partnerId: string): Caller => ({ kind: 'partner', partnerId, subject: `dev@${partnerId.toLowerCase()}.example` });
    const c = await service.register(partner('P-C'), { url: 'https://hooks.c.example/t' });
    const a = await service.register(partner('P-A'), { url: 'https://hooks.a.example/t' });
    // "P-A" + "P-BP-C" and "P-AP-B" + "P-C" read the same when joined with nothing between.
    await fanOut.fanOut([
      transferEvent('transfer.requested', '2026-03-10T15:00:00.000Z', { transferId: 'TR-ONE', from: 'P-A', to: 'P-BP-C' }),
      transferEvent('transfer.requested', '2026-03-10T15:00:00.000Z', { transferId: 'TR-TWO', from: 'P-AP-B', to: 'P-C' }),
    ]);
    expect(store.written.map((d) => [d.webhookId, d.transferId])).toEqual([
      [a.id, 'TR-ONE'],
      [c.id, 'TR-TWO'],
    ]);
  });

  it('writes and wakes nothing when no webhook hears of the events', async () => {
    const { fanOut, store, queue } = setup();
    expect(await fanOut.fanOut([transferEvent('transfer.requested', '2026-03-10T15:00:00.000Z')])).toBe(0);
    expect(store.written).toEqual([]);
    expect(queue.sent).toEqual([]);
  });
});
