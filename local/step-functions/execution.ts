import { randomUUID } from 'node:crypto';
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';
import { lambdaFunctionReference } from './arns.ts';
import {
  isRecord,
  jsonText,
  toEngineJson,
  type EngineEvent,
  type EngineJson,
  type EngineTaskHandlers,
  type EngineWaitOverrides,
} from './engine-types.ts';
import { ExecutionHistory, type AbortDetails, type TaskInvocation } from './history.ts';
import { ApiError } from './protocol.ts';
import { redriveDefinition, unwrapTaskInput, type PreparedDefinition, type TaskStateInfo } from './run-definition.ts';
import type { LocalFunction, LocalStepFunctionsOptions } from './server.ts';
import { TaskFailure, type TaskTokens } from './task-tokens.ts';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface ExecutionEnvironment {
  readonly machine: StateMachine;
  readonly prepared: PreparedDefinition;
  readonly stateMachineArn: string;
  readonly stateMachineName: string;
  readonly roleArn: string;
  readonly region: string;
  readonly functions: Readonly<Record<string, LocalFunction>>;
  readonly tokens: TaskTokens;
  readonly waitOverrideMs: LocalStepFunctionsOptions['waitOverrideMs'];
  readonly log: (line: string) => void;
}

export interface ExecutionStart {
  readonly executionArn: string;
  readonly name: string;
  readonly input: string;
  readonly inputValue: EngineJson;
  readonly sequence: number;
}

interface TaskResult {
  readonly stateName: string;
  readonly payload: unknown;
}

interface TaskOutcome {
  /** What the engine receives as the task result. */
  readonly output: EngineJson;
  /** What waitOverrideMs sees: the Lambda's own return value or the callback output. */
  readonly payload: EngineJson;
}

interface Closing {
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

/** A top-level state that was entered and has not exited (yet), with the input it was entered with. */
interface OpenState {
  readonly name: string;
  readonly input: EngineJson;
}

/** Real Step Functions keeps idempotent answers for the last 10 client tokens, for 15 minutes. */
const REDRIVE_TOKENS_KEPT = 10;
const REDRIVE_TOKEN_TTL_MS = 15 * 60 * 1000;

/**
 * One engine run of an execution: the original start, or one redrive. Everything an engine run can still
 * do after it has ended (late task results, retries while the engine unwinds) is tied to its run, so it
 * never reaches a later run of the same execution.
 */
class EngineRun {
  /** Aborted when the run has ended: parked and running tasks are released with it. */
  readonly released = new AbortController();
  abort: () => void = () => undefined;
  done: Promise<void> = Promise.resolve();
  /** The top-level state the run is in; after the run it is the state a redrive resumes at. */
  openState: OpenState | undefined;
  aborted: AbortDetails = {};

  constructor(
    /** 0 for the original start, n for the nth redrive. */
    readonly redriveCount: number,
    /** The Pass state a redrive starts at, hidden from the history. */
    readonly entryStateName: string | undefined,
  ) {}
}

export function notRedrivable(reason: string): ApiError {
  return new ApiError('ExecutionNotRedrivable', `Execution Not Redrivable: ${reason}`);
}

/** Step Functions' quota on a state's input and output and on a task's result: 256 KiB of UTF-8. */
export const MAX_PAYLOAD_BYTES = 262_144;

function notRunning(): TaskFailure {
  return new TaskFailure('States.Runtime', 'The execution is no longer running');
}

function lambdaFailure(error: unknown): TaskFailure {
  if (error instanceof Error) return new TaskFailure(error.name || 'Error', error.message);
  return new TaskFailure('Error', typeof error === 'string' ? error : jsonText(error));
}

function containsString(value: unknown, needle: string): boolean {
  if (value === needle) return true;
  if (Array.isArray(value)) return value.some((item) => containsString(item, needle));
  if (isRecord(value)) return Object.values(value).some((item) => containsString(item, needle));
  return false;
}

export class LocalExecution {
  readonly executionArn: string;
  readonly name: string;
  readonly input: string;
  readonly inputValue: EngineJson;
  readonly sequence: number;
  readonly startDate = Date.now();
  readonly history: ExecutionHistory;
  status: ExecutionStatus = 'RUNNING';
  stopDate: number | undefined;
  output: string | undefined;
  error: string | undefined;
  cause: string | undefined;
  redriveCount = 0;
  redriveDate: number | undefined;

