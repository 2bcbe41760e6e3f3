/**
 * The operator's reading of an execution history and a transfer's own history: the current state,
 * and one timeline of state entries and exits (with durations), task attempts, retries, errors,
 * catches and redrives, merged with the transfer's events. Pure functions; everything they return
 * is redacted (no task token, secret or bearer token) and safe to print or to put in a page as text.
 */
import type { HistoryEvent as SfnHistoryEvent } from '@aws-sdk/client-sfn';
import { lambdaFunctionReference } from '../step-functions/arns.ts';
import type { EventView } from './event-deliveries.ts';
import { oneLine, redactJsonText, redactValue } from './redact.ts';

export interface PartyView {
  id: string;
  name: string;
}

/** The part of a transfer (as the product's API returns it) the operator view reads. */
export interface TransferLike {
  id: string;
  status: string;
  customers: { id: string; name: string }[];
  fromPartner: PartyView;
  toPartner: PartyView;
  requestedDate: string | null;
  transferDate: string | null;
  immediate: boolean;
  createdAt: string;
  updatedAt: string;
  ticketId?: string | null;
  note?: string | null;
  outcomes?: { customerId: string; outcome: string; reason?: string }[];
  billing?: { advice?: string };
  decline?: { step: string; reasonCode: string; reason: string | null; signedBy: string; at: string };
  history?: TransferHistoryEvent[];
}

export interface TransferHistoryEvent {
  at: string;
  type: string;
  actor: { kind: string; partnerId?: string; name?: string };
  detail: Record<string, unknown>;
}

export interface ExecutionFacts {
  name: string;
  status: string;
  startDate: string | null;
  stopDate: string | null;
  redriveCount: number;
  redriveDate: string | null;
  redriveStatus: string | null;
  error: string | null;
  cause: string | null;
}

export interface CurrentState {
  /** The last state entered and not exited (where a running execution is, or where a failed one stopped). */
  state: string | null;
  since: string | null;
  /** What to show: the open state while running, else the end status (with the state it stopped on). */
  label: string;
}

export interface ExecutionView extends ExecutionFacts, CurrentState {}

export interface TransferRow {
  id: string;
  status: string;
  customers: { id: string; name: string }[];
  fromPartner: PartyView;
  toPartner: PartyView;
  requestedDate: string | null;
  transferDate: string | null;
  immediate: boolean;
  createdAt: string;
  updatedAt: string;
  execution: ExecutionView | null;
}

export type Tone = 'info' | 'ok' | 'warn' | 'error';

export interface TimelineEntry {
  /** Stable across refreshes: `x<event id>` for the execution, `t<index>` for the transfer. */
  id: string;
  source: 'execution' | 'transfer';
  at: string;
  /** Raw type: a Step Functions history event type or a transfer history type. */
  type: string;
  /** A short label: "Entered", "Exited", "Task failed", "Retried", "RELEASED", … */
  event: string;
  state: string | null;
  detail: string;
  durationMs: number | null;
  tone: Tone;
  /** The redacted payload of the event (input, output, parameters, cause, detail), pretty JSON. */
  data: string | null;
}

export interface TransferDetailView {
  transfer: TransferRow & {
    ticketId: string | null;
    note: string | null;
    outcomes: { customerId: string; outcome: string; reason?: string }[];
    billingAdvice: string | null;
    decline: { step: string; reasonCode: string; reason: string | null; signedBy: string; at: string } | null;
    /** Addresses SES reported bounced (or complained about), each with whose contact it is. */
    bounced: { address: string; partnerId: string | null }[];
    /** Parties every contact of which bounced: the transfer cannot reach them by email. */
    unreachable: string[];
  };
  execution: ExecutionView | null;
  timeline: TimelineEntry[];
  /** The transfer's outbox events in order, each with its webhook deliveries. */
  events: EventView[];
}

const TERMINAL_EXECUTION = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

function iso(date: Date | undefined): string {
  return (date ?? new Date(0)).toISOString();
}

