import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_FUNCTIONS } from '../../lambdas/handlers/catalog.ts';
import { ApprovalLinkKey } from '../../lib/constructs/approval-link-key.ts';
import { TransferTable } from '../../lib/constructs/transfer-table.ts';
import { DEFAULT_WEBHOOK_RETRY_SCHEDULE, MAX_WEBHOOK_RETRY_SPAN_SECONDS, WebhookDelivery } from '../../lib/constructs/webhooks.ts';
import { readTransferSettings } from '../../lib/transfer-stack.ts';
import {
  aliasFunctionName,
  asList,
  resourceById,
  resourceIdOf,
  resourcesOf,
  roleIdOf,
  statementsOfRole,
  synthesize,
  type Statement,
  type SynthesizedStack,
  type TemplateResource,
} from './synth.ts';

const DEFAULT_SCHEDULE = '5,30,120,600,3600,21600,86400';
/** The functions that queue a delivery's tries. */
const QUEUEING = ['relay-events', 'manage-webhooks', 'deliver-webhooks'];

let synthesized: SynthesizedStack;
let ids: { queue: string; deadLetters: string; dispatcher: string; dispatcherAlias: string; topic: string; table: string; secret: string };

const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function environmentOf(s: SynthesizedStack, name: string): Record<string, unknown> {
  const fn = resourceById(s.template, s.functionIds[name] ?? '');
  return (fn.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
}

/** The Allow statements of the role of the function with this catalog name. */
function allowsOf(name: string): Statement[] {
  const fn = resourceById(synthesized.template, synthesized.functionIds[name] ?? '');
  return statementsOfRole(synthesized.template, roleIdOf(fn, 'Role')).filter((statement) => statement.Effect === 'Allow');
}

/** The actions `name` may perform on `resource`, sorted. */
function actionsOn(name: string, resource: unknown): string[] {
  return allowsOf(name)
    .filter((statement) => asList(statement.Resource).some((granted) => same(granted, resource)))
    .flatMap((statement) => asList(statement.Action) as string[])
    .sort();
}

/** The queue policy of one queue. */
function policyOf(queueId: string): Statement[] {
  const policies = Object.values(resourcesOf(synthesized.template, 'AWS::SQS::QueuePolicy')).filter((policy) => same(policy.Properties?.Queues, [{ Ref: queueId }]));
  expect(policies, queueId).toHaveLength(1);
  return (policies[0]?.Properties?.PolicyDocument as { Statement: Statement[] }).Statement;
}

beforeAll(() => {
  synthesized = synthesize();
  const { stack } = synthesized;
  ids = {
    queue: resourceIdOf(stack, stack.webhooks.queue),
    deadLetters: resourceIdOf(stack, stack.webhooks.deadLetterQueue),
    dispatcher: synthesized.functionIds[QUEUE_FUNCTIONS.deliverWebhooks] ?? '',
    dispatcherAlias: synthesized.aliasIds[QUEUE_FUNCTIONS.deliverWebhooks] ?? '',
    topic: resourceIdOf(stack, stack.alerts.topic),
    table: resourceIdOf(stack, stack.table.table),
    secret: resourceIdOf(stack, stack.approvalLinkKey.secret),
  };
});

describe('the deliveries queue', () => {
  it('hides a message 6 × the dispatcher timeout, keeps it 14 days, and dead-letters it after 5 receives', () => {
    const queue = resourceById(synthesized.template, ids.queue).Properties ?? {};
    const timeout = resourceById(synthesized.template, ids.dispatcher).Properties?.Timeout;
    expect(timeout).toBe(30);
    expect(queue).toMatchObject({
      VisibilityTimeout: 6 * 30,
      MessageRetentionPeriod: 14 * 86_400,
      RedrivePolicy: { deadLetterTargetArn: arnOf(ids.deadLetters), maxReceiveCount: 5 },
    });
    // No delay of its own: each try is sent with the delay its schedule asks for.
    expect(queue.DelaySeconds).toBeUndefined();
  });

  it.each([
    ['deliveries', () => ids.queue],
    ['dead-letter', () => ids.deadLetters],
  ])('(%s) is encrypted and refuses every request without TLS, letting nobody in by its policy', (_label, id) => {
    expect(resourceById(synthesized.template, id()).Properties).toMatchObject({ SqsManagedSseEnabled: true });
    const statements = policyOf(id());
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 'sqs:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    expect(statements.filter((statement) => statement.Effect === 'Allow')).toEqual([]);
  });

  it('is output with its dead-letter queue, by URL', () => {
    const outputs = synthesized.template.findOutputs('*');
    expect(outputs.WebhookQueueUrl?.Value).toEqual({ Ref: ids.queue });
    expect(outputs.WebhookDeadLetterQueueUrl?.Value).toEqual({ Ref: ids.deadLetters });
  });
});

describe('the dead-letter queue', () => {
  it('keeps messages 14 days and has no dead-letter queue of its own', () => {
    const properties = resourceById(synthesized.template, ids.deadLetters).Properties ?? {};
    expect(properties.MessageRetentionPeriod).toBe(14 * 86_400);
    expect(properties.RedrivePolicy).toBeUndefined();
  });

  it('alarms to the alert topic as soon as it holds a message, saying where the deliveries stand', () => {
    const alarms = Object.values(resourcesOf(synthesized.template, 'AWS::CloudWatch::Alarm'))
      .map((alarm) => alarm.Properties ?? {})
      .filter((alarm) => JSON.stringify(alarm.Dimensions).includes(`"${ids.deadLetters}"`));
    expect(alarms).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.deadLetters, 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: ids.topic }],
      }),
    ]);
    expect(alarms[0]?.AlarmDescription).toMatch(/^Webhook deliveries whose dispatch kept failing/);
    expect(alarms[0]?.AlarmDescription).toMatch(/state is in the table/);
    // Its state is on the operations dashboard too.
    const dashboard = resourceById(synthesized.template, resourceIdOf(synthesized.stack, synthesized.stack.dashboard.dashboard));
    const alarmId = resourceIdOf(synthesized.stack, synthesized.stack.webhooks.deadLetterAlarm);
    expect(JSON.stringify(dashboard.Properties?.DashboardBody)).toContain(JSON.stringify(arnOf(alarmId)));
  });
});

