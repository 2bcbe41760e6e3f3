import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { executionArnFor, isExecutionArn, isStateMachineArn, isValidExecutionName, type StateMachineArnParts } from './arns.ts';
import type { EngineJson } from './engine-types.ts';
import { LocalExecution, notRedrivable, type ExecutionEnvironment, type ExecutionStatus } from './execution.ts';
import { historyEventToWire } from './history.ts';
import {
  ApiError,
  decodePageToken,
  encodePageToken,
  epochSeconds,
  optionalBoolean,
  optionalInteger,
  optionalString,
  requiredPayload,
  requiredString,
  type RequestBody,
} from './protocol.ts';

export interface ServiceConfig {
  readonly environment: ExecutionEnvironment;
  readonly stateMachine: StateMachineArnParts;
  /** JSON.stringify of the definition as given, returned verbatim by DescribeStateMachine. */
  readonly definitionText: string;
}

type Operation = (body: RequestBody) => unknown;

const MAX_CLIENT_TOKEN_LENGTH = 64;

const STATUSES: ReadonlySet<string> = new Set<ExecutionStatus>(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);
/** The quota on an execution's input and a task's output, in UTF-8 bytes. */
const MAX_INPUT_BYTES = 256 * 1024;
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

function parseJson(text: string, onError: () => ApiError): EngineJson {
  try {
    return JSON.parse(text) as EngineJson;
  } catch {
    throw onError();
  }
}

function pageSize(body: RequestBody): number {
  // 0 means "use the default", as on the real service.
  return optionalInteger(body, 'maxResults', 0, MAX_PAGE_SIZE) || DEFAULT_PAGE_SIZE;
}

/** The Step Functions operations for a single Standard state machine, kept in memory. */
export class StepFunctionsService {
  private readonly executions = new Map<string, LocalExecution>();
  private readonly creationDate = Date.now();
  private sequence = 0;
  private closing = false;

  readonly operations: Readonly<Record<string, Operation>> = {
    StartExecution: (body) => this.startExecution(body),
    DescribeExecution: (body) => this.describeExecution(body),
    ListExecutions: (body) => this.listExecutions(body),
    StopExecution: (body) => this.stopExecution(body),
    RedriveExecution: (body) => this.redriveExecution(body),
    GetExecutionHistory: (body) => this.getExecutionHistory(body),
    SendTaskSuccess: (body) => this.sendTaskSuccess(body),
    SendTaskFailure: (body) => this.sendTaskFailure(body),
    SendTaskHeartbeat: (body) => this.sendTaskHeartbeat(body),
    DescribeStateMachine: (body) => this.describeStateMachine(body),
    DescribeStateMachineForExecution: (body) => this.describeStateMachineForExecution(body),
    ListStateMachines: () => this.listStateMachines(),
  };

  constructor(private readonly config: ServiceConfig) {}

  /** Aborts running executions, releases their parked tasks and waits until the engine has let go of them. */
  async close(): Promise<void> {
    this.closing = true;
    const executions = [...this.executions.values()];
    for (const execution of executions) execution.stop(undefined, 'The local Step Functions server was closed');
    await Promise.allSettled(executions.map((execution) => execution.done));
  }

  private get env(): ExecutionEnvironment {
    return this.config.environment;
  }

  private requireStateMachine(arn: string): void {
    if (arn === this.env.stateMachineArn) return;
    if (!isStateMachineArn(arn)) throw new ApiError('InvalidArn', `Invalid Arn: '${arn}'`);
    throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
  }

  private requireExecution(body: RequestBody): LocalExecution {
    const arn = requiredString(body, 'executionArn', 2048);
    if (!isExecutionArn(arn)) throw new ApiError('InvalidArn', `Invalid Arn: '${arn}'`);
    const execution = this.executions.get(arn);
    if (execution === undefined) throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  }

