import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../lambdas/domain/events.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { createTransfer, decide, documentClient, failedMove, FULL_TRANSFER_EVENTS, fullTransfer, poller } from './support.ts';

/**
 * Partner webhooks on the local stack as on AWS: each event of a transfer reaches the webhooks of its
 * parties (and the provider's) through the relay, the deliveries queue and the dispatcher's bundle, as
 * Standard Webhooks messages that the official `standardwebhooks` library verifies. Receivers are
 * plain HTTP servers on 127.0.0.1 that can answer 500 or answer slowly. Retries come 1 s apart here.
 */

// Three retries a second apart: four tries in all.
const RETRY_SCHEDULE = [1, 1, 1];
// Each waiting step waits 10 s (expiry; long enough for a loaded machine to decide in time); the sleep
// until the transfer date is capped at 3 s (a failed move).
const WINDOW_SECONDS = 10;
const SLEEP_SECONDS = 3;
/** After the expected messages: longer than a retry step, so a repeat would have come by then. */
const QUIET_MS = 1_500;
/** How long the slow receiver takes to answer. */
const SLOW_MS = 5_000;

const stackSettings = (allowPrivate: boolean) => ({
  maxWaitSeconds: SLEEP_SECONDS,
  env: {
    WEBHOOK_RETRY_SCHEDULE_SECONDS: RETRY_SCHEDULE.join(','),
    // Named in every stack of this file: a stack started in the same process would otherwise inherit it.
    WEBHOOK_ALLOW_PRIVATE_TARGETS: String(allowPrivate),
    TRANSFER_APPROVAL_WINDOW_SECONDS: String(WINDOW_SECONDS),
    TRANSFER_REMINDER_INTERVAL_SECONDS: '2',
  },
});

// The deliveries group runs its tests at once on one stack: each waits longer than the default.
const poll = poller(60_000, 100);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface WebhookBody {
  id: string;
  type: string;
  occurredAt: string;
  transferId: string | null;
  transfer?: Record<string, unknown> & { id: string; status: string; customers: Array<{ id: string }> };
  webhook?: { id: string; url: string };
}

interface RegisteredWebhook {
  id: string;
  partnerId: string | null;
  url: string;
  events: string[];
  createdAt: string;
  createdBy: { kind: string; name: string; ticketId: string | null };
}

type NewWebhook = RegisteredWebhook & { secret: string };

interface FailedDelivery {
  webhookId: string;
  eventId: string;
  transferId: string | null;
  partnerId: string | null;
  status: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastAttempt: { ok: boolean; status: number | null; error: string | null; excerpt: string } | null;
}

interface WebhookList {
  webhooks: RegisteredWebhook[];
  failures: FailedDelivery[];
}

interface ErrorAnswer {
  error: { code: string; message: string; details?: { issues?: Array<{ field: string; message: string }> } };
}

/** One request a receiver got. */
interface Arrival {
  /** The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers. */
  id: string;
  timestamp: number;
  signature: string;
  /** Whether `standardwebhooks` accepted it under the secret the registration showed. */
  verified: boolean;
  body: WebhookBody;
  /** When it came in and when it was answered (epoch ms), and the status answered. */
  at: number;
  answeredAt?: number;
  status?: number;
}

interface Script {
  left: number;
  customerId: string | undefined;
  answer: { status: number; body: string; delayMs: number };
}

