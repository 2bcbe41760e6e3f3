/**
 * Round trips: the AWS calls each API route and each workflow step makes, and how many of them run
 * one after another on its critical path. Every call goes through a proxy (the capacity meter for
 * DynamoDB, recorders of the same kind for SES and Step Functions) that notes which function made it;
 * on AWS each call in sequence is a network round trip the caller waits for. Requests are made one at
 * a time, so a route's window holds only its own function's calls.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { lambdaFunctionReference } from '../local/step-functions/arns.ts';
import { sequentialCalls, type AwsCall } from './call-log.ts';
import {
  NEW_PARTNER,
  OLD_PARTNER,
  benchDirectory,
  customerIds,
  errorText,
  executionHistory,
  markdownTable,
  progress,
  runTransfer,
  startBenchStack,
  verdict,
  type BenchSection,
  type BenchStack,
} from './harness.ts';

export interface RoundTrip {
  /** The route (`POST /transfers`) or the workflow state. */
  what: string;
  function: string;
  calls: number;
  sequential: number;
  operations: string;
  target?: number;
}

export interface RoundTripFigures {
  routes: RoundTrip[];
  steps: RoundTrip[];
}

/**
 * Each call is held this long in its proxy: local calls take a few ms, less than the SDK takes to send
 * the next one, so without it calls made in parallel would not overlap and would look sequential.
 */
const HOLD_MS = 40;

/** The targets: calls in sequence on the critical path. */
const TARGETS: Record<string, number> = {
  'GET /transfers/{id}': 2,
  'POST /transfers/check': 2,
  'GET /transfers/{id}/record': 2,
  'POST /transfers/{id}/release': 4,
  'POST /transfers/{id}/acceptance': 4,
  'POST /approvals/{secret} (decision)': 4,
  'POST /transfers': 5,
  'POST /transfers (50 customers)': 5,
};

