import { Duration, Stack, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EVENT_SOURCE, type EventType } from '../../lambdas/domain/events.ts';
import { STREAM_FUNCTIONS, handlerEntry, type StreamFunctionName } from '../../lambdas/handlers/catalog.ts';
import { acknowledge } from '../acknowledgements.ts';
import { RELAY_EVENT_SOURCE, eventBusName } from '../event-relay.ts';
import { queueHoldsMessagesAlarm } from './alarms.ts';
import { constructIdFor, TransferFunction, type TransferFunctionEnvironment } from './transfer-function.ts';
import { grantOutboxAccess } from './transfer-table.ts';
import type { WebhookDelivery } from './webhooks.ts';

/** The event the example rule forwards to the operators. */
const FAILED: EventType = 'transfer.failed';

/** Properties of a {@link TransferEventBus}. */
export interface TransferEventBusProps {
  /** The operators' alert topic: the example rule sends failed transfers there. */
  readonly alertTopic: sns.ITopic;
  /**
   * How long the archive keeps events for replay.
   * @default Duration.days(365)
   */
  readonly archiveRetention?: Duration;
}

/**
 * The provider's EventBridge bus for transfer events (source `customer-transfer`, detail-type the
 * event's type), named {@link eventBusName} of the stack; an archive of every transfer event, so that
 * a consumer that was down or is new can be replayed what it missed; and an example rule that sends
 * each `transfer.failed` event to the operators' alert topic.
 */
export class TransferEventBus extends Construct {
  readonly bus: events.EventBus;
  /** Every event of source `customer-transfer`; replay with `aws events start-replay`. */
  readonly archive: events.Archive;
  /** The example rule: `transfer.failed` to the alert topic. */
  readonly failedTransfersRule: events.Rule;

  constructor(scope: Construct, id: string, props: TransferEventBusProps) {
    super(scope, id);
    const stack = Stack.of(this);
    if (Token.isUnresolved(stack.stackName)) throw new Error('The event bus needs a stack with a literal name.');

    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: eventBusName(stack.stackName),
      description: 'Customer transfer events: every status change and written consent (source customer-transfer)',
    });
    this.archive = new events.Archive(this, 'Archive', {
      sourceEventBus: this.bus,
      description: 'Every customer transfer event, for replay to the bus',
      eventPattern: { source: [EVENT_SOURCE] },
      retention: props.archiveRetention ?? Duration.days(365),
    });

    this.failedTransfersRule = new events.Rule(this, 'FailedTransfers', {
      eventBus: this.bus,
      description: 'Example consumer: tells the operators of each failed transfer',
      eventPattern: { source: [EVENT_SOURCE], detailType: [FAILED] },
    });
    const detail = (path: string): string => events.EventField.fromPath(`$.detail.${path}`);
    this.failedTransfersRule.addTarget({
      // The stock SnsTopic target would let any rule, of any account, publish to the topic; this one is
      // let in by the statement below, for this rule only.
      bind: () => ({
        arn: props.alertTopic.topicArn,
        targetResource: props.alertTopic,
        input: events.RuleTargetInput.fromText(
          `Transfer ${detail('transferId')} became FAILED at ${detail('occurredAt')}: some of its customers could not be re-homed (event ${detail('id')}). Fix the cause, then redrive its execution.`,
        ),
      }),
    });
    props.alertTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowFailedTransfersRule',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [props.alertTopic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnEquals: { 'aws:SourceArn': this.failedTransfersRule.ruleArn },
        },
      }),
    );
  }
}