  private startExecution(body: RequestBody): unknown {
    this.requireStateMachine(requiredString(body, 'stateMachineArn', 2048));
    const name = optionalString(body, 'name', 80) ?? randomUUID();
    if (!isValidExecutionName(name)) throw new ApiError('InvalidName', `Invalid Name: '${name}'`);
    const input = body.input === undefined || body.input === null ? '{}' : requiredPayload(body, 'input', MAX_INPUT_BYTES);
    const inputValue = parseJson(input, () => new ApiError('InvalidExecutionInput', 'Invalid State Machine Execution Input: input is not valid JSON'));
    const executionArn = executionArnFor(this.config.stateMachine, name);
    const existing = this.executions.get(executionArn);
    if (existing !== undefined) {
      // Standard workflows treat a repeated start of a running execution with the same input as idempotent.
      if (existing.status === 'RUNNING' && isDeepStrictEqual(existing.inputValue, inputValue)) {
        return { executionArn, startDate: epochSeconds(existing.startDate) };
      }
      throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    if (this.closing) throw new ApiError('ServiceUnavailable', 'The local Step Functions server is shutting down', 503);
    this.sequence += 1;
    const execution = LocalExecution.start(this.env, { executionArn, name, input, inputValue, sequence: this.sequence });
    this.executions.set(executionArn, execution);
    return { executionArn, startDate: epochSeconds(execution.startDate) };
  }

  private describeExecution(body: RequestBody): unknown {
    const execution = this.requireExecution(body);
    return {
      executionArn: execution.executionArn,
      stateMachineArn: this.env.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: epochSeconds(execution.startDate),
      stopDate: execution.stopDate === undefined ? undefined : epochSeconds(execution.stopDate),
      input: execution.input,
      inputDetails: { included: true },
      output: execution.output,
      outputDetails: execution.output === undefined ? undefined : { included: true },
      error: execution.error,
      cause: execution.cause,
      redriveCount: execution.redriveCount,
      redriveDate: execution.redriveDate === undefined ? undefined : epochSeconds(execution.redriveDate),
      ...redriveStatus(execution),
    };
  }

  private listExecutions(body: RequestBody): unknown {
    const stateMachineArn = optionalString(body, 'stateMachineArn', 2048);
    if (stateMachineArn === undefined) throw new ApiError('ValidationException', 'Must provide a StateMachine ARN or MapRun ARN');
    this.requireStateMachine(stateMachineArn);
    const statusFilter = optionalString(body, 'statusFilter');
    if (statusFilter !== undefined && !STATUSES.has(statusFilter)) {
      throw new ApiError('ValidationException', `1 validation error detected: Value '${statusFilter}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [${[...STATUSES].join(', ')}]`);
    }
    const limit = pageSize(body);
    const before = decodePageToken(optionalString(body, 'nextToken', 3096));
    const matching = [...this.executions.values()]
      .filter((execution) => statusFilter === undefined || execution.status === statusFilter)
      .filter((execution) => before === undefined || execution.sequence < before)
      .sort((a, b) => b.sequence - a.sequence);
    const page = matching.slice(0, limit);
    const last = page.at(-1);
    return {
      executions: page.map((execution) => ({
        executionArn: execution.executionArn,
        stateMachineArn: this.env.stateMachineArn,
        name: execution.name,
        status: execution.status,
        startDate: epochSeconds(execution.startDate),
        stopDate: execution.stopDate === undefined ? undefined : epochSeconds(execution.stopDate),
        redriveCount: execution.redriveCount,
        redriveDate: execution.redriveDate === undefined ? undefined : epochSeconds(execution.redriveDate),
      })),
      nextToken: matching.length > limit && last !== undefined ? encodePageToken(last.sequence) : undefined,
    };
  }

  private stopExecution(body: RequestBody): unknown {
    const execution = this.requireExecution(body);
    const error = optionalString(body, 'error', 256);
    const cause = optionalString(body, 'cause', 32768);
    execution.stop(error, cause);
    return { stopDate: epochSeconds(execution.stopDate ?? Date.now()) };
  }

  private async redriveExecution(body: RequestBody): Promise<unknown> {
    const execution = this.requireExecution(body);
    const clientToken = optionalString(body, 'clientToken', MAX_CLIENT_TOKEN_LENGTH);
    if (clientToken !== undefined && clientToken.length === 0) {
      throw new ApiError('ValidationException', "1 validation error detected: Value at 'clientToken' failed to satisfy constraint: Member must have length greater than or equal to 1");
    }
    const repeated = (): { redriveDate: number } | undefined => {
      const earlier = clientToken === undefined ? undefined : execution.redriveDateFor(clientToken);
      return earlier === undefined ? undefined : { redriveDate: epochSeconds(earlier) };
    };
    const first = repeated();
    if (first !== undefined) return first;
    const reason = execution.notRedrivableReason();
    if (reason !== undefined) throw notRedrivable(reason);
    // The run that ended may still be writing the last of its history, which tells where to resume.
    await execution.done;
    // Another request may have redriven it meanwhile; redrive() refuses a running execution itself.
    const second = repeated();
    if (second !== undefined) return second;
    if (this.closing) throw new ApiError('ServiceUnavailable', 'The local Step Functions server is shutting down', 503);
    return { redriveDate: epochSeconds(execution.redrive(clientToken)) };
  }

  private getExecutionHistory(body: RequestBody): unknown {
    const execution = this.requireExecution(body);
    const limit = pageSize(body);
    const reverse = optionalBoolean(body, 'reverseOrder') ?? false;
    const includeExecutionData = optionalBoolean(body, 'includeExecutionData') ?? true;
    const after = decodePageToken(optionalString(body, 'nextToken', 3096));
    const events = reverse ? [...execution.history.events].reverse() : execution.history.events;
    const remaining = after === undefined ? events : events.filter((event) => (reverse ? event.id < after : event.id > after));
    const page = remaining.slice(0, limit);
    const last = page.at(-1);
    return {
      events: page.map((event) => historyEventToWire(event, includeExecutionData)),
      nextToken: remaining.length > limit && last !== undefined ? encodePageToken(last.id) : undefined,
    };
  }

  private sendTaskSuccess(body: RequestBody): unknown {
    const token = requiredString(body, 'taskToken');
    const output = parseJson(requiredPayload(body, 'output', MAX_INPUT_BYTES), () => new ApiError('InvalidOutput', 'Invalid Output: output is not valid JSON'));
    this.env.tokens.succeed(token, output);
    return {};
  }

  private sendTaskFailure(body: RequestBody): unknown {
    const token = requiredString(body, 'taskToken');
    const error = optionalString(body, 'error', 256) ?? '';
    const cause = optionalString(body, 'cause', 32768) ?? '';
    this.env.tokens.fail(token, error, cause);
    return {};
  }

  private sendTaskHeartbeat(body: RequestBody): unknown {
    this.env.tokens.heartbeat(requiredString(body, 'taskToken'));
    return {};
  }

  private describeStateMachine(body: RequestBody): unknown {
    this.requireStateMachine(requiredString(body, 'stateMachineArn', 2048));
    return {
      stateMachineArn: this.env.stateMachineArn,
      name: this.env.stateMachineName,
      status: 'ACTIVE',
      definition: this.config.definitionText,
      roleArn: this.env.roleArn,
      type: 'STANDARD',
      creationDate: epochSeconds(this.creationDate),
      loggingConfiguration: { level: 'OFF', includeExecutionData: false },
      tracingConfiguration: { enabled: false },
    };
  }

  private describeStateMachineForExecution(body: RequestBody): unknown {
    this.requireExecution(body);
    return {
      stateMachineArn: this.env.stateMachineArn,
      name: this.env.stateMachineName,
      definition: this.config.definitionText,
      roleArn: this.env.roleArn,
      updateDate: epochSeconds(this.creationDate),
      loggingConfiguration: { level: 'OFF', includeExecutionData: false },
      tracingConfiguration: { enabled: false },
    };
  }

  private listStateMachines(): unknown {
    return {
      stateMachines: [
        {
          stateMachineArn: this.env.stateMachineArn,
          name: this.env.stateMachineName,
          type: 'STANDARD',
          creationDate: epochSeconds(this.creationDate),
        },
      ],
    };
  }
}

function redriveStatus(execution: LocalExecution): { redriveStatus: string; redriveStatusReason?: string } {
  const reason = execution.notRedrivableReason();
  return reason === undefined ? { redriveStatus: 'REDRIVABLE' } : { redriveStatus: 'NOT_REDRIVABLE', redriveStatusReason: reason };
}