  private readonly taskResults: TaskResult[] = [];
  private readonly redriveTokens: { readonly token: string; readonly at: number; readonly redriveDate: number }[] = [];
  private run: EngineRun;
  private pendingToken: string | undefined;

  static start(env: ExecutionEnvironment, start: ExecutionStart): LocalExecution {
    return new LocalExecution(env, start);
  }

  private constructor(
    private readonly env: ExecutionEnvironment,
    start: ExecutionStart,
  ) {
    this.executionArn = start.executionArn;
    this.name = start.name;
    this.input = start.input;
    this.inputValue = start.inputValue;
    this.sequence = start.sequence;
    this.history = new ExecutionHistory({ roleArn: env.roleArn, region: env.region, tasks: env.prepared.tasks });
    env.log(`execution ${this.name} started`);
    this.run = this.launch(env.machine, new EngineRun(0, undefined));
  }

  /** Settles once the current run has ended and its history is complete. */
  get done(): Promise<void> {
    return this.run.done;
  }

  stop(error: string | undefined, cause: string | undefined): void {
    if (this.status !== 'RUNNING') return;
    const { run } = this;
    this.finish(run, 'ABORTED', { error, cause });
    run.abort();
  }

  /** Why RedriveExecution would be refused right now, or undefined when it would be accepted. */
  notRedrivableReason(): string | undefined {
    if (this.status === 'RUNNING' || this.status === 'SUCCEEDED') return `Execution is ${this.status} and cannot be redriven.`;
    return undefined;
  }

  /** The redriveDate of an earlier redrive made with this client token, if it still answers idempotently. */
  redriveDateFor(clientToken: string): number | undefined {
    const now = Date.now();
    return this.redriveTokens.find((entry) => entry.token === clientToken && now - entry.at < REDRIVE_TOKEN_TTL_MS)?.redriveDate;
  }

  /**
   * Continues a FAILED, TIMED_OUT or ABORTED execution at the state that did not exit successfully, with
   * the input that state was entered with; states that succeeded before are not run again. Call it only
   * after {@link done} has settled, so that the state to resume at is known.
   */
  redrive(clientToken: string | undefined): number {
    const reason = this.notRedrivableReason();
    if (reason !== undefined) throw notRedrivable(reason);
    const resumeAt = this.run.openState;
    if (resumeAt === undefined) throw notRedrivable('No state of the execution is left to redrive.');
    const redriveDate = Date.now();
    const { definition, entryStateName } = redriveDefinition(this.env.prepared, resumeAt.name, resumeAt.input);
    // The definition it is built from was validated when the server started; the engine's validator
    // would only reject the states before the resumed one as unreachable.
    const machine = new StateMachine(definition, { validationOptions: { noValidate: true } });
    this.redriveCount += 1;
    this.redriveDate = redriveDate;
    this.status = 'RUNNING';
    this.stopDate = undefined;
    this.output = undefined;
    this.error = undefined;
    this.cause = undefined;
    if (clientToken !== undefined) {
      this.redriveTokens.push({ token: clientToken, at: redriveDate, redriveDate });
      this.redriveTokens.splice(0, Math.max(0, this.redriveTokens.length - REDRIVE_TOKENS_KEPT));
    }
    this.history.redriven(redriveDate, this.redriveCount);
    this.env.log(`execution ${this.name} redriven (redrive ${this.redriveCount}) at state ${resumeAt.name}`);
    this.run = this.launch(machine, new EngineRun(this.redriveCount, entryStateName));
    return redriveDate;
  }

