/**
 * Throughput end to end: 200 transfers started at once and each driven to completion through the
 * local stack as its partners would (API request, both emailed links opened and signed).
 */
import {
  benchDirectory,
  customerIds,
  errorText,
  markdownTable,
  NEW_PARTNER,
  OLD_PARTNER,
  ms,
  percentile,
  progress,
  runTransfer,
  startBenchStack,
  transferView,
  verdict,
  TransferFailure,
  type BenchSection,
  type BenchStack,
  type TransferRun,
} from './harness.ts';
import { ENDPOINT_SLOTS, SLOW_ENDPOINT_SLOTS } from '../lambdas/domain/webhook-dispatch.ts';
import { startReceiver, type BenchReceiver } from './webhook-receivers.ts';

const TRANSFERS = 200;
/** How long the slow webhook receiver takes to answer each message. */
const SLOW_ANSWER_MS = 5000;
/** How long the fast receivers' last deliveries are waited for once the transfers completed. */
const DELIVERY_WAIT_MS = 120_000;

export interface ThroughputFigures {
  transfers: number;
  completed: number;
  /** Failures by stage (request, release, acceptance, completion). */
  errors: Record<string, number>;
  /** From the first request to the last completion. */
  wallSeconds: number;
  transfersPerMinute: number;
  acceptanceToCompletionP50Ms: number;
  acceptanceToCompletionP99Ms: number;
  requestToCompletionP50Ms: number;
  requestToCompletionP99Ms: number;
  /** Events published to the bus per completed transfer (each once). */
  eventsPerTransfer: number;
  /** From a change's record (`occurredAt`) to the bus's receipt of its event. */
  eventDelayP50Ms: number;
  eventDelayP99Ms: number;
  /** Messages each fast webhook received per transfer (each event once). */
  webhookMessagesPerTransfer: number;
  /** From a change's record to its message's first arrival at the two fast receivers. */
  webhookDelayP50Ms: number;
  webhookDelayP99Ms: number;
  /** The slow receiver (5 s per answer): messages it had received when the fast ones were done, and their delay. */
  slowDelivered: number;
  slowDelayP50Ms: number;
  /** Requests beyond the first per message at the fast receivers (repeats; none expected). */
  webhookRepeats: number;
  /** The fast receivers' delays in a second run without the slow receiver. */
  controlWebhookDelayP50Ms: number;
  controlWebhookDelayP99Ms: number;
}

interface BusEvent {
  receivedAt: string;
  detail: { id: string; transferId: string; occurredAt: string };
}

/** What the local bus received about these transfers: events per transfer, and each one's delay. */
async function busFigures(eventsUrl: string, transferIds: ReadonlySet<string>): Promise<{ perTransfer: number; delays: number[]; repeats: number }> {
  const { events } = (await (await fetch(`${eventsUrl}/events`)).json()) as { events: BusEvent[] };
  const ours = events.filter((event) => transferIds.has(event.detail.transferId));
  const ids = new Set(ours.map((event) => event.detail.id));
  return {
    perTransfer: transferIds.size === 0 ? Number.NaN : ours.length / transferIds.size,
    delays: ours.map((event) => Date.parse(event.receivedAt) - Date.parse(event.detail.occurredAt)),
    repeats: ours.length - ids.size,
  };
}

/** The delays of what reached these receivers about these transfers. */
function arrivalsOf(receivers: readonly BenchReceiver[], transferIds: ReadonlySet<string>): { count: number; delays: number[] } {
  const arrivals = receivers.flatMap((receiver) => [...receiver.arrivals.values()].filter((arrival) => transferIds.has(arrival.transferId)));
  return { count: arrivals.length, delays: arrivals.map((arrival) => arrival.arrivedAt - arrival.occurredAt) };
}

/** Registers a webhook for every event of the partner's transfers. */
async function register(stack: BenchStack, partnerId: string, url: string): Promise<void> {
  const answer = await stack.client.call('POST', '/webhooks', await stack.token(partnerId), { url });
  if (answer.status !== 201) throw new Error(`POST /webhooks for ${partnerId} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 200)}`);
}

interface Round {
  runs: TransferRun[];
  errors: Record<string, number>;
  problems: string[];
  wallSeconds: number;
  bus: { perTransfer: number; delays: number[]; repeats: number };
  fastReceivers: number;
  webhooks: { fast: { count: number; delays: number[] }; slow: { count: number; delays: number[] }; repeats: number };
}

