import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LIVE_ALIAS, WORKFLOW_ERRORS, WORKFLOW_FUNCTIONS } from '../../lambdas/handlers/catalog.ts';
import { renderWorkflowDefinition, resolveIntrinsics, WORKFLOW_COMMENT } from '../../lib/render-definition.ts';
import { PSEUDO_REFS, resourcesOf, synthesize, type SynthesizedStack } from './synth.ts';

interface AslRetry {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
}
interface AslCatch {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string;
}
interface AslChoice {
  Variable?: string;
  BooleanEquals?: boolean;
  Next: string;
}
interface AslState {
  Type: string;
  Choices?: AslChoice[];
  Default?: string;
  Resource?: string;
  Parameters?: { FunctionName?: string; Payload?: Record<string, unknown> };
  Retry?: AslRetry[];
  Catch?: AslCatch[];
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  TimestampPath?: string;
  ResultPath?: string | null;
  Next?: string;
  End?: boolean;
}
interface AslDefinition {
  StartAt: string;
  Comment?: string;
  QueryLanguage?: string;
  States: Record<string, AslState>;
}

const fakeArn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
const liveArn = (name: string) => `${fakeArn(name)}:${LIVE_ALIAS}`;

const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

let synthesized: SynthesizedStack;
let definition: AslDefinition;

function stateMachineProperties(): Record<string, unknown> {
  const machines = Object.values(resourcesOf(synthesized.template, 'AWS::StepFunctions::StateMachine'));
  expect(machines).toHaveLength(1);
  const properties = machines[0]?.Properties;
  if (properties === undefined) throw new Error('state machine without properties');
  return properties;
}

function state(name: string): AslState {
  const found = definition.States[name];
  if (found === undefined) throw new Error(`No state "${name}"; states: ${Object.keys(definition.States).join(', ')}`);
  return found;
}

const lambdaTasks = () =>
  Object.entries(definition.States).filter(([, s]) => s.Type === 'Task' && (s.Resource ?? '').includes(':lambda:invoke'));
const callbackTasks = () => lambdaTasks().filter(([, s]) => (s.Resource ?? '').endsWith('.waitForTaskToken'));

beforeAll(() => {
  synthesized = synthesize();
  // Each workflow function's live alias resolves to the fake ARN of its catalog name, qualified by the alias.
  const refs: Record<string, string> = { 'AWS::Partition': PSEUDO_REFS['AWS::Partition'] };
  for (const name of Object.values(WORKFLOW_FUNCTIONS)) {
    const logicalId = synthesized.aliasIds[name];
    if (logicalId === undefined) throw new Error(`no alias of ${name}`);
    refs[logicalId] = liveArn(name);
  }
  const resolved = resolveIntrinsics(stateMachineProperties().DefinitionString, refs);
  if (typeof resolved !== 'string') throw new Error('DefinitionString did not resolve to a string');
  definition = JSON.parse(resolved) as AslDefinition;
});

describe('the state machine resource', () => {
  it('is a Standard state machine with a fixed name, full logging without execution data, and tracing', () => {
    synthesized.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      StateMachineName: 'TransferTest-transfer-workflow',
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: Match.anyValue() } }],
      },
      TracingConfiguration: { Enabled: true },
    });
  });

  it('logs to a vended-logs group with retention', () => {
    synthesized.template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/vendedlogs/states/TransferTest-transfer-workflow',
      RetentionInDays: 30,
    });
  });
});