  private launch(machine: StateMachine, run: EngineRun): EngineRun {
    const nextToken = (): string => this.nextTaskToken();
    const { env } = this;
    const engineRun = machine.run(this.inputValue, {
      overrides: { taskResourceLocalHandlers: this.taskHandlers(run), waitTimeOverrides: this.waitOverrides() },
      context: {
        Execution: {
          Id: this.executionArn,
          Name: this.name,
          RoleArn: env.roleArn,
          // The engine replaces Input with the run's input (the execution's input, also on a redrive)
          // and StartTime with the time the run started.
          Input: this.inputValue,
          StartTime: new Date(this.startDate).toISOString(),
          RedriveCount: this.redriveCount,
          ...(this.redriveDate === undefined ? {} : { RedriveTime: new Date(this.redriveDate).toISOString() }),
        },
        StateMachine: { Id: env.stateMachineArn, Name: env.stateMachineName },
        // The engine copies the context one level deep, so this getter stays live for every evaluation.
        Task: {
          get Token(): string {
            return nextToken();
          },
        },
      },
    });
    run.abort = engineRun.abort;
    run.done = Promise.all([this.consume(run, engineRun.eventLogs), this.settle(run, engineRun.result)]).then(() => {
      if (run === this.run) env.log(`execution ${this.name} ${this.status}${this.error === undefined ? '' : ` (${this.error})`}`);
    });
    return run;
  }

  private async consume(run: EngineRun, events: AsyncGenerator<EngineEvent>): Promise<void> {
    try {
      for await (const event of events) {
        if (this.hiddenFromHistory(run, event)) continue;
        this.trackOpenState(run, event);
        if (event.type === 'StateExited') this.checkDataLimit(run, event.state.output, `The output of state ${event.state.name}`);
        this.history.record(event, run.aborted);
        if (event.type === 'StateFailed') {
          this.env.log(`execution ${this.name}: state ${event.state.name} failed with ${event.Error}`);
        }
      }
    } catch (error) {
      this.env.log(`execution ${this.name}: history conversion stopped (${error instanceof Error ? error.name : 'unknown error'})`);
    }
  }

  /** A redrive's own ExecutionStarted (ExecutionRedriven stands for it) and its entry Pass state. */
  private hiddenFromHistory(run: EngineRun, event: EngineEvent): boolean {
    if (run.redriveCount > 0 && event.type === 'ExecutionStarted') return true;
    return (
      (event.type === 'StateEntered' || event.type === 'StateExited') &&
      run.openState === undefined &&
      event.state.name === run.entryStateName
    );
  }

  /**
   * Top-level states run one after another, so a state entered while another is open belongs to a Map
   * or Parallel state's iterations or branches. A state that fails (without a Catch) stays open.
   */
  private trackOpenState(run: EngineRun, event: EngineEvent): void {
    if (event.type === 'StateEntered' && run.openState === undefined) {
      run.openState = { name: event.state.name, input: toEngineJson(event.state.input) };
    } else if (event.type === 'StateExited' && event.index === undefined && event.state.name === run.openState?.name) {
      run.openState = undefined;
    }
  }

