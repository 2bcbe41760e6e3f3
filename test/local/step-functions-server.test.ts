import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ExecutionNotRedrivable,
  GetExecutionHistoryCommand,
  InvalidArn,
  InvalidToken,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  RedriveExecutionCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStepFunctions, type LocalFunction, type LocalStepFunctions } from '../../local/step-functions/server.ts';

const STATE_MACHINE_NAME = 'customer-transfer';
const STATE_MACHINE_ARN = `arn:aws:states:us-east-1:000000000000:stateMachine:${STATE_MACHINE_NAME}`;

const definition = {
  Comment: 'Test workflow for the local Step Functions server',
  StartAt: 'Route',
  States: {
    Route: {
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.skipConsent', IsPresent: true },
            { Variable: '$.skipConsent', BooleanEquals: true },
          ],
          Next: 'ApplyTransfer',
        },
      ],
      Default: 'RequestConsent',
    },
    RequestConsent: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      TimeoutSecondsPath: '$.consentTimeoutSeconds',
      Parameters: {
        FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:request-consent',
        Payload: {
          'taskToken.$': '$$.Task.Token',
          'customerId.$': '$.customerId',
          'executionName.$': '$$.Execution.Name',
        },
      },
      ResultPath: '$.consent',
      Catch: [
        { ErrorEquals: ['ConsentDeclined'], ResultPath: '$.error', Next: 'RecordDecline' },
        { ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'RecordExpiry' },
      ],
      Next: 'WaitForBillingDate',
    },
    WaitForBillingDate: { Type: 'Wait', TimestampPath: '$.consent.effectiveDate', Next: 'ApplyTransfer' },
    ApplyTransfer: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: 'apply-transfer', 'Payload.$': '$' },
      ResultSelector: { 'appliedAt.$': '$.Payload.appliedAt' },
      ResultPath: '$.transfer',
      Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 1 }],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'TransferFailed' }],
      Next: 'Done',
    },
    RecordDecline: {
      Type: 'Pass',
      Parameters: { outcome: 'declined', 'error.$': '$.error.Error', 'reason.$': '$.error.Cause' },
      End: true,
    },
    RecordExpiry: { Type: 'Pass', Parameters: { outcome: 'expired', 'error.$': '$.error.Error' }, End: true },
    TransferFailed: { Type: 'Fail', Error: 'TransferFailed', Cause: 'The transfer could not be applied' },
    Done: { Type: 'Succeed' },
  },
};

interface ConsentRequest {
  taskToken: string;
  customerId: string;
  executionName: string;
}

function isConsentRequest(value: unknown): value is ConsentRequest {
  return typeof value === 'object' && value !== null && 'taskToken' in value && typeof value.taskToken === 'string';
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

class TransientError extends Error {
  override name = 'TransientError';
}

class PermanentError extends Error {
  override name = 'PermanentError';
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

const consentRequests = new Map<string, Deferred<ConsentRequest>>();
const transferCalls = new Map<string, number>();
const waitOverrideCalls: { executionName: string; stateName: string }[] = [];
const lambdaContexts: { functionName: string; remainingMs: number }[] = [];
const logLines: string[] = [];
const mintedTokens: string[] = [];

function consentRequest(customerId: string): Promise<ConsentRequest> {
  let entry = consentRequests.get(customerId);
  if (entry === undefined) {
    entry = deferred<ConsentRequest>();
    consentRequests.set(customerId, entry);
  }
  return entry.promise;
}

const functions: Record<string, LocalFunction> = {
  'request-consent': async (event) => {
    if (!isConsentRequest(event)) throw new Error('request-consent needs a task token');
    mintedTokens.push(event.taskToken);
    void consentRequest(event.customerId);
    consentRequests.get(event.customerId)?.resolve(event);
    return { sent: true };
  },
  'apply-transfer': async (event, context) => {
    const customerId = String(field(event, 'customerId'));
    const calls = (transferCalls.get(customerId) ?? 0) + 1;
    transferCalls.set(customerId, calls);
    lambdaContexts.push({ functionName: context.functionName, remainingMs: context.getRemainingTimeInMillis() });
    if (field(event, 'alwaysFail') === true) throw new PermanentError('partner system rejected the change');
    const transientFailures = Number(field(event, 'transientFailures') ?? 0);
    if (calls <= transientFailures) throw new TransientError(`attempt ${calls} failed`);
    const padding = Number(field(event, 'resultPadding') ?? 0);
    return { appliedAt: '2030-01-01T00:00:00Z', attempt: calls, ...(padding > 0 ? { padding: 'x'.repeat(padding) } : {}) };
  },
};

let server: LocalStepFunctions;
let client: SFNClient;

beforeAll(async () => {
  server = await startLocalStepFunctions({
    port: 0,
    stateMachineName: STATE_MACHINE_NAME,
    stateMachineArn: STATE_MACHINE_ARN,
    definition,
    functions,
    log: (line) => logLines.push(line),
    waitOverrideMs: ({ executionName, stateName, taskResults }) => {
      waitOverrideCalls.push({ executionName, stateName });
      const consent = taskResults.find((result) => result.stateName === 'RequestConsent');
      return field(consent?.payload, 'fastForward') === true ? 10 : undefined;
    },
  });
  client = new SFNClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
});

async function start(name: string, input: Record<string, unknown>): Promise<string> {
  const { executionArn } = await client.send(
    new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name, input: JSON.stringify(input) }),
  );
  if (executionArn === undefined) throw new Error('StartExecution returned no executionArn');
  return executionArn;
}