/** Where the execution is: the open state while running; the end status (and the state it stopped on) after. */
export function currentState(events: readonly SfnHistoryEvent[], status: string): CurrentState {
  const open: { name: string; since: string }[] = [];
  for (const event of events) {
    const type: string = event.type ?? '';
    if (type === 'ExecutionRedriven') {
      open.length = 0;
    } else if (type.endsWith('StateEntered')) {
      open.push({ name: event.stateEnteredEventDetails?.name ?? '?', since: iso(event.timestamp) });
    } else if (type.endsWith('StateExited') || type === 'StateCaught') {
      // A caught error leaves its state for the catcher's Next.
      const name = type === 'StateCaught' ? event.evaluationFailedEventDetails?.state : event.stateExitedEventDetails?.name;
      const at = open.map((s) => s.name).lastIndexOf(name ?? '');
      if (at !== -1) open.splice(at, 1);
    }
  }
  const last = open.at(-1);
  const state = last?.name ?? null;
  const since = last?.since ?? null;
  if (!TERMINAL_EXECUTION.has(status)) return { state, since, label: state ?? status };
  return { state, since, label: state && status !== 'SUCCEEDED' ? `${status} at ${state}` : status };
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const both = (big: number, bigUnit: string, small: number, smallUnit: string) => (small === 0 ? `${big} ${bigUnit}` : `${big} ${bigUnit} ${small} ${smallUnit}`);
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return both(minutes, 'min', Math.round(seconds % 60), 's');
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return both(hours, 'h', minutes % 60, 'min');
  return both(Math.floor(hours / 24), 'd', hours % 24, 'h');
}

/** The message of a Lambda error cause (`{"errorType","errorMessage","trace"}`), else the cause itself. */
function causeMessage(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed: unknown = JSON.parse(cause);
    if (typeof parsed === 'object' && parsed !== null && 'errorMessage' in parsed && typeof parsed.errorMessage === 'string') {
      return parsed.errorMessage;
    }
  } catch {
    // not JSON: the text itself
  }
  return cause;
}

function errorLine(error: string | undefined, cause: string | undefined): string {
  const message = causeMessage(cause);
  return oneLine([error, message].filter((part) => part !== undefined && part !== '').join(': '), 240);
}

/** The function a task invokes, from its (redacted) parameters. */
function taskTarget(parameters: string | undefined, resource: string | undefined): string {
  let functionName = '';
  if (parameters) {
    try {
      const parsed: unknown = JSON.parse(parameters);
      if (typeof parsed === 'object' && parsed !== null && 'FunctionName' in parsed && typeof parsed.FunctionName === 'string') {
        // The function's name, whether the task names it plainly or by a (qualified) ARN.
        functionName = lambdaFunctionReference(parsed.FunctionName).name;
      }
    } catch {
      // unparseable parameters: no function name
    }
  }
  const waits = resource?.endsWith('.waitForTaskToken') ?? false;
  return [functionName || resource || 'task', waits ? 'waits for a task token' : ''].filter(Boolean).join(', ');
}

/**
 * A compact one-line rendering of a (redacted) JSON payload, for a timeline's detail column; a Lambda
 * invocation's result shows its Payload only.
 */
function compact(text: string | undefined, max = 120): string {
  if (!text) return '';
  try {
    const parsed: unknown = JSON.parse(text);
    const payload = typeof parsed === 'object' && parsed !== null && 'StatusCode' in parsed && 'Payload' in parsed ? parsed.Payload : parsed;
    return payload === null ? '' : oneLine(JSON.stringify(redactValue(payload)), max);
  } catch {
    return oneLine(text, max);
  }
}

