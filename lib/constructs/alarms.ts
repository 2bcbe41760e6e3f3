import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { emailFailuresMetric, rehomeErrorsMetric, transfersMetric } from '../business-metrics.ts';
import { constructIdFor } from './transfer-function.ts';

/** Properties of an {@link AlertTopic}. */
export interface AlertTopicProps {
  /**
   * An address subscribed to the topic; SNS asks it to confirm before delivering anything.
   * @default - no subscription
   */
  readonly email?: string;
}

/**
 * The operators' alert topic. Alarms publish to it, and so does the workflow when a re-homing
 * or a confirmation fails for good. It exists before the functions so they can be told its ARN.
 */
export class AlertTopic extends Construct {
  /** The topic; it refuses publishing without TLS and lets this account's CloudWatch alarms publish. */
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlertTopicProps = {}) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Customer transfer alerts',
      enforceSSL: true,
    });
    // enforceSSL replaces the topic's default policy with one that only denies, and alarm actions
    // publish as CloudWatch's service principal through this policy: this account's alarms only.
    const stack = Stack.of(this);
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlarmsOfThisAccount',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
          },
        },
      }),
    );
    if (props.email !== undefined) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
  }
}

/** Properties of an {@link alertingAlarm}. */
export interface AlertingAlarmProps {
  readonly metric: cloudwatch.IMetric;
  /** Where the alarm goes. */
  readonly topic: sns.ITopic;
  /** What the operator reads. */
  readonly description: string;
  /**
   * When the alarm fires.
   * @default 1 (with the default operator: at least one in the metric's period)
   */
  readonly threshold?: number;
  /** @default GREATER_THAN_OR_EQUAL_TO_THRESHOLD */
  readonly comparisonOperator?: cloudwatch.ComparisonOperator;
}

/**
 * An alarm sent to `topic` as soon as one period of `metric` passes the threshold; a quiet period
 * (no data) is not a problem. Every alarm of the stack is made this way.
 */
export function alertingAlarm(scope: Construct, id: string, props: AlertingAlarmProps): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    metric: props.metric,
    threshold: props.threshold ?? 1,
    comparisonOperator: props.comparisonOperator ?? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription: props.description,
  });
  alarm.addAlarmAction(new actions.SnsAction(props.topic));
  return alarm;
}

/** Properties of a {@link queueHoldsMessagesAlarm}. */
export interface QueueHoldsMessagesAlarmProps {
  /** The queue watched, a dead-letter queue as a rule. */
  readonly queue: sqs.IQueue;
  /** Where the alarm goes. */
  readonly topic: sns.ITopic;
  /** What the operator reads: what the messages are and how to clear them. */
  readonly description: string;
  /**
   * The window the alarm looks at.
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
}

/**
 * An alarm, sent to `topic`, while `queue` holds at least one visible message: on a dead-letter
 * queue, one message is already something an operator must redrive or clear.
 */
export function queueHoldsMessagesAlarm(scope: Construct, id: string, props: QueueHoldsMessagesAlarmProps): cloudwatch.Alarm {
  return alertingAlarm(scope, id, {
    metric: props.queue.metricApproximateNumberOfMessagesVisible({
      period: props.period ?? Duration.minutes(5),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    topic: props.topic,
    description: props.description,
  });
}

/** Properties of {@link OperatorAlarms}. */
export interface OperatorAlarmsProps {
  /** Where alarms go. */
  readonly topic: sns.ITopic;
  /** The transfer workflow; failed and timed-out executions alarm. */
  readonly stateMachine: sfn.IStateMachine;
  /** Every function by its kebab-case name; any error alarms. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /**
   * The window each alarm looks at.
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
}

/**
 * Alarms on anything an operator must look at, each sent to the alert topic: a failed or timed-out
 * execution (a transfer left unfinished), any Lambda error, and from the functions' business
 * metrics a transfer that became FAILED, a customer that could not be re-homed and an email that
 * could not be sent. One occurrence in a period is enough, since each means a stuck or failed
 * transfer or a party left uninformed; a quiet period (no data) is not a problem.
 */
export class OperatorAlarms extends Construct {
  /** Every alarm. */
  readonly alarms: readonly cloudwatch.Alarm[];
  /** Each function's error alarm, by the function's kebab-case name (a canary rollout watches its function's). */
  readonly functionErrors: Readonly<Record<string, cloudwatch.Alarm>>;

  constructor(scope: Construct, id: string, props: OperatorAlarmsProps) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(5);
    const alarmOn = (
      alarmId: string,
      metric: cloudwatch.IMetric,
      description: string,
      condition: Pick<AlertingAlarmProps, 'threshold' | 'comparisonOperator'> = {},
    ): cloudwatch.Alarm => alertingAlarm(this, alarmId, { metric, description, topic: props.topic, ...condition });
    const sum = { period, statistic: cloudwatch.Stats.SUM };
    this.functionErrors = Object.fromEntries(
      Object.entries(props.functions).map(([name, fn]) => [name, alarmOn(`${constructIdFor(name)}Errors`, fn.metricErrors(sum), `The ${name} function failed.`)]),
    );

    this.alarms = [
      alarmOn(
        'ExecutionsFailed',
        props.stateMachine.metricFailed(sum),
        'A transfer workflow execution failed: see its history, fix the cause, then redrive it.',
      ),
      alarmOn('ExecutionsTimedOut', props.stateMachine.metricTimedOut(sum), 'A transfer workflow execution timed out.'),
      alarmOn(
        'TransfersFailed',
        transfersMetric('FAILED', sum),
        'A transfer became FAILED: some of its customers could not be re-homed. Fix the cause, then redrive its execution.',
      ),
      alarmOn(
        'RehomeErrors',
        rehomeErrorsMetric(sum),
        'Customers could not be re-homed to their new partner; the alert email lists each customer and why.',
        { threshold: 0, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD },
      ),
      alarmOn(
        'EmailFailures',
        emailFailuresMetric(sum),
        'An email could not be sent through SES: the function logs name the message and the SES error.',
      ),
      ...Object.values(this.functionErrors),
    ];
  }
}