async function settled(executionArn: string, timeoutMs = 10_000, sfn = client): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (described.status !== 'RUNNING') return described;
    if (Date.now() > deadline) throw new Error(`${executionArn} is still running`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function history(executionArn: string, sfn = client): Promise<HistoryEvent[]> {
  const { events } = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
  return events ?? [];
}

function types(events: HistoryEvent[]): (string | undefined)[] {
  return events.map((event) => event.type);
}

/** StateRetried/StateCaught are local additions, so they are not in the SDK's HistoryEventType union. */
function ofType(events: HistoryEvent[], type: string): HistoryEvent[] {
  return events.filter((event) => event.type === (type as HistoryEvent['type']));
}

function inFuture(ms: number): string {
  return new Date(Date.now() + ms).toISOString();
}

describe('local Step Functions server', () => {
  it('answers health checks and rejects unknown operations', async () => {
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);

    const unknown = await fetch(server.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'AWSStepFunctions.DoSomethingElse' },
      body: '{}',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(await unknown.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it('describes the state machine with the exact definition', async () => {
    const described = await client.send(new DescribeStateMachineCommand({ stateMachineArn: STATE_MACHINE_ARN }));
    expect(described).toMatchObject({
      stateMachineArn: STATE_MACHINE_ARN,
      name: STATE_MACHINE_NAME,
      status: 'ACTIVE',
      type: 'STANDARD',
      definition: JSON.stringify(definition),
    });
    expect(described.creationDate).toBeInstanceOf(Date);
    expect(described.roleArn).toMatch(/^arn:aws:iam::000000000000:role\//);

    const listed = await client.send(new ListStateMachinesCommand({}));
    expect(listed.stateMachines?.map((machine) => machine.stateMachineArn)).toEqual([STATE_MACHINE_ARN]);

    await expect(
      client.send(new DescribeStateMachineCommand({ stateMachineArn: `${STATE_MACHINE_ARN}-other` })),
    ).rejects.toBeInstanceOf(StateMachineDoesNotExist);
    await expect(client.send(new DescribeStateMachineCommand({ stateMachineArn: 'not-an-arn' }))).rejects.toBeInstanceOf(InvalidArn);
  });

  it('resumes a callback task with SendTaskSuccess and records an ordered history', async () => {
    const executionArn = await start('consent-granted', { customerId: 'c-granted', consentTimeoutSeconds: 10 });
    expect(executionArn).toBe(`arn:aws:states:us-east-1:000000000000:execution:${STATE_MACHINE_NAME}:consent-granted`);

    const request = await consentRequest('c-granted');
    expect(request.executionName).toBe('consent-granted');
    await client.send(new SendTaskHeartbeatCommand({ taskToken: request.taskToken }));
    await client.send(
      new SendTaskSuccessCommand({
        taskToken: request.taskToken,
        output: JSON.stringify({ approved: true, effectiveDate: inFuture(150) }),
      }),
    );

    const described = await settled(executionArn);
    expect(described.status).toBe('SUCCEEDED');
    expect(described.startDate).toBeInstanceOf(Date);
    expect(described.stopDate).toBeInstanceOf(Date);
    expect(JSON.parse(described.output ?? 'null')).toMatchObject({
      customerId: 'c-granted',
      consent: { approved: true },
      transfer: { appliedAt: '2030-01-01T00:00:00Z' },
    });
    expect(waitOverrideCalls).toContainEqual({ executionName: 'consent-granted', stateName: 'WaitForBillingDate' });

    await expect(
      client.send(new SendTaskSuccessCommand({ taskToken: request.taskToken, output: '{}' })),
    ).rejects.toBeInstanceOf(TaskDoesNotExist);

    const events = await history(executionArn);
    expect(types(events)).toEqual([
      'ExecutionStarted',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'WaitStateEntered',
      'WaitStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    events.forEach((event, index) => {
      expect(event.id).toBe(index + 1);
      expect(event.previousEventId).toBe(index);
      expect(event.timestamp).toBeInstanceOf(Date);
    });
    const timestamps = events.map((event) => event.timestamp?.getTime() ?? 0);
    expect(timestamps).toEqual([...timestamps].sort((a, b) => a - b));
    expect(events[0]?.executionStartedEventDetails?.input).toBe(
      JSON.stringify({ customerId: 'c-granted', consentTimeoutSeconds: 10 }),
    );
    expect(events[3]?.stateEnteredEventDetails?.name).toBe('RequestConsent');
    expect(events[4]?.taskScheduledEventDetails).toMatchObject({
      resourceType: 'lambda',
      resource: 'invoke.waitForTaskToken',
      region: 'us-east-1',
      timeoutInSeconds: 10,
    });
    expect(events[7]?.stateExitedEventDetails?.name).toBe('RequestConsent');
    expect(JSON.parse(events[7]?.stateExitedEventDetails?.output ?? 'null')).toMatchObject({ consent: { approved: true } });
    expect(events.at(-1)?.executionSucceededEventDetails?.output).toBe(described.output);

    const reversed = await client.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 1 }));
    expect(reversed.events?.map((event) => event.type)).toEqual(['ExecutionSucceeded']);
    const paged: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await client.send(
        new GetExecutionHistoryCommand({ executionArn, maxResults: 5, nextToken, includeExecutionData: false }),
      );
      paged.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    expect(paged.map((event) => event.id)).toEqual(events.map((event) => event.id));
    expect(paged[0]?.executionStartedEventDetails?.input).toBeUndefined();
  });

  it('routes SendTaskFailure to the matching Catch', async () => {
    const executionArn = await start('consent-declined', { customerId: 'c-declined', consentTimeoutSeconds: 10 });
    const { taskToken } = await consentRequest('c-declined');
    await client.send(
      new SendTaskFailureCommand({ taskToken, error: 'ConsentDeclined', cause: 'The gaining partner declined' }),
    );

    const described = await settled(executionArn);
    expect(described.status).toBe('SUCCEEDED');
    expect(JSON.parse(described.output ?? 'null')).toEqual({
      outcome: 'declined',
      error: 'ConsentDeclined',
      reason: 'The gaining partner declined',
    });
    const events = await history(executionArn);
    expect(events.find((event) => event.type === 'TaskFailed')?.taskFailedEventDetails).toMatchObject({
      error: 'ConsentDeclined',
      cause: 'The gaining partner declined',
    });
    expect(ofType(events, 'StateCaught')[0]?.evaluationFailedEventDetails).toMatchObject({
      state: 'RequestConsent',
      error: 'ConsentDeclined',
    });
    expect(types(events)).toContain('PassStateEntered');

    await expect(client.send(new SendTaskFailureCommand({ taskToken, error: 'ConsentDeclined' }))).rejects.toBeInstanceOf(
      TaskDoesNotExist,
    );
  });

  it('times a callback task out with TimeoutSecondsPath and then answers TaskTimedOut', async () => {
    const executionArn = await start('consent-expired', { customerId: 'c-expired', consentTimeoutSeconds: 1 });
    const { taskToken } = await consentRequest('c-expired');

    const described = await settled(executionArn);
    expect(described.status).toBe('SUCCEEDED');
    expect(JSON.parse(described.output ?? 'null')).toEqual({ outcome: 'expired', error: 'States.Timeout' });
    expect(types(await history(executionArn))).toContain('TaskTimedOut');

    await expect(client.send(new SendTaskSuccessCommand({ taskToken, output: '{}' }))).rejects.toBeInstanceOf(TaskTimedOut);
    await expect(client.send(new SendTaskHeartbeatCommand({ taskToken }))).rejects.toBeInstanceOf(TaskTimedOut);
  });

  it('retries a Lambda task on a transient error and then succeeds', async () => {
    const executionArn = await start('transfer-retried', {
      customerId: 'c-retried',
      skipConsent: true,
      transientFailures: 2,
    });

    const described = await settled(executionArn);
    expect(described.status).toBe('SUCCEEDED');
    expect(transferCalls.get('c-retried')).toBe(3);
    expect(JSON.parse(described.output ?? 'null')).toMatchObject({ transfer: { appliedAt: '2030-01-01T00:00:00Z' } });
    const context = lambdaContexts.at(-1);
    expect(context?.functionName).toBe('apply-transfer');
    expect(context?.remainingMs).toBeGreaterThan(50_000);
    expect(context?.remainingMs).toBeLessThanOrEqual(60_000);

    const events = await history(executionArn);
    const failures = events.filter((event) => event.type === 'TaskFailed');
    expect(failures.map((event) => event.taskFailedEventDetails?.error)).toEqual(['TransientError', 'TransientError']);
    expect(failures[0]?.taskFailedEventDetails).toMatchObject({ resourceType: 'lambda', resource: 'invoke', cause: 'attempt 1 failed' });
    const retries = ofType(events, 'StateRetried');
    expect(retries.map((event) => event.evaluationFailedEventDetails?.state)).toEqual(['ApplyTransfer', 'ApplyTransfer']);
    expect(types(events).filter((type) => type === 'TaskScheduled')).toHaveLength(3);
  });

  it('fails through the Catch to a Fail state on a permanent error', async () => {
    const executionArn = await start('transfer-failed', { customerId: 'c-failed', skipConsent: true, alwaysFail: true });

    const described = await settled(executionArn);
    expect(described).toMatchObject({
      status: 'FAILED',
      error: 'TransferFailed',
      cause: 'The transfer could not be applied',
    });
    expect(transferCalls.get('c-failed')).toBe(1);
    const events = await history(executionArn);
    expect(types(events).slice(-2)).toEqual(['FailStateEntered', 'ExecutionFailed']);
    expect(events.at(-1)?.executionFailedEventDetails).toEqual({
      error: 'TransferFailed',
      cause: 'The transfer could not be applied',
    });
  });

  it('shortens a long TimestampPath wait through waitOverrideMs', async () => {
    const executionArn = await start('billing-date-far-away', { customerId: 'c-waiting', consentTimeoutSeconds: 10 });
    const { taskToken } = await consentRequest('c-waiting');
    await client.send(
      new SendTaskSuccessCommand({
        taskToken,
        output: JSON.stringify({ approved: true, fastForward: true, effectiveDate: inFuture(24 * 60 * 60 * 1000) }),
      }),
    );

    const described = await settled(executionArn, 3_000);
    expect(described.status).toBe('SUCCEEDED');
    expect(waitOverrideCalls).toContainEqual({ executionName: 'billing-date-far-away', stateName: 'WaitForBillingDate' });
  });

  it('aborts an execution with StopExecution and releases its callback task', async () => {
    const executionArn = await start('consent-stopped', { customerId: 'c-stopped', consentTimeoutSeconds: 30 });
    const { taskToken } = await consentRequest('c-stopped');

    const stopped = await client.send(
      new StopExecutionCommand({ executionArn, error: 'Transfer.Cancelled', cause: 'Cancelled by an operator' }),
    );
    expect(stopped.stopDate).toBeInstanceOf(Date);

    const described = await client.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({ status: 'ABORTED', error: 'Transfer.Cancelled', cause: 'Cancelled by an operator' });
    await expect(client.send(new SendTaskSuccessCommand({ taskToken, output: '{}' }))).rejects.toBeInstanceOf(
      TaskDoesNotExist,
    );

    const events = await history(executionArn);
    expect(events.at(-1)).toMatchObject({
      type: 'ExecutionAborted',
      executionAbortedEventDetails: { error: 'Transfer.Cancelled', cause: 'Cancelled by an operator' },
    });
  });

  it('lists executions newest first with a status filter and pagination', async () => {
    const succeeded = await client.send(
      new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'SUCCEEDED' }),
    );
    const succeededNames = succeeded.executions?.map((execution) => execution.name);
    expect(succeededNames).toEqual([
      'billing-date-far-away',
      'transfer-retried',
      'consent-expired',
      'consent-declined',
      'consent-granted',
    ]);
    expect(succeeded.executions?.every((execution) => execution.stateMachineArn === STATE_MACHINE_ARN)).toBe(true);

    const aborted = await client.send(new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'ABORTED' }));
    expect(aborted.executions?.map((execution) => execution.name)).toEqual(['consent-stopped']);

    const firstPage = await client.send(new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN, maxResults: 2 }));
    expect(firstPage.executions?.map((execution) => execution.name)).toEqual(['consent-stopped', 'billing-date-far-away']);
    expect(firstPage.nextToken).toBeDefined();
    const secondPage = await client.send(
      new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN, maxResults: 2, nextToken: firstPage.nextToken }),
    );
    expect(secondPage.executions?.map((execution) => execution.name)).toEqual(['transfer-failed', 'transfer-retried']);
  });

  it('answers task tokens it never issued with the SDK error classes', async () => {
    await expect(
      client.send(new SendTaskSuccessCommand({ taskToken: 'never-issued', output: '{}' })),
    ).rejects.toBeInstanceOf(TaskDoesNotExist);
    await expect(
      client.send(new SendTaskFailureCommand({ taskToken: 'x'.repeat(2049), error: 'Nope' })),
    ).rejects.toBeInstanceOf(InvalidToken);
  });

  it('keeps Standard start semantics for execution names and ARNs', async () => {
    const input = { customerId: 'c-duplicate', consentTimeoutSeconds: 30 };
    const first = await start('duplicate-name', input);
    await consentRequest('c-duplicate');
    expect(await start('duplicate-name', input)).toBe(first);
    await expect(start('duplicate-name', { ...input, customerId: 'someone-else' })).rejects.toBeInstanceOf(
      ExecutionAlreadyExists,
    );
    await client.send(new StopExecutionCommand({ executionArn: first }));

    await expect(
      client.send(new DescribeExecutionCommand({ executionArn: first.replace('duplicate-name', 'missing') })),
    ).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    await expect(client.send(new DescribeExecutionCommand({ executionArn: 'arn:aws:nope' }))).rejects.toBeInstanceOf(InvalidArn);
  });

  it('fails the execution with States.DataLimitExceeded when a task result passes 256 KiB, past any Catch', async () => {
    // ApplyTransfer catches States.ALL, which on AWS does not catch this terminal error.
    const executionArn = await start('result-too-large', { customerId: 'c-large', skipConsent: true, resultPadding: 262_144 });

    const described = await settled(executionArn);
    expect(described).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
    expect(described.cause).toMatch(/task result of state ApplyTransfer has \d+ bytes, more than the quota of 262144 bytes/);
    const events = await history(executionArn);
    expect(types(events)).not.toContain('FailStateEntered');
    expect(events.at(-1)).toMatchObject({ type: 'ExecutionFailed', executionFailedEventDetails: { error: 'States.DataLimitExceeded' } });

    // Just under the quota passes (the task result wraps the payload in StatusCode and Payload).
    const fits = await start('result-fits', { customerId: 'c-fits', skipConsent: true, resultPadding: 200_000 });
    expect((await settled(fits)).status).toBe('SUCCEEDED');
  });

  it('refuses an execution input or a task output over 256 KiB of UTF-8, however few characters it has', async () => {
    // 140,000 two-byte characters: 280,002 bytes as UTF-8, fewer than 262,144 characters.
    const wide = JSON.stringify({ note: 'é'.repeat(140_000) });
    expect(wide.length).toBeLessThan(262_144);
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name: 'input-too-large', input: wide })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(client.send(new SendTaskSuccessCommand({ taskToken: 'any-token', output: wide }))).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('never logs task tokens or payloads', () => {
    expect(logLines).toContain('execution consent-granted started');
    expect(logLines).toContain('execution consent-granted SUCCEEDED');
    expect(logLines.some((line) => line.includes('ApplyTransfer failed with TransientError'))).toBe(true);
    for (const token of mintedTokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{43,}$/);
      expect(logLines.some((line) => line.includes(token))).toBe(false);
    }
    expect(logLines.some((line) => line.includes('c-granted') || line.includes('2030-01-01'))).toBe(false);
  });
});

