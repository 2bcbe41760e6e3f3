import { jsonText, type EngineEvent, type EngineJson } from './engine-types.ts';
import { epochSeconds } from './protocol.ts';
import type { TaskStateInfo } from './run-definition.ts';

/** One attempt of a Task state, reported by the task handler. */
export interface TaskInvocation {
  readonly task: TaskStateInfo;
  readonly parameters: EngineJson;
  readonly timeoutSeconds: number;
  readonly scheduledAt: number;
  succeeded?: { readonly at: number; readonly output: EngineJson };
}

export interface HistoryEventRecord {
  readonly id: number;
  readonly previousEventId: number;
  /** Epoch milliseconds. */
  readonly timestamp: number;
  readonly type: string;
  readonly detailsKey?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface HistoryContext {
  readonly roleArn: string;
  readonly region: string;
  readonly tasks: ReadonlyMap<string, TaskStateInfo>;
}

/** What StopExecution (or closing the server) gave as the reason for an abort. */
export interface AbortDetails {
  readonly error?: string;
  readonly cause?: string;
  /** The run was stopped because the execution failed (e.g. States.DataLimitExceeded), not by StopExecution. */
  readonly failed?: boolean;
}

const DATA_FIELDS = new Set(['input', 'inputDetails', 'output', 'outputDetails', 'parameters']);
const NOT_TRUNCATED = { truncated: false };

export function historyEventToWire(record: HistoryEventRecord, includeExecutionData: boolean): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    id: record.id,
    previousEventId: record.previousEventId,
    timestamp: epochSeconds(record.timestamp),
    type: record.type,
  };
  if (record.detailsKey !== undefined && record.details !== undefined) {
    wire[record.detailsKey] = includeExecutionData
      ? record.details
      : Object.fromEntries(Object.entries(record.details).filter(([key]) => !DATA_FIELDS.has(key)));
  }
  return wire;
}

function causeText(cause: unknown): string {
  return typeof cause === 'string' ? cause : jsonText(cause);
}

/**
 * Turns the engine's event log into Step Functions history events. Task attempts are reported by the
 * task handler, which the engine calls synchronously right after dispatching StateEntered/StateRetried,
 * so an attempt is always known by the time its engine event is converted here.
 */
export class ExecutionHistory {
  private readonly records: HistoryEventRecord[] = [];
  private readonly scheduled = new Map<string, TaskInvocation[]>();
  private readonly running = new Map<string, TaskInvocation>();
  private readonly lastFailure = new Map<string, { error: string; cause: string }>();

  constructor(private readonly context: HistoryContext) {}

  get events(): readonly HistoryEventRecord[] {
    return this.records;
  }

  taskInvoked(invocation: TaskInvocation): void {
    const queue = this.scheduled.get(invocation.task.stateName) ?? [];
    queue.push(invocation);
    this.scheduled.set(invocation.task.stateName, queue);
  }

  /**
   * Starts the part of the history written by a redrive. Attempts of the run before it that were never
   * reported back (the engine may call a task handler once more while it unwinds) are dropped.
   */
  redriven(timestamp: number, redriveCount: number): void {
    this.scheduled.clear();
    this.running.clear();
    this.add(timestamp, 'ExecutionRedriven', 'executionRedrivenEventDetails', { redriveCount });
  }