/** The execution history as timeline entries (task starts are left out: they follow their scheduling at once). */
export function executionTimeline(events: readonly SfnHistoryEvent[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const open: { name: string; at: number }[] = [];
  const add = (event: SfnHistoryEvent, entry: Omit<TimelineEntry, 'id' | 'source' | 'at' | 'type' | 'state'> & { state?: string | null }) => {
    entries.push({
      id: `x${event.id ?? entries.length}`,
      source: 'execution',
      at: iso(event.timestamp),
      type: event.type ?? 'Unknown',
      ...entry,
      state: entry.state ?? open.at(-1)?.name ?? null,
    });
  };
  for (const event of events) {
    const type: string = event.type ?? '';
    const at = event.timestamp?.getTime() ?? 0;
    const base = { durationMs: null, data: null as string | null, tone: 'info' as Tone };
    if (type.endsWith('StateEntered')) {
      const name = event.stateEnteredEventDetails?.name ?? '?';
      open.push({ name, at });
      add(event, { ...base, event: 'Entered', state: name, detail: `${type.slice(0, -'StateEntered'.length)} state`, data: redactJsonText(event.stateEnteredEventDetails?.input) });
      continue;
    }
    if (type.endsWith('StateExited')) {
      const name = event.stateExitedEventDetails?.name ?? '?';
      const index = open.map((s) => s.name).lastIndexOf(name);
      const entered = index === -1 ? undefined : open.splice(index, 1)[0];
      const durationMs = entered === undefined ? null : Math.max(0, at - entered.at);
      add(event, {
        ...base,
        event: 'Exited',
        state: name,
        detail: durationMs === null ? '' : `after ${formatDuration(durationMs)}`,
        durationMs,
        data: redactJsonText(event.stateExitedEventDetails?.output),
      });
      continue;
    }
    switch (type) {
      case 'ExecutionStarted':
        add(event, { ...base, event: 'Execution started', state: null, detail: '', data: redactJsonText(event.executionStartedEventDetails?.input) });
        break;
      case 'ExecutionSucceeded':
        add(event, { ...base, tone: 'ok', event: 'Execution succeeded', state: null, detail: '', data: redactJsonText(event.executionSucceededEventDetails?.output) });
        break;
      case 'ExecutionFailed': {
        const d = event.executionFailedEventDetails;
        add(event, { ...base, tone: 'error', event: 'Execution failed', detail: errorLine(d?.error, d?.cause), data: redactJsonText(d?.cause) });
        break;
      }
      case 'ExecutionAborted': {
        const d = event.executionAbortedEventDetails;
        add(event, { ...base, tone: 'warn', event: 'Execution stopped', detail: errorLine(d?.error, d?.cause), data: redactJsonText(d?.cause) });
        break;
      }
      case 'ExecutionTimedOut': {
        const d = event.executionTimedOutEventDetails;
        add(event, { ...base, tone: 'error', event: 'Execution timed out', detail: errorLine(d?.error, d?.cause), data: null });
        break;
      }
      case 'ExecutionRedriven':
        // A redrive resumes from the state that failed; the states left open by the failed run are closed.
        open.length = 0;
        add(event, { ...base, tone: 'warn', event: 'Execution redriven', state: null, detail: `redrive #${event.executionRedrivenEventDetails?.redriveCount ?? '?'}` });
        break;
      case 'TaskScheduled': {
        const d = event.taskScheduledEventDetails;
        const timeout = d?.timeoutInSeconds === undefined ? '' : `, timeout ${formatDuration(d.timeoutInSeconds * 1000)}`;
        add(event, { ...base, event: 'Task scheduled', detail: `${taskTarget(d?.parameters, d?.resource)}${timeout}`, data: redactJsonText(d?.parameters) });
        break;
      }
      case 'LambdaFunctionScheduled': {
        const d = event.lambdaFunctionScheduledEventDetails;
        const timeout = d?.timeoutInSeconds === undefined ? '' : `, timeout ${formatDuration(d.timeoutInSeconds * 1000)}`;
        add(event, { ...base, event: 'Task scheduled', detail: `${lambdaFunctionReference(d?.resource ?? 'function').name}${timeout}`, data: redactJsonText(d?.input) });
        break;
      }
      case 'TaskSucceeded':
        add(event, { ...base, tone: 'ok', event: 'Task succeeded', detail: compact(event.taskSucceededEventDetails?.output), data: redactJsonText(event.taskSucceededEventDetails?.output) });
        break;
      case 'LambdaFunctionSucceeded':
        add(event, { ...base, tone: 'ok', event: 'Task succeeded', detail: compact(event.lambdaFunctionSucceededEventDetails?.output), data: redactJsonText(event.lambdaFunctionSucceededEventDetails?.output) });
        break;
      case 'TaskFailed': {
        const d = event.taskFailedEventDetails;
        add(event, { ...base, tone: 'error', event: 'Task failed', detail: errorLine(d?.error, d?.cause), data: redactJsonText(d?.cause) });
        break;
      }
      case 'LambdaFunctionFailed': {
        const d = event.lambdaFunctionFailedEventDetails;
        add(event, { ...base, tone: 'error', event: 'Task failed', detail: errorLine(d?.error, d?.cause), data: redactJsonText(d?.cause) });
        break;
      }
      case 'TaskTimedOut': {
        const d = event.taskTimedOutEventDetails;
        add(event, { ...base, tone: 'warn', event: 'Task timed out', detail: errorLine(d?.error, d?.cause), data: null });
        break;
      }
      case 'LambdaFunctionTimedOut': {
        const d = event.lambdaFunctionTimedOutEventDetails;
        add(event, { ...base, tone: 'warn', event: 'Task timed out', detail: errorLine(d?.error, d?.cause), data: null });
        break;
      }
      case 'StateRetried':
      case 'StateCaught': {
        const d = event.evaluationFailedEventDetails;
        if (type === 'StateCaught') {
          const index = open.map((s) => s.name).lastIndexOf(d?.state ?? '');
          if (index !== -1) open.splice(index, 1);
        }
        add(event, {
          ...base,
          tone: 'warn',
          event: type === 'StateRetried' ? 'Retried' : 'Caught',
          state: d?.state ?? null,
          detail: oneLine([errorLine(d?.error, d?.cause), d?.location].filter((part) => part !== undefined && part !== '').join(' → '), 240),
          data: redactJsonText(d?.cause),
        });
        break;
      }
      case 'TaskStarted':
      case 'LambdaFunctionStarted':
        break;
      default:
        add(event, { ...base, event: type, detail: '' });
    }
  }
  return entries;
}

const QUIET_DETAIL_KEYS = new Set(['statement', 'userAgent', 'sourceIp', 'note', 'billing']);

function detailValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(detailValue).join(', ');
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    if (typeof record.customerId === 'string' && typeof record.outcome === 'string') {
      return `${record.customerId} ${record.outcome}${typeof record.reason === 'string' ? ` (${record.reason})` : ''}`;
    }
    return JSON.stringify(value);
  }
  return String(value);
}

