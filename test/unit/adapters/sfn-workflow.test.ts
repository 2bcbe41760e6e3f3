import {
  ExecutionAlreadyExists,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { StepFunctionsWorkflow } from '../../../lambdas/adapters/sfn-workflow.ts';
import { TransientError } from '../../../lambdas/domain/errors.ts';
import './aws-matchers.ts';
import { failure, MOCKED_CLIENT_CONFIG, resetAfterEach } from './support.ts';

const sfn = mockClient(SFNClient);
const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:customer-transfer';
const workflow = new StepFunctionsWorkflow(new SFNClient(MOCKED_CLIENT_CONFIG), ARN);
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAe+task-token';

function throttling(): SFNServiceException {
  return new SFNServiceException({ name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' });
}

resetAfterEach(sfn);

describe('StepFunctionsWorkflow.start', () => {
  it('starts an execution named after the transfer id, with the input as JSON', async () => {
    const input = { transferId: 'TR-20260310-ABCDEFGHJK', policy: { approvalWindowSeconds: 1_209_600 }, release: { acceptanceNeeded: true } };
    sfn
      .on(StartExecutionCommand, { stateMachineArn: ARN, name: 'TR-20260310-ABCDEFGHJK' })
      .resolves({ executionArn: `${ARN}:TR-20260310-ABCDEFGHJK`, startDate: new Date() });

    await workflow.start('TR-20260310-ABCDEFGHJK', input);

    expect(sfn).toHaveReceivedCommandExactlyOnceWith(StartExecutionCommand, {
      stateMachineArn: ARN,
      name: 'TR-20260310-ABCDEFGHJK',
      input: JSON.stringify(input),
    });
    const sent = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '';
    expect(JSON.parse(sent)).toEqual(input);
  });

  it('throttling becomes a TransientError', async () => {
    sfn.on(StartExecutionCommand).rejects(throttling());
    expect(await failure(workflow.start('TR-1', {}))).toBeInstanceOf(TransientError);
  });

  it('an execution of that name already existing is not transient', async () => {
    const exists = new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: { httpStatusCode: 400 } });
    sfn.on(StartExecutionCommand).rejects(exists);
    expect(await failure(workflow.start('TR-1', {}))).toBe(exists);
  });
});

describe('StepFunctionsWorkflow.signal', () => {
  it('a success sends SendTaskSuccess with the output as JSON', async () => {
    sfn.on(SendTaskSuccessCommand, { taskToken: TOKEN }).resolves({});

    await expect(workflow.signal(TOKEN, { kind: 'success', output: { acceptanceNeeded: false, transferDate: '2026-04-01' } })).resolves.toBe('delivered');

    expect(sfn).toHaveReceivedCommandExactlyOnceWith(SendTaskSuccessCommand, {
      taskToken: TOKEN,
      output: JSON.stringify({ acceptanceNeeded: false, transferDate: '2026-04-01' }),
    });
    expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
  });

  it('a failure sends SendTaskFailure with error and cause', async () => {
    sfn.on(SendTaskFailureCommand, { taskToken: TOKEN, error: 'TransferDeclined' }).resolves({});

    await expect(workflow.signal(TOKEN, { kind: 'failure', error: 'TransferDeclined', cause: 'The release was declined.' })).resolves.toBe('delivered');

    expect(sfn).toHaveReceivedCommandExactlyOnceWith(SendTaskFailureCommand, {
      taskToken: TOKEN,
      error: 'TransferDeclined',
      cause: 'The release was declined.',
    });
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  it.each([
    ['TaskDoesNotExist', new TaskDoesNotExist({ message: 'Task does not exist anymore', $metadata: { httpStatusCode: 400 } })],
    ['TaskTimedOut', new TaskTimedOut({ message: 'Task Timed Out', $metadata: { httpStatusCode: 400 } })],
    ['InvalidToken', new InvalidToken({ message: 'Invalid token', $metadata: { httpStatusCode: 400 } })],
  ])('%s means the wait is gone', async (_name, error) => {
    sfn.on(SendTaskSuccessCommand).rejects(error);
    sfn.on(SendTaskFailureCommand).rejects(error);
    await expect(workflow.signal(TOKEN, { kind: 'success', output: {} })).resolves.toBe('gone');
    await expect(workflow.signal(TOKEN, { kind: 'failure', error: 'TransferDeclined', cause: 'x' })).resolves.toBe('gone');
  });

  it('throttling becomes a TransientError, not "gone"', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(throttling());
    const error = await failure(workflow.signal(TOKEN, { kind: 'success', output: {} }));
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ status: 503 });
  });

  it('the task token never appears in the error raised', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(throttling());
    const error = await failure(workflow.signal(TOKEN, { kind: 'success', output: {} }));
    expect(error instanceof Error ? `${error.message} ${JSON.stringify(error)}` : '').not.toContain(TOKEN);
  });
});
