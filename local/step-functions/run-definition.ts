import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { isRecord, type EngineJson } from './engine-types.ts';

export type TaskKind = 'lambdaInvoke' | 'lambdaCallback' | 'lambdaFunction' | 'unsupported';

export interface TaskStateInfo {
  readonly stateName: string;
  readonly resource: string;
  readonly kind: TaskKind;
  /** TimeoutSeconds from the definition; undefined when it comes from TimeoutSecondsPath or the default. */
  readonly staticTimeoutSeconds: number | undefined;
  /** resourceType/resource as the real service reports them in Task* history events. */
  readonly historyResourceType: string;
  readonly historyResource: string;
}

export interface PreparedDefinition {
  readonly runDefinition: StateMachineDefinition;
  readonly tasks: ReadonlyMap<string, TaskStateInfo>;
  readonly stateTypes: ReadonlyMap<string, string>;
}

export interface PrepareOptions {
  /** Caps every Retry interval (after BackoffRate and MaxDelaySeconds) at this many milliseconds. */
  readonly maxRetryIntervalMs?: number;
}

type EngineState = StateMachineDefinition['States'][string];

/** The engine's own fallback when a Task has neither TimeoutSeconds nor TimeoutSecondsPath. */
export const ENGINE_DEFAULT_TASK_TIMEOUT_SECONDS = 60;

// setTimeout fires after 1 ms for anything above 2^31-1 ms, so larger static timeouts are clamped.
const MAX_TIMER_SECONDS = Math.floor(2_147_483_647 / 1000);

// The engine treats MaxDelaySeconds 0 as "no cap", so a cap of 0 ms becomes this (a timer of ~1 ms).
const MIN_RETRY_DELAY_SECONDS = 1e-9;

const REDRIVE_ENTRY_STATE = 'LocalRedriveEntry';
const REDRIVE_ENTRY_FIELD = 'value';

const WRAPPED_PARAMETERS = 'localParameters';
const WRAPPED_TIMEOUT = 'localTimeoutSeconds';

const LAMBDA_INVOKE = /^arn:[a-z-]+:states:::lambda:invoke$/;
const LAMBDA_CALLBACK = /^arn:[a-z-]+:states:::lambda:invoke\.waitForTaskToken$/;
const LAMBDA_FUNCTION_ARN = /^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:[^:]+(:[^:]+)?$/;

function taskKind(resource: string): TaskKind {
  if (LAMBDA_INVOKE.test(resource)) return 'lambdaInvoke';
  if (LAMBDA_CALLBACK.test(resource)) return 'lambdaCallback';
  if (LAMBDA_FUNCTION_ARN.test(resource)) return 'lambdaFunction';
  return 'unsupported';
}

function historyResourceOf(resource: string, kind: TaskKind): { type: string; resource: string } {
  if (kind === 'lambdaFunction') return { type: 'lambda', resource };
  const integration = /^arn:[a-z-]+:states:::([^:]+):(.+)$/.exec(resource);
  if (integration?.[1] !== undefined && integration[2] !== undefined) {
    return { type: integration[1], resource: integration[2] };
  }
  return { type: 'unknown', resource };
}

function clampTimeout(value: unknown): unknown {
  return typeof value === 'number' && value > MAX_TIMER_SECONDS ? MAX_TIMER_SECONDS : value;
}

/**
 * Builds the definition the engine actually runs. The definition reported by DescribeStateMachine is
 * never modified; this copy works around engine behaviour that differs from the real service:
 * - TimeoutSecondsPath is resolved by the engine against the Task's Parameters output instead of the
 *   state input, so every overridden Task gets its Parameters wrapped together with the timeout value
 *   (unwrapped again by {@link unwrapTaskInput} before the task runs).
 * - ResultPath "$" makes the engine add a "$" key instead of replacing the input; "$" is the default,
 *   so it is dropped.
 * With `maxRetryIntervalMs`, every retrier also gets a MaxDelaySeconds of at most that long: the engine
 * clamps each computed interval (IntervalSeconds × BackoffRate^attempt, and FULL jitter below it) to
 * MaxDelaySeconds, so shorter intervals are kept and only longer ones are cut. (The engine's own
 * retryIntervalOverrides would replace every interval with one fixed value instead of capping it.)
 */
export function prepareDefinition(definition: Record<string, unknown>, options: PrepareOptions = {}): PreparedDefinition {
  const copy = structuredClone(definition);
  const tasks = new Map<string, TaskStateInfo>();
  const stateTypes = new Map<string, string>();
  if (copy.TimeoutSeconds !== undefined) copy.TimeoutSeconds = clampTimeout(copy.TimeoutSeconds);
  const maxDelaySeconds =
    options.maxRetryIntervalMs === undefined ? undefined : Math.max(options.maxRetryIntervalMs / 1000, MIN_RETRY_DELAY_SECONDS);
  rewriteStates(copy, { tasks, stateTypes, maxDelaySeconds });
  return { runDefinition: copy as unknown as StateMachineDefinition, tasks, stateTypes };
}

interface RewriteTarget {
  readonly tasks: Map<string, TaskStateInfo>;
  readonly stateTypes: Map<string, string>;
  readonly maxDelaySeconds: number | undefined;
}