describe('local Step Functions server lifecycle', () => {
  it('fails a Lambda task whose function is unknown and closes with a parked callback task', async () => {
    const local = await startLocalStepFunctions({
      port: 0,
      stateMachineName: STATE_MACHINE_NAME,
      stateMachineArn: STATE_MACHINE_ARN,
      definition,
      functions: { 'request-consent': async () => ({ sent: true }) },
    });
    const localClient = new SFNClient({
      endpoint: local.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      const missing = await localClient.send(
        new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, input: JSON.stringify({ skipConsent: true }) }),
      );
      const parked = await localClient.send(
        new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, input: JSON.stringify({ consentTimeoutSeconds: 60 }) }),
      );
      const deadline = Date.now() + 5_000;
      let failed: DescribeExecutionCommandOutput | undefined;
      while (Date.now() < deadline) {
        failed = await localClient.send(new DescribeExecutionCommand({ executionArn: missing.executionArn }));
        if (failed.status !== 'RUNNING') break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(failed?.status).toBe('FAILED');
      expect(failed?.error).toBe('TransferFailed');
      const { events } = await localClient.send(new GetExecutionHistoryCommand({ executionArn: missing.executionArn }));
      expect(events?.find((event) => event.type === 'TaskFailed')?.taskFailedEventDetails?.error).toBe(
        'Lambda.ResourceNotFoundException',
      );

      const closing = Date.now();
      await local.close();
      expect(Date.now() - closing).toBeLessThan(1_000);
      expect(parked.executionArn).toBeDefined();
    } finally {
      localClient.destroy();
      await local.close();
    }
  });
});