  private async settle(run: EngineRun, result: Promise<EngineJson>): Promise<void> {
    try {
      this.finish(run, 'SUCCEEDED', { output: jsonText(await result) });
    } catch (error) {
      if (error instanceof ExecutionAbortedError) {
        this.finish(run, 'ABORTED', {});
      } else if (error instanceof ExecutionTimeoutError) {
        this.finish(run, 'TIMED_OUT', { error: 'States.Timeout', cause: 'The execution exceeded its TimeoutSeconds' });
      } else if (error instanceof ExecutionError && error.cause instanceof Error) {
        this.finish(run, 'FAILED', { error: error.cause.name, cause: error.cause.message });
      } else {
        this.finish(run, 'FAILED', { error: 'States.Runtime', cause: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  /**
   * Fails the execution with States.DataLimitExceeded when a value passes the payload quota: a terminal
   * error that no Catch (not even States.ALL) handles, so the run ends here whatever the definition says.
   */
  private checkDataLimit(run: EngineRun, value: unknown, what: string): TaskFailure | undefined {
    const bytes = Buffer.byteLength(jsonText(value));
    if (bytes <= MAX_PAYLOAD_BYTES || run !== this.run || this.status !== 'RUNNING') return undefined;
    const cause = `${what} has ${bytes} bytes, more than the quota of ${MAX_PAYLOAD_BYTES} bytes.`;
    this.env.log(`execution ${this.name}: States.DataLimitExceeded (${what})`);
    this.finish(run, 'FAILED', { error: 'States.DataLimitExceeded', cause }, true);
    run.abort();
    return new TaskFailure('States.DataLimitExceeded', cause);
  }

  private finish(run: EngineRun, status: Exclude<ExecutionStatus, 'RUNNING'>, closing: Closing, failedByLimit = false): void {
    if (run !== this.run || this.status !== 'RUNNING') return;
    this.status = status;
    this.stopDate = Date.now();
    this.output = closing.output;
    this.error = closing.error;
    this.cause = closing.cause;
    run.aborted = { error: closing.error, cause: closing.cause, failed: failedByLimit };
    run.released.abort();
    this.env.tokens.releaseExecution(this.executionArn, notRunning());
  }

  private nextTaskToken(): string {
    // One token per state evaluation: Parameters and the task handler run in the same synchronous turn,
    // so the token is reused for repeated $$.Task.Token references and dropped after that turn.
    if (this.pendingToken === undefined) {
      this.pendingToken = this.env.tokens.mint();
      queueMicrotask(() => {
        this.pendingToken = undefined;
      });
    }
    return this.pendingToken;
  }

  private claimTaskToken(parameters: EngineJson): string {
    const pending = this.pendingToken;
    this.pendingToken = undefined;
    if (pending !== undefined && containsString(parameters, pending)) return pending;
    // A callback task that never passes its token on can only time out, as on the real service.
    return this.env.tokens.mint();
  }

  private taskHandlers(run: EngineRun): EngineTaskHandlers {
    const handlers: EngineTaskHandlers = {};
    for (const [stateName, task] of this.env.prepared.tasks) {
      handlers[stateName] = (input) => {
        const attempt = this.runTask(run, task, input);
        // The engine stops listening once it times the task out or the execution ends.
        attempt.catch(() => undefined);
        return attempt;
      };
    }
    return handlers;
  }

  private waitOverrides(): EngineWaitOverrides | undefined {
    const consult = this.env.waitOverrideMs;
    if (consult === undefined) return undefined;
    // The engine reads waitTimeOverrides[stateName] when the Wait state starts, so this is asked then.
    return new Proxy<EngineWaitOverrides>(
      {},
      {
        get: (_target, stateName) => {
          if (typeof stateName !== 'string') return undefined;
          try {
            const taskResults = Object.freeze(this.taskResults.map((result) => ({ ...result })));
            const ms = consult({ executionName: this.name, stateName, taskResults });
            if (ms === undefined) return undefined;
            if (Number.isFinite(ms) && ms >= 0) return ms;
            this.env.log(`execution ${this.name}: waitOverrideMs returned an invalid value for ${stateName}; keeping the defined wait`);
          } catch (error) {
            this.env.log(`execution ${this.name}: waitOverrideMs threw ${error instanceof Error ? error.name : 'an error'}; keeping the defined wait`);
          }
          return undefined;
        },
      },
    );
  }

  private runTask(run: EngineRun, task: TaskStateInfo, input: EngineJson): Promise<EngineJson> {
    const { parameters, timeoutSeconds } = unwrapTaskInput(input, task);
    // The engine fails the state itself right after this call when TimeoutSecondsPath is not valid.
    if (timeoutSeconds === undefined) return Promise.resolve(null);
    if (run.released.signal.aborted) return Promise.reject(notRunning());
    const invocation: TaskInvocation = { task, parameters, timeoutSeconds, scheduledAt: Date.now() };
    this.history.taskInvoked(invocation);
    const timeoutMs = timeoutSeconds * 1000;
    const deadline = invocation.scheduledAt + timeoutMs;
    // Created before the engine starts its own timer with the same delay, so it fires first: a result
    // arriving after the engine has timed the task out is never recorded as the task's result.
    let expired = false;
    const expiry = setTimeout(() => {
      expired = true;
    }, timeoutMs);
    expiry.unref();
    const work =
      task.kind === 'lambdaCallback'
        ? this.runCallbackTask(parameters, timeoutMs, deadline)
        : this.runLambdaTask(task, parameters, deadline);
    return whileRunning(run.released.signal, work)
      .then((outcome) => {
        const tooLarge = this.checkDataLimit(run, outcome.output, `The task result of state ${task.stateName}`);
        if (tooLarge) throw tooLarge;
        if (!expired) {
          invocation.succeeded = { at: Date.now(), output: outcome.output };
          this.taskResults.push({ stateName: task.stateName, payload: toEngineJson(outcome.payload) });
        }
        return outcome.output;
      })
      .finally(() => clearTimeout(expiry));
  }

  private async runLambdaTask(task: TaskStateInfo, parameters: EngineJson, deadline: number): Promise<TaskOutcome> {
    if (task.kind === 'lambdaFunction') {
      const result = await this.callFunction(task.resource, parameters, deadline);
      return { output: result, payload: result };
    }
    if (task.kind === 'unsupported') {
      throw new TaskFailure('States.TaskFailed', `Resource ${task.resource} is not available in the local Step Functions server`);
    }
    const { functionName, payload } = lambdaRequest(parameters);
    const result = await this.callFunction(functionName, payload, deadline);
    return { output: { StatusCode: 200, ExecutedVersion: '$LATEST', Payload: result }, payload: result };
  }

  private async runCallbackTask(parameters: EngineJson, timeoutMs: number, deadline: number): Promise<TaskOutcome> {
    const { tokens } = this.env;
    const token = this.claimTaskToken(parameters);
    const { functionName, payload } = lambdaRequest(parameters);
    const parked = tokens.park(token, this.executionArn, timeoutMs);
    // The token may be answered while the function is still running; the answer completes the task.
    const invoked = this.callFunction(functionName, payload, deadline).then(
      () => parked,
      (error: unknown) => {
        if (!tokens.isParked(token)) return parked;
        tokens.complete(token);
        throw error;
      },
    );
    const output = toEngineJson(await Promise.race([parked, invoked]));
    return { output, payload: output };
  }

  private async callFunction(reference: string, payload: EngineJson, deadline: number): Promise<EngineJson> {
    // A qualified reference (an alias or a version) finds only a function registered under that qualifier.
    const { name: functionName, key } = lambdaFunctionReference(reference);
    const fn = Object.hasOwn(this.env.functions, key) ? this.env.functions[key] : undefined;
    if (fn === undefined) {
      throw new TaskFailure('Lambda.ResourceNotFoundException', `Function not found: ${reference}`);
    }
    let result: unknown;
    try {
      result = await fn(toEngineJson(payload), {
        functionName,
        awsRequestId: randomUUID(),
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      });
    } catch (error) {
      throw lambdaFailure(error);
    }
    return toEngineJson(result);
  }
}

/** Settles with `work`, or rejects as soon as the run it belongs to has ended (e.g. on StopExecution). */
function whileRunning<T>(released: AbortSignal, work: Promise<T>): Promise<T> {
  if (released.aborted) {
    work.catch(() => undefined);
    return Promise.reject(notRunning());
  }
  return new Promise<T>((resolve, reject) => {
    const onRelease = (): void => reject(notRunning());
    released.addEventListener('abort', onRelease, { once: true });
    work.then(resolve, reject).finally(() => released.removeEventListener('abort', onRelease));
  });
}

function lambdaRequest(parameters: EngineJson): { functionName: string; payload: EngineJson } {
  if (!isRecord(parameters) || typeof parameters.FunctionName !== 'string') {
    throw new TaskFailure('States.Runtime', 'lambda:invoke needs Parameters.FunctionName');
  }
  return { functionName: parameters.FunctionName, payload: parameters.Payload ?? {} };
}