/** One run of the 200 transfers on a fresh stack, with the slow receiver's webhook registered or not. */
async function runRound(withSlowReceiver: boolean): Promise<Round> {
  const ids = customerIds('C-TP', TRANSFERS);
  progress(`throughput: starting the local stack with ${TRANSFERS} customers`);
  const stack = await startBenchStack({ directory: benchDirectory(ids.map((id) => ({ id, domains: 2, users: 2 }))) });
  const problems: string[] = [];
  const errors: Record<string, number> = {};
  const runs: TransferRun[] = [];
  let wallSeconds = Number.NaN;
  let bus = { perTransfer: Number.NaN, delays: [] as number[], repeats: 0 };
  // Both partners' systems answer at once; the new partner may have a second endpoint that takes 5 s per answer.
  const fast = [await startReceiver(), await startReceiver()];
  const slow = await startReceiver(SLOW_ANSWER_MS);
  let webhooks = { fast: { count: 0, delays: [] as number[] }, slow: { count: 0, delays: [] as number[] }, repeats: 0 };
  try {
    await register(stack, OLD_PARTNER.id, fast[0]?.url ?? '');
    await register(stack, NEW_PARTNER.id, fast[1]?.url ?? '');
    if (withSlowReceiver) await register(stack, NEW_PARTNER.id, slow.url);
    progress(`throughput: ${TRANSFERS} transfers at once, ${withSlowReceiver ? 'with' : 'without'} the slow receiver`);
    const begun = Date.now();
    const ticker = setInterval(() => progress(`throughput: ${runs.length} of ${TRANSFERS} completed`), 10_000);
    const settled = await Promise.allSettled(
      ids.map(async (id) => {
        const run = await runTransfer(stack, [id]);
        runs.push(run);
        return run;
      }),
    ).finally(() => clearInterval(ticker));
    for (const outcome of settled) {
      if (outcome.status === 'fulfilled') continue;
      const stage = outcome.reason instanceof TransferFailure ? outcome.reason.stage : 'unexpected';
      errors[stage] = (errors[stage] ?? 0) + 1;
      if ((errors[stage] ?? 0) <= 3) problems.push(`A transfer failed at ${stage}: ${errorText(outcome.reason)}`);
    }
    const last = Math.max(...runs.map((r) => r.finishedAt));
    wallSeconds = runs.length > 0 ? (last - begun) / 1000 : Number.NaN;
    // After the clock stopped: check each completed execution left its transfer COMPLETED.
    for (const run of runs) {
      const view = await transferView(stack, run.id).catch(() => undefined);
      if (view?.status !== 'COMPLETED') {
        errors.status = (errors.status ?? 0) + 1;
        problems.push(`Transfer ${run.id} ended ${view?.status ?? 'unreadable'}, not COMPLETED`);
      }
    }
    // The relay publishes a completion's event after its batching window: let the last ones arrive.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const transferIds = new Set(runs.map((run) => run.id));
    bus = await busFigures(stack.urls.events, transferIds);
    if (bus.repeats > 0) problems.push(`${bus.repeats} events reached the bus more than once`);
    // Each fast receiver gets every event of every transfer; wait for the last ones.
    const expected = Math.round(bus.perTransfer * transferIds.size) * fast.length;
    const waitUntil = Date.now() + DELIVERY_WAIT_MS;
    while (arrivalsOf(fast, transferIds).count < expected && Date.now() < waitUntil) {
      progress(`throughput: ${arrivalsOf(fast, transferIds).count} of ${expected} webhook messages at the fast receivers, ${arrivalsOf([slow], transferIds).count} at the slow one`);
      await new Promise((resolve) => setTimeout(resolve, 5000));
    }
    webhooks = {
      fast: arrivalsOf(fast, transferIds),
      slow: arrivalsOf([slow], transferIds),
      repeats: fast.reduce((sum, receiver) => sum + receiver.requests - receiver.arrivals.size, 0),
    };
    if (webhooks.fast.count < expected) problems.push(`The fast webhook receivers got ${webhooks.fast.count} of ${expected} messages within ${DELIVERY_WAIT_MS / 1000} s`);
  } finally {
    await stack.stop();
    await Promise.all([...fast, slow].map((receiver) => receiver.close()));
  }
  return { runs, errors, problems, wallSeconds, bus, fastReceivers: fast.length, webhooks };
}

