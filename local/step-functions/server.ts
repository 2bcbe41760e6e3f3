import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { answerRequest, operationOf, type AwsJsonApi } from '../aws-json.ts';
import { parseStateMachineArn } from './arns.ts';
import { JSON_CONTENT_TYPE, readJsonBody, TARGET_PREFIX } from './protocol.ts';
import { prepareDefinition } from './run-definition.ts';
import { StepFunctionsService } from './service.ts';
import { TaskTokens } from './task-tokens.ts';

export type LocalFunction = (
  event: unknown,
  context: { functionName: string; awsRequestId: string; getRemainingTimeInMillis(): number },
) => Promise<unknown>;

export interface LocalStepFunctionsOptions {
  port: number; // 0 = pick a free port
  host?: string; // default '127.0.0.1'
  stateMachineName: string;
  stateMachineArn: string; // e.g. arn:aws:states:us-east-1:000000000000:stateMachine:customer-transfer
  roleArn?: string;
  definition: Record<string, unknown>; // the ASL object that is run AND returned by DescribeStateMachine
  functions: Record<string, LocalFunction>; // keyed by Lambda function name, or name:alias for what a qualified ARN invokes
  /** Called when a Wait state starts; return milliseconds to wait instead of the definition's own wait, or undefined to keep it. */
  waitOverrideMs?: (at: {
    executionName: string;
    stateName: string;
    taskResults: ReadonlyArray<{ stateName: string; payload: unknown }>;
  }) => number | undefined;
  log?: (line: string) => void; // one line per execution start/redrive/end and per state failure; never task tokens or payloads
  /**
   * Caps every Retry interval the engine waits at this many milliseconds (>= 0), so that local runs need
   * not wait the deployed backoff; shorter intervals are kept. Without it the definition's intervals apply.
   * DescribeStateMachine still returns the definition as given.
   */
  maxRetryIntervalMs?: number;
}

export interface LocalStepFunctions {
  url: string;
  port: number;
  close(): Promise<void>;
}

const DEFAULT_HOST = '127.0.0.1';

/**
 * Serves the Step Functions JSON 1.0 API for one Standard state machine, run locally by
 * aws-local-stepfunctions with Lambda tasks answered by `functions`.
 */
export async function startLocalStepFunctions(options: LocalStepFunctionsOptions): Promise<LocalStepFunctions> {
  const stateMachine = parseStateMachineArn(options.stateMachineArn);
  if (stateMachine === undefined) throw new Error(`Not a state machine ARN: ${options.stateMachineArn}`);
  const host = options.host ?? DEFAULT_HOST;
  const log = options.log ?? (() => undefined);
  const definitionText = JSON.stringify(options.definition);
  const { maxRetryIntervalMs } = options;
  if (maxRetryIntervalMs !== undefined && !(Number.isFinite(maxRetryIntervalMs) && maxRetryIntervalMs >= 0)) {
    throw new Error(`maxRetryIntervalMs must be a finite number of milliseconds >= 0, got ${String(maxRetryIntervalMs)}`);
  }

  // Validates the definition exactly as given, on a copy because the validator adds QueryLanguage to it.
  new StateMachine(structuredClone(options.definition) as unknown as StateMachineDefinition);
  const prepared = prepareDefinition(options.definition, { maxRetryIntervalMs });
  const service = new StepFunctionsService({
    stateMachine,
    definitionText,
    environment: {
      machine: new StateMachine(prepared.runDefinition),
      prepared,
      stateMachineArn: options.stateMachineArn,
      stateMachineName: options.stateMachineName,
      roleArn: options.roleArn ?? `arn:${stateMachine.partition}:iam::${stateMachine.account}:role/${options.stateMachineName}-role`,
      region: stateMachine.region,
      functions: options.functions,
      tokens: new TaskTokens(),
      waitOverrideMs: options.waitOverrideMs,
      log,
    },
  });

  const api: AwsJsonApi = {
    contentType: JSON_CONTENT_TYPE,
    readBody: readJsonBody,
    internalError: { code: 'InternalFailure', message: 'The local Step Functions server failed to handle the request' },
    log,
  };
  const server = createServer((request, response) => {
    void answerRequest(request, response, api, (body) => operationOf(request, TARGET_PREFIX, service.operations)(body));
  });
  await listen(server, options.port, host);
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    close() {
      closed ??= (async () => {
        await service.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closed;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
