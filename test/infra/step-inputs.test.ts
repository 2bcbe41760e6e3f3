import { describe, expect, it } from 'vitest';
import { WORKFLOW_FUNCTIONS, type WorkflowFunctionKey } from '../../lambdas/handlers/catalog.ts';
import { STEP_INPUTS } from '../../lambdas/handlers/workflow/step-inputs.ts';
import { renderWorkflowDefinition } from '../../lib/render-definition.ts';

/**
 * Every payload template a released definition sends to a step, by state name. An execution that
 * sleeps across a deployment keeps its own definition (these templates) and calls the function
 * version deployed when it wakes: so each function must go on accepting every shape listed here. A
 * definition that sends something new adds its templates as a new entry; none is ever edited.
 */
const SENT_BY_DEFINITIONS: ReadonlyArray<{ since: string; tasks: Record<string, { fn: WorkflowFunctionKey; payload: Record<string, string> }> }> = [
  {
    since: 'the first release',
    tasks: {
      'Await release from current partner': {
        fn: 'requestApproval',
        payload: { 'transferId.$': '$.transferId', step: 'release', 'taskToken.$': '$$.Task.Token', 'approvalWindowSeconds.$': '$.policy.approvalWindowSeconds' },
      },
      'Remind current partner or expire': {
        fn: 'remindOrExpire',
        payload: { 'transferId.$': '$.transferId', step: 'release', 'reminderIntervalSeconds.$': '$.policy.reminderIntervalSeconds' },
      },
      'Await acceptance by new partner': {
        fn: 'requestApproval',
        payload: { 'transferId.$': '$.transferId', step: 'acceptance', 'taskToken.$': '$$.Task.Token', 'approvalWindowSeconds.$': '$.policy.approvalWindowSeconds' },
      },
      'Remind new partner or expire': {
        fn: 'remindOrExpire',
        payload: { 'transferId.$': '$.transferId', step: 'acceptance', 'reminderIntervalSeconds.$': '$.policy.reminderIntervalSeconds' },
      },
      'Record schedule and notify DevOps': { fn: 'scheduleTransfer', payload: { 'transferId.$': '$.transferId' } },
      'Re-home customers': { fn: 'rehomeCustomers', payload: { 'transferId.$': '$.transferId' } },
      'Send confirmations': { fn: 'sendConfirmations', payload: { 'transferId.$': '$.transferId' } },
      'Record confirmation failure and alert operators': {
        fn: 'recordOutcome',
        payload: { 'transferId.$': '$.transferId', outcome: 'CONFIRMATION_FAILED', 'failure.$': '$.failure' },
      },
      'Notify partners of the decline': { fn: 'recordOutcome', payload: { 'transferId.$': '$.transferId', outcome: 'DECLINED', 'failure.$': '$.failure' } },
    },
  },
];

/** States an execution can be in when it calls a step: its input (with the policy create-transfer starts it with) and a caught error. */
const EXECUTION_STATES = [
  { transferId: 'TR-20260310-ABCDEF12', policy: { approvalWindowSeconds: 1_209_600, reminderIntervalSeconds: 259_200 }, failure: { Error: 'TransferDeclined', Cause: '{"reason":"x"}' } },
  { transferId: 'TR-20260310-ABCDEF12', policy: { approvalWindowSeconds: 60, reminderIntervalSeconds: 30 }, failure: { Error: 'States.Timeout' } },
];
const CONTEXT = { Task: { Token: 'AQCEAAAAKgAAAAMAAAAAAAAAAb…' } };

/** The payload Step Functions builds from a template: `key.$` paths read from the state (`$`) or the context (`$$`). */
function payloadFor(template: Record<string, string>, state: Record<string, unknown>): Record<string, unknown> {
  const read = (path: string): unknown => {
    const [root, ...keys] = path.split('.');
    let value: unknown = root === '$$' ? CONTEXT : state;
    for (const key of keys) value = (value as Record<string, unknown> | undefined)?.[key];
    if (value === undefined) throw new Error(`${path} is not in the execution's state`);
    return value;
  };
  return Object.fromEntries(Object.entries(template).map(([key, value]) => (key.endsWith('.$') ? [key.slice(0, -2), read(value)] : [key, value])));
}

describe('the input each workflow step gets', () => {
  it('is sent by the current definition exactly as the latest entry of the held shapes says', () => {
    const definition = renderWorkflowDefinition((name) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`) as { States: Record<string, { Type: string; Parameters?: { FunctionName?: string; Payload?: unknown } }> };
    const keyOf = Object.fromEntries(Object.entries(WORKFLOW_FUNCTIONS).map(([key, name]) => [name, key]));
    const sent = Object.fromEntries(
      Object.entries(definition.States)
        .filter(([, state]) => state.Type === 'Task')
        .map(([name, state]) => [name, { fn: keyOf[/:function:([^:]+)/.exec(String(state.Parameters?.FunctionName))?.[1] ?? ''], payload: state.Parameters?.Payload }]),
    );
    expect(sent).toEqual(SENT_BY_DEFINITIONS.at(-1)?.tasks);
  });

  it.each(SENT_BY_DEFINITIONS.flatMap(({ since, tasks }) => Object.entries(tasks).map(([state, task]) => ({ since, state, ...task }))))(
    'is accepted by the deployed function for every shape sent since $since: $state',
    ({ fn, payload }) => {
      for (const state of EXECUTION_STATES) expect(() => STEP_INPUTS[fn].parse(payloadFor(payload, state))).not.toThrow();
    },
  );

  it('is refused without a transfer id, or with a step the function does not know', () => {
    expect(() => STEP_INPUTS.scheduleTransfer.parse({})).toThrow();
    expect(() => STEP_INPUTS.remindOrExpire.parse({ transferId: 'TR-1', step: 'billing', reminderIntervalSeconds: 30 })).toThrow();
    expect(() => STEP_INPUTS.requestApproval.parse({ transferId: 'TR-1', step: 'release', approvalWindowSeconds: 60 })).toThrow();
  });
});
