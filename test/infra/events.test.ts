import { App, Duration, Stack, type CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { marshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../lambdas/adapters/table-keys.ts';
import { EVENT_SOURCE, EVENT_TYPES } from '../../lambdas/domain/events.ts';
import { TransferEventBus } from '../../lib/constructs/events.ts';
import { RELAY_EVENT_SOURCE, eventBusName } from '../../lib/event-relay.ts';
import { aliasFunctionName, asList, resourceById, resourcesOf, synthesize, type Statement, type SynthesizedStack, type TemplateResource } from './synth.ts';

let synthesized: SynthesizedStack;
let ids: { bus: string; archive: string; rule: string; table: string; queue: string; topic: string; relay: string; relayAlias: string };

/** The one resource of a type that `pick` keeps, with its logical id. */
function onlyWhere(type: string, pick: (resource: TemplateResource) => boolean): [string, TemplateResource] {
  const entries = Object.entries(resourcesOf(synthesized.template, type)).filter(([, resource]) => pick(resource));
  expect(entries.map(([id]) => id), type).toHaveLength(1);
  return entries[0] as [string, TemplateResource];
}

/** The one resource of a type, with its logical id. */
function only(type: string): [string, TemplateResource] {
  const entries = Object.entries(resourcesOf(synthesized.template, type));
  expect(entries.map(([id]) => id), type).toHaveLength(1);
  return entries[0] as [string, TemplateResource];
}

beforeAll(() => {
  synthesized = synthesize();
  ids = {
    bus: only('AWS::Events::EventBus')[0],
    archive: only('AWS::Events::Archive')[0],
    rule: only('AWS::Events::Rule')[0],
    table: only('AWS::DynamoDB::GlobalTable')[0],
    // The webhook deliveries have queues of their own: see webhooks.test.ts.
    queue: synthesized.stack.getLogicalId(synthesized.stack.eventRelay.deadLetterQueue.node.defaultChild as CfnResource),
    topic: only('AWS::SNS::Topic')[0],
    relay: synthesized.functionIds['relay-events'] ?? '',
    relayAlias: synthesized.aliasIds['relay-events'] ?? '',
  };
});

describe('the event bus', () => {
  it('is a custom bus named after the stack, and output by name and ARN', () => {
    expect(only('AWS::Events::EventBus')[1].Properties?.Name).toBe(eventBusName('TransferTest'));
    expect(eventBusName('TransferTest')).toBe('TransferTest-events');
    const outputs = synthesized.template.findOutputs('*');
    expect(outputs.EventBusName?.Value).toEqual({ Ref: ids.bus });
    expect(outputs.EventBusArn?.Value).toEqual({ 'Fn::GetAtt': [ids.bus, 'Arn'] });
    expect(outputs.EventArchiveArn?.Value).toEqual({ 'Fn::GetAtt': [ids.archive, 'Arn'] });
  });

  it('is archived, every event of source customer-transfer, for a year', () => {
    expect(only('AWS::Events::Archive')[1].Properties).toMatchObject({
      SourceArn: { 'Fn::GetAtt': [ids.bus, 'Arn'] },
      EventPattern: { source: [EVENT_SOURCE] },
      RetentionDays: 365,
    });
    expect(EVENT_SOURCE).toBe('customer-transfer');
  });

  it('keeps the archive as long as its prop says', () => {
    const stack = new Stack(new App(), 'Retention');
    new TransferEventBus(stack, 'Events', { alertTopic: new sns.Topic(stack, 'Topic'), archiveRetention: Duration.days(30) });
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Archive', { RetentionDays: 30 });
  });
});

describe('the example rule', () => {
  it('sends transfer.failed events of the bus, and no other, to the alert topic', () => {
    const rule = only('AWS::Events::Rule')[1].Properties ?? {};
    expect(rule.EventBusName).toEqual({ Ref: ids.bus });
    expect(rule.EventPattern).toEqual({ source: [EVENT_SOURCE], 'detail-type': ['transfer.failed'] });
    expect(EVENT_TYPES).toContain('transfer.failed');
    const targets = rule.Targets as { Arn: unknown; RoleArn?: unknown; InputTransformer?: { InputPathsMap: Record<string, string>; InputTemplate: string } }[];
    expect(targets.map((target) => target.Arn)).toEqual([{ Ref: ids.topic }]);
    // SNS targets are let in by the topic's policy, not a role.
    expect(targets[0]?.RoleArn).toBeUndefined();
    // The alert names the transfer.
    expect(Object.values(targets[0]?.InputTransformer?.InputPathsMap ?? {})).toContain('$.detail.transferId');
    expect(targets[0]?.InputTransformer?.InputTemplate).toMatch(/^"Transfer <[^>]+> became FAILED/);
  });

  it('may publish to the alert topic: the topic policy lets EventBridge in, for this rule of this account only', () => {
    const policy = only('AWS::SNS::TopicPolicy')[1].Properties ?? {};
    expect(policy.Topics).toEqual([{ Ref: ids.topic }]);
    const statements = (policy.PolicyDocument as { Statement: Statement[] }).Statement;
    const fromEvents = statements.filter((statement) => JSON.stringify(statement.Principal).includes('events.amazonaws.com'));
    expect(fromEvents).toEqual([
      {
        Sid: 'AllowFailedTransfersRule',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: ids.topic },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ids.rule, 'Arn'] } },
        },
      },
    ]);
  });
});

