import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { WORKFLOW_ERRORS, type WorkflowFunctionKey } from '../lambdas/handlers/catalog.ts';

export type WorkflowFunctions = Record<WorkflowFunctionKey, IFunction>;

/** Lambda service hiccups worth retrying on any task (the AWS-recommended set). */
const LAMBDA_TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];

/** Typed retries with backoff: the Lambda service's own errors, then our transient ones (throttling, timeouts). */
function withRetries(task: tasks.LambdaInvoke, attempts: { transient: number }): tasks.LambdaInvoke {
  task.addRetry({
    errors: LAMBDA_TRANSIENT_ERRORS,
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 6,
    maxDelay: Duration.seconds(60),
    jitterStrategy: sfn.JitterType.FULL,
  });
  task.addRetry({
    errors: [WORKFLOW_ERRORS.transient],
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxAttempts: attempts.transient,
    maxDelay: Duration.minutes(5),
    jitterStrategy: sfn.JitterType.FULL,
  });
  return task;
}

/** A Lambda step; its result (the function's return value) lands at `resultPath`, or is dropped. */
function invoke(
  scope: Construct,
  name: string,
  fn: IFunction,
  payload: Record<string, unknown>,
  resultPath: string | undefined,
): tasks.LambdaInvoke {
  return withRetries(
    tasks.LambdaInvoke.jsonPath(scope, name, {
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: false,
      retryOnServiceExceptions: false,
      resultSelector: { 'value.$': '$.Payload' },
      resultPath: resultPath ?? sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(5)),
    }),
    { transient: 5 },
  );
}

/** A wait for a partner's written decision: the function stores the token and emails the link. */
function awaitDecision(scope: Construct, name: string, fn: IFunction, step: 'release' | 'acceptance'): tasks.LambdaInvoke {
  return withRetries(
    tasks.LambdaInvoke.jsonPath(scope, name, {
      lambdaFunction: fn,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        transferId: sfn.JsonPath.stringAt('$.transferId'),
        step,
        taskToken: sfn.JsonPath.taskToken,
        approvalWindowSeconds: sfn.JsonPath.numberAt('$.policy.approvalWindowSeconds'),
      }),
      retryOnServiceExceptions: false,
      // Each wait lasts until the next reminder or the end of the approval window, whichever is first;
      // both are read per execution, so each deployment or local run sets its own.
      taskTimeout: sfn.Timeout.at(`$.${step}Wait.value.seconds`),
      resultPath: `$.${step}`,
    }),
    { transient: 3 },
  );
}

/**
 * The transfer workflow: written release, written acceptance (each with reminders until its window
 * closes), the sleep until the transfer date, re-homing and confirmations. Built once, used by the
 * stack and rendered for the local engine.
 */
export function buildTransferWorkflow(scope: Construct, fns: WorkflowFunctions): sfn.IChainable {
  const transferId = sfn.JsonPath.stringAt('$.transferId');
  const outcome = (name: string, kind: string) =>
    invoke(
      scope,
      name,
      fns.recordOutcome,
      {
        transferId,
        outcome: kind,
        // The whole caught error: its Cause may be missing, and a missing path would fail the task.
        'failure.$': '$.failure',
      },
      undefined,
    );

  const declined = outcome('Notify partners of the decline', 'DECLINED').next(new sfn.Succeed(scope, 'Transfer declined'));
  const expired = new sfn.Succeed(scope, 'Transfer expired');
  const cancelled = new sfn.Succeed(scope, 'Transfer cancelled');
  const completed = new sfn.Succeed(scope, 'Transfer completed');

  /** A waiting step: on each timeout, remind the silent party with the same link, or expire once the window is over. */
  const awaitingParty = (step: 'release' | 'acceptance', name: string, reminderName: string, openName: string) => {
    const wait = awaitDecision(scope, name, fns.requestApproval, step);
    const remind = invoke(
      scope,
      reminderName,
      fns.remindOrExpire,
      { transferId, step, reminderIntervalSeconds: sfn.JsonPath.numberAt('$.policy.reminderIntervalSeconds') },
      `$.${step}Wait`,
    ).addCatch(cancelled, {
      errors: [WORKFLOW_ERRORS.cancelled],
      resultPath: '$.failure',
    });
    wait
      .addCatch(declined, { errors: [WORKFLOW_ERRORS.declined], resultPath: '$.failure' })
      .addCatch(cancelled, { errors: [WORKFLOW_ERRORS.cancelled], resultPath: '$.failure' })
      .addCatch(remind, { errors: [sfn.Errors.TIMEOUT], resultPath: '$.failure' });
    remind.next(
      sfn.Choice.jsonPath(scope, openName)
        .when(sfn.Condition.booleanEquals(`$.${step}Wait.value.expired`, false), wait)
        .otherwise(expired),
    );
    return wait;
  };

  const awaitRelease = awaitingParty(
    'release',
    'Await release from current partner',
    'Remind current partner or expire',
    'Release window still open?',
  );
  const awaitAcceptance = awaitingParty(
    'acceptance',
    'Await acceptance by new partner',
    'Remind new partner or expire',
    'Acceptance window still open?',
  );

  const schedule = invoke(scope, 'Record schedule and notify DevOps', fns.scheduleTransfer, { transferId }, '$.schedule').addCatch(
    cancelled,
    { errors: [WORKFLOW_ERRORS.cancelled], resultPath: '$.failure' },
  );

  const sleep = sfn.Wait.jsonPath(scope, 'Sleep until transfer date', {
    time: sfn.WaitTime.timestampPath('$.schedule.value.wakeAt'),
  });

  // No catch-all here: a re-homing that fails stops the execution on this very state, so that once
  // the cause is fixed a redrive runs it again. The function records a permanent failure and alerts
  // operators itself; it skips customers already moved.
  const rehome = invoke(scope, 'Re-home customers', fns.rehomeCustomers, { transferId }, '$.rehome').addCatch(cancelled, {
    errors: [WORKFLOW_ERRORS.cancelled],
    resultPath: '$.failure',
  });

  const confirmationFailed = outcome('Record confirmation failure and alert operators', 'CONFIRMATION_FAILED').next(completed);

  const confirm = invoke(scope, 'Send confirmations', fns.sendConfirmations, { transferId }, undefined).addCatch(confirmationFailed, {
    errors: [sfn.Errors.ALL],
    resultPath: '$.failure',
  });

  const scheduled = schedule.next(sleep).next(rehome).next(confirm).next(completed);

  const acceptanceNeeded = sfn.Choice.jsonPath(scope, 'Acceptance still needed?')
    .when(sfn.Condition.booleanEquals('$.release.acceptanceNeeded', true), awaitAcceptance.next(scheduled))
    .otherwise(scheduled);

  return sfn.Choice.jsonPath(scope, 'Release given up front?')
    .when(sfn.Condition.isPresent('$.release'), acceptanceNeeded)
    .otherwise(awaitRelease.next(acceptanceNeeded));
}
