import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUE_FUNCTIONS, handlerEntry } from '../../lambdas/handlers/catalog.ts';
import { queueHoldsMessagesAlarm } from './alarms.ts';
import { functionQueue } from './function-queue.ts';
import { constructIdFor, TransferFunction, type TransferFunctionEnvironment } from './transfer-function.ts';
import { grantTableAccess } from './transfer-table.ts';

/** How long recording one batch of feedback may take. */
const RECORD_TIMEOUT = Duration.seconds(30);

/** The SES event types the queue takes from the alert topic. */
export const MAIL_FEEDBACK_EVENT_TYPES = ['Bounce', 'Complaint'] as const;

/** Properties of {@link MailFeedback}. */
export interface MailFeedbackProps {
  readonly table: dynamodb.ITableV2;
  readonly environment: TransferFunctionEnvironment;
  /** The alert topic: the configuration set sends bounces and complaints there, and the function alerts there. */
  readonly alertTopic: sns.ITopic;
  /**
   * The window the dead-letter queue's alarm looks at.
   * @default Duration.minutes(5)
   */
  readonly alarmPeriod?: Duration;
}

/**
 * The feedback of the sender's mail: the bounces and complaints SES sends to the alert topic also reach
 * an encrypted, TLS-only queue (a subscription filtered on the event type, raw), which feeds the
 * record-mail-feedback function. It records each bounced contact on its transfer (the email's
 * `transferId` tag) and alerts the topic when every contact of a party bounced. A message it keeps failing
 * on (5 receives) goes to a dead-letter queue that alarms.
 */
export class MailFeedback extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  readonly recorder: TransferFunction;
  /** The queue functions by catalog name. */
  readonly functions: Readonly<Record<typeof QUEUE_FUNCTIONS.recordMailFeedback, TransferFunction>>;

  constructor(scope: Construct, id: string, props: MailFeedbackProps) {
    super(scope, id);
    ({ queue: this.queue, deadLetterQueue: this.deadLetterQueue } = functionQueue(this, RECORD_TIMEOUT));
    props.alertTopic.addSubscription(
      new subscriptions.SqsSubscription(this.queue, {
        rawMessageDelivery: true,
        filterPolicyWithMessageBody: {
          eventType: sns.FilterOrPolicy.filter(sns.SubscriptionFilter.stringFilter({ allowlist: [...MAIL_FEEDBACK_EVENT_TYPES] })),
        },
      }),
    );

    const name = QUEUE_FUNCTIONS.recordMailFeedback;
    this.recorder = new TransferFunction(this, constructIdFor(name), {
      entry: handlerEntry('queue', name),
      description: 'Records SES bounces and complaints on their transfers, and alerts when a party cannot be reached',
      environment: props.environment,
      timeout: RECORD_TIMEOUT,
    });
    this.functions = { [name]: this.recorder };
    grantTableAccess(props.table, this.recorder, 'readWrite');
    props.alertTopic.grantPublish(this.recorder);
    this.recorder.live.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: 2 }));

    this.deadLetterAlarm = queueHoldsMessagesAlarm(this, 'DeadLetters', {
      queue: this.deadLetterQueue,
      topic: props.alertTopic,
      period: props.alarmPeriod,
      description:
        'Bounces or complaints could not be recorded on their transfers (record-mail-feedback failed on them 5 times): the dead-letter queue holds the SES events. Fix the cause (see the function logs), then redrive them to the mail feedback queue.',
    });
  }
}
