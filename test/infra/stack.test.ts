import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { allFunctions } from '../../lambdas/handlers/catalog.ts';
import { TABLE_INDEXES, TTL_ATTRIBUTE } from '../../lambdas/adapters/table-schema.ts';
import { resolveIntrinsics } from '../../lib/render-definition.ts';
import { PSEUDO_REFS, resourceById, resourcesOf, synthesize, type SynthesizedStack } from './synth.ts';

const ALL_FUNCTIONS = allFunctions().map(({ name }) => name);

/** The environment variable names the handlers' composition root reads. */
const FUNCTION_ENVIRONMENT = [
  'TABLE_NAME',
  'STATE_MACHINE_ARN',
  'SENDER_EMAIL',
  'SES_CONFIGURATION_SET',
  'DEVOPS_EMAIL',
  'ALERT_TOPIC_ARN',
  'APPROVAL_LINK_KEY_SECRET_ARN',
  'PUBLIC_BASE_URL',
  'TRANSFER_TIMEZONE',
  'TRANSFER_APPROVAL_WINDOW_SECONDS',
  'TRANSFER_REMINDER_INTERVAL_SECONDS',
  'TRANSFER_LOCK_DAYS',
  'TRANSFER_RETENTION_DAYS',
  'JWT_PARTNER_CLAIM',
  'JWT_ROLES_CLAIM',
];

let synthesized: SynthesizedStack;

beforeAll(() => {
  synthesized = synthesize();
});

function environmentOf(s: SynthesizedStack, name: string): Record<string, unknown> {
  const fn = resourceById(s.template, s.functionIds[name] ?? '');
  return (fn.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
}

describe('functions', () => {
  it('are the twenty-two catalog functions on Node.js 24, ARM64, traced, each with its own log group', () => {
    expect(ALL_FUNCTIONS).toHaveLength(22);
    synthesized.template.resourceCountIs('AWS::Lambda::Function', ALL_FUNCTIONS.length);
    expect(Object.keys(synthesized.functionIds).sort()).toEqual([...ALL_FUNCTIONS].sort());
    synthesized.template.allResourcesProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: { Ref: Match.anyValue() } },
    });
    for (const fn of Object.values(resourcesOf(synthesized.template, 'AWS::Lambda::Function'))) {
      const logGroup = (fn.Properties?.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(resourceById(synthesized.template, logGroup).Properties).toMatchObject({ RetentionInDays: 30 });
    }
  });

  it('all get the same deployment facts, by the names the handlers read; only the relay is told the event bus, only webhook functions the queue', () => {
    const reference = environmentOf(synthesized, 'health');
    const queueing = ['relay-events', 'manage-webhooks', 'deliver-webhooks'];
    for (const name of ALL_FUNCTIONS) {
      const { EVENT_BUS_NAME, WEBHOOK_QUEUE_URL, WEBHOOK_RETRY_SCHEDULE_SECONDS, WEBHOOK_ALLOW_PRIVATE_TARGETS, ...environment } = environmentOf(
        synthesized,
        name,
      );
      expect(Object.keys(environment).sort(), name).toEqual(
        [...FUNCTION_ENVIRONMENT, 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'LOG_LEVEL'].sort(),
      );
      expect(environment, name).toEqual(reference);
      expect(EVENT_BUS_NAME !== undefined, name).toBe(name === 'relay-events');
      expect([WEBHOOK_QUEUE_URL !== undefined, WEBHOOK_RETRY_SCHEDULE_SECONDS !== undefined], name).toEqual([queueing.includes(name), queueing.includes(name)]);
      // Only the functions that check a target's address: when registering and when delivering.
      expect(WEBHOOK_ALLOW_PRIVATE_TARGETS, name).toBe(['manage-webhooks', 'deliver-webhooks'].includes(name) ? 'false' : undefined);
    }
    expect(reference).toMatchObject({
      SENDER_EMAIL: 'transfers@example.com',
      DEVOPS_EMAIL: 'devops@example.com',
      TRANSFER_TIMEZONE: 'America/New_York',
      TRANSFER_APPROVAL_WINDOW_SECONDS: '1209600',
      TRANSFER_REMINDER_INTERVAL_SECONDS: '259200',
      TRANSFER_LOCK_DAYS: '30',
      TRANSFER_RETENTION_DAYS: '2557',
      JWT_PARTNER_CLAIM: 'partner_id',
      JWT_ROLES_CLAIM: 'roles',
      LOG_LEVEL: 'INFO',
      POWERTOOLS_SERVICE_NAME: 'customer-transfer',
      POWERTOOLS_METRICS_NAMESPACE: 'CustomerTransfer',
    });
  });

  it('know the state machine ARN by its fixed name, and the API endpoint as the public base URL', () => {
    const environment = environmentOf(synthesized, 'create-transfer');
    expect(resolveIntrinsics(environment.STATE_MACHINE_ARN, PSEUDO_REFS)).toBe(
      'arn:aws:states:us-east-1:000000000000:stateMachine:TransferTest-transfer-workflow',
    );
    const [apiId] = Object.keys(resourcesOf(synthesized.template, 'AWS::ApiGatewayV2::Api'));
    expect(environment.PUBLIC_BASE_URL).toEqual({ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] });
  });

  it('take their settings from context; CLI values arrive as strings', () => {
    const custom = synthesize({
      senderEmail: 'noreply@mail.provider.test',
      devopsEmail: 'ops@provider.test',
      publicBaseUrl: 'https://transfers.provider.test/',
      transferTimezone: 'Europe/Berlin',
      approvalWindowSeconds: '600',
      reminderIntervalSeconds: 120,
      lockDays: '7',
      retentionDays: '365',
      jwtPartnerClaim: 'https://provider.test/partner',
      jwtRolesClaim: 'groups',
    });
    for (const name of ALL_FUNCTIONS) {
      expect(environmentOf(custom, name), name).toMatchObject({
        SENDER_EMAIL: 'noreply@mail.provider.test',
        DEVOPS_EMAIL: 'ops@provider.test',
        PUBLIC_BASE_URL: 'https://transfers.provider.test',
        TRANSFER_TIMEZONE: 'Europe/Berlin',
        TRANSFER_APPROVAL_WINDOW_SECONDS: '600',
        TRANSFER_REMINDER_INTERVAL_SECONDS: '120',
        TRANSFER_LOCK_DAYS: '7',
        TRANSFER_RETENTION_DAYS: '365',
        JWT_PARTNER_CLAIM: 'https://provider.test/partner',
        JWT_ROLES_CLAIM: 'groups',
      });
    }
    custom.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@provider.test' });
  });
});