export async function measureThroughput(): Promise<BenchSection<ThroughputFigures>> {
  const { runs, errors, problems, wallSeconds, bus, fastReceivers, webhooks } = await runRound(true);
  // The same run without the slow receiver: what the fast ones get when nothing is slow.
  const control = await runRound(false);
  problems.push(...control.problems.map((problem) => `Without the slow receiver: ${problem}`));
  const failedCount = Object.values(errors).reduce((a, b) => a + b, 0);
  if (failedCount > 0 && !problems.some((p) => p.startsWith('A transfer failed'))) problems.push(`${failedCount} transfers did not complete`);

  const acceptanceToCompletion = runs.map((r) => r.finishedAt - r.acceptedAt);
  const requestToCompletion = runs.map((r) => r.finishedAt - r.requestedAt);
  const completed = runs.length - (errors.status ?? 0);
  const figures: ThroughputFigures = {
    transfers: TRANSFERS,
    completed,
    errors,
    wallSeconds,
    transfersPerMinute: completed / (wallSeconds / 60),
    acceptanceToCompletionP50Ms: percentile(acceptanceToCompletion, 50),
    acceptanceToCompletionP99Ms: percentile(acceptanceToCompletion, 99),
    requestToCompletionP50Ms: percentile(requestToCompletion, 50),
    requestToCompletionP99Ms: percentile(requestToCompletion, 99),
    eventsPerTransfer: bus.perTransfer,
    eventDelayP50Ms: percentile(bus.delays, 50),
    eventDelayP99Ms: percentile(bus.delays, 99),
    webhookMessagesPerTransfer: runs.length === 0 ? Number.NaN : webhooks.fast.count / fastReceivers / runs.length,
    webhookDelayP50Ms: percentile(webhooks.fast.delays, 50),
    webhookDelayP99Ms: percentile(webhooks.fast.delays, 99),
    slowDelivered: webhooks.slow.count,
    slowDelayP50Ms: percentile(webhooks.slow.delays, 50),
    webhookRepeats: webhooks.repeats,
    controlWebhookDelayP50Ms: percentile(control.webhooks.fast.delays, 50),
    controlWebhookDelayP99Ms: percentile(control.webhooks.fast.delays, 99),
  };
  const errorSummary = failedCount === 0 ? 'none' : Object.entries(errors).map(([stage, n]) => `${n} at ${stage}`).join(', ');
  return {
    title: `Throughput end to end (${TRANSFERS} transfers at once)`,
    method:
      `${TRANSFERS} transfers of one customer each (2 domains, 2 users) started at the same moment against one local stack ` +
      '(`maxWaitSeconds: 0`). Each is driven as its partners would: the new partner\'s API request, the release link (from the SES store) ' +
      'opened and signed "immediate", the acceptance link opened and signed. "Completion" is the end of the execution (after re-homing and ' +
      'both confirmations; its stop date from `ListExecutions`); "acceptance" is the moment the acceptance form was answered. Every ' +
      'completed transfer is then read back to check it is COMPLETED. The events the relay published to the local EventBridge API are ' +
      'then counted per transfer, and each one\'s delay taken from its change (`occurredAt`) to the bus\'s receipt. ' +
      'Three partner webhooks receive every event: one of the old partner and one of the new, answering at once, and a second of the new ' +
      `partner that answers each message after ${SLOW_ANSWER_MS / 1000} s (receivers on 127.0.0.1). Each message's delay runs from its change ` +
      'to its first arrival at a receiver; the fast receivers are waited for, the slow one is read as it stands then. ' +
      'A second run on a fresh stack, without the slow receiver, gives the fast receivers\' delays when nothing is slow.',
    figures,
    tables: [
      markdownTable(
        ['transfers', 'completed', 'errors', 'wall time', 'transfers/min', 'acceptance → completion p50', 'p99', 'request → completion p50', 'p99'],
        [
          [
            TRANSFERS,
            completed,
            errorSummary,
            `${wallSeconds.toFixed(1)} s`,
            figures.transfersPerMinute.toFixed(0),
            ms(figures.acceptanceToCompletionP50Ms),
            ms(figures.acceptanceToCompletionP99Ms),
            ms(figures.requestToCompletionP50Ms),
            ms(figures.requestToCompletionP99Ms),
          ],
        ],
      ),
    ],
    readings: [
      `${completed} of ${TRANSFERS} completed, errors: ${errorSummary} (target: none): ${verdict(failedCount === 0 && completed === TRANSFERS)}.`,
      `${figures.transfersPerMinute.toFixed(0)} transfers per minute on this machine, with everything (API, workflow engine, handlers, emulators) on its 2 cores (no target).`,
      `Acceptance to completion: p50 ${ms(figures.acceptanceToCompletionP50Ms)}, p99 ${ms(figures.acceptanceToCompletionP99Ms)} (no target; scheduling, re-homing and both confirmations, while the other transfers run).`,
      `Events: ${figures.eventsPerTransfer.toFixed(1)} per transfer on the bus, each once; from a change to its event on the bus p50 ${ms(figures.eventDelayP50Ms)}, p99 ${ms(figures.eventDelayP99Ms)} (no target; the stream's 1 s batching window included).`,
      `Webhooks: ${figures.webhookMessagesPerTransfer.toFixed(1)} messages per transfer at each fast receiver (${figures.webhookRepeats} repeats); from a change to its message p50 ${ms(figures.webhookDelayP50Ms)}, p99 ${ms(figures.webhookDelayP99Ms)}, beside a receiver taking ${SLOW_ANSWER_MS / 1000} s per answer, which had ${figures.slowDelivered} messages by then (p50 ${ms(figures.slowDelayP50Ms)}: a slow endpoint gets at most ${SLOW_ENDPOINT_SLOTS} tries at once, a quick one ${ENDPOINT_SLOTS}). Without the slow receiver: p50 ${ms(figures.controlWebhookDelayP50Ms)}, p99 ${ms(figures.controlWebhookDelayP99Ms)}. No target; the slow one must not slow the others.`,
    ],
    problems,
  };
}