function actorText(actor: TransferHistoryEvent['actor']): string {
  if (actor.kind === 'system') return 'workflow';
  const who = actor.name ?? actor.kind;
  return actor.partnerId ? `${who} (${actor.partnerId})` : `${who} (${actor.kind})`;
}

/** The transfer's own history as timeline entries. */
export function transferTimeline(history: readonly TransferHistoryEvent[]): TimelineEntry[] {
  return history.map((event, index) => {
    const detail = redactValue(event.detail) as Record<string, unknown>;
    const facts = Object.entries(detail)
      .filter(([key, value]) => !QUIET_DETAIL_KEYS.has(key) && value !== null && value !== undefined && value !== '' && value !== false
        && !(Array.isArray(value) && value.length === 0))
      .map(([key, value]) => `${key}=${detailValue(value)}`);
    const tone: Tone = /FAIL|DECLIN|EXPIRED|CANCEL/.test(event.type) ? 'warn' : /COMPLETED|MOVED|ACCEPTED|RELEASED|CONFIRMATIONS_SENT/.test(event.type) ? 'ok' : 'info';
    return {
      id: `t${index}`,
      source: 'transfer',
      at: event.at,
      type: event.type,
      event: event.type,
      state: null,
      detail: oneLine([`by ${actorText(event.actor)}`, ...facts].join('; '), 240),
      durationMs: null,
      tone,
      data: Object.keys(detail).length === 0 ? null : JSON.stringify(detail, null, 2),
    };
  });
}

/** Both timelines in time order; at the same instant the execution's events come first. */
export function mergeTimelines(execution: readonly TimelineEntry[], transfer: readonly TimelineEntry[]): TimelineEntry[] {
  return [...execution, ...transfer]
    .map((entry, order) => ({ entry, order, time: Date.parse(entry.at) }))
    .sort((a, b) => (a.time - b.time) || (a.order - b.order))
    .map(({ entry }) => entry);
}

export function transferRow(transfer: TransferLike, execution: ExecutionView | null): TransferRow {
  return {
    id: transfer.id,
    status: transfer.status,
    customers: transfer.customers.map((c) => ({ id: c.id, name: c.name })),
    fromPartner: { id: transfer.fromPartner.id, name: transfer.fromPartner.name },
    toPartner: { id: transfer.toPartner.id, name: transfer.toPartner.name },
    requestedDate: transfer.requestedDate,
    transferDate: transfer.transferDate,
    immediate: transfer.immediate,
    createdAt: transfer.createdAt,
    updatedAt: transfer.updatedAt,
    execution,
  };
}

/** The date column: the agreed date (or "immediate"), else the date asked for. */
export function dateText(row: Pick<TransferRow, 'immediate' | 'transferDate' | 'requestedDate'>): string {
  if (row.immediate) return row.transferDate ? `${row.transferDate} (immediate)` : 'immediate';
  if (row.transferDate) return row.transferDate;
  if (row.requestedDate) return `${row.requestedDate} (asked)`;
  return '—';
}