describe('the dispatcher', () => {
  function mapping(): Record<string, unknown> {
    const mappings = Object.values(resourcesOf(synthesized.template, 'AWS::Lambda::EventSourceMapping')).filter((resource: TemplateResource) =>
      same(resource.Properties?.FunctionName, aliasFunctionName(ids.dispatcherAlias)),
    );
    expect(mappings).toHaveLength(1);
    return mappings[0]?.Properties ?? {};
  }

  it('is the catalog queue function, known to the stack, its alarms and dashboard', () => {
    expect(synthesized.stack.functions[QUEUE_FUNCTIONS.deliverWebhooks]).toBe(synthesized.stack.webhooks.dispatcher);
    expect(synthesized.stack.webhooks.functions).toEqual({ 'deliver-webhooks': synthesized.stack.webhooks.dispatcher });
  });

  it('takes the deliveries queue in batches of 10, reporting the messages it failed on, at most 20 at once', () => {
    expect(mapping()).toMatchObject({
      EventSourceArn: arnOf(ids.queue),
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 20 },
    });
    // Each message is handed at once: a try is due when its delay ends.
    expect(mapping().MaximumBatchingWindowInSeconds).toBeUndefined();
  });

  it('is told the queue, the retry schedule, and that private targets are refused', () => {
    expect(environmentOf(synthesized, 'deliver-webhooks')).toMatchObject({
      WEBHOOK_QUEUE_URL: { Ref: ids.queue },
      WEBHOOK_RETRY_SCHEDULE_SECONDS: DEFAULT_SCHEDULE,
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false',
    });
    expect(DEFAULT_WEBHOOK_RETRY_SCHEDULE.join(',')).toBe(DEFAULT_SCHEDULE);
  });

  it('may consume and re-send messages of the deliveries queue, and nothing on its dead-letter queue', () => {
    expect(actionsOn('deliver-webhooks', arnOf(ids.queue))).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
      'sqs:SendMessage',
    ]);
    expect(actionsOn('deliver-webhooks', arnOf(ids.deadLetters))).toEqual([]);
  });

  it('may read the approval-link key, which webhook secrets are derived from', () => {
    expect(actionsOn('deliver-webhooks', { Ref: ids.secret })).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
  });

  it('may read webhooks and deliveries and record its tries on the table items, nothing more', () => {
    expect(actionsOn('deliver-webhooks', arnOf(ids.table))).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
    const dynamo = allowsOf('deliver-webhooks').filter((statement) => asList(statement.Action).some((action) => String(action).startsWith('dynamodb:')));
    expect(dynamo.flatMap((statement) => asList(statement.Resource))).toEqual([arnOf(ids.table)]);
  });
});