describe('local Step Functions server: qualified function names', () => {
  /** Runs a one-step definition invoking `functionName` with these functions registered; the execution's status and the task's error. */
  async function runOneStep(functionName: string, functions: Record<string, LocalFunction>): Promise<{ status?: string; error?: string }> {
    const local = await startLocalStepFunctions({
      port: 0,
      stateMachineName: STATE_MACHINE_NAME,
      stateMachineArn: STATE_MACHINE_ARN,
      definition: {
        StartAt: 'Invoke',
        States: { Invoke: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: functionName, Payload: {} }, End: true } },
      },
      functions,
    });
    const localClient = new SFNClient({ endpoint: local.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      const { executionArn } = await localClient.send(new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, input: '{}' }));
      const deadline = Date.now() + 5_000;
      let described: DescribeExecutionCommandOutput | undefined;
      do {
        await new Promise((resolve) => setTimeout(resolve, 20));
        described = await localClient.send(new DescribeExecutionCommand({ executionArn }));
      } while (described.status === 'RUNNING' && Date.now() < deadline);
      const { events } = await localClient.send(new GetExecutionHistoryCommand({ executionArn }));
      return { status: described.status, error: events?.find((event) => event.type === 'TaskFailed')?.taskFailedEventDetails?.error };
    } finally {
      localClient.destroy();
      await local.close();
    }
  }
  const arn = 'arn:aws:lambda:us-east-1:000000000000:function:apply-transfer';
  const answer: LocalFunction = async () => ({ ok: true });

  it('invokes an alias only where that alias is registered, as Lambda finds no alias it was never given', async () => {
    expect(await runOneStep(`${arn}:live`, { 'apply-transfer:live': answer })).toEqual({ status: 'SUCCEEDED', error: undefined });
    expect(await runOneStep(`${arn}:live`, { 'apply-transfer': answer })).toEqual({ status: 'FAILED', error: 'Lambda.ResourceNotFoundException' });
    expect(await runOneStep(`${arn}:canary`, { 'apply-transfer:live': answer })).toEqual({ status: 'FAILED', error: 'Lambda.ResourceNotFoundException' });
    expect(await runOneStep(arn, { 'apply-transfer:live': answer })).toEqual({ status: 'FAILED', error: 'Lambda.ResourceNotFoundException' });
  });

  it('takes $LATEST, a partial ARN and a plain name for the unqualified function', async () => {
    for (const reference of [`${arn}:$LATEST`, '000000000000:function:apply-transfer', 'apply-transfer', 'apply-transfer:$LATEST']) {
      expect(await runOneStep(reference, { 'apply-transfer': answer }), reference).toEqual({ status: 'SUCCEEDED', error: undefined });
    }
  });
});

