import { randomUUID } from 'node:crypto';
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, type StateMachine } from 'aws-local-stepfunctions';
import { lambdaFunctionName } from './arns.ts';
import {
  isRecord,
  jsonText,
  toEngineJson,
  type EngineEvent,
  type EngineJson,
  type EngineTaskHandlers,
  type EngineWaitOverrides,
} from './engine-types.ts';
import { ExecutionHistory, type TaskInvocation } from './history.ts';
import { unwrapTaskInput, type PreparedDefinition, type TaskStateInfo } from './run-definition.ts';
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
  readonly done: Promise<void>;
  status: ExecutionStatus = 'RUNNING';
  stopDate: number | undefined;
  output: string | undefined;
  error: string | undefined;
  cause: string | undefined;

  private readonly taskResults: TaskResult[] = [];
  private readonly released = new AbortController();
  private readonly abortRun: () => void;
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
    this.history = new ExecutionHistory({
      roleArn: env.roleArn,
      region: env.region,
      tasks: env.prepared.tasks,
      abortDetails: () => ({ error: this.error, cause: this.cause }),
    });
    const nextToken = (): string => this.nextTaskToken();
    env.log(`execution ${this.name} started`);
    const run = env.machine.run(start.inputValue, {
      overrides: { taskResourceLocalHandlers: this.taskHandlers(), waitTimeOverrides: this.waitOverrides() },
      context: {
        Execution: {
          Id: this.executionArn,
          Name: this.name,
          RoleArn: env.roleArn,
          Input: start.inputValue,
          StartTime: new Date(this.startDate).toISOString(),
          RedriveCount: 0,
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
    this.abortRun = run.abort;
    this.done = Promise.all([this.consume(run.eventLogs), this.settle(run.result)]).then(() => {
      env.log(`execution ${this.name} ${this.status}${this.error === undefined ? '' : ` (${this.error})`}`);
    });
  }

  stop(error: string | undefined, cause: string | undefined): void {
    if (this.status !== 'RUNNING') return;
    this.finish('ABORTED', { error, cause });
    this.abortRun();
  }

  private async consume(events: AsyncGenerator<EngineEvent>): Promise<void> {
    try {
      for await (const event of events) {
        this.history.record(event);
        if (event.type === 'StateFailed') {
          this.env.log(`execution ${this.name}: state ${event.state.name} failed with ${event.Error}`);
        }
      }
    } catch (error) {
      this.env.log(`execution ${this.name}: history conversion stopped (${error instanceof Error ? error.name : 'unknown error'})`);
    }
  }

  private async settle(result: Promise<EngineJson>): Promise<void> {
    try {
      this.finish('SUCCEEDED', { output: jsonText(await result) });
    } catch (error) {
      if (error instanceof ExecutionAbortedError) {
        this.finish('ABORTED', {});
      } else if (error instanceof ExecutionTimeoutError) {
        this.finish('TIMED_OUT', { error: 'States.Timeout', cause: 'The execution exceeded its TimeoutSeconds' });
      } else if (error instanceof ExecutionError && error.cause instanceof Error) {
        this.finish('FAILED', { error: error.cause.name, cause: error.cause.message });
      } else {
        this.finish('FAILED', { error: 'States.Runtime', cause: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  private finish(status: Exclude<ExecutionStatus, 'RUNNING'>, closing: Closing): void {
    if (this.status !== 'RUNNING') return;
    this.status = status;
    this.stopDate = Date.now();
    this.output = closing.output;
    this.error = closing.error;
    this.cause = closing.cause;
    this.released.abort();
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

  private taskHandlers(): EngineTaskHandlers {
    const handlers: EngineTaskHandlers = {};
    for (const [stateName, task] of this.env.prepared.tasks) {
      handlers[stateName] = (input) => {
        const attempt = this.runTask(task, input);
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

  private runTask(task: TaskStateInfo, input: EngineJson): Promise<EngineJson> {
    const { parameters, timeoutSeconds } = unwrapTaskInput(input, task);
    // The engine fails the state itself right after this call when TimeoutSecondsPath is not valid.
    if (timeoutSeconds === undefined) return Promise.resolve(null);
    if (this.released.signal.aborted) return Promise.reject(notRunning());
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
    return this.whileRunning(work)
      .then((outcome) => {
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
    const functionName = lambdaFunctionName(reference);
    const fn = Object.hasOwn(this.env.functions, functionName) ? this.env.functions[functionName] : undefined;
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

  private whileRunning<T>(work: Promise<T>): Promise<T> {
    const { signal } = this.released;
    return new Promise<T>((resolve, reject) => {
      const onRelease = (): void => reject(notRunning());
      signal.addEventListener('abort', onRelease, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onRelease));
    });
  }
}

function lambdaRequest(parameters: EngineJson): { functionName: string; payload: EngineJson } {
  if (!isRecord(parameters) || typeof parameters.FunctionName !== 'string') {
    throw new TaskFailure('States.Runtime', 'lambda:invoke needs Parameters.FunctionName');
  }
  return { functionName: parameters.FunctionName, payload: parameters.Payload ?? {} };
}