function headerOf(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

/**
 * A partner's endpoint on 127.0.0.1: verifies and records every request, answers 200, or as scripted
 * (500 for the next N requests, or slowly), optionally only for one transfer's events so that the
 * tests running beside it are not disturbed. Counts TCP connections.
 */
class Receiver {
  readonly arrivals: Arrival[] = [];
  connections = 0;
  /** The secret the registration answered (set by {@link register}). */
  secret = '';
  private scripts: Script[] = [];
  private readonly server: Server;

  private constructor() {
    this.server = createServer((request, response) => this.receive(request, response));
    this.server.on('connection', () => {
      this.connections += 1;
    });
  }

  static async start(): Promise<Receiver> {
    const receiver = new Receiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    receivers.push(receiver);
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** Answers 500 (with `body`) to the next `count` requests, of the events of a customer's transfers if given. */
  failNext(count: number, options: { customerId?: string; body?: string } = {}): void {
    this.scripts.push({ left: count, customerId: options.customerId, answer: { status: 500, body: options.body ?? 'receiver down', delayMs: 0 } });
  }

  /** Answers 200 only after `delayMs` to the next `count` requests, of the events of a customer's transfers if given. */
  slow(delayMs: number, options: { customerId?: string; count?: number } = {}): void {
    this.scripts.push({ left: options.count ?? 1, customerId: options.customerId, answer: { status: 200, body: 'ok, slowly', delayMs } });
  }

  /** Answers 200 to everything from now on. */
  recover(): void {
    this.scripts = [];
  }

  /** The requests about one transfer (or test events, for null), in order of arrival. */
  about(transferId: string | null): Arrival[] {
    return this.arrivals.filter((arrival) => arrival.body.transferId === transferId);
  }

  /** Waits until at least `count` requests about the transfer have come in. */
  async expect(count: number, transferId: string | null): Promise<Arrival[]> {
    return poll(`${count} webhook messages about ${transferId ?? 'tests'} at ${this.url}`, async () => {
      const found = this.about(transferId);
      return found.length >= count ? found : undefined;
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private receive(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': headerOf(request.headers, 'webhook-id'),
        'webhook-timestamp': headerOf(request.headers, 'webhook-timestamp'),
        'webhook-signature': headerOf(request.headers, 'webhook-signature'),
      };
      let verified = false;
      try {
        new Webhook(this.secret).verify(raw, headers);
        verified = true;
      } catch {
        verified = false;
      }
      let body: WebhookBody;
      try {
        body = JSON.parse(raw) as WebhookBody;
      } catch {
        body = { id: '', type: '(not JSON)', occurredAt: '', transferId: null };
      }
      const arrival: Arrival = {
        id: headers['webhook-id'],
        timestamp: Number(headers['webhook-timestamp']),
        signature: headers['webhook-signature'],
        verified,
        body,
        at: Date.now(),
      };
      this.arrivals.push(arrival);
      const customers = (body.transfer?.customers ?? []).map((customer) => customer.id);
      const script = this.scripts.find((s) => s.left > 0 && (s.customerId === undefined || customers.includes(s.customerId)));
      if (script) script.left -= 1;
      const answer = script?.answer ?? { status: 200, body: 'thanks', delayMs: 0 };
      setTimeout(() => {
        arrival.answeredAt = Date.now();
        arrival.status = answer.status;
        response.writeHead(answer.status, { 'content-type': 'text/plain; charset=utf-8' }).end(answer.body);
      }, answer.delayMs);
    });
  }
}

const receivers: Receiver[] = [];

let t: TestStack;
/** A stack that keeps webhooks to public https targets, as on AWS. */
let strict: TestStack | undefined;
let db: DynamoDBDocumentClient;
let stateDir: string;
let dataDir: string;
let acme: string;
let blue: string;
let coral: string;
let dune: string;
let operator: string;

beforeAll(async () => {
  // The main stack keeps its table and queues in dataDir and its keys in stateDir, so that it can be restarted.
  stateDir = await mkdtemp(join(tmpdir(), 'webhooks-e2e-state-'));
  dataDir = await mkdtemp(join(tmpdir(), 'webhooks-e2e-data-'));
  const started = await Promise.allSettled([
    startTestStack({ ...stackSettings(true), seedFile: TEST_DIRECTORY, stateDir, dataDir }),
    startTestStack({ ...stackSettings(false), seedFile: null }),
  ]);
  const [main, other] = started;
  if (main.status === 'rejected' || other.status === 'rejected') {
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw main.status === 'rejected' ? main.reason : (other as PromiseRejectedResult).reason;
  }
  t = main.value;
  strict = other.value;
  db = documentClient(t.stack);
  acme = await t.token({ partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
  blue = await t.token({ partnerId: 'P-BLUE', subject: 'bob@bluewave.example' });
  coral = await t.token({ partnerId: 'P-CORAL', subject: 'carol@coralcloud.example' });
  dune = await t.token({ partnerId: 'P-DUNE', subject: 'dan@dune.example' });
  operator = await t.token('operator');
});

afterAll(async () => {
  db?.destroy();
  await Promise.all(receivers.map((receiver) => receiver.close()));
  try {
    await Promise.all([t?.stop(), strict?.stop()]);
  } finally {
    await Promise.all([stateDir, dataDir].map((dir) => (dir ? rm(dir, { recursive: true, force: true }) : undefined)));
  }
});

/** POST /webhooks for the receiver, expecting 201; the receiver verifies with the secret it answered. */
async function register(token: string, receiver: Receiver, body: Record<string, unknown> = {}): Promise<NewWebhook> {
  const answer = await t.client.call('POST', '/webhooks', token, { url: receiver.url, ...body });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  const webhook = answer.body as NewWebhook;
  receiver.secret = webhook.secret;
  return webhook;
}

/** DELETE /webhooks/{id}, expecting 204. */
async function remove(token: string, ...webhooks: RegisteredWebhook[]): Promise<void> {
  for (const webhook of webhooks) {
    const answer = await t.client.call('DELETE', `/webhooks/${webhook.id}`, token);
    expect(answer.status, JSON.stringify(answer.body)).toBe(204);
  }
}

async function webhookList(token: string, query = ''): Promise<WebhookList> {
  const answer = await t.client.call('GET', `/webhooks${query}`, token);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as WebhookList;
}

/** An event as the bus got it (its detail), waited for. */
async function busEvent(eventId: string): Promise<Record<string, unknown>> {
  return poll(`event ${eventId} on the bus`, async () => t.stack.eventBridge.events().find((event) => event.detail.id === eventId)?.detail);
}

/** Every message verified, its `webhook-id` its body's id, its timestamp that of its own try (which has 10 s). */
function expectSigned(arrivals: readonly Arrival[]): void {
  for (const arrival of arrivals) {
    expect(arrival.verified, `signature of ${arrival.id}`).toBe(true);
    expect(arrival.id).toBe(arrival.body.id);
    expect(arrival.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(arrival.timestamp * 1000).toBeLessThanOrEqual(arrival.at);
    expect(arrival.at - arrival.timestamp * 1000).toBeLessThan(10_000);
  }
}

/** A message body is the event: exactly its five fields, the transfer's summary without history, as on the bus. */
async function expectEventBody(arrival: Arrival, transferId: string): Promise<void> {
  expect(Object.keys(arrival.body).sort()).toEqual(['id', 'occurredAt', 'transfer', 'transferId', 'type']);
  expect(arrival.body.transferId).toBe(transferId);
  expect(arrival.body.transfer?.id).toBe(transferId);
  expect(arrival.body.transfer).not.toHaveProperty('history');
  expect(arrival.body.transfer).toHaveProperty('fromPartner');
  expect(arrival.body).toEqual(await busEvent(arrival.id));
}

describe('targets on a stack that allows only public https targets, as on AWS', () => {
  afterAll(async () => {
    const stopping = strict;
    strict = undefined;
    await stopping?.stop();
  });

  it('refuses http and https URLs of loopback addresses and of localhost with 400, without connecting to them', async () => {
    const stack = strict;
    if (stack === undefined) throw new Error('The strict stack did not start.');
    const receiver = await Receiver.start();
    const token = await stack.token({ partnerId: 'P-ACME' });
    const urls = [receiver.url, `https://127.0.0.1:${receiver.port}/hooks`, `https://localhost:${receiver.port}/hooks`, `https://[::1]:${receiver.port}/hooks`];
    for (const url of urls) {
      const answer = await stack.client.call('POST', '/webhooks', token, { url });
      expect(answer.status, `${url}: ${JSON.stringify(answer.body)}`).toBe(400);
      const { error } = answer.body as ErrorAnswer;
      expect(error.code).toBe('INVALID_REQUEST');
      expect(error.details?.issues?.map((issue) => issue.field)).toEqual(['url']);
    }
    const listed = await stack.client.call('GET', '/webhooks', token);
    expect((listed.body as WebhookList).webhooks).toEqual([]);
    expect(receiver.connections).toBe(0);
    expect(receiver.arrivals).toEqual([]);
  });
});

describe.concurrent('webhook deliveries', { timeout: 90_000 }, () => {
  it('delivers a full transfer to both parties and the provider, in order, each once, signed, as the bus has it; nothing to an unrelated partner', async () => {
    const [current, next, unrelated, provider] = await Promise.all([Receiver.start(), Receiver.start(), Receiver.start(), Receiver.start()]);
    const hooks = [
      await register(acme, current),
      await register(blue, next),
      await register(dune, unrelated),
      await register(operator, provider, { ticketId: 'SUP-2001' }),
    ];
    expect(hooks.map((hook) => hook.partnerId)).toEqual(['P-ACME', 'P-BLUE', 'P-DUNE', null]);
    expect(hooks[3]?.createdBy).toEqual({ kind: 'operator', name: 'operator@provider.example', ticketId: 'SUP-2001' });

    const id = await fullTransfer(t, 'C-A01', { acme, blue });
    for (const receiver of [current, next, provider]) await receiver.expect(FULL_TRANSFER_EVENTS.length, id);
    await sleep(QUIET_MS);
    for (const receiver of [current, next, provider]) {
      const arrivals = receiver.about(id);
      expect(arrivals.map((arrival) => arrival.body.type)).toEqual(FULL_TRANSFER_EVENTS);
      expect(new Set(arrivals.map((arrival) => arrival.id)).size).toBe(FULL_TRANSFER_EVENTS.length);
      expectSigned(arrivals);
      for (const arrival of arrivals) await expectEventBody(arrival, id);
    }
    // The same event, the same id, whoever hears of it.
    expect(next.about(id).map((arrival) => arrival.id)).toEqual(current.about(id).map((arrival) => arrival.id));
    expect(provider.about(id).map((arrival) => arrival.id)).toEqual(current.about(id).map((arrival) => arrival.id));
    expect(current.about(id).at(-1)?.body.transfer?.status).toBe('COMPLETED');
    expect(unrelated.arrivals).toEqual([]);
    expect(unrelated.connections).toBe(0);
    await remove(acme, hooks[0] as NewWebhook);
    await remove(blue, hooks[1] as NewWebhook);
    await remove(dune, hooks[2] as NewWebhook);
    const removed = await t.client.call('DELETE', `/webhooks/${hooks[3]?.id ?? ''}?ticketId=SUP-2001`, operator);
    expect(removed.status).toBe(204);
  });

  it('delivers only the event types a webhook subscribed to', async () => {
    const receiver = await Receiver.start();
    const hook = await register(acme, receiver, { events: ['transfer.completed'] });
    expect(hook.events).toEqual(['transfer.completed']);
    const id = await fullTransfer(t, 'C-A02', { acme, blue });
    const [completed] = await receiver.expect(1, id);
    await sleep(QUIET_MS);
    expect(receiver.about(id).map((arrival) => arrival.body.type)).toEqual(['transfer.completed']);
    expect(completed?.body.transfer?.status).toBe('COMPLETED');
    expectSigned(receiver.about(id));
    await remove(acme, hook);
  });

  it('retries a failing endpoint per the schedule with the same webhook-id and a fresh signature each time', async () => {
    const receiver = await Receiver.start();
    const hook = await register(coral, receiver, { events: ['transfer.requested'] });
    receiver.failNext(2, { customerId: 'C-C01' });
    const created = await createTransfer(t, coral, { customerIds: ['C-C01'], toPartnerId: 'P-ACME' });
    const arrivals = await receiver.expect(3, created.id);
    await sleep(QUIET_MS);
    expect(receiver.about(created.id)).toHaveLength(3);
    expect(arrivals.map((arrival) => arrival.status)).toEqual([500, 500, 200]);
    expectSigned(arrivals);
    expect(new Set(arrivals.map((arrival) => arrival.id)).size).toBe(1);
    // Each try signed anew when it is made: two steps of the schedule (1 s each) lie between the first and the last.
    const [first, last] = [arrivals[0] as Arrival, arrivals[2] as Arrival];
    expect(last.at - first.at).toBeGreaterThanOrEqual(1_000);
    expect(arrivals.map((arrival) => arrival.timestamp)).toEqual(arrivals.map((arrival) => arrival.timestamp).sort());
    expect(last.timestamp).toBeGreaterThan(first.timestamp);
    expect(last.signature).not.toBe(first.signature);
    await expectEventBody(arrivals[2] as Arrival, created.id);
    // Delivered in the end: no failure to list.
    expect((await webhookList(coral)).failures.filter((failure) => failure.webhookId === hook.id)).toEqual([]);
    await remove(coral, hook);
  });

  it('lists a delivery that failed its last try under its owner only, with the last status and a short excerpt; the owner\'s other webhooks are unaffected', async () => {
    const [failing, healthy] = await Promise.all([Receiver.start(), Receiver.start()]);
    const broken = await register(coral, failing, { events: ['transfer.requested'] });
    const fine = await register(coral, healthy, { events: ['transfer.requested'] });
    const longAnswer = `<html>${'Service Unavailable. '.repeat(200)}</html>`;
    failing.failNext(RETRY_SCHEDULE.length + 1, { customerId: 'C-C02', body: longAnswer });
    const created = await createTransfer(t, coral, { customerIds: ['C-C02'], toPartnerId: 'P-ACME' });

    const failure = await poll('the failed delivery in GET /webhooks', async () =>
      (await webhookList(coral)).failures.find((f) => f.webhookId === broken.id && f.transferId === created.id),
    );
    const tries = failing.about(created.id);
    expect(tries).toHaveLength(RETRY_SCHEDULE.length + 1);
    expectSigned(tries);
    expect(new Set(tries.map((arrival) => arrival.id)).size).toBe(1);
    expect(failure).toMatchObject({
      eventId: tries[0]?.id,
      partnerId: 'P-CORAL',
      status: 'failed',
      attempts: RETRY_SCHEDULE.length + 1,
      nextAttemptAt: null,
      lastAttempt: { ok: false, status: 500 },
    });
    const excerpt = failure.lastAttempt?.excerpt ?? '';
    expect(Buffer.byteLength(excerpt, 'utf8')).toBeLessThanOrEqual(256);
    expect(excerpt).toBe(longAnswer.slice(0, 256));

    // The other webhook had the event once, and is listed as before; no failure of its own.
    const [delivered] = await healthy.expect(1, created.id);
    expect(delivered?.id).toBe(failure.eventId);
    expect(healthy.about(created.id)).toHaveLength(1);
    const list = await webhookList(coral);
    expect(list.webhooks.map((webhook) => webhook.id)).toEqual(expect.arrayContaining([broken.id, fine.id]));
    expect(list.failures.filter((f) => f.webhookId === fine.id)).toEqual([]);
    // Not shown to anyone else, the transfer's other party included.
    for (const other of [acme, blue]) {
      expect((await webhookList(other)).failures.filter((f) => f.webhookId === broken.id)).toEqual([]);
    }
    await remove(coral, broken, fine);
  });

  it('delivers cancellations, declines, expiries and failed moves to both parties', async () => {
    const [current, next] = await Promise.all([Receiver.start(), Receiver.start()]);
    const hooks = [await register(acme, current), await register(blue, next)];
    const cancel = async () => {
      const created = await createTransfer(t, acme, { customerIds: ['C-A03'], toPartnerId: 'P-BLUE' });
      const cancelled = await t.client.call('POST', `/transfers/${created.id}/cancel`, blue, { reason: 'Filed by mistake' });
      expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
      return { id: created.id, types: ['transfer.requested', 'transfer.cancelled'] };
    };
    const decline = async () => {
      const created = await createTransfer(t, acme, { customerIds: ['C-A04'], toPartnerId: 'P-BLUE' });
      await decide(t, created.id, 'release', acme, { decision: 'decline', reasonCode: 'CONTRACT_IN_FORCE', reason: 'Term runs to June', signedBy: 'Alice Smith' });
      return { id: created.id, types: ['transfer.requested', 'transfer.declined'] };
    };
    const expire = async () => {
      const created = await createTransfer(t, acme, { customerIds: ['C-A05'], toPartnerId: 'P-BLUE' });
      await t.client.waitForStatus(created.id, acme, ['EXPIRED'], (WINDOW_SECONDS + 15) * 1000);
      return { id: created.id, types: ['transfer.requested', 'transfer.expired'] };
    };
    const fail = async () => {
      const failed = await failedMove(t, db, ['C-A06', 'C-A07'], { acme, blue });
      expect(failed.status).toBe('FAILED');
      return { id: failed.id, types: ['transfer.requested', 'transfer.released', 'transfer.accepted', 'transfer.scheduled', 'transfer.failed'] };
    };
    const outcomes = await Promise.all([cancel(), decline(), expire(), fail()]);
    for (const { id, types } of outcomes) {
      for (const receiver of [current, next]) {
        const arrivals = await receiver.expect(types.length, id);
        expect(arrivals.map((arrival) => arrival.body.type), id).toEqual(types);
        expectSigned(arrivals);
      }
      expect(next.about(id).map((arrival) => arrival.id)).toEqual(current.about(id).map((arrival) => arrival.id));
      await expectEventBody(current.about(id).at(-1) as Arrival, id);
    }
    await remove(acme, hooks[0] as NewWebhook);
    await remove(blue, hooks[1] as NewWebhook);
  });

  it('manages webhooks: the secret once, each partner its own, 404 for another\'s, ticket for operators, test events, 400 and 409 for bad input', async () => {
    const [receiver, control, theirs] = await Promise.all([Receiver.start(), Receiver.start(), Receiver.start()]);
    const created = await t.client.call('POST', '/webhooks', acme, { url: receiver.url });
    expect(created.status).toBe(201);
    const mine = created.body as NewWebhook;
    receiver.secret = mine.secret;
    expect(mine).toMatchObject({ partnerId: 'P-ACME', url: receiver.url, events: [...EVENT_TYPES], createdBy: { kind: 'partner', name: 'alice@acme-it.example', ticketId: null } });
    expect(mine.id).toMatch(/^wh_[0-9a-f]{32}$/);
    expect(mine.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    const other = await register(acme, control, { events: ['transfer.requested'] });
    const blues = await register(blue, theirs);

    // The secret is never shown again; each partner lists only its own.
    const listed = await t.client.call('GET', '/webhooks', acme);
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).not.toContain(mine.secret);
    const acmeList = listed.body as WebhookList;
    expect(acmeList.webhooks.find((webhook) => webhook.id === mine.id)).toEqual({ ...mine, secret: undefined });
    expect(acmeList.webhooks.every((webhook) => webhook.partnerId === 'P-ACME')).toBe(true);
    expect(acmeList.webhooks.map((webhook) => webhook.id)).not.toContain(blues.id);
    const blueList = await webhookList(blue);
    expect(blueList.webhooks.map((webhook) => webhook.id)).toContain(blues.id);
    expect(blueList.webhooks.map((webhook) => webhook.id)).not.toContain(mine.id);
    expect((await t.client.call('GET', '/webhooks?partnerId=P-ACME', blue)).status).toBe(404);
    expect((await webhookList(operator, '?partnerId=P-ACME')).webhooks.map((webhook) => webhook.id)).toEqual(expect.arrayContaining([mine.id, other.id]));

    // Another partner's webhook is not found, whatever is asked of it.
    expect((await t.client.call('DELETE', `/webhooks/${mine.id}`, blue)).status).toBe(404);
    expect((await t.client.call('POST', `/webhooks/${mine.id}/test`, blue)).status).toBe(404);
    expect((await webhookList(acme)).webhooks.map((webhook) => webhook.id)).toContain(mine.id);

    // An operator acts only citing a ticket.
    for (const [method, path, body] of [
      ['POST', '/webhooks', { url: `${receiver.url}/operator`, partnerId: 'P-ACME' }],
      ['DELETE', `/webhooks/${mine.id}`, undefined],
      ['POST', `/webhooks/${mine.id}/test`, undefined],
    ] as const) {
      const answer = await t.client.call(method, path, operator, body);
      expect(answer.status, `${method} ${path}`).toBe(400);
      expect((answer.body as ErrorAnswer).error.message).toContain('ticketId');
    }

    // A test event: 202 with its id, delivered signed under that id.
    const tested = await t.client.call('POST', `/webhooks/${mine.id}/test`, acme);
    expect(tested.status, JSON.stringify(tested.body)).toBe(202);
    const { eventId } = tested.body as { eventId: string };
    const testMessage = await poll('the test event', async () => receiver.about(null).find((arrival) => arrival.id === eventId));
    expectSigned([testMessage]);
    expect(testMessage.body).toEqual({ id: eventId, type: 'webhook.test', occurredAt: expect.any(String), transferId: null, webhook: { id: mine.id, url: mine.url } });
    expect(control.about(null)).toEqual([]);

    // Bad input names the field; the same URL twice is a conflict.
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ url: `${receiver.url}/x`, events: ['transfer.bogus'] }, 'events'],
      [{ url: `ftp://127.0.0.1:${receiver.port}/hooks` }, 'url'],
      [{ events: ['transfer.completed'] }, 'url'],
    ];
    for (const [body, field] of bad) {
      const answer = await t.client.call('POST', '/webhooks', acme, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      const { error } = answer.body as ErrorAnswer;
      expect(error.code).toBe('INVALID_REQUEST');
      expect(error.message.toLowerCase()).toContain(field);
      expect(error.details?.issues?.map((issue) => issue.field.split('.')[0])).toContain(field);
    }
    const twice = await t.client.call('POST', '/webhooks', acme, { url: receiver.url, events: ['transfer.completed'] });
    expect(twice.status).toBe(409);
    expect((twice.body as ErrorAnswer).error.code).toBe('WEBHOOK_EXISTS');

    // Removed: 204, then gone, and nothing more reaches it.
    const removed = await t.client.call('DELETE', `/webhooks/${mine.id}`, acme);
    expect(removed.status).toBe(204);
    expect((await t.client.call('DELETE', `/webhooks/${mine.id}`, acme)).status).toBe(404);
    expect((await t.client.call('POST', `/webhooks/${mine.id}/test`, acme)).status).toBe(404);
    expect((await webhookList(acme)).webhooks.map((webhook) => webhook.id)).not.toContain(mine.id);
    const transfer = await createTransfer(t, acme, { customerIds: ['C-A09'], toPartnerId: 'P-BLUE' });
    await control.expect(1, transfer.id);
    await theirs.expect(1, transfer.id);
    await sleep(QUIET_MS);
    expect(receiver.about(transfer.id)).toEqual([]);
    await remove(acme, other);
    await remove(blue, blues);
  });
});

// Alone, so that the fast endpoint's time measures the path of a delivery, not the other tests' load.
describe('a slow endpoint', () => {
  it('does not let a slow endpoint delay another partner\'s, nor send it a second try while it is still answering', async () => {
    const [slow, fast] = await Promise.all([Receiver.start(), Receiver.start()]);
    const hooks = [await register(acme, slow, { events: ['transfer.requested'] }), await register(blue, fast, { events: ['transfer.requested'] })];
    slow.slow(SLOW_MS, { customerId: 'C-A08' });
    const filedAt = Date.now();
    const created = await createTransfer(t, acme, { customerIds: ['C-A08'], toPartnerId: 'P-BLUE' });
    const [quick] = await fast.expect(1, created.id);
    const [held] = await slow.expect(1, created.id);
    await poll('the slow answer', async () => (held?.answeredAt !== undefined ? held.answeredAt : undefined));
    const fastAfter = (quick?.at ?? Number.NaN) - filedAt;
    const slowAfter = (held?.answeredAt ?? Number.NaN) - filedAt;
    console.log(`Change to webhook: fast endpoint ${fastAfter} ms; slow endpoint answered after ${slowAfter} ms`);
    expect(quick?.id).toBe(held?.id);
    expect(fastAfter).toBeLessThan(4_000);
    expect(slowAfter).toBeGreaterThanOrEqual(SLOW_MS);
    expectSigned([quick as Arrival, held as Arrival]);
    // Answered within the 10 s limit: delivered, not retried.
    await sleep(QUIET_MS);
    expect(slow.about(created.id)).toHaveLength(1);
    await remove(acme, hooks[0] as NewWebhook);
    await remove(blue, hooks[1] as NewWebhook);
  });
});

describe('a restart', () => {
  it('keeps a delivery under way: after a restart it is tried again, with the same webhook-id and secret', async () => {
    const receiver = await Receiver.start();
    const hook = await register(coral, receiver, { events: ['transfer.requested'] });
    // Down until the stack is back.
    receiver.failNext(1_000, { customerId: 'C-C03' });
    const created = await createTransfer(t, coral, { customerIds: ['C-C03'], toPartnerId: 'P-ACME' });
    const [first] = await receiver.expect(1, created.id);
    const eventId = first?.id ?? '';
    // The try is recorded once its message is gone from the queue; the wake of the next try stays.
    const queue = t.stack.queues.deliveries;
    await poll('the next try queued, the first one done', async () => {
      const wakes = t.stack.sqs.messages(queue).map((message) => JSON.parse(message.body) as { eventId: string; attempt: number });
      const mine = wakes.filter((wake) => wake.eventId === eventId);
      return mine.length > 0 && mine.every((wake) => wake.attempt >= 1) ? true : undefined;
    });
    await t.stop();
    const failedBefore = receiver.about(created.id).length;
    expect(receiver.about(created.id).every((arrival) => arrival.status === 500)).toBe(true);
    expect(failedBefore).toBeLessThanOrEqual(RETRY_SCHEDULE.length);
    expect(await readFile(join(dataDir, 'queues.json'), 'utf8')).toContain(eventId);

    receiver.recover();
    const restartedAt = Date.now();
    t = await startTestStack({ ...stackSettings(true), seedFile: null, stateDir, dataDir });
    const delivered = await poll('the delivery after the restart', async () => receiver.about(created.id).find((arrival) => arrival.status === 200));
    console.log(`Restarted and delivered in ${delivered.at - restartedAt} ms (${failedBefore} failed tries before)`);
    expect(delivered.at).toBeGreaterThan(restartedAt);
    expect(delivered.id).toBe(eventId);
    expectSigned([delivered]);
    expect(delivered.body.transferId).toBe(created.id);
    expect((await webhookList(coral)).webhooks.map((webhook) => webhook.id)).toContain(hook.id);
  });
});