describe('the table', () => {
  it('has the schema keys, both indexes projecting everything, TTL and on-demand billing', () => {
    synthesized.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    synthesized.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      SSESpecification: { SSEEnabled: true },
      GlobalSecondaryIndexes: TABLE_INDEXES.map((index) => ({
        IndexName: index.indexName,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      })),
    });
  });

  it('keeps the record of consent: point-in-time recovery, deletion protection, retained on stack deletion', () => {
    synthesized.template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        Replicas: [
          Match.objectLike({
            DeletionProtectionEnabled: true,
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          }),
        ],
      }),
    });
  });
});

describe('the approval-link key', () => {
  function secret() {
    const secrets = Object.entries(resourcesOf(synthesized.template, 'AWS::SecretsManager::Secret'));
    expect(secrets).toHaveLength(1);
    const [id, resource] = secrets[0] ?? [];
    if (id === undefined || resource === undefined) throw new Error('no secret');
    return { id, resource };
  }

  it('is a generated secret of at least 32 characters without punctuation, retained on stack deletion', () => {
    const { resource } = secret();
    expect(resource.DeletionPolicy).toBe('Retain');
    expect(resource.UpdateReplacePolicy).toBe('Retain');
    const properties = resource.Properties ?? {};
    expect(properties.Description).toEqual(expect.stringMatching(/approval-link/i));
    const generate = properties.GenerateSecretString as { PasswordLength?: number; ExcludePunctuation?: boolean };
    expect(generate.ExcludePunctuation).toBe(true);
    expect(generate.PasswordLength).toBeGreaterThanOrEqual(32);
    // A value in the template would be readable by anyone who can read the stack.
    expect(properties.SecretString).toBeUndefined();
  });

  it('reaches the functions as an ARN only, never as a value', () => {
    const { id } = secret();
    for (const name of ALL_FUNCTIONS) {
      expect(environmentOf(synthesized, name).APPROVAL_LINK_KEY_SECRET_ARN, name).toEqual({ Ref: id });
    }
    // No dynamic reference resolves the value into the template at deploy time.
    expect(JSON.stringify(synthesized.template.toJSON())).not.toMatch(/resolve:secretsmanager/);
  });
});

describe('alerts', () => {
  it('go to a topic that refuses unencrypted transport, with DevOps subscribed', () => {
    synthesized.template.resourceCountIs('AWS::SNS::Topic', 1);
    synthesized.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    synthesized.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'devops@example.com' });
  });

  it('fire on a failed or timed-out execution and on any function error', () => {
    const [topicId] = Object.keys(resourcesOf(synthesized.template, 'AWS::SNS::Topic'));
    const [stateMachineId] = Object.keys(resourcesOf(synthesized.template, 'AWS::StepFunctions::StateMachine'));
    const alarms = Object.values(resourcesOf(synthesized.template, 'AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties ?? {});
    // Plus three on business metrics (FAILED transfers, re-home errors, email failures): see operations.test.ts;
    // one on the relay's dead-letter queue (events.test.ts), one on the webhook deliveries' (webhooks.test.ts) and
    // one on the mail feedback's (mail.test.ts); two on the sender's reputation (mail.test.ts).
    expect(alarms).toHaveLength(ALL_FUNCTIONS.length + 2 + 3 + 3 + 2);
    for (const alarm of alarms.filter((candidate) => candidate.Namespace !== 'AWS/SES')) {
      expect(alarm).toMatchObject({
        AlarmActions: [{ Ref: topicId }],
        // A queue's depth is a level, not a count: its alarm takes the maximum.
        Statistic: alarm.Namespace === 'AWS/SQS' ? 'Maximum' : 'Sum',
        TreatMissingData: 'notBreaching',
      });
      // At least one occurrence: `>= 1`, or `> 0` for re-home errors.
      expect([alarm.Threshold, alarm.ComparisonOperator]).toEqual(
        alarm.MetricName === 'RehomeErrors' ? [0, 'GreaterThanThreshold'] : [1, 'GreaterThanOrEqualToThreshold'],
      );
    }
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
      expect(alarms).toContainEqual(
        expect.objectContaining({
          Namespace: 'AWS/States',
          MetricName: metric,
          Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: stateMachineId } }],
        }),
      );
    }
    for (const name of ALL_FUNCTIONS) {
      expect(alarms, name).toContainEqual(
        expect.objectContaining({
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: synthesized.functionIds[name] } }],
        }),
      );
    }
  });
});

describe('the stack', () => {
  it('outputs what operators and the portal need', () => {
    const outputs = synthesized.template.findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual([
      'AlertTopicArn',
      'ApiUrl',
      'DashboardName',
      'DashboardUrl',
      'EventArchiveArn',
      'EventBusArn',
      'EventBusName',
      'StateMachineArn',
      'TableName',
      'WebhookDeadLetterQueueUrl',
      'WebhookQueueUrl',
    ]);
  });
});