function rewriteStates(machine: Record<string, unknown>, target: RewriteTarget): void {
  const states = machine.States;
  if (!isRecord(states)) return;
  for (const [stateName, state] of Object.entries(states)) {
    if (!isRecord(state)) continue;
    if (typeof state.Type === 'string') target.stateTypes.set(stateName, state.Type);
    if (state.ResultPath === '$') delete state.ResultPath;
    if (Array.isArray(state.Catch)) {
      for (const catcher of state.Catch) {
        if (isRecord(catcher) && catcher.ResultPath === '$') delete catcher.ResultPath;
      }
    }
    if (target.maxDelaySeconds !== undefined && Array.isArray(state.Retry)) {
      for (const retrier of state.Retry) {
        if (isRecord(retrier)) capRetryDelay(retrier, target.maxDelaySeconds);
      }
    }
    if (state.Type === 'Task' && typeof state.Resource === 'string') {
      target.tasks.set(stateName, rewriteTask(stateName, state, state.Resource));
    }
    if (state.Type === 'Map') {
      const processor = state.ItemProcessor ?? state.Iterator;
      if (isRecord(processor)) rewriteStates(processor, target);
    }
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      for (const branch of state.Branches) {
        if (isRecord(branch)) rewriteStates(branch, target);
      }
    }
  }
}

function capRetryDelay(retrier: Record<string, unknown>, maxDelaySeconds: number): void {
  const own = retrier.MaxDelaySeconds;
  // The engine ignores a MaxDelaySeconds of 0 (or none), so only a positive one is a tighter cap.
  retrier.MaxDelaySeconds = typeof own === 'number' && own > 0 ? Math.min(own, maxDelaySeconds) : maxDelaySeconds;
}

export interface RedriveDefinition {
  readonly definition: StateMachineDefinition;
  /** The added state that hands the recorded input to the state the redrive resumes at. */
  readonly entryStateName: string;
}

/**
 * The definition a redrive runs: the prepared definition unchanged, plus one Pass state it starts at,
 * which outputs the recorded input of `resumeAt` and moves on to it. Starting the engine this way (with
 * the execution's own input) keeps $$.Execution.Input as it was, instead of the resumed state's input.
 * The value is wrapped because the engine's Pass state ignores a falsy Result.
 */
export function redriveDefinition(prepared: PreparedDefinition, resumeAt: string, input: EngineJson): RedriveDefinition {
  const copy = structuredClone(prepared.runDefinition);
  let entryStateName = REDRIVE_ENTRY_STATE;
  for (let suffix = 2; Object.hasOwn(copy.States, entryStateName); suffix += 1) {
    entryStateName = `${REDRIVE_ENTRY_STATE}${suffix}`;
  }
  const entry: EngineState = {
    Type: 'Pass',
    Result: { [REDRIVE_ENTRY_FIELD]: structuredClone(input) },
    OutputPath: `$.${REDRIVE_ENTRY_FIELD}`,
    Next: resumeAt,
  };
  return { definition: { ...copy, StartAt: entryStateName, States: { ...copy.States, [entryStateName]: entry } }, entryStateName };
}

function rewriteTask(stateName: string, state: Record<string, unknown>, resource: string): TaskStateInfo {
  const kind = taskKind(resource);
  const parameters: Record<string, unknown> =
    'Parameters' in state ? { [WRAPPED_PARAMETERS]: state.Parameters } : { [`${WRAPPED_PARAMETERS}.$`]: '$' };
  if (typeof state.TimeoutSecondsPath === 'string') {
    parameters[`${WRAPPED_TIMEOUT}.$`] = state.TimeoutSecondsPath;
    state.TimeoutSecondsPath = `$.${WRAPPED_TIMEOUT}`;
  }
  state.Parameters = parameters;
  if (state.TimeoutSeconds !== undefined) state.TimeoutSeconds = clampTimeout(state.TimeoutSeconds);
  const history = historyResourceOf(resource, kind);
  return {
    stateName,
    resource,
    kind,
    staticTimeoutSeconds: typeof state.TimeoutSeconds === 'number' && state.TimeoutSeconds > 0 ? state.TimeoutSeconds : undefined,
    historyResourceType: history.type,
    historyResource: history.resource,
  };
}

export interface TaskInput {
  /** What the real service would pass to the resource: the Parameters output, or the effective input. */
  readonly parameters: EngineJson;
  /** The timeout the engine applies to this attempt, or undefined when the engine is about to reject it. */
  readonly timeoutSeconds: number | undefined;
}

export function unwrapTaskInput(input: EngineJson, task: TaskStateInfo): TaskInput {
  if (!isRecord(input)) return { parameters: input, timeoutSeconds: undefined };
  const parameters = (input[WRAPPED_PARAMETERS] ?? null) as EngineJson;
  if (task.staticTimeoutSeconds !== undefined) return { parameters, timeoutSeconds: task.staticTimeoutSeconds };
  if (!(WRAPPED_TIMEOUT in input)) return { parameters, timeoutSeconds: ENGINE_DEFAULT_TASK_TIMEOUT_SECONDS };
  const fromPath = input[WRAPPED_TIMEOUT];
  const valid = typeof fromPath === 'number' && Number.isInteger(fromPath) && fromPath >= 1;
  return { parameters, timeoutSeconds: valid ? fromPath : undefined };
}