describe('the functions that make deliveries', () => {
  it('relay-events and manage-webhooks are told the queue and the schedule; only manage-webhooks checks targets', () => {
    for (const name of ['relay-events', 'manage-webhooks']) {
      expect(environmentOf(synthesized, name), name).toMatchObject({ WEBHOOK_QUEUE_URL: { Ref: ids.queue }, WEBHOOK_RETRY_SCHEDULE_SECONDS: DEFAULT_SCHEDULE });
    }
    expect(environmentOf(synthesized, 'manage-webhooks').WEBHOOK_ALLOW_PRIVATE_TARGETS).toBe('false');
    expect(environmentOf(synthesized, 'relay-events').WEBHOOK_ALLOW_PRIVATE_TARGETS).toBeUndefined();
  });

  it('may only send to the deliveries queue', () => {
    for (const name of ['relay-events', 'manage-webhooks']) expect(actionsOn(name, arnOf(ids.queue)), name).toEqual(['sqs:SendMessage']);
  });

  it('the relay may query webhooks and put deliveries; manage-webhooks may also get and delete webhooks, and read the key', () => {
    expect(actionsOn('relay-events', arnOf(ids.table))).toEqual(['dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
    expect(actionsOn('manage-webhooks', arnOf(ids.table))).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query']);
    expect(actionsOn('manage-webhooks', { Ref: ids.secret })).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
  });

  it('are the only ones that may send to the queue, and nothing may touch either queue by another grant', () => {
    const senders = Object.keys(synthesized.functionIds).filter((name) => actionsOn(name, arnOf(ids.queue)).includes('sqs:SendMessage'));
    expect(senders.sort()).toEqual([...QUEUEING].sort());
    // No policy in the stack names either queue, except those of these three roles.
    const roles = new Set(QUEUEING.map((name) => roleIdOf(resourceById(synthesized.template, synthesized.functionIds[name] ?? ''), 'Role')));
    const naming = Object.values(resourcesOf(synthesized.template, 'AWS::IAM::Policy')).filter((policy) => {
      const text = JSON.stringify(policy.Properties?.PolicyDocument);
      return text.includes(`"${ids.queue}"`) || text.includes(`"${ids.deadLetters}"`);
    });
    expect(naming.flatMap((policy) => asList(policy.Properties?.Roles).map((role) => (role as { Ref: string }).Ref)).sort()).toEqual([...roles].sort());
    for (const name of QUEUEING) expect(actionsOn(name, arnOf(ids.deadLetters)), name).toEqual([]);
  });
});

describe('context webhookRetrySchedule', () => {
  const schedule = (value: unknown) => readTransferSettings(new App({ context: { webhookRetrySchedule: value } })).webhookRetrySchedule;

  it('reaches the three functions that queue tries', () => {
    const custom = synthesize({ webhookRetrySchedule: '60, 300,900' });
    for (const name of QUEUEING) expect(environmentOf(custom, name).WEBHOOK_RETRY_SCHEDULE_SECONDS, name).toBe('60,300,900');
  });

  it.each([
    ['a comma-separated -c value', ' 10,20 , 30', [10, 20, 30]],
    ['a list from cdk.json', [5, '60'], [5, 60]],
    ['one number', 45, [45]],
    ['the longest span allowed', `${MAX_WEBHOOK_RETRY_SPAN_SECONDS - 1},1`, [MAX_WEBHOOK_RETRY_SPAN_SECONDS - 1, 1]],
    ['nothing (the default)', undefined, [5, 30, 120, 600, 3600, 21_600, 86_400]],
  ])('is read from %s', (_label, value, expected) => {
    expect(schedule(value)).toEqual(expected);
  });

  it.each([
    ['an empty value', ''],
    ['words', 'soon'],
    ['zero seconds', '0,5'],
    ['a negative wait', '5,-1'],
    ['a fraction', '1.5'],
    ['an empty item', '5,,30'],
    ['a word in a list', [5, 'x']],
    ['an empty list', []],
    ['an object', { seconds: 5 }],
    ['more than 13 days in all', '600000,600000'],
    ['one wait past 14 days', '1209601'],
  ])('refuses %s with one line naming the key', (_label, value) => {
    let message = '';
    try {
      schedule(value);
    } catch (error) {
      message = error instanceof Error ? error.message : String(error);
    }
    expect(message).toMatch(/^Context webhookRetrySchedule must /);
    expect(message).not.toContain('\n');
  });
});

describe('WebhookDelivery props', () => {
  function standalone(props: { retrySchedule?: readonly number[]; maxConcurrency?: number }): Template {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Standalone');
    const table = new TransferTable(stack, 'Table');
    const key = new ApprovalLinkKey(stack, 'Key');
    new WebhookDelivery(stack, 'Webhooks', {
      table: table.table,
      approvalLinkKey: key,
      alertTopic: new sns.Topic(stack, 'Topic'),
      environment: {
        tableName: table.table.tableName,
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:machine',
        senderEmail: 'transfers@provider.test',
        sesConfigurationSet: 'transfers-mail',
        devopsEmail: 'devops@provider.test',
        alertTopicArn: 'arn:aws:sns:us-east-1:000000000000:alerts',
        approvalLinkKeySecretArn: key.secretArn,
        publicBaseUrl: 'https://transfers.provider.test',
        timeZone: 'UTC',
        approvalWindowSeconds: 600,
        reminderIntervalSeconds: 60,
        lockDays: 0,
        retentionDays: 2557,
        partnerClaim: 'partner_id',
        rolesClaim: 'roles',
      },
      ...props,
    });
    return Template.fromStack(stack);
  }

  it('take a schedule and a concurrency cap', () => {
    const template = standalone({ retrySchedule: [1, 2], maxConcurrency: 5 });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 5 } });
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { WEBHOOK_RETRY_SCHEDULE_SECONDS: '1,2' } } });
  });

  it('refuse a schedule the setting would refuse', () => {
    expect(() => standalone({ retrySchedule: [0] })).toThrow(/retry schedule must be/);
  });
});