describe('the table', () => {
  it('streams the new image of each item', () => {
    expect(only('AWS::DynamoDB::GlobalTable')[1].Properties?.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
  });
});

/** Whether a stream record matches a Lambda filter pattern made of exact-value lists, as RELAY_EVENT_SOURCE's is. */
function matches(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) return pattern.includes(value);
  if (typeof pattern !== 'object' || pattern === null || typeof value !== 'object' || value === null) return false;
  return Object.entries(pattern).every(([key, inner]) => matches(inner, (value as Record<string, unknown>)[key]));
}

describe('the relay', () => {
  function mapping(): Record<string, unknown> {
    return onlyWhere('AWS::Lambda::EventSourceMapping', (resource) => JSON.stringify(resource.Properties?.FunctionName) === JSON.stringify(aliasFunctionName(ids.relayAlias)))[1].Properties ?? {};
  }

  it('reads the table stream into its live alias, from the oldest record, in batches as RELAY_EVENT_SOURCE says', () => {
    expect(mapping()).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [ids.table, 'StreamArn'] },
      FunctionName: aliasFunctionName(ids.relayAlias),
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: RELAY_EVENT_SOURCE.batchSize,
      MaximumBatchingWindowInSeconds: RELAY_EVENT_SOURCE.maxBatchingWindowSeconds,
    });
  });

  it('is handed only new outbox items: the filter is RELAY_EVENT_SOURCE.filterPattern', () => {
    const filters = (mapping().FilterCriteria as { Filters: { Pattern: string }[] }).Filters;
    expect(filters.map((filter) => JSON.parse(filter.Pattern) as unknown)).toEqual([RELAY_EVENT_SOURCE.filterPattern]);
    const outbox = { ...keys.outbox('TR-1', 'evt_1'), kind: 'outbox', event: { id: 'evt_1', type: 'transfer.failed' } };
    const record = (eventName: string, item: Record<string, unknown>) => ({ eventName, dynamodb: { NewImage: marshall(item) } });
    expect(matches(RELAY_EVENT_SOURCE.filterPattern, record('INSERT', outbox))).toBe(true);
    // Marking it relayed, a transfer's own item, and the TTL's removal are not handed over.
    expect(matches(RELAY_EVENT_SOURCE.filterPattern, record('MODIFY', { ...outbox, relayedAt: '2026-01-01T00:00:00Z' }))).toBe(false);
    expect(matches(RELAY_EVENT_SOURCE.filterPattern, record('INSERT', { pk: 'TRANSFER#T-1', sk: 'TRANSFER', kind: 'transfer' }))).toBe(false);
    expect(matches(RELAY_EVENT_SOURCE.filterPattern, { eventName: 'REMOVE', dynamodb: {} })).toBe(false);
  });

  it('splits a failing batch, reports the records it could not publish, and gives up after the retries or a day', () => {
    expect(mapping()).toMatchObject({
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: RELAY_EVENT_SOURCE.retryAttempts,
      MaximumRecordAgeInSeconds: 86_400,
    });
  });

  it('sends what it gave up on to its dead-letter queue', () => {
    expect(mapping().DestinationConfig).toEqual({ OnFailure: { Destination: { 'Fn::GetAtt': [ids.queue, 'Arn'] } } });
  });

  it('is told the bus by reference, and runs with the same table as every function', () => {
    const environment = (resourceById(synthesized.template, ids.relay).Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(environment.EVENT_BUS_NAME).toEqual({ Ref: ids.bus });
    expect(environment.TABLE_NAME).toEqual({ Ref: ids.table });
    expect(resourceById(synthesized.template, ids.relay).Properties?.Timeout).toBe(60);
  });
});

describe("the relay's dead-letter queue", () => {
  it('is encrypted, refuses requests without TLS and keeps messages 14 days', () => {
    expect(resourceById(synthesized.template, ids.queue).Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
    const policy = onlyWhere('AWS::SQS::QueuePolicy', (resource) => JSON.stringify(resource.Properties?.Queues) === JSON.stringify([{ Ref: ids.queue }]))[1].Properties ?? {};
    const statements = (policy.PolicyDocument as { Statement: Statement[] }).Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    // Only the deny: nothing else is let in by the queue's policy.
    expect(statements.filter((statement) => statement.Effect === 'Allow')).toEqual([]);
  });

  it('alarms to the alert topic as soon as it holds a message', () => {
    const alarms = Object.values(resourcesOf(synthesized.template, 'AWS::CloudWatch::Alarm'))
      .map((alarm) => alarm.Properties ?? {})
      .filter((alarm) => alarm.Namespace === 'AWS/SQS' && JSON.stringify(alarm.Dimensions).includes(`"${ids.queue}"`));
    expect(alarms).toEqual([
      expect.objectContaining({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.queue, 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: ids.topic }],
      }),
    ]);
  });

  it('may be written to by the relay only', () => {
    const queueArn = JSON.stringify({ 'Fn::GetAtt': [ids.queue, 'Arn'] });
    const writers = Object.values(resourcesOf(synthesized.template, 'AWS::IAM::Policy')).filter((policy) =>
      (policy.Properties?.PolicyDocument as { Statement: Statement[] }).Statement.some(
        (statement) => asList(statement.Action).includes('sqs:SendMessage') && asList(statement.Resource).some((resource) => JSON.stringify(resource) === queueArn),
      ),
    );
    expect(writers.map((policy) => policy.Properties?.Roles)).toEqual([[{ Ref: expect.stringMatching(/^EventRelayRelayEventsRole/) }]]);
  });
});
