import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../../lambdas/domain/webhook-dispatch.ts';
import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUE_FUNCTIONS, handlerEntry } from '../../lambdas/handlers/catalog.ts';
import { queueHoldsMessagesAlarm } from './alarms.ts';
import { functionQueue } from './function-queue.ts';
import type { ApprovalLinkKey } from './approval-link-key.ts';
import { constructIdFor, TransferFunction, type TransferFunctionEnvironment } from './transfer-function.ts';
import { grantWebhookAccess } from './transfer-table.ts';

/** Seconds between a delivery's tries, first retry first: `WEBHOOK_RETRY_SCHEDULE_SECONDS` unless context `webhookRetrySchedule` says otherwise. */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE: readonly number[] = DEFAULT_RETRY_SCHEDULE_SECONDS;

/**
 * The longest a schedule may add up to: 13 days, a day inside the 14 days SQS keeps any message, so
 * that every delivery is settled (delivered or failed) while a dead-lettered message of it still exists.
 */
export const MAX_WEBHOOK_RETRY_SPAN_SECONDS = 13 * 86_400;

/**
 * A retry schedule from a setting: comma-separated whole seconds (`-c webhookRetrySchedule=5,30,120`),
 * a list of them (cdk.json) or one number; each at least 1, adding up to at most
 * {@link MAX_WEBHOOK_RETRY_SPAN_SECONDS}. `name` names the setting in the one-line error.
 */
export function parseWebhookRetrySchedule(value: unknown, name: string): number[] {
  const items = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? (value as unknown[]) : [value];
  const seconds = items.map((item) => (typeof item === 'string' && /^\s*\d+\s*$/.test(item) ? Number(item) : item));
  if (seconds.length === 0 || !seconds.every((item) => typeof item === 'number' && Number.isSafeInteger(item) && item >= 1)) {
    throw new Error(`${name} must be comma-separated whole seconds of at least 1, such as "5,30,120", got ${JSON.stringify(value)}.`);
  }
  const schedule = seconds as number[];
  const total = schedule.reduce((sum, item) => sum + item, 0);
  if (total > MAX_WEBHOOK_RETRY_SPAN_SECONDS) {
    throw new Error(`${name} must add up to at most ${MAX_WEBHOOK_RETRY_SPAN_SECONDS} seconds (13 days; SQS keeps a message 14 days), got ${total}.`);
  }
  return schedule;
}

/** The dispatcher's timeout: a batch's tries run side by side, each HTTP try giving up after 10 s. */
const DISPATCH_TIMEOUT = Duration.seconds(30);

/** Properties of a {@link WebhookDelivery}. */
export interface WebhookDeliveryProps {
  /** The single table, where webhooks and the state of each delivery live. */
  readonly table: dynamodb.ITableV2;
  /** The deployment facts every function receives. */
  readonly environment: TransferFunctionEnvironment;
  /** The key each webhook's signing secret is derived from; the dispatcher reads it to sign. */
  readonly approvalLinkKey: ApprovalLinkKey;
  /** Where the dead-letter queue's alarm goes. */
  readonly alertTopic: sns.ITopic;
  /**
   * Seconds between a delivery's tries (`WEBHOOK_RETRY_SCHEDULE_SECONDS`), checked as {@link parseWebhookRetrySchedule} does.
   * @default DEFAULT_WEBHOOK_RETRY_SCHEDULE
   */
  readonly retrySchedule?: readonly number[];
  /**
   * The most dispatcher instances the queue keeps busy at once (2 to 1,000).
   * @default 20
   */
  readonly maxConcurrency?: number;
  /**
   * The window the dead-letter queue's alarm looks at.
   * @default Duration.minutes(5)
   */
  readonly alarmPeriod?: Duration;
}

/**
 * Delivery of partner webhooks: an encrypted, TLS-only SQS queue of deliveries (one message per try,
 * naming the delivery; its state lives in the table) feeding the
 * deliver-webhooks function, which makes one try per message and queues the next with a delay. A
 * message whose dispatch keeps failing (5 receives) goes to a dead-letter queue that alarms as soon
 * as it holds one. Functions that create deliveries are let in with {@link grantFanOut} (the relay)
 * and {@link grantManage} (manage-webhooks).
 */