function describeCalls(calls: readonly AwsCall[]): string {
  const counts = new Map<string, number>();
  for (const call of [...calls].sort((a, b) => a.start - b.start)) {
    const name = `${call.service}:${call.operation}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].map(([name, count]) => (count > 1 ? `${name} ×${count}` : name)).join(', ');
}

function entry(what: string, fn: string, calls: readonly AwsCall[]): RoundTrip {
  const target = TARGETS[what];
  return { what, function: fn, calls: calls.length, sequential: sequentialCalls(calls), operations: describeCalls(calls), ...(target === undefined ? {} : { target }) };
}

/** Runs one request and takes the calls its function made meanwhile. */
async function measure<T>(stack: BenchStack, results: RoundTrip[], what: string, fn: string, request: () => Promise<T>): Promise<T> {
  const log = stack.calls;
  if (log === undefined) throw new Error('The round-trip benchmark needs the call log');
  const from = performance.now();
  const answer = await request();
  // The proxies log a call once its answer has left them: a moment later than the caller sees it.
  await new Promise((resolve) => setTimeout(resolve, HOLD_MS + 50));
  results.push(entry(what, fn, log.by(fn, from, performance.now())));
  return answer;
}

function expectStatus(answer: { status: number; body?: unknown }, status: number, what: string): void {
  if (answer.status !== status) throw new Error(`${what} answered ${answer.status}: ${JSON.stringify(answer.body ?? '').slice(0, 200)}`);
}

/** Each Lambda task of an execution: its state, function and window (epoch ms), from the history. */
function taskWindows(history: readonly HistoryEvent[]): Array<{ state: string; fn: string; from: number; to: number }> {
  const windows: Array<{ state: string; fn: string; from: number; to: number }> = [];
  let state = '';
  let open: { state: string; fn: string; from: number } | undefined;
  for (const event of history) {
    const at = event.timestamp instanceof Date ? event.timestamp.getTime() : 0;
    if (event.stateEnteredEventDetails?.name) state = event.stateEnteredEventDetails.name;
    if (event.type === 'TaskScheduled') {
      const parameters = JSON.parse(event.taskScheduledEventDetails?.parameters ?? '{}') as { FunctionName?: string };
      open = { state, fn: lambdaFunctionReference(String(parameters.FunctionName ?? '')).name, from: at };
    }
    if ((event.type === 'TaskSucceeded' || event.type === 'TaskFailed' || event.type === 'TaskTimedOut') && open) {
      windows.push({ ...open, to: at });
      open = undefined;
    }
  }
  return windows;
}

async function scenario(stack: BenchStack): Promise<RoundTripFigures> {
  const routes: RoundTrip[] = [];
  const newToken = await stack.token(NEW_PARTNER.id);
  const oldToken = await stack.token(OLD_PARTNER.id);
  const [first, second, third] = customerIds('C-RT', 3);
  // One transfer end to end first: every function has started once, and is warm.
  await runTransfer(stack, customerIds('C-WARM', 1));

  const created = await measure(stack, routes, 'POST /transfers', 'create-transfer', () =>
    stack.client.call('POST', '/transfers', newToken, { customerIds: [first], toPartnerId: NEW_PARTNER.id }),
  );
  expectStatus(created, 201, 'POST /transfers');
  const id = String((created.body as { id: string }).id);
  expectStatus(await measure(stack, routes, 'GET /transfers/{id}', 'get-transfer', () => stack.client.call('GET', `/transfers/${id}`, newToken)), 200, 'GET /transfers/{id}');
  expectStatus(
    await measure(stack, routes, 'POST /transfers/check', 'check-transfer', () =>
      stack.client.call('POST', '/transfers/check', newToken, { customerIds: [second], toPartnerId: NEW_PARTNER.id }),
    ),
    200,
    'POST /transfers/check',
  );
  expectStatus(
    await measure(stack, routes, 'GET /transfers/{id}/record', 'get-record', () => stack.client.call('GET', `/transfers/${id}/record`, newToken)),
    200,
    'GET /transfers/{id}/record',
  );
  expectStatus(await measure(stack, routes, 'GET /transfers', 'list-transfers', () => stack.client.call('GET', '/transfers?limit=20', newToken)), 200, 'GET /transfers');
  expectStatus(await measure(stack, routes, 'GET /customers/{id}', 'get-customer', () => stack.client.call('GET', `/customers/${String(second)}`, oldToken)), 200, 'GET /customers/{id}');

  // The release is waited for once the workflow has emailed its link (the step's token is stored).
  const releaseLink = await stack.mailbox.link(id, 'release');
  await measure(stack, routes, 'GET /approvals/{secret}', 'approval-page', () => stack.client.openLink(releaseLink));
  expectStatus(
    await measure(stack, routes, 'POST /transfers/{id}/release', 'decide', () =>
      stack.client.call('POST', `/transfers/${id}/release`, oldToken, { decision: 'release', transferDate: 'immediate', signedBy: 'Olivia Oldfield' }),
    ),
    200,
    'POST /transfers/{id}/release',
  );
  const acceptLink = await stack.mailbox.link(id, 'acceptance');
  expectStatus(
    await measure(stack, routes, 'POST /approvals/{secret} (decision)', 'approval-page', () =>
      stack.client.postForm(acceptLink, { decision: 'accept', signedBy: 'Nathan Newman', acknowledge: 'on' }),
    ),
    200,
    'POST /approvals/{secret}',
  );
  const end = await stack.executions.finished(id);
  if (end.status !== 'SUCCEEDED') throw new Error(`The execution of ${id} ended ${end.status}`);

  const other = await stack.client.call('POST', '/transfers', newToken, { customerIds: [third], toPartnerId: NEW_PARTNER.id });
  expectStatus(other, 201, 'POST /transfers');
  const otherId = String((other.body as { id: string }).id);
  await stack.mailbox.link(otherId, 'release');
  expectStatus(
    await measure(stack, routes, 'POST /transfers/{id}/cancel', 'cancel-transfer', () => stack.client.call('POST', `/transfers/${otherId}/cancel`, newToken, { reason: 'benchmark' })),
    200,
    'POST /transfers/{id}/cancel',
  );

  // Filed once the measured execution has ended, so that no step of it runs at the same time.
  await measure(stack, routes, 'POST /transfers (50 customers)', 'create-transfer', async () => {
    const many = await stack.client.call('POST', '/transfers', newToken, { customerIds: customerIds('C-RT-MANY', 50), toPartnerId: NEW_PARTNER.id });
    expectStatus(many, 201, 'POST /transfers (50 customers)');
    return many;
  });

  // Workflow steps of the measured transfer, each in its task's window (history times are epoch ms).
  const log = stack.calls;
  const steps: RoundTrip[] = [];
  for (const window of taskWindows(await executionHistory(stack, id))) {
    const calls = log?.by(window.fn, window.from - performance.timeOrigin - 5, window.to - performance.timeOrigin + 5) ?? [];
    steps.push(entry(window.state, window.fn, calls));
  }
  return { routes, steps };
}

export async function measureRoundTrips(): Promise<BenchSection<RoundTripFigures>> {
  const problems: string[] = [];
  const ids = [...customerIds('C-WARM', 1), ...customerIds('C-RT', 3), ...customerIds('C-RT-MANY', 50)];
  const stack = await startBenchStack({
    directory: benchDirectory(ids.map((id) => ({ id, domains: 3, users: 3 }))),
    meterCapacity: true,
    recordCalls: true,
    callHoldMs: HOLD_MS,
  });
  let figures: RoundTripFigures = { routes: [], steps: [] };
  try {
    if (stack.capacity) stack.capacity.exact = false;
    progress('round trips: one transfer, each route and step measured alone');
    figures = await scenario(stack);
  } catch (error) {
    problems.push(`The round-trip scenario did not complete: ${errorText(error)}`);
  } finally {
    await stack.stop();
  }
  const row = (r: RoundTrip) => [r.what, r.function, r.calls, r.sequential, r.target === undefined ? '' : `≤ ${r.target} ${verdict(r.sequential <= r.target)}`, r.operations];
  const header = ['route or step', 'function', 'AWS calls', 'in sequence', 'target', 'calls (service:operation)'];
  const missed = figures.routes.filter((r) => r.target !== undefined && r.sequential > r.target);
  return {
    title: 'Round trips on the critical path',
    method: [
      'Every AWS call of the functions goes through a proxy on loopback: the capacity meter for DynamoDB, and recorders of the same',
      'kind in front of the SES emulator and the local Step Functions API. The local twin puts each function\'s name in its SDK',
      'User-Agent (`app/<name>`), so a call is attributed to the function that made it. Each proxy holds every call 40 ms, a',
      'stand-in for a network round trip, so that calls made in parallel overlap (local calls take less time than the SDK takes',
      'to send the next one). Routes are called one at a time on warm',
      'functions; a workflow step\'s calls are those its function made between the task\'s scheduling and its end in the execution',
      'history. "In sequence" is the longest chain of calls each starting after the previous one ended: calls made in parallel',
      'count once. On AWS each of those is a network round trip (a few ms inside a region).',
    ].join(' '),
    tables: [markdownTable(header, figures.routes.map(row)), markdownTable(header, figures.steps.map(row))],
    readings: [
      missed.length === 0
        ? `Every route with a target is within it (GET /transfers/{id}, the check and the record ≤ 2, a decision ≤ 4, POST /transfers ≤ 5).`
        : `Over target: ${missed.map((r) => `${r.what} (${r.sequential} > ${r.target ?? ''})`).join('; ')}.`,
    ],
    problems,
    figures,
  };
}