  /** Converts one engine event; `aborted` gives the details of an ExecutionAborted event. */
  record(event: EngineEvent, aborted: AbortDetails = {}): void {
    switch (event.type) {
      case 'ExecutionStarted':
        this.add(event.timestamp, 'ExecutionStarted', 'executionStartedEventDetails', {
          input: jsonText(event.input),
          inputDetails: NOT_TRUNCATED,
          roleArn: this.context.roleArn,
        });
        return;
      case 'ExecutionSucceeded':
        this.add(event.timestamp, 'ExecutionSucceeded', 'executionSucceededEventDetails', {
          output: jsonText(event.output),
          outputDetails: NOT_TRUNCATED,
        });
        return;
      case 'ExecutionFailed':
        this.add(event.timestamp, 'ExecutionFailed', 'executionFailedEventDetails', {
          error: event.Error,
          cause: causeText(event.Cause),
        });
        return;
      case 'ExecutionAborted':
        if (aborted.failed === true) this.add(event.timestamp, 'ExecutionFailed', 'executionFailedEventDetails', { error: aborted.error, cause: aborted.cause });
        else this.add(event.timestamp, 'ExecutionAborted', 'executionAbortedEventDetails', { error: aborted.error, cause: aborted.cause });
        return;
      case 'ExecutionTimeout':
        this.add(event.timestamp, 'ExecutionTimedOut', 'executionTimedOutEventDetails', {
          error: 'States.Timeout',
          cause: 'The execution exceeded its TimeoutSeconds',
        });
        return;
      case 'StateEntered': {
        const { name, type, input } = event.state;
        this.add(event.timestamp, `${type}StateEntered`, 'stateEnteredEventDetails', {
          name,
          input: jsonText(input),
          inputDetails: NOT_TRUNCATED,
        });
        if (type === 'Task') this.startAttempt(name, event.index);
        return;
      }
      case 'StateExited': {
        const { name, type, output } = event.state;
        if (type === 'Task') this.finishAttempt(name, event.index);
        this.add(event.timestamp, `${type}StateExited`, 'stateExitedEventDetails', {
          name,
          output: jsonText(output),
          outputDetails: NOT_TRUNCATED,
        });
        return;
      }
      case 'StateFailed':
        this.stateFailed(event.timestamp, event.state.name, event.state.type, event.index, event.Error, causeText(event.Cause));
        return;
      case 'StateRetried': {
        const failure = this.lastFailure.get(event.state.name);
        // No real Step Functions event exists for this; the SDK keeps evaluationFailedEventDetails, which
        // has room for the state name, the error and where it happened.
        this.add(event.timestamp, 'StateRetried', 'evaluationFailedEventDetails', {
          state: event.state.name,
          error: failure?.error,
          cause: failure?.cause,
          location: `Retry #${event.retry.attempt} (ErrorEquals: ${event.retry.retrier.ErrorEquals.join(', ')})`,
        });
        if (event.state.type === 'Task') this.startAttempt(event.state.name, event.index);
        return;
      }
      case 'StateCaught': {
        const failure = this.lastFailure.get(event.state.name);
        this.add(event.timestamp, 'StateCaught', 'evaluationFailedEventDetails', {
          state: event.state.name,
          error: failure?.error,
          cause: failure?.cause,
          location: `Catch (ErrorEquals: ${event.catch.catcher.ErrorEquals.join(', ')}) -> ${event.catch.catcher.Next}`,
        });
        return;
      }
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const detailsKey = `${event.type.charAt(0).toLowerCase()}${event.type.slice(1)}EventDetails`;
        this.add(event.timestamp, event.type, detailsKey, { name: event.parentState.name, index: event.index });
        return;
      }
      case 'ParallelBranchStarted':
      case 'ParallelBranchSucceeded':
      case 'ParallelBranchFailed':
        // The real service has no per-branch events.
        return;
    }
  }

  private stateFailed(
    timestamp: number,
    name: string,
    type: string,
    index: number | undefined,
    error: string,
    cause: string,
  ): void {
    this.lastFailure.set(name, { error, cause });
    if (type === 'Map' || type === 'Parallel') {
      this.add(timestamp, `${type}StateFailed`);
      return;
    }
    if (type !== 'Task') return;
    const attempt = this.running.get(attemptKey(name, index));
    this.running.delete(attemptKey(name, index));
    const task = attempt?.task ?? this.context.tasks.get(name);
    const timedOut = error === 'States.Timeout';
    if (task?.kind === 'lambdaFunction') {
      this.add(timestamp, timedOut ? 'LambdaFunctionTimedOut' : 'LambdaFunctionFailed',
        timedOut ? 'lambdaFunctionTimedOutEventDetails' : 'lambdaFunctionFailedEventDetails', { error, cause });
      return;
    }
    this.add(timestamp, timedOut ? 'TaskTimedOut' : 'TaskFailed', timedOut ? 'taskTimedOutEventDetails' : 'taskFailedEventDetails', {
      resourceType: task?.historyResourceType ?? 'unknown',
      resource: task?.historyResource ?? 'unknown',
      error,
      cause,
    });
  }

  private startAttempt(name: string, index: number | undefined): void {
    const attempt = this.scheduled.get(name)?.shift();
    if (attempt === undefined) return;
    this.running.set(attemptKey(name, index), attempt);
    const { task } = attempt;
    if (task.kind === 'lambdaFunction') {
      this.add(attempt.scheduledAt, 'LambdaFunctionScheduled', 'lambdaFunctionScheduledEventDetails', {
        resource: task.resource,
        input: jsonText(attempt.parameters),
        inputDetails: NOT_TRUNCATED,
        timeoutInSeconds: attempt.timeoutSeconds,
      });
      this.add(attempt.scheduledAt, 'LambdaFunctionStarted');
      return;
    }
    this.add(attempt.scheduledAt, 'TaskScheduled', 'taskScheduledEventDetails', {
      resourceType: task.historyResourceType,
      resource: task.historyResource,
      region: this.context.region,
      parameters: jsonText(attempt.parameters),
      timeoutInSeconds: attempt.timeoutSeconds,
    });
    this.add(attempt.scheduledAt, 'TaskStarted', 'taskStartedEventDetails', {
      resourceType: task.historyResourceType,
      resource: task.historyResource,
    });
  }

  private finishAttempt(name: string, index: number | undefined): void {
    const attempt = this.running.get(attemptKey(name, index));
    this.running.delete(attemptKey(name, index));
    if (attempt?.succeeded === undefined) return;
    const { at, output } = attempt.succeeded;
    if (attempt.task.kind === 'lambdaFunction') {
      this.add(at, 'LambdaFunctionSucceeded', 'lambdaFunctionSucceededEventDetails', {
        output: jsonText(output),
        outputDetails: NOT_TRUNCATED,
      });
      return;
    }
    this.add(at, 'TaskSucceeded', 'taskSucceededEventDetails', {
      resourceType: attempt.task.historyResourceType,
      resource: attempt.task.historyResource,
      output: jsonText(output),
      outputDetails: NOT_TRUNCATED,
    });
  }

  private add(timestamp: number, type: string, detailsKey?: string, details?: Readonly<Record<string, unknown>>): void {
    const id = this.records.length + 1;
    const previous = this.records.at(-1);
    // Attempt timestamps come from the task handler, not the engine, so they are kept in step here.
    const monotonic = previous === undefined ? timestamp : Math.max(timestamp, previous.timestamp);
    this.records.push({ id, previousEventId: id - 1, timestamp: monotonic, type, detailsKey, details });
  }
}

function attemptKey(name: string, index: number | undefined): string {
  return index === undefined ? name : `${name}#${index}`;
}
