/**
 * The HTTP API under load: `GET /transfers/{id}` and `POST /transfers` on the local stack at 1, 16
 * and 64 connections, with autocannon in this process and the stack in its own.
 */
import { setTimeout as delay } from 'node:timers/promises';
import autocannon from 'autocannon';
import {
  NEW_PARTNER,
  benchDirectory,
  customerIds,
  markdownTable,
  ms,
  progress,
  startBenchStack,
  type BenchSection,
  type BenchStack,
} from './harness.ts';

const CONNECTIONS = [1, 16, 64] as const;
const DURATION_SECONDS = 5;
/** Sequential requests of each route before the runs, so that the first run does not pay for JIT and connection setup. */
const WARMUP_REQUESTS = 10;
/** Free customers for the POSTs: each request needs its own (one active transfer per customer). */
const POOL_SIZE = 3000;
/** How long to wait at most for the stack to finish what a run left in flight. */
const DRAIN_TIMEOUT_MS = 60_000;

export interface ApiRun {
  route: string;
  connections: number;
  /** Sent during the run; those not answered by its end are abandoned (and drained before the next run). */
  sent: number;
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
}

export interface ApiFigures {
  durationSeconds: number;
  runs: ApiRun[];
  /** POSTs sent after the pool of free customers ran out (they would be refused with 409). */
  poolExhaustedRequests: number;
}

function summarize(route: string, connections: number, result: autocannon.Result): ApiRun {
  const requests = result.latency.totalCount;
  return {
    route,
    connections,
    sent: result.requests.sent,
    requests,
    requestsPerSecond: requests / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, stats]) => [code, stats.count])),
  };
}

async function readOne(stack: BenchStack, token: string, transferId: string, connections: number): Promise<ApiRun> {
  const result = await autocannon({
    url: `${stack.urls.api}/transfers/${transferId}`,
    connections,
    duration: DURATION_SECONDS,
    headers: { authorization: `Bearer ${token}` },
  });
  return summarize('GET /transfers/{id}', connections, result);
}

/** Hands out each free customer once, across connections and runs. */
class CustomerPool {
  private next = 0;
  exhausted = 0;

  constructor(private readonly ids: readonly string[]) {}

  take(): string {
    const id = this.ids[this.next];
    if (id === undefined) {
      this.exhausted += 1;
      return this.ids[this.ids.length - 1] ?? 'none';
    }
    this.next += 1;
    return id;
  }
}

async function requestMany(stack: BenchStack, token: string, pool: CustomerPool, connections: number): Promise<ApiRun> {
  const result = await autocannon({
    url: stack.urls.api,
    connections,
    duration: DURATION_SECONDS,
    requests: [
      {
        method: 'POST',
        path: '/transfers',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ customerIds: [pool.take()], toPartnerId: NEW_PARTNER.id }) }),
      },
    ],
  });
  return summarize('POST /transfers', connections, result);
}

/**
 * Waits until the stack has finished what the last run left behind: every POST that was still in flight
 * has started its execution and that execution has emailed its release link (one email per execution).
 */
async function drained(stack: BenchStack): Promise<boolean> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    const [executions, emails] = await Promise.all([stack.executions.count(), stack.mailbox.count()]);
    const now = `${executions}/${emails}`;
    if (executions === emails && now === last) return true;
    last = now;
    await delay(500);
  }
  return false;
}

export async function measureApi(): Promise<BenchSection<ApiFigures>> {
  const [readTarget = 'C-READ-00001'] = customerIds('C-READ', 1);
  const free = customerIds('C-FREE', POOL_SIZE);
  const directory = benchDirectory([readTarget, ...free].map((id) => ({ id, domains: 1, users: 0 })));
  progress(`api: starting the local stack with ${POOL_SIZE + 1} customers`);
  const stack = await startBenchStack({ directory });
  const runs: ApiRun[] = [];
  const pool = new CustomerPool(free);
  const problems: string[] = [];
  try {
    const token = await stack.token(NEW_PARTNER.id);
    const created = await stack.client.call('POST', '/transfers', token, { customerIds: [readTarget], toPartnerId: NEW_PARTNER.id });
    const id = (created.body as { id?: unknown } | null)?.id;
    if (created.status !== 201 || typeof id !== 'string') throw new Error(`POST /transfers answered ${created.status}`);
    for (let i = 0; i < WARMUP_REQUESTS; i += 1) {
      await stack.client.call('GET', `/transfers/${id}`, token);
      await stack.client.call('POST', '/transfers', token, { customerIds: [pool.take()], toPartnerId: NEW_PARTNER.id });
    }
    if (!(await drained(stack))) problems.push('The warm-up requests did not settle within a minute');
    for (const connections of CONNECTIONS) {
      progress(`api: GET /transfers/{id} at ${connections} connections`);
      runs.push(await readOne(stack, token, id, connections));
      // Reads left in flight finish within moments; give them one.
      await delay(1000);
    }
    for (const connections of CONNECTIONS) {
      progress(`api: POST /transfers at ${connections} connections`);
      runs.push(await requestMany(stack, token, pool, connections));
      if (!(await drained(stack))) problems.push(`POSTs left in flight at ${connections} connections did not settle within a minute`);
    }
  } finally {
    await stack.stop();
  }
  if (pool.exhausted > 0) problems.push(`The ${POOL_SIZE} free customers ran out: ${pool.exhausted} POSTs reused a customer (409)`);

  const readings = runs.map((run) => {
    const failed = run.errors + run.non2xx;
    const codes = Object.entries(run.statusCodes)
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, count]) => `${count}× ${code}`)
      .join(', ');
    return (
      `${run.route} at ${run.connections}: ${run.requestsPerSecond.toFixed(0)} requests/s, p50 ${ms(run.p50Ms)}, p99 ${ms(run.p99Ms)}; ` +
      (failed === 0 ? 'no errors (target: none): met.' : `${run.errors} errors (${run.timeouts} timeouts), ${run.non2xx} non-2xx${codes ? ` (${codes})` : ''} (target: none): NOT met.`)
    );
  });
  return {
    title: 'HTTP API under load',
    method:
      `autocannon (programmatic) in the benchmark process against the local HTTP API in its own process (JWT checked on every request, ` +
      `handlers in process, DynamoDB Local and the SES emulator as child processes). ${WARMUP_REQUESTS} sequential requests of each route warm the ` +
      `stack up; each run then lasts ${DURATION_SECONDS} s; requests still in flight at its end are not counted ("sent" shows them) and the stack is ` +
      `left to finish them (and the executions they started to send their first email) before the next run. ` +
      `GET reads one transfer with its history. Each POST requests one distinct free customer (a directory of ${POOL_SIZE} seeded customers) and starts ` +
      `an execution, whose first step (storing the task token, emailing the release link) runs in the same process as the API during the later runs.`,
    figures: { durationSeconds: DURATION_SECONDS, runs, poolExhaustedRequests: pool.exhausted },
    tables: [
      markdownTable(
        ['route', 'connections', 'sent', 'answered', 'requests/s', 'p50', 'p99', 'errors (timeouts)', 'non-2xx'],
        runs.map((r) => [
          r.route,
          r.connections,
          r.sent,
          r.requests,
          r.requestsPerSecond.toFixed(1),
          ms(r.p50Ms),
          ms(r.p99Ms),
          `${r.errors} (${r.timeouts})`,
          r.non2xx,
        ]),
      ),
    ],
    readings,
    problems,
  };
}