describe('the deployed definition', () => {
  it('is exactly the document the local engine runs', () => {
    expect(definition).toEqual(renderWorkflowDefinition(fakeArn));
  });

  it('is JSONPath with the shared comment', () => {
    expect(definition.QueryLanguage).toBe('JSONPath');
    expect(definition.Comment).toBe(WORKFLOW_COMMENT);
  });

  it('invokes only the catalog workflow functions, each through its live alias', () => {
    const invoked = new Set(lambdaTasks().map(([, s]) => s.Parameters?.FunctionName));
    expect([...invoked].sort()).toEqual(Object.values(WORKFLOW_FUNCTIONS).map(liveArn).sort());
  });

  it('waits for a release and an acceptance with the task token, each until its next reminder or the end of its window', () => {
    const waiting = callbackTasks();
    expect(waiting.map(([name]) => name).sort()).toEqual(['Await acceptance by new partner', 'Await release from current partner']);
    for (const [, task] of waiting) {
      expect(task.TimeoutSeconds).toBeUndefined();
      expect(Object.values(task.Parameters?.Payload ?? {})).toContain('$$.Task.Token');
      expect(task.Parameters?.FunctionName).toBe(liveArn(WORKFLOW_FUNCTIONS.requestApproval));
    }
    expect(state('Await release from current partner').TimeoutSecondsPath).toBe('$.releaseWait.value.seconds');
    expect(state('Await acceptance by new partner').TimeoutSecondsPath).toBe('$.acceptanceWait.value.seconds');
  });

  it('gives every Lambda task a timeout, so none can hang', () => {
    for (const [name, task] of lambdaTasks()) {
      expect(task.TimeoutSeconds ?? task.TimeoutSecondsPath, name).toBeDefined();
    }
  });

  it('retries the Lambda service errors first, with backoff and a maximum delay, on every Lambda task', () => {
    expect(lambdaTasks().length).toBeGreaterThanOrEqual(8);
    for (const [name, task] of lambdaTasks()) {
      const first = task.Retry?.[0];
      expect(first, name).toBeDefined();
      expect(first?.ErrorEquals, name).toEqual(expect.arrayContaining(LAMBDA_SERVICE_ERRORS));
      expect(first?.BackoffRate, name).toBeGreaterThan(1);
      expect(first?.MaxDelaySeconds, name).toBeGreaterThan(0);
      expect(first?.MaxAttempts, name).toBeGreaterThan(0);
      // A catch-all retry would re-run declines and cancellations.
      for (const rule of task.Retry ?? []) expect(rule.ErrorEquals, name).not.toContain('States.ALL');
    }
  });

  it('retries our transient error with backoff on every Lambda task', () => {
    for (const [name, task] of lambdaTasks()) {
      const transient = task.Retry?.find((rule) => rule.ErrorEquals.includes(WORKFLOW_ERRORS.transient));
      expect(transient, name).toMatchObject({ BackoffRate: expect.any(Number), MaxDelaySeconds: expect.any(Number) });
    }
  });

  const WAITS = [
    {
      step: 'release',
      wait: 'Await release from current partner',
      remind: 'Remind current partner or expire',
      open: 'Release window still open?',
    },
    {
      step: 'acceptance',
      wait: 'Await acceptance by new partner',
      remind: 'Remind new partner or expire',
      open: 'Acceptance window still open?',
    },
  ] as const;

  it('catches a decline, a cancellation and a timeout (a reminder is due or the window is over) on both waiting steps', () => {
    for (const { wait, remind } of WAITS) {
      const task = state(wait);
      const next = (error: string) => task.Catch?.find((rule) => rule.ErrorEquals.includes(error))?.Next;
      expect(next(WORKFLOW_ERRORS.declined), wait).toBe('Notify partners of the decline');
      expect(next('States.Timeout'), wait).toBe(remind);
      expect(next(WORKFLOW_ERRORS.cancelled), wait).toBe('Transfer cancelled');
      for (const rule of task.Catch ?? []) expect(rule.ResultPath, wait).toBe('$.failure');
    }
    expect(state('Notify partners of the decline').Parameters?.FunctionName).toBe(liveArn(WORKFLOW_FUNCTIONS.recordOutcome));
  });

  it('reminds the silent party and waits again while the window is open, and ends expired once it is over', () => {
    for (const { step, wait, remind, open } of WAITS) {
      const task = state(remind);
      expect(task.Parameters?.FunctionName, remind).toBe(liveArn(WORKFLOW_FUNCTIONS.remindOrExpire));
      expect(task.Parameters?.Payload, remind).toMatchObject({ 'transferId.$': '$.transferId', step });
      // Its result sets the next wait's timeout.
      expect(task.ResultPath, remind).toBe(`$.${step}Wait`);
      expect(task.Catch, remind).toEqual([
        { ErrorEquals: [WORKFLOW_ERRORS.cancelled], Next: 'Transfer cancelled', ResultPath: '$.failure' },
      ]);
      expect(task.Next, remind).toBe(open);
      const choice = state(open);
      expect(choice.Type).toBe('Choice');
      expect(choice.Choices).toEqual([{ Variable: `$.${step}Wait.value.expired`, BooleanEquals: false, Next: wait }]);
      expect(choice.Default).toBe('Transfer expired');
    }
    expect(state('Transfer expired').Type).toBe('Succeed');
  });

  it('lets a re-homing failure stop the execution on "Re-home customers", so that a redrive runs it again', () => {
    const rehome = state('Re-home customers');
    expect(rehome.Parameters?.FunctionName).toBe(liveArn(WORKFLOW_FUNCTIONS.rehomeCustomers));
    expect(rehome.Catch).toEqual([{ ErrorEquals: [WORKFLOW_ERRORS.cancelled], Next: 'Transfer cancelled', ResultPath: '$.failure' }]);
    for (const rule of rehome.Catch ?? []) expect(rule.ErrorEquals).not.toContain('States.ALL');
    expect(rehome.Next).toBe('Send confirmations');
    // The function records the failure and alerts operators itself; no recording step or Fail state remains.
    expect(Object.keys(definition.States)).not.toContain('Record re-homing failure and alert operators');
    expect(Object.values(definition.States).filter((s) => s.Type === 'Fail')).toEqual([]);
  });

  it('sleeps until the scheduled wake-up time given by the schedule step', () => {
    const waits = Object.entries(definition.States).filter(([, s]) => s.Type === 'Wait');
    expect(waits.map(([name]) => name)).toEqual(['Sleep until transfer date']);
    const [, sleep] = waits[0] ?? [];
    expect(sleep?.TimestampPath).toBe('$.schedule.value.wakeAt');
    const schedule = state('Record schedule and notify DevOps');
    expect(schedule.Next).toBe('Sleep until transfer date');
    expect(schedule.ResultPath).toBe('$.schedule');
    expect(sleep?.Next).toBe('Re-home customers');
  });
});
