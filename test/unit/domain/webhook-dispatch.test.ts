import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EVENT_TYPES, type EventType, type TransferEvent } from '../../../lambdas/domain/events.ts';
import { summaryOf } from '../../../lambdas/domain/transfer.ts';
import {
  DEFAULT_RETRY_SCHEDULE_SECONDS,
  WebhookDispatcher,
  delaySeconds,
  parseRetrySchedule,
  type DispatchOutcome,
} from '../../../lambdas/domain/webhook-dispatch.ts';
import { webhookSecret } from '../../../lambdas/domain/webhook-signature.ts';
import type { WebhookAttempt } from '../../../lambdas/domain/webhook-targets.ts';
import {
  WebhookFanOut,
  newDelivery,
  type Delivery,
  type DeliveryRef,
  type DeliveryWake,
  type StoredWebhook,
  type WebhookTestEvent,
  type WebhookTransportPort,
} from '../../../lambdas/domain/webhooks.ts';
import { sampleTransfer } from '../adapters/support.ts';
import { FixedClock, InMemoryEndpointSlots, InMemoryWebhookStore, LINK_KEY, RecordingDeliveryQueue, failure, linkKey } from './in-memory-ports.ts';

const T0 = new Date('2026-03-10T15:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000).toISOString();

const WEBHOOK: StoredWebhook = {
  id: `wh_${'a1'.repeat(16)}`,
  partnerId: 'P-NORTH',
  url: 'https://hooks.northwind.example/transfers',
  events: [...EVENT_TYPES],
  createdAt: '2026-03-01T00:00:00.000Z',
  createdBy: { kind: 'partner', name: 'dev@northwind.example', ticketId: null },
  nonce: 'c2lnbmluZy1ub25jZS0xMjM',
};
const SECRET = webhookSecret(LINK_KEY, WEBHOOK.id, WEBHOOK.nonce);

const OK: WebhookAttempt = { ok: true, status: 204, error: null, excerpt: '', durationMs: 12 };
const refused = (status: number): WebhookAttempt => ({ ok: false, status, error: `The endpoint answered HTTP ${status}.`, excerpt: 'try later', durationMs: 30 });

/** A receiver that answers as scripted (then 204; a promise is an answer still to come), or fails every try when told to. */
class ScriptedTransport implements WebhookTransportPort {
  readonly posts: Array<{ url: string; headers: Record<string, string>; body: string; at: Date }> = [];
  script: Array<WebhookAttempt | Error | Promise<WebhookAttempt>> = [];
  alwaysFail = false;

  constructor(
    private readonly clock: FixedClock,
    private readonly log: string[],
  ) {}

  async post(url: string, headers: Record<string, string>, body: string): Promise<WebhookAttempt> {
    this.posts.push({ url, headers, body, at: this.clock.now() });
    this.log.push(`post ${headers['webhook-id'] ?? '?'}`);
    const answer = this.alwaysFail ? refused(500) : (this.script.shift() ?? OK);
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

function setup(retrySchedule: readonly number[] = DEFAULT_RETRY_SCHEDULE_SECONDS) {
  const clock = new FixedClock(T0);
  const log: string[] = [];
  const store = new InMemoryWebhookStore();
  store.webhooks.set(WEBHOOK.id, structuredClone(WEBHOOK));
  const queue = new RecordingDeliveryQueue(clock, log);
  const transport = new ScriptedTransport(clock, log);
  const dispatcher = new WebhookDispatcher({ store, queue, transport, linkKey, clock, retrySchedule });
  const fanOut = new WebhookFanOut({ store, queue, clock });
  return { clock, log, store, queue, transport, dispatcher, fanOut };
}
type World = ReturnType<typeof setup>;

function transferEvent(type: EventType, occurredAt: string, transferId = 'TR-20260310-DISPATCH01'): TransferEvent {
  const transfer = summaryOf(sampleTransfer({ id: transferId }));
  return { id: `evt_${type.slice('transfer.'.length)}_${transferId}`, type, occurredAt, transferId, transfer };
}

const refOf = (event: { id: string; transferId: string | null }): DeliveryRef => ({ webhookId: WEBHOOK.id, eventId: event.id, transferId: event.transferId });

async function stored(world: World, ref: DeliveryRef): Promise<Delivery> {
  const delivery = await world.store.delivery(ref);
  if (!delivery) throw new Error(`no delivery of ${ref.eventId}`);
  return delivery;
}

/** Plays the queue: each wake when its delay is over, earliest first, moving the clock on; answers what each did, and when. */
async function drain(world: World, limit = 500): Promise<Array<{ outcome: DispatchOutcome; eventId: string; at: string }>> {
  const done: Array<{ outcome: DispatchOutcome; eventId: string; at: string }> = [];
  const waiting: Array<{ wake: DeliveryWake; due: number }> = [];
  let taken = 0;
  for (let step = 0; step < limit; step += 1) {
    for (; taken < world.queue.sent.length; taken += 1) {
      const sent = world.queue.sent[taken];
      if (sent) waiting.push({ wake: sent.wake, due: sent.at.getTime() + sent.delaySeconds * 1000 });
    }
    waiting.sort((a, b) => a.due - b.due);
    const next = waiting.shift();
    if (next === undefined) return done;
    if (next.due > world.clock.current.getTime()) world.clock.current = new Date(next.due);
    done.push({ outcome: await world.dispatcher.dispatch(next.wake), eventId: next.wake.eventId, at: world.clock.now().toISOString() });
  }
  throw new Error(`the queue still held wakes after ${limit} steps`);
}

/** A delivery's first try under way at T0 (its retry due after 5 s), its endpoint not answering until `answer` is called. */
async function firstTryUnderWay(): Promise<{ world: World; event: TransferEvent; first: Promise<DispatchOutcome>; answer: (attempt: WebhookAttempt) => void }> {
  const world = setup([5]);
  const event = transferEvent('transfer.requested', at(0));
  await world.fanOut.fanOut([event]);
  let answer: (attempt: WebhookAttempt) => void = () => undefined;
  world.transport.script = [new Promise<WebhookAttempt>((resolve) => (answer = resolve))];
  const first = world.dispatcher.dispatch({ ...refOf(event), attempt: 0 });
  await vi.waitFor(() => expect(world.transport.posts).toHaveLength(1));
  return { world, event, first, answer };
}

/** Verifies a try as a partner would, with the Standard Webhooks library, at the time it was sent. */
function verify(post: { headers: Record<string, string>; body: string; at: Date }, secret = SECRET): unknown {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(post.at);
  try {
    return new Webhook(secret).verify(post.body, post.headers);
  } finally {
    vi.useRealTimers();
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('a delivery\'s tries', () => {
  it('delivers on the first try; the next try\'s wake was queued before the try (5 s, attempt 1) and then finds nothing to do', async () => {
    const world = setup();
    const event = transferEvent('transfer.requested', at(0));
    await world.fanOut.fanOut([event]);
    const ref = refOf(event);
    world.log.length = 0;

    expect(await world.dispatcher.dispatch({ ...ref, attempt: 0 })).toBe('delivered');

    expect(world.log).toEqual([`wake ${event.id} attempt 1 in 5 s`, `post ${event.id}`]);
    expect(await stored(world, ref)).toMatchObject({
      status: 'delivered',
      attempts: 1,
      triedAt: at(0),
      nextAttemptAt: at(5),
      lastAttempt: { ...OK, at: at(0) },
      settledAt: at(0),
    });
    const post = world.transport.posts[0];
    expect(post?.url).toBe(WEBHOOK.url);
    expect(post?.body).toBe(JSON.stringify(event));
    expect(post?.headers).toMatchObject({ 'webhook-id': event.id, 'content-type': 'application/json' });

    world.clock.current = new Date(T0.getTime() + 5000);
    expect(await world.dispatcher.dispatch({ ...ref, attempt: 1 })).toBe('stale');
    expect(world.transport.posts).toHaveLength(1);
    expect(world.queue.sent).toHaveLength(2);
  });

  it('tries a receiver that failed twice a third time with the same webhook-id and a fresh timestamp, each try signed as Standard Webhooks verifies', async () => {
    const world = setup();
    const event = transferEvent('transfer.requested', at(0));
    await world.fanOut.fanOut([event]);
    world.transport.script = [refused(503), refused(500)];

    const outcomes = await drain(world);

    expect(outcomes.map(({ outcome, at: when }) => [outcome, when])).toEqual([
      ['retrying', at(0)],
      ['retrying', at(5)],
      ['delivered', at(35)],
      // The wake for a fourth try, queued before the third, finds it delivered.
      ['stale', at(155)],
    ]);
    const posts = world.transport.posts;
    expect(posts.map((p) => p.headers['webhook-id'])).toEqual([event.id, event.id, event.id]);
    expect(posts.map((p) => Number(p.headers['webhook-timestamp']))).toEqual([0, 5, 35].map((s) => T0.getTime() / 1000 + s));
    expect(new Set(posts.map((p) => p.headers['webhook-signature'])).size).toBe(3);
    for (const post of posts) {
      expect(post.body).toBe(JSON.stringify(event));
      expect(verify(post)).toEqual(JSON.parse(JSON.stringify(event)));
    }
    const third = posts[2];
    if (!third) throw new Error('a third try');
    // Another webhook's secret, or a body changed on the way, does not verify.
    expect(() => verify(third, webhookSecret(LINK_KEY, `wh_${'b2'.repeat(16)}`, WEBHOOK.nonce))).toThrow();
    expect(() => verify({ ...third, body: third.body.replace('P-NORTH', 'P-EVIL') })).toThrow();
    expect(await stored(world, refOf(event))).toMatchObject({ status: 'delivered', attempts: 3, lastAttempt: { ...OK, at: at(35) } });
  });

  it('records a retry\'s failure and keeps the delivery pending until its next try', async () => {
    const world = setup();
    const event = transferEvent('transfer.requested', at(0));
    await world.fanOut.fanOut([event]);
    world.transport.script = [refused(502)];

    expect(await world.dispatcher.dispatch({ ...refOf(event), attempt: 0 })).toBe('retrying');

    expect(await stored(world, refOf(event))).toMatchObject({
      status: 'pending',
      attempts: 1,
      triedAt: at(0),
      nextAttemptAt: at(5),
      lastAttempt: { ...refused(502), at: at(0) },
      settledAt: null,
    });
  });

  it('marks a delivery failed after the last try of its schedule, queues no more tries and lists the failure with that try', async () => {
    const world = setup([5, 30]);
    const event = transferEvent('transfer.requested', at(0));
    await world.fanOut.fanOut([event]);
    world.transport.alwaysFail = true;

    expect((await drain(world)).map((o) => [o.outcome, o.at])).toEqual([
      ['retrying', at(0)],
      ['retrying', at(5)],
      ['failed', at(35)],
      // The check queued with the last try finds its outcome recorded.
      ['stale', at(155)],
    ]);

    const failed = await stored(world, refOf(event));
    expect(failed).toMatchObject({ status: 'failed', attempts: 3, triedAt: at(35), nextAttemptAt: null, settledAt: at(35), lastAttempt: { ...refused(500), at: at(35) } });
    expect(world.queue.sent.map((s) => s.wake.attempt)).toEqual([0, 1, 2, 3]);
    const { body: _body, ...summary } = failed;
    expect(await world.store.recentFailures('P-NORTH', 20)).toEqual([summary]);
  });

  it('follows the default schedule to the end, each wait made of hops of at most 900 s', async () => {
    const world = setup();
    const event = transferEvent('transfer.requested', at(0));
    await world.fanOut.fanOut([event]);
    world.transport.alwaysFail = true;

    const outcomes = await drain(world);

    const tries = outcomes.filter((o) => o.outcome === 'retrying' || o.outcome === 'failed');
    expect(tries.map((o) => o.at)).toEqual([0, 5, 35, 155, 755, 4355, 25_955, 112_355].map(at));
    expect(tries.at(-1)?.outcome).toBe('failed');
    expect(world.transport.posts).toHaveLength(8);
    // 3600 s is four hops (three wakes that wait), 21600 s is 24, 86400 s is 96.
    expect(outcomes.filter((o) => o.outcome === 'waiting')).toHaveLength(3 + 23 + 95);
    expect(Math.max(...world.queue.sent.map((s) => s.delaySeconds))).toBe(900);
  });

  it('re-queues a wake that comes before its try is due for min(900 s, the time left), and tries it once due', async () => {
    const world = setup();
    const event = transferEvent('transfer.requested', at(0));
    const delivery = { ...newDelivery(WEBHOOK, event, at(0)), attempts: 5, triedAt: at(0), nextAttemptAt: at(3600), lastAttempt: { ...refused(500), at: at(0) } };
    await world.store.addDeliveries([delivery]);
    const wake = { ...refOf(event), attempt: 5 };

    for (const [now, delay] of [
      [0, 900],
      [2700, 900],
      [3000, 600],
      [3598.5, 2],
    ] as const) {
      world.clock.current = new Date(T0.getTime() + now * 1000);
      expect(await world.dispatcher.dispatch(wake)).toBe('waiting');
      expect(world.queue.sent.at(-1)).toEqual({ wake, delaySeconds: delay, at: world.clock.now() });
    }
    expect(world.transport.posts).toEqual([]);
    expect(world.store.claims).toEqual([]);

    // Within a second of due is due.
    world.clock.current = new Date(T0.getTime() + 3599_400);
    expect(await world.dispatcher.dispatch(wake)).toBe('delivered');
    expect(world.transport.posts).toHaveLength(1);
  });

  it('does nothing for a stale wake: one for a try already made, one for a try not yet counted, or one of a settled delivery', async () => {
    const world = setup();
    const event = transferEvent('transfer.requested', at(0));
    await world.fanOut.fanOut([event]);
    const sent = world.queue.sent.length;

    expect(await world.dispatcher.dispatch({ ...refOf(event), attempt: 1 })).toBe('stale');
    await world.dispatcher.dispatch({ ...refOf(event), attempt: 0 });
    expect(await world.dispatcher.dispatch({ ...refOf(event), attempt: 0 })).toBe('stale');
    expect(await world.dispatcher.dispatch({ ...refOf(event), attempt: 1 })).toBe('stale');

    expect(world.transport.posts).toHaveLength(1);
    expect(world.store.claims).toHaveLength(1);
    expect(world.queue.sent).toHaveLength(sent + 1);
  });

  it('makes a try once when two wakes of it come together: only one claims it', async () => {
    const world = setup();
    const event = transferEvent('transfer.requested', at(0));
    await world.fanOut.fanOut([event]);
    // The relay ran twice: two wakes for the first try.
    await world.fanOut.fanOut([event]);
    const [first, second] = world.queue.sent.map((s) => s.wake);
    if (!first || !second) throw new Error('two wakes');

    const outcomes = await Promise.all([world.dispatcher.dispatch(first), world.dispatcher.dispatch(second)]);

    expect(outcomes.toSorted()).toEqual(['delivered', 'stale']);
    // Both got as far as the claim; the store's condition let one through.
    expect(world.store.claims).toEqual([
      { eventId: event.id, seen: 0, granted: true },
      { eventId: event.id, seen: 0, granted: false },
    ]);
    expect(world.transport.posts).toHaveLength(1);
    expect(await stored(world, refOf(event))).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('tries again after a dispatcher died mid-try: the next try\'s wake was queued before it', async () => {
    const world = setup();
    const event = transferEvent('transfer.requested', at(0));
    await world.fanOut.fanOut([event]);
    world.transport.script = [new Error('the function timed out')];

    expect(await failure(world.dispatcher.dispatch({ ...refOf(event), attempt: 0 }))).toBeInstanceOf(Error);

    expect((await drain(world)).map((o) => [o.outcome, o.at])).toEqual([
      // The message of the try that died comes again: that try is counted, so the message is stale.
      ['stale', at(0)],
      // The retry's wake finds the try unsettled: it could still be under way until its time is up, and
      // is given up a minute after it began.
      ['waiting', at(5)],
      ['waiting', at(15)],
      ['delivered', at(60)],
      ['stale', at(90)],
    ]);
    expect(world.transport.posts.map((p) => p.at.toISOString())).toEqual([at(0), at(60)]);
  });

  it('makes no second try while a slow endpoint is still answering the first: the retry\'s wake waits for its outcome', async () => {
    const { world, event, first, answer } = await firstTryUnderWay();

    // The retry is due after 5 s, the endpoint has 10 s to answer: its wake looks again once that time is up.
    world.clock.current = new Date(T0.getTime() + 5000);
    expect(await world.dispatcher.dispatch({ ...refOf(event), attempt: 1 })).toBe('waiting');
    expect(world.queue.sent.at(-1)).toMatchObject({ wake: { attempt: 1 }, delaySeconds: 10 });
    world.clock.current = new Date(T0.getTime() + 8000);
    answer(OK);
    expect(await first).toBe('delivered');

    world.clock.current = new Date(T0.getTime() + 15_000);
    expect(await world.dispatcher.dispatch({ ...refOf(event), attempt: 1 })).toBe('stale');
    expect(world.transport.posts).toHaveLength(1);
    expect(await stored(world, refOf(event))).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('tries a slow endpoint again as soon as its late answer was a failure, with the same webhook-id; the put-off wake then finds nothing to do', async () => {
    const { world, event, first, answer } = await firstTryUnderWay();
    world.clock.current = new Date(T0.getTime() + 5000);
    expect(await world.dispatcher.dispatch({ ...refOf(event), attempt: 1 })).toBe('waiting');
    expect(world.queue.sent.at(-1)).toMatchObject({ wake: { attempt: 1 }, delaySeconds: 10 });
    world.clock.current = new Date(T0.getTime() + 8000);
    answer(refused(503));
    expect(await first).toBe('retrying');
    // The retry was due at 5 s: woken at once, not when the put-off wake comes at 15 s.
    expect(world.queue.sent.at(-1)).toMatchObject({ wake: { attempt: 1 }, delaySeconds: 0, at: new Date(T0.getTime() + 8000) });

    expect(await world.dispatcher.dispatch({ ...refOf(event), attempt: 1 })).toBe('delivered');
    world.clock.current = new Date(T0.getTime() + 15_000);
    expect(await world.dispatcher.dispatch({ ...refOf(event), attempt: 1 })).toBe('stale');
    expect(world.transport.posts.map((p) => [p.headers['webhook-id'], p.at.toISOString()])).toEqual([
      [event.id, at(0)],
      [event.id, at(8)],
    ]);
    expect(await stored(world, refOf(event))).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  // The retry is due 5 s after the try began; within a second of it, it is woken at once.
  it.each([
    [0, [5]],
    [3500, [5]],
    [4000, [5, 0]],
  ])('a failed try answered %i ms after it began queues the retry\'s wakes %j', async (answeredAfterMs, delays) => {
    const { world, first, answer } = await firstTryUnderWay();
    world.clock.current = new Date(T0.getTime() + answeredAfterMs);
    answer(refused(503));
    expect(await first).toBe('retrying');
    expect(world.queue.sent.filter((sent) => sent.wake.attempt === 1).map((sent) => sent.delaySeconds)).toEqual(delays);
  });

  it('marks a delivery failed when its last try died before its outcome was recorded: the check queued with that try finds it unsettled', async () => {
    const world = setup([5]);
    const event = transferEvent('transfer.requested', at(0));
    await world.fanOut.fanOut([event]);
    world.transport.script = [refused(500), new Error('the function timed out')];

    expect(await world.dispatcher.dispatch({ ...refOf(event), attempt: 0 })).toBe('retrying');
    world.clock.current = new Date(T0.getTime() + 5000);
    expect(await failure(world.dispatcher.dispatch({ ...refOf(event), attempt: 1 }))).toBeInstanceOf(Error);

    expect((await drain(world)).map((o) => [o.outcome, o.at])).toEqual([
      // The wakes of both tries, counted already.
      ['stale', at(5)],
      ['stale', at(5)],
      ['failed', at(125)],
    ]);
    expect(await stored(world, refOf(event))).toMatchObject({ status: 'failed', attempts: 2, settledAt: at(125), note: 'The last try was made, but its outcome was never recorded.' });
    expect(await world.store.recentFailures('P-NORTH', 20)).toHaveLength(1);
  });

  const ago = (ms: number) => new Date(T0.getTime() - ms);

  /** A world whose dispatcher keeps to the endpoint's slots, with the event fanned out; slot calls are logged. */
  async function withSlots() {
    const world = setup();
    const slots = new InMemoryEndpointSlots(world.log);
    const dispatcher = new WebhookDispatcher({ ...world, linkKey, retrySchedule: DEFAULT_RETRY_SCHEDULE_SECONDS, slots, random: () => 0.5 });
    const event = transferEvent('transfer.requested', at(0));
    await world.fanOut.fanOut([event]);
    world.log.length = 0;
    return { world, slots, dispatcher, event, ref: refOf(event) };
  }

  it('puts a try off while a slow endpoint\'s 3 slots are busy, without counting it, each time longer, and makes it once a slot is free', async () => {
    const { world, slots, dispatcher, event, ref } = await withSlots();
    // Its last tries took 5 s each; three are under way.
    for (const slot of [0, 1, 2]) slots.set(WEBHOOK.id, slot, { leasedAt: ago(2000), lastTry: { ms: 5000, endedAt: ago(3000) } });

    expect(await dispatcher.dispatch({ ...ref, attempt: 0 })).toBe('deferred');
    expect(await dispatcher.dispatch({ ...ref, attempt: 0, deferrals: 3 })).toBe('deferred');
    expect(await dispatcher.dispatch({ ...ref, attempt: 0, deferrals: 9 })).toBe('deferred');
    // After the fan-out's own wake:
    expect(world.queue.sent.slice(1).map((sent) => [sent.wake.deferrals, sent.delaySeconds])).toEqual([
      [1, 2],
      [4, 12],
      [10, 45],
    ]);
    expect(await stored(world, ref)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(world.transport.posts).toEqual([]);

    slots.set(WEBHOOK.id, 1, { lastTry: { ms: 5000, endedAt: T0 } });
    world.log.length = 0;
    expect(await dispatcher.dispatch({ ...ref, attempt: 0, deferrals: 4 })).toBe('delivered');
    // The slot is held for the request alone, freed with the request's duration before the outcome is written.
    expect(world.log).toEqual(['take slot 1', `wake ${event.id} attempt 1 in 5 s`, `post ${event.id}`, 'release slot 1 after 12 ms']);
    expect((await slots.slots(WEBHOOK.id, T0)).find((slot) => slot.slot === 1)).toEqual({ slot: 1, leasedAt: null, lastTry: { ms: 12, endedAt: T0 } });
    // The next try's wake carries no deferrals of the try before.
    expect(world.queue.sent.at(-1)?.wake).toEqual({ ...ref, attempt: 1 });
  });

  it('gives an endpoint whose last tries were quick up to 10 tries at once, and puts the 11th off for a second, no longer each time', async () => {
    const { world, slots, dispatcher, ref } = await withSlots();
    for (let slot = 0; slot < 9; slot += 1) slots.set(WEBHOOK.id, slot, { leasedAt: ago(200), lastTry: { ms: 40, endedAt: ago(300) } });
    slots.set(WEBHOOK.id, 9, { lastTry: { ms: 40, endedAt: ago(300) } });

    expect(await dispatcher.dispatch({ ...ref, attempt: 0 })).toBe('delivered');
    expect(world.log[0]).toBe('take slot 9');

    const second = transferEvent('transfer.requested', at(0), 'TR-20260310-DISPATCH02');
    await world.fanOut.fanOut([second]);
    slots.set(WEBHOOK.id, 9, { leasedAt: T0, lastTry: { ms: 40, endedAt: ago(300) } });
    expect(await dispatcher.dispatch({ ...refOf(second), attempt: 0, deferrals: 3 })).toBe('deferred');
    expect(world.queue.sent.at(-1)).toMatchObject({ wake: { ...refOf(second), attempt: 0, deferrals: 3 }, delaySeconds: 1 });
  });

  it('holds an endpoint to 3 tries at once while a try under way has held its slot for 5 s or more, however quick its last tries were', async () => {
    const { world, slots, dispatcher, ref } = await withSlots();
    for (const slot of [0, 1, 2]) slots.set(WEBHOOK.id, slot, { leasedAt: slot === 0 ? ago(5000) : ago(100), lastTry: { ms: 40, endedAt: ago(2000) } });

    expect(await dispatcher.dispatch({ ...ref, attempt: 0 })).toBe('deferred');
    expect(world.queue.sent.at(-1)?.wake.deferrals).toBe(1);
    slots.set(WEBHOOK.id, 0, { leasedAt: ago(4999), lastTry: { ms: 40, endedAt: ago(2000) } });
    expect(await dispatcher.dispatch({ ...ref, attempt: 0 })).toBe('delivered');
    expect(world.log).toContain('take slot 6');
  });

  it('holds an endpoint to 3 tries at once when one of its last requests took 2 s or more', async () => {
    const { world, slots, dispatcher, ref } = await withSlots();
    for (const slot of [0, 1]) slots.set(WEBHOOK.id, slot, { leasedAt: ago(100), lastTry: { ms: 40, endedAt: ago(2000) } });
    slots.set(WEBHOOK.id, 2, { leasedAt: ago(100), lastTry: { ms: 1999, endedAt: ago(2000) } });
    slots.set(WEBHOOK.id, 3, { lastTry: { ms: 2000, endedAt: ago(2000) } });

    expect(await dispatcher.dispatch({ ...ref, attempt: 0 })).toBe('deferred');
    slots.set(WEBHOOK.id, 3, { lastTry: { ms: 1999, endedAt: ago(2000) } });
    expect(await dispatcher.dispatch({ ...ref, attempt: 0 })).toBe('delivered');
    expect(world.transport.posts).toHaveLength(1);
  });

  it('holds an endpoint to 3 tries at once until 3 tries of the last minute tell it is quick (a new or idle endpoint)', async () => {
    const { slots, dispatcher, ref } = await withSlots();
    for (const slot of [0, 1, 2]) slots.set(WEBHOOK.id, slot, { leasedAt: ago(100), lastTry: slot === 0 ? undefined : { ms: 40, endedAt: ago(2000) } });
    expect(await dispatcher.dispatch({ ...ref, attempt: 0 })).toBe('deferred');

    for (const slot of [0, 1, 2]) slots.set(WEBHOOK.id, slot, { leasedAt: ago(100), lastTry: { ms: 40, endedAt: slot === 0 ? ago(60_000) : ago(2000) } });
    expect(await dispatcher.dispatch({ ...ref, attempt: 0 })).toBe('deferred');

    slots.set(WEBHOOK.id, 0, { leasedAt: ago(100), lastTry: { ms: 40, endedAt: ago(59_999) } });
    expect(await dispatcher.dispatch({ ...ref, attempt: 0 })).toBe('delivered');
  });

  it('puts a try off a second longer each time, up to 5 s, while the busy endpoint is not known to be quick or slow', async () => {
    const { world, slots, dispatcher, ref } = await withSlots();
    for (const slot of [0, 1, 2]) slots.set(WEBHOOK.id, slot, { leasedAt: ago(100) });

    expect(await dispatcher.dispatch({ ...ref, attempt: 0 })).toBe('deferred');
    expect(await dispatcher.dispatch({ ...ref, attempt: 0, deferrals: 2 })).toBe('deferred');
    expect(await dispatcher.dispatch({ ...ref, attempt: 0, deferrals: 9 })).toBe('deferred');
    expect(world.queue.sent.slice(1).map((sent) => [sent.wake.deferrals, sent.delaySeconds])).toEqual([
      [1, 1],
      [3, 3],
      [10, 5],
    ]);
  });

  it('takes another free slot when one is taken by a racing dispatcher, and frees the slot when the request throws', async () => {
    const { world, slots, dispatcher, ref } = await withSlots();
    const take = slots.take.bind(slots);
    let raced = false;
    slots.take = async (webhookId, slot, until, now) => {
      if (!raced) {
        raced = true;
        await take(webhookId, slot, until, now);
        return undefined;
      }
      return take(webhookId, slot, until, now);
    };
    world.transport.script = [new Error('the socket broke')];

    expect(await failure(dispatcher.dispatch({ ...ref, attempt: 0 }))).toBeInstanceOf(Error);
    expect(world.log.filter((line) => line.startsWith('take') || line.startsWith('release'))).toEqual(['take slot 1', 'take slot 2', 'release slot 2 after 0 ms']);
    expect((await slots.slots(WEBHOOK.id, T0)).filter((slot) => slot.leasedAt !== null).map((slot) => slot.slot)).toEqual([1]);
  });

  it('drops a delivery whose webhook was removed, without a try', async () => {
    const world = setup();
    const event = transferEvent('transfer.requested', at(0));
    await world.fanOut.fanOut([event]);
    world.store.webhooks.delete(WEBHOOK.id);
    world.clock.current = new Date(T0.getTime() + 2000);

    expect(await world.dispatcher.dispatch({ ...refOf(event), attempt: 0 })).toBe('dropped');

    expect(await stored(world, refOf(event))).toMatchObject({ status: 'dropped', attempts: 0, settledAt: at(2), note: 'The webhook was removed.' });
    expect(world.transport.posts).toEqual([]);
    expect(world.queue.sent).toHaveLength(1);
    expect(await world.store.recentFailures('P-NORTH', 20)).toEqual([]);
    expect(await world.dispatcher.dispatch({ ...refOf(event), attempt: 0 })).toBe('stale');
  });

  it('answers a wake for a delivery that is not in the table as missing', async () => {
    const world = setup();
    expect(await world.dispatcher.dispatch({ webhookId: WEBHOOK.id, eventId: 'evt_gone', transferId: 'TR-GONE', attempt: 0 })).toBe('missing');
    expect(world.transport.posts).toEqual([]);
    expect(world.queue.sent).toEqual([]);
  });
});

describe('the order a webhook hears of a transfer in', () => {
  const requested = transferEvent('transfer.requested', at(0));
  const released = transferEvent('transfer.released', at(0));
  const scheduled = transferEvent('transfer.scheduled', at(60));

  it('holds a later event while an earlier one of the same transfer is pending, and wakes it at once when that one is delivered', async () => {
    const world = setup();
    await world.fanOut.fanOut([requested, released]);
    world.log.length = 0;

    // The later one's wake comes first: it looks again by itself only after 20 s, should no one wake it.
    expect(await world.dispatcher.dispatch({ ...refOf(released), attempt: 0 })).toBe('held');
    expect(world.log).toEqual([`wake ${released.id} attempt 0 in 20 s`]);
    expect(world.store.claims).toEqual([]);

    world.log.length = 0;
    expect(await world.dispatcher.dispatch({ ...refOf(requested), attempt: 0 })).toBe('delivered');
    expect(world.log).toEqual([`wake ${requested.id} attempt 1 in 5 s`, `post ${requested.id}`, `wake ${released.id} attempt 0 in 0 s`]);
    expect(await world.dispatcher.dispatch({ ...refOf(released), attempt: 0 })).toBe('delivered');
    expect(world.transport.posts.map((p) => p.headers['webhook-id'])).toEqual([requested.id, released.id]);
    // The last one of the transfer wakes no one.
    expect(world.log.at(-1)).toBe(`post ${released.id}`);
  });

  it('wakes only the next pending event of the same webhook and transfer, not the ones after it nor another transfer\'s', async () => {
    const world = setup();
    const otherTransfer = transferEvent('transfer.released', at(30), 'TR-20260310-DISPATCH02');
    await world.fanOut.fanOut([requested, released, scheduled, otherTransfer]);
    world.log.length = 0;

    expect(await world.dispatcher.dispatch({ ...refOf(requested), attempt: 0 })).toBe('delivered');
    expect(world.log.filter((line) => line.endsWith('in 0 s'))).toEqual([`wake ${released.id} attempt 0 in 0 s`]);
  });

  it('wakes the next event of the transfer\'s life, and holds a later one behind the earliest pending, whatever order the store lists them in', async () => {
    const world = setup();
    // Handed (and listed by the store) last first.
    await world.fanOut.fanOut([scheduled, released, requested]);
    world.log.length = 0;
    expect(await world.dispatcher.dispatch({ ...refOf(scheduled), attempt: 0 })).toBe('held');
    expect(await world.dispatcher.dispatch({ ...refOf(requested), attempt: 0 })).toBe('delivered');
    expect(world.log.filter((line) => line.endsWith('in 0 s'))).toEqual([`wake ${released.id} attempt 0 in 0 s`]);
    expect(await world.dispatcher.dispatch({ ...refOf(released), attempt: 0 })).toBe('delivered');
    expect(world.log.filter((line) => line.endsWith('in 0 s'))).toEqual([`wake ${released.id} attempt 0 in 0 s`, `wake ${scheduled.id} attempt 0 in 0 s`]);
  });

  it('wakes the next event when the earlier one failed for good, and when it was dropped with its webhook', async () => {
    const world = setup([]);
    await world.fanOut.fanOut([requested, released, scheduled]);
    world.transport.script = [refused(500)];
    world.log.length = 0;

    expect(await world.dispatcher.dispatch({ ...refOf(requested), attempt: 0 })).toBe('failed');
    expect(world.log.at(-1)).toBe(`wake ${released.id} attempt 0 in 0 s`);

    world.store.webhooks.delete(WEBHOOK.id);
    expect(await world.dispatcher.dispatch({ ...refOf(released), attempt: 0 })).toBe('dropped');
    expect(world.log.at(-1)).toBe(`wake ${scheduled.id} attempt 0 in 0 s`);
  });

  it('holds it until the earlier one\'s retry is due, and sends it after that retry is delivered', async () => {
    const world = setup();
    await world.fanOut.fanOut([scheduled, requested, released]);
    world.transport.script = [refused(500)];

    // The first try of `requested` fails; `released` waits for its retry, and `scheduled` for both.
    const outcomes = await drain(world);

    expect(world.transport.posts.map((p) => [p.headers['webhook-id'], p.at.toISOString()])).toEqual([
      [requested.id, at(0)],
      [requested.id, at(5)],
      [released.id, at(5)],
      [scheduled.id, at(5)],
    ]);
    const held = outcomes.filter((o) => o.outcome === 'held');
    expect(held.length).toBeGreaterThan(0);
    // Held behind a retry 5 s off, the wake asks to come back when it is due, not every second.
    expect(held.filter((o) => o.at === at(0)).map((o) => o.eventId).toSorted()).toEqual([released.id, scheduled.id].toSorted());
    expect(world.queue.sent.filter((s) => s.wake.eventId === released.id && s.at.getTime() === T0.getTime()).map((s) => s.delaySeconds)).toEqual([0, 5]);
    for (const event of [requested, released, scheduled]) expect(await stored(world, refOf(event))).toMatchObject({ status: 'delivered' });
  });

  it('lets a later event go once the earlier one failed for good', async () => {
    const world = setup([5]);
    await world.fanOut.fanOut([requested, released]);
    world.transport.script = [refused(500), refused(500)];

    await drain(world);

    expect(await stored(world, refOf(requested))).toMatchObject({ status: 'failed', attempts: 2 });
    expect(await stored(world, refOf(released))).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(world.transport.posts.map((p) => p.headers['webhook-id'])).toEqual([requested.id, requested.id, released.id]);
  });

  it('holds it behind a try that died unsettled only while that try could be under way, then until the next try is due', async () => {
    const world = setup([600]);
    await world.fanOut.fanOut([requested, released]);
    world.transport.script = [new Error('the function timed out')];
    expect(await failure(world.dispatcher.dispatch({ ...refOf(requested), attempt: 0 }))).toBeInstanceOf(Error);

    world.clock.current = new Date(T0.getTime() + 1000);
    expect(await world.dispatcher.dispatch({ ...refOf(released), attempt: 0 })).toBe('held');
    // No settling will wake it: it looks again by itself.
    expect(world.queue.sent.at(-1)?.delaySeconds).toBe(20);
    // Two minutes on, the try is over: the wake comes back when the retry is due, not every 20 s.
    world.clock.current = new Date(T0.getTime() + 120_000);
    expect(await world.dispatcher.dispatch({ ...refOf(released), attempt: 0 })).toBe('held');
    expect(world.queue.sent.at(-1)?.delaySeconds).toBe(480);
  });

  it('is not held for ever behind a last try that died unsettled, which no wake will come for', async () => {
    const world = setup([5]);
    await world.fanOut.fanOut([requested, released]);
    world.transport.script = [refused(500), new Error('the function timed out')];
    expect(await world.dispatcher.dispatch({ ...refOf(requested), attempt: 0 })).toBe('retrying');
    world.clock.current = new Date(T0.getTime() + 5000);
    expect(await failure(world.dispatcher.dispatch({ ...refOf(requested), attempt: 1 }))).toBeInstanceOf(Error);

    world.clock.current = new Date(T0.getTime() + 6000);
    expect(await world.dispatcher.dispatch({ ...refOf(released), attempt: 0 })).toBe('held');
    world.clock.current = new Date(T0.getTime() + 70_000);
    expect(await world.dispatcher.dispatch({ ...refOf(released), attempt: 0 })).toBe('delivered');
    expect(await stored(world, refOf(requested))).toMatchObject({ status: 'pending', attempts: 2, nextAttemptAt: null });
  });

  it('does not hold an event behind another transfer\'s, nor behind another webhook\'s', async () => {
    const world = setup();
    const other = `wh_${'c3'.repeat(16)}`;
    world.store.webhooks.set(other, { ...structuredClone(WEBHOOK), id: other, url: 'https://hooks.northwind.example/other', events: ['transfer.released'] });
    const otherTransfer = transferEvent('transfer.released', at(30), 'TR-20260310-DISPATCH02');
    await world.fanOut.fanOut([requested, released, otherTransfer]);

    // `requested` is pending for WEBHOOK only.
    expect(await world.dispatcher.dispatch({ webhookId: other, eventId: released.id, transferId: released.transferId, attempt: 0 })).toBe('delivered');
    expect(await world.dispatcher.dispatch({ ...refOf(otherTransfer), attempt: 0 })).toBe('delivered');
    // The same webhook and transfer: held.
    expect(await world.dispatcher.dispatch({ ...refOf(released), attempt: 0 })).toBe('held');
  });

  it('never holds a test event, whatever is pending for the webhook', async () => {
    const world = setup();
    await world.fanOut.fanOut([requested]);
    const test: WebhookTestEvent = { id: 'evt_test', type: 'webhook.test', occurredAt: at(30), transferId: null, webhook: { id: WEBHOOK.id, url: WEBHOOK.url } };
    await world.store.addDeliveries([newDelivery(WEBHOOK, test, at(30))]);

    expect(await world.dispatcher.dispatch({ ...refOf(test), attempt: 0 })).toBe('delivered');
    expect(await stored(world, refOf(requested))).toMatchObject({ status: 'pending', attempts: 0 });
    expect(verify(world.transport.posts[0] ?? { headers: {}, body: '', at: T0 })).toEqual(test);
  });
});

describe('delaySeconds', () => {
  it.each([
    [0, 1],
    [-5000, 1],
    [1, 1],
    [1000, 1],
    [1001, 2],
    [5000, 5],
    [900_000, 900],
    [900_001, 900],
    [3_600_000, 900],
  ])('waits %d ms as %d s', (ms, seconds) => {
    expect(delaySeconds(ms)).toBe(seconds);
  });
});

describe('parseRetrySchedule', () => {
  it.each([
    ['5,30', [5, 30]],
    [' 5 , 30 ,120', [5, 30, 120]],
    ['900', [900]],
    ['5,30,120,600,3600,21600,86400', [...DEFAULT_RETRY_SCHEDULE_SECONDS]],
  ])('reads %j', (value, schedule) => {
    expect(parseRetrySchedule(value)).toEqual(schedule);
  });

  it.each(['', '5,,30', '5,', 'abc', '0', '5,0', '-5', '5.5', '1e3', '05', '5;30', '12345678'])('refuses %j', (value) => {
    expect(parseRetrySchedule(value)).toBeUndefined();
  });
});