/** Properties of an {@link EventRelay}. */
export interface EventRelayProps {
  /** The single table; it must have a stream with new images. */
  readonly table: dynamodb.ITableV2;
  /** Where the events go. */
  readonly eventBus: events.IEventBus;
  /** The deployment facts every function receives; the relay is also told `EVENT_BUS_NAME`. */
  readonly environment: TransferFunctionEnvironment;
  /** Where the dead-letter queue's alarm goes. */
  readonly alertTopic: sns.ITopic;
  /**
   * Partner webhooks: the relay also queues each event's deliveries to the webhooks subscribed to it.
   * @default - events go to the bus only
   */
  readonly webhooks?: WebhookDelivery;
  /**
   * The oldest stream record handed to the relay; older ones go to the dead-letter queue.
   * @default Duration.days(1)
   */
  readonly maxRecordAge?: Duration;
  /**
   * How long the dead-letter queue keeps what the relay could not publish (SQS allows at most 14 days).
   * @default Duration.days(14)
   */
  readonly deadLetterRetention?: Duration;
  /**
   * The window the dead-letter queue's alarm looks at.
   * @default Duration.minutes(5)
   */
  readonly alarmPeriod?: Duration;
}

/**
 * The relay of outbox events: the relay-events function, fed by the table's stream filtered to new
 * outbox items ({@link RELAY_EVENT_SOURCE}), publishing each event to the bus once and, given
 * `webhooks`, queueing its webhook deliveries. A batch that keeps
 * failing is split and tried again; what is left after the last try (or too old) goes to an encrypted
 * dead-letter queue, which alarms as soon as it holds a message.
 */
export class EventRelay extends Construct {
  /** The relay-events function. */
  readonly relay: TransferFunction;
  /** The stream functions by catalog name, as `TransferApi.functions` holds the HTTP ones. */
  readonly functions: Readonly<Record<StreamFunctionName, TransferFunction>>;
  /** Stream batches the relay gave up on: their shard and sequence numbers (the events stay in the table's outbox). */
  readonly deadLetterQueue: sqs.Queue;
  /** Fires while the dead-letter queue holds any message. */
  readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: EventRelayProps) {
    super(scope, id);
    const name = STREAM_FUNCTIONS.relayEvents;
    this.relay = new TransferFunction(this, constructIdFor(name), {
      entry: handlerEntry('stream', name),
      description:
        props.webhooks === undefined
          ? 'Publishes each new outbox event of the table to the EventBridge bus, once'
          : "Publishes each new outbox event of the table to the EventBridge bus, once, and queues its partners' webhook deliveries",
      environment: props.environment,
      // A batch of 25: one BatchGetItem, one PutEvents and one UpdateItem per event, plus its webhook deliveries.
      timeout: Duration.minutes(1),
    });
    this.relay.addEnvironment('EVENT_BUS_NAME', props.eventBus.eventBusName);
    this.functions = { [name]: this.relay };
    props.eventBus.grantPutEventsTo(this.relay);
    grantOutboxAccess(props.table, this.relay);
    props.webhooks?.grantFanOut(this.relay);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.deadLetterRetention ?? Duration.days(14),
    });
    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is itself a dead-letter queue: the on-failure destination of the relay-events stream mapping, which cdk-nag does not recognise as one (it only looks at queue redrive policies and function DLQs).',
    );

    this.relay.live.addEventSource(
      new DynamoEventSource(props.table, {
        // The outbox items written before the relay first ran are relayed too.
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: RELAY_EVENT_SOURCE.batchSize,
        maxBatchingWindow: Duration.seconds(RELAY_EVENT_SOURCE.maxBatchingWindowSeconds),
        filters: [lambda.FilterCriteria.filter(RELAY_EVENT_SOURCE.filterPattern)],
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: RELAY_EVENT_SOURCE.retryAttempts,
        maxRecordAge: props.maxRecordAge ?? Duration.days(1),
        onFailure: new SqsDlq(this.deadLetterQueue),
      }),
    );

    this.deadLetterAlarm = queueHoldsMessagesAlarm(this, 'DeadLetters', {
      queue: this.deadLetterQueue,
      topic: props.alertTopic,
      period: props.alarmPeriod,
      description:
        'Transfer events could not be published to the event bus: the dead-letter queue names the stream records; their outbox items are still in the table, without relayedAt.',
    });
  }
}