describe('local Step Functions server redrive and retry caps', () => {
  const lambdaArn = (name: string): string => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
  const redriveDefinition = {
    Comment: 'Redrive and retry workflow for the local Step Functions server',
    StartAt: 'Prepare',
    States: {
      Prepare: { Type: 'Task', Resource: lambdaArn('prepare'), ResultPath: '$.prepared', Next: 'Route' },
      Route: {
        Type: 'Choice',
        Choices: [
          { Variable: '$.mode', StringEquals: 'callback', Next: 'AwaitApproval' },
          { Variable: '$.mode', StringEquals: 'retry', Next: 'Flaky' },
        ],
        Default: 'Apply',
      },
      Apply: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: {
          FunctionName: 'apply',
          Payload: {
            'key.$': '$.key',
            'prepared.$': '$.prepared',
            'executionInput.$': '$$.Execution.Input',
            'executionName.$': '$$.Execution.Name',
            'redriveCount.$': '$$.Execution.RedriveCount',
          },
        },
        ResultSelector: { 'appliedBy.$': '$.Payload.appliedBy' },
        ResultPath: '$.applied',
        Next: 'Done',
      },
      AwaitApproval: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        TimeoutSeconds: 30,
        Parameters: { FunctionName: 'request-approval', Payload: { 'taskToken.$': '$$.Task.Token', 'key.$': '$.key' } },
        ResultPath: '$.approval',
        Next: 'Done',
      },
      Flaky: {
        Type: 'Task',
        Resource: lambdaArn('flaky'),
        Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 30, MaxAttempts: 3, BackoffRate: 2 }],
        ResultPath: '$.flaky',
        Next: 'Done',
      },
      Done: { Type: 'Succeed' },
    },
  };

  type ApplyBehaviour = 'fail' | 'succeed' | 'hold';
  const applyBehaviour = new Map<string, ApplyBehaviour>();
  const applyEvents: unknown[] = [];
  const prepareCalls = new Map<string, number>();
  const flakyCalls = new Map<string, number>();
  const approvalTokens = new Map<string, string[]>();
  const redriveLog: string[] = [];
  let applyStarted = deferred<void>();
  let releaseApply = deferred<void>();

  const count = (calls: Map<string, number>, key: string): number => {
    const next = (calls.get(key) ?? 0) + 1;
    calls.set(key, next);
    return next;
  };

  const redriveFunctions: Record<string, LocalFunction> = {
    prepare: async (event) => {
      const key = String(field(event, 'key'));
      return { preparedFor: key, call: count(prepareCalls, key) };
    },
    apply: async (event) => {
      applyEvents.push(event);
      const behaviour = applyBehaviour.get(String(field(event, 'key'))) ?? 'succeed';
      applyStarted.resolve();
      if (behaviour === 'fail') throw new PermanentError('partner system rejected the change');
      if (behaviour === 'hold') await releaseApply.promise;
      return { appliedBy: 'apply' };
    },
    'request-approval': async (event) => {
      if (!isConsentRequest(event)) throw new Error('request-approval needs a task token');
      const key = String(field(event, 'key'));
      approvalTokens.set(key, [...(approvalTokens.get(key) ?? []), event.taskToken]);
      return { sent: true };
    },
    flaky: async (event) => {
      const calls = count(flakyCalls, String(field(event, 'key')));
      if (calls <= 3) throw new TransientError(`attempt ${calls} failed`);
      return { attempt: calls };
    },
  };

  let local: LocalStepFunctions;
  let sfn: SFNClient;

  beforeAll(async () => {
    local = await startLocalStepFunctions({
      port: 0,
      stateMachineName: STATE_MACHINE_NAME,
      stateMachineArn: STATE_MACHINE_ARN,
      definition: redriveDefinition,
      functions: redriveFunctions,
      maxRetryIntervalMs: 5,
      log: (line) => redriveLog.push(line),
    });
    sfn = new SFNClient({
      endpoint: local.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    sfn?.destroy();
    await local?.close();
  });

  async function startRun(name: string, input: Record<string, unknown>): Promise<string> {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name, input: JSON.stringify(input) }),
    );
    if (executionArn === undefined) throw new Error('StartExecution returned no executionArn');
    return executionArn;
  }

  async function redrive(executionArn: string, clientToken?: string): Promise<Date> {
    const { redriveDate } = await sfn.send(new RedriveExecutionCommand({ executionArn, clientToken }));
    if (!(redriveDate instanceof Date)) throw new Error('RedriveExecution returned no redriveDate');
    return redriveDate;
  }

  async function approvalToken(key: string, index: number): Promise<string> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const token = approvalTokens.get(key)?.[index];
      if (token !== undefined) return token;
      if (Date.now() > deadline) throw new Error(`no approval request ${index} for ${key}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('redrives a failed execution from the failed state, more than once, keeping the earlier history', async () => {
    const input = { key: 'r-failed', mode: 'apply' };
    applyBehaviour.set('r-failed', 'fail');
    const executionArn = await startRun('redrive-failed', input);

    const failed = await settled(executionArn, 5_000, sfn);
    expect(failed).toMatchObject({
      status: 'FAILED',
      error: 'PermanentError',
      cause: 'partner system rejected the change',
      redriveCount: 0,
      redriveStatus: 'REDRIVABLE',
    });
    expect(failed.redriveDate).toBeUndefined();
    const original = await history(executionArn, sfn);
    expect(types(original)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'ExecutionFailed',
    ]);

    // A redrive that fails again at the same state.
    const firstRedrive = await redrive(executionArn);
    const failedAgain = await settled(executionArn, 5_000, sfn);
    expect(failedAgain).toMatchObject({ status: 'FAILED', error: 'PermanentError', redriveCount: 1, redriveStatus: 'REDRIVABLE' });
    expect(failedAgain.redriveDate?.getTime()).toBe(firstRedrive.getTime());

    // Fixed: the second redrive is held in the Lambda function to observe the RUNNING execution.
    applyBehaviour.set('r-failed', 'hold');
    applyStarted = deferred<void>();
    releaseApply = deferred<void>();
    const secondRedrive = await redrive(executionArn, 'second-redrive');
    expect(secondRedrive.getTime()).toBeGreaterThanOrEqual(firstRedrive.getTime());
    await applyStarted.promise;
    const running = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(running).toMatchObject({
      executionArn,
      name: 'redrive-failed',
      status: 'RUNNING',
      redriveCount: 2,
      redriveStatus: 'NOT_REDRIVABLE',
      redriveStatusReason: 'Execution is RUNNING and cannot be redriven.',
    });
    expect(running.startDate?.getTime()).toBe(failed.startDate?.getTime());
    expect(running.redriveDate?.getTime()).toBe(secondRedrive.getTime());
    expect(running.stopDate).toBeUndefined();
    expect(running.error).toBeUndefined();
    await expect(sfn.send(new RedriveExecutionCommand({ executionArn }))).rejects.toBeInstanceOf(ExecutionNotRedrivable);
    // The same client token answers with the same redrive instead of redriving again.
    expect((await redrive(executionArn, 'second-redrive')).getTime()).toBe(secondRedrive.getTime());
    releaseApply.resolve();

    const succeeded = await settled(executionArn, 5_000, sfn);
    expect(succeeded).toMatchObject({ status: 'SUCCEEDED', redriveCount: 2, redriveStatus: 'NOT_REDRIVABLE' });
    expect(succeeded.redriveStatusReason).toBe('Execution is SUCCEEDED and cannot be redriven.');
    expect(JSON.parse(succeeded.output ?? 'null')).toEqual({
      ...input,
      prepared: { preparedFor: 'r-failed', call: 1 },
      applied: { appliedBy: 'apply' },
    });
    // The first state's function ran once; the failed state ran once per attempt, with the same context.
    expect(prepareCalls.get('r-failed')).toBe(1);
    const applied = applyEvents.filter((event) => field(event, 'key') === 'r-failed');
    expect(applied.map((event) => field(event, 'redriveCount'))).toEqual([0, 1, 2]);
    for (const event of applied) {
      expect(event).toMatchObject({ executionInput: input, executionName: 'redrive-failed', prepared: { call: 1 } });
    }

    const events = await history(executionArn, sfn);
    expect(events.slice(0, original.length)).toEqual(original);
    events.forEach((event, index) => {
      expect(event.id).toBe(index + 1);
      expect(event.previousEventId).toBe(index);
    });
    expect(types(events).filter((type) => type === 'ExecutionStarted')).toHaveLength(1);
    const redriven = events.filter((event) => event.type === 'ExecutionRedriven');
    expect(redriven.map((event) => event.executionRedrivenEventDetails)).toEqual([{ redriveCount: 1 }, { redriveCount: 2 }]);
    const lastRedrive = events.findLastIndex((event) => event.type === 'ExecutionRedriven');
    expect(types(events.slice(lastRedrive))).toEqual([
      'ExecutionRedriven',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    const applyEntered = events.filter((event) => event.stateEnteredEventDetails?.name === 'Apply');
    expect(applyEntered).toHaveLength(3);
    expect(new Set(applyEntered.map((event) => event.stateEnteredEventDetails?.input)).size).toBe(1);
    expect(events.some((event) => event.stateEnteredEventDetails?.name?.startsWith('LocalRedriveEntry'))).toBe(false);

    await expect(sfn.send(new RedriveExecutionCommand({ executionArn }))).rejects.toBeInstanceOf(ExecutionNotRedrivable);
    await expect(
      sfn.send(new RedriveExecutionCommand({ executionArn: executionArn.replace('redrive-failed', 'missing') })),
    ).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'SUCCEEDED' }));
    expect(listed.executions?.find((execution) => execution.name === 'redrive-failed')?.redriveCount).toBe(2);

    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: STATE_MACHINE_ARN }));
    expect(described.definition).toBe(JSON.stringify(redriveDefinition));
  });

  it('stops an execution while its Lambda function is still running, then redrives it', async () => {
    applyBehaviour.set('r-stopped', 'hold');
    applyStarted = deferred<void>();
    releaseApply = deferred<void>();
    const executionArn = await startRun('stop-during-lambda', { key: 'r-stopped', mode: 'apply' });
    await applyStarted.promise;

    await sfn.send(new StopExecutionCommand({ executionArn, error: 'Operator.Stop', cause: 'Stopped while applying' }));
    const stopped = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(stopped).toMatchObject({ status: 'ABORTED', error: 'Operator.Stop', cause: 'Stopped while applying' });
    expect(stopped.stopDate).toBeInstanceOf(Date);
    const aborted = await history(executionArn, sfn);
    expect(aborted.at(-1)).toMatchObject({
      type: 'ExecutionAborted',
      executionAbortedEventDetails: { error: 'Operator.Stop', cause: 'Stopped while applying' },
    });

    // The function finishing after the stop changes nothing.
    releaseApply.resolve();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({ status: 'ABORTED', error: 'Operator.Stop' });
    expect(await history(executionArn, sfn)).toEqual(aborted);

    applyBehaviour.set('r-stopped', 'succeed');
    await redrive(executionArn);
    const succeeded = await settled(executionArn, 5_000, sfn);
    expect(succeeded).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    expect(succeeded.error).toBeUndefined();
    expect(prepareCalls.get('r-stopped')).toBe(1);
    expect(types(await history(executionArn, sfn)).slice(aborted.length, aborted.length + 2)).toEqual([
      'ExecutionRedriven',
      'TaskStateEntered',
    ]);
  });

  it('redrives an execution aborted on a callback task with a fresh task token', async () => {
    const executionArn = await startRun('redrive-callback', { key: 'r-callback', mode: 'callback' });
    const firstToken = await approvalToken('r-callback', 0);
    await expect(sfn.send(new RedriveExecutionCommand({ executionArn }))).rejects.toBeInstanceOf(ExecutionNotRedrivable);

    await sfn.send(new StopExecutionCommand({ executionArn, error: 'Paused', cause: 'Waiting for a fix' }));
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
      status: 'ABORTED',
      redriveStatus: 'REDRIVABLE',
    });
    await expect(sfn.send(new SendTaskSuccessCommand({ taskToken: firstToken, output: '{}' }))).rejects.toBeInstanceOf(
      TaskDoesNotExist,
    );

    await redrive(executionArn);
    const secondToken = await approvalToken('r-callback', 1);
    expect(secondToken).not.toBe(firstToken);
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn }))).status).toBe('RUNNING');
    await sfn.send(new SendTaskSuccessCommand({ taskToken: secondToken, output: JSON.stringify({ approved: true }) }));

    const succeeded = await settled(executionArn, 5_000, sfn);
    expect(succeeded).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    expect(JSON.parse(succeeded.output ?? 'null')).toMatchObject({ key: 'r-callback', approval: { approved: true } });
    expect(prepareCalls.get('r-callback')).toBe(1);
    const events = await history(executionArn, sfn);
    const redrivenAt = events.findIndex((event) => event.type === 'ExecutionRedriven');
    expect(events[redrivenAt - 1]).toMatchObject({
      type: 'ExecutionAborted',
      executionAbortedEventDetails: { error: 'Paused', cause: 'Waiting for a fix' },
    });
    expect(events[redrivenAt + 1]?.stateEnteredEventDetails?.name).toBe('AwaitApproval');
    expect(types(events).filter((type) => type === 'TaskScheduled')).toHaveLength(2);
  });

  it('caps Retry intervals at maxRetryIntervalMs', async () => {
    const started = Date.now();
    const executionArn = await startRun('retry-capped', { key: 'r-retry', mode: 'retry' });
    const succeeded = await settled(executionArn, 5_000, sfn);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(succeeded.status).toBe('SUCCEEDED');
    expect(flakyCalls.get('r-retry')).toBe(4);
    expect(ofType(await history(executionArn, sfn), 'StateRetried')).toHaveLength(3);

    await expect(
      startLocalStepFunctions({
        port: 0,
        stateMachineName: STATE_MACHINE_NAME,
        stateMachineArn: STATE_MACHINE_ARN,
        definition: redriveDefinition,
        functions: redriveFunctions,
        maxRetryIntervalMs: -1,
      }),
    ).rejects.toThrow(/maxRetryIntervalMs/);
  });

  it('never logs task tokens or payloads while redriving', () => {
    expect(redriveLog).toContain('execution redrive-failed redriven (redrive 2) at state Apply');
    for (const token of approvalTokens.get('r-callback') ?? []) {
      expect(redriveLog.some((line) => line.includes(token))).toBe(false);
    }
    expect(redriveLog.some((line) => line.includes('r-failed') || line.includes('partner system'))).toBe(false);
  });
});