export class WebhookDelivery extends Construct {
  /** The deliveries: each message wakes the dispatcher for one try of one delivery. */
  readonly queue: sqs.Queue;
  /** Messages the dispatcher failed on 5 times; their deliveries' state is in the table. */
  readonly deadLetterQueue: sqs.Queue;
  /** Fires while the dead-letter queue holds any message. */
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /** The deliver-webhooks function. */
  readonly dispatcher: TransferFunction;
  /** The queue functions by catalog name, as `TransferApi.functions` holds the HTTP ones. */
  readonly functions: Readonly<Record<typeof QUEUE_FUNCTIONS.deliverWebhooks, TransferFunction>>;
  /** Seconds between a delivery's tries, as the functions are told. */
  readonly retrySchedule: readonly number[];
  private readonly table: dynamodb.ITableV2;

  constructor(scope: Construct, id: string, props: WebhookDeliveryProps) {
    super(scope, id);
    this.table = props.table;
    this.retrySchedule = parseWebhookRetrySchedule(props.retrySchedule ?? DEFAULT_WEBHOOK_RETRY_SCHEDULE, 'The webhook retry schedule');

    ({ queue: this.queue, deadLetterQueue: this.deadLetterQueue } = functionQueue(this, DISPATCH_TIMEOUT));

    const name = QUEUE_FUNCTIONS.deliverWebhooks;
    this.dispatcher = new TransferFunction(this, constructIdFor(name), {
      entry: handlerEntry('queue', name),
      description: 'Delivers partner webhooks: one signed POST per queued try, and queues the next try',
      environment: props.environment,
      timeout: DISPATCH_TIMEOUT,
    });
    this.functions = { [name]: this.dispatcher };
    this.allowPublicTargetsOnly(this.dispatcher);
    // It re-queues a failed try with a delay (and hops waits longer than SQS's 15 minutes).
    this.grantEnqueue(this.dispatcher);
    grantWebhookAccess(props.table, this.dispatcher, 'dispatch');
    // Each webhook's signing secret is derived from this key, so none is stored in the clear.
    props.approvalLinkKey.grantRead(this.dispatcher);

    this.dispatcher.live.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        // Slow partner endpoints (10 s per try) must not scale the dispatcher into the account's
        // concurrency the API and the workflow need; 20 × 10 deliveries at once is ample.
        maxConcurrency: props.maxConcurrency ?? 20,
      }),
    );

    this.deadLetterAlarm = queueHoldsMessagesAlarm(this, 'DeadLetters', {
      queue: this.deadLetterQueue,
      topic: props.alertTopic,
      period: props.alarmPeriod,
      description:
        'Webhook deliveries whose dispatch kept failing (deliver-webhooks failed on their message 5 times): the dead-letter queue names each webhook and event; their state is in the table. Fix the cause (see the function logs), then redrive the messages to the deliveries queue.',
    });
  }

  /**
   * Lets `fn` queue tries: tells it the queue (`WEBHOOK_QUEUE_URL`) and the retry schedule
   * (`WEBHOOK_RETRY_SCHEDULE_SECONDS`), and grants `sqs:SendMessage` on the queue only.
   */
  grantEnqueue(fn: TransferFunction): iam.Grant {
    fn.addEnvironment('WEBHOOK_QUEUE_URL', this.queue.queueUrl);
    fn.addEnvironment('WEBHOOK_RETRY_SCHEDULE_SECONDS', this.retrySchedule.join(','));
    // SQS-managed encryption needs no KMS grant; SendMessageBatch is authorized as SendMessage.
    return iam.Grant.addToPrincipal({ grantee: fn, actions: ['sqs:SendMessage'], resourceArns: [this.queue.queueArn] });
  }

  /**
   * Lets the relay fan each event out to the webhooks subscribed to it: {@link grantEnqueue}, and on the
   * table reading webhooks and putting each delivery unless it exists (`WEBHOOK_ACTIONS.fanOut`).
   */
  grantFanOut(fn: TransferFunction): void {
    this.grantEnqueue(fn);
    grantWebhookAccess(this.table, fn, 'fanOut');
  }

  /**
   * Lets manage-webhooks register webhooks and send test events: {@link grantEnqueue}, and only public
   * https targets (`WEBHOOK_ALLOW_PRIVATE_TARGETS=false`). Its table access and the signing key come from the API.
   */
  grantManage(fn: TransferFunction): void {
    this.grantEnqueue(fn);
    this.allowPublicTargetsOnly(fn);
  }

  /** Deployed, a webhook may only point at a public https address; the local stack sets `true` itself. */
  private allowPublicTargetsOnly(fn: TransferFunction): void {
    fn.addEnvironment('WEBHOOK_ALLOW_PRIVATE_TARGETS', 'false');
  }
}
