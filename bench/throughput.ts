/**
 * Throughput end to end: 200 transfers started at once and each driven to completion through the
 * local stack as its partners would (API request, both emailed links opened and signed).
 */
import {
  benchDirectory,
  customerIds,
  errorText,
  markdownTable,
  ms,
  percentile,
  progress,
  runTransfer,
  startBenchStack,
  transferView,
  verdict,
  TransferFailure,
  type BenchSection,
  type TransferRun,
} from './harness.ts';

const TRANSFERS = 200;

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

export async function measureThroughput(): Promise<BenchSection<ThroughputFigures>> {
  const ids = customerIds('C-TP', TRANSFERS);
  progress(`throughput: starting the local stack with ${TRANSFERS} customers`);
  const stack = await startBenchStack({ directory: benchDirectory(ids.map((id) => ({ id, domains: 2, users: 2 }))) });
  const problems: string[] = [];
  const errors: Record<string, number> = {};
  const runs: TransferRun[] = [];
  let wallSeconds = Number.NaN;
  let bus = { perTransfer: Number.NaN, delays: [] as number[], repeats: 0 };
  try {
    await stack.token('P-NEW');
    progress(`throughput: ${TRANSFERS} transfers at once`);
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
    bus = await busFigures(stack.urls.events, new Set(runs.map((run) => run.id)));
    if (bus.repeats > 0) problems.push(`${bus.repeats} events reached the bus more than once`);
  } finally {
    await stack.stop();
  }
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
      'then counted per transfer, and each one\'s delay taken from its change (`occurredAt`) to the bus\'s receipt.',
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
    ],
    problems,
  };
}
