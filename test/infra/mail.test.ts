import { describe, expect, it } from 'vitest';
import { BOUNCE_RATE_ALARM, COMPLAINT_RATE_ALARM } from '../../lib/constructs/mailer.ts';
import { aliasFunctionName, resourceIdOf, resourcesOf, synthesize, type Statement } from './synth.ts';

const synthesized = synthesize();
const { template, stack } = synthesized;
const topicId = resourceIdOf(stack, stack.alerts.topic);
const NAME = 'TransferTest-mail';

describe('the configuration set every email is sent through', () => {
  it('suppresses addresses that bounced or complained, and keeps reputation metrics', () => {
    template.resourceCountIs('AWS::SES::ConfigurationSet', 1);
    template.hasResourceProperties('AWS::SES::ConfigurationSet', {
      Name: NAME,
      SuppressionOptions: { SuppressedReasons: ['BOUNCE', 'COMPLAINT'] },
      ReputationOptions: { ReputationMetricsEnabled: true },
      SendingOptions: { SendingEnabled: true },
    });
  });

  it('sends bounces and complaints to the alert topic, which lets SES publish for this set only', () => {
    template.hasResourceProperties('AWS::SES::ConfigurationSetEventDestination', {
      ConfigurationSetName: { Ref: resourceIdOf(stack, stack.mailer.configurationSet) },
      EventDestination: { Enabled: true, MatchingEventTypes: ['bounce', 'complaint'], SnsDestination: { TopicARN: { Ref: topicId } } },
    });
    const statements = Object.values(resourcesOf(template, 'AWS::SNS::TopicPolicy')).flatMap(
      (policy) => (policy.Properties?.PolicyDocument as { Statement: Statement[] }).Statement,
    );
    const ses = statements.filter((statement) => JSON.stringify(statement.Principal).includes('ses.amazonaws.com'));
    expect(ses).toHaveLength(1);
    expect(ses[0]).toMatchObject({ Effect: 'Allow', Action: 'sns:Publish' });
    expect(ses[0]?.Condition).toEqual({
      StringEquals: {
        'AWS:SourceAccount': { Ref: 'AWS::AccountId' },
        'AWS:SourceArn': {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':ses:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':configuration-set/', { Ref: resourceIdOf(stack, stack.mailer.configurationSet) }],
          ],
        },
      },
    });
  });

  it('alarms to the topic above a 5% bounce rate and a 0.1% complaint rate, before SES reviews the sender', () => {
    expect([BOUNCE_RATE_ALARM, COMPLAINT_RATE_ALARM]).toEqual([0.05, 0.001]);
    for (const [metric, threshold] of [
      ['Reputation.BounceRate', 0.05],
      ['Reputation.ComplaintRate', 0.001],
    ] as const) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SES',
        MetricName: metric,
        Dimensions: [{ Name: 'ses:configuration-set', Value: NAME }],
        Threshold: threshold,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: topicId }],
      });
    }
  });

  it('is named to every function of the product, each of which would send through it', () => {
    const named = Object.values(synthesized.functionIds).map((logicalId) => {
      const variables = (resourcesOf(template)[logicalId]?.Properties?.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables;
      return variables?.SES_CONFIGURATION_SET;
    });
    expect(named).toHaveLength(22);
    expect(new Set(named)).toEqual(new Set([NAME]));
  });
});

describe('the sender domain (context senderDomain)', () => {
  it('is not made by the stack unless asked for', () => {
    template.resourceCountIs('AWS::SES::EmailIdentity', 0);
    expect(Object.keys(template.findOutputs('*')).filter((key) => key.startsWith('SenderDkimRecord'))).toEqual([]);
  });

  it('becomes an SES identity with Easy DKIM (2048-bit), sending through the configuration set, its three DKIM records given as outputs', () => {
    const withDomain = synthesize({ senderEmail: 'transfers@mail.acme-security.net', senderDomain: 'acme-security.net' });
    withDomain.template.hasResourceProperties('AWS::SES::EmailIdentity', {
      EmailIdentity: 'acme-security.net',
      DkimAttributes: { SigningEnabled: true },
      DkimSigningAttributes: { NextSigningKeyLength: 'RSA_2048_BIT' },
      ConfigurationSetAttributes: { ConfigurationSetName: { Ref: resourceIdOf(withDomain.stack, withDomain.stack.mailer.configurationSet) } },
      FeedbackAttributes: { EmailForwardingEnabled: true },
    });
    const outputs = Object.keys(withDomain.template.findOutputs('*')).filter((key) => key.startsWith('SenderDkimRecord'));
    expect(outputs.sort()).toEqual(['SenderDkimRecord1', 'SenderDkimRecord2', 'SenderDkimRecord3']);
    // The functions may send as the domain's identity too.
    expect(JSON.stringify(withDomain.template.toJSON())).toContain(':identity/acme-security.net');
  });

  it.each([
    [{ senderEmail: 'transfers@acme-security.net', senderDomain: 'other.net' }, /senderEmail \(transfers@acme-security.net\) must be an address of senderDomain \(other.net\)/],
    [{ senderEmail: 'transfers@notacme-security.net', senderDomain: 'acme-security.net' }, /must be an address of senderDomain/],
    [{ senderDomain: 'not a domain' }, /senderDomain must be a domain name/],
  ])('is refused when it does not fit the sender: %o', (context, message) => {
    expect(() => synthesize(context)).toThrow(message);
  });
});

describe('the mail feedback', () => {
  const queueId = resourceIdOf(stack, stack.mailFeedback.queue);
  const deadLettersId = resourceIdOf(stack, stack.mailFeedback.deadLetterQueue);

  it('takes the bounces and complaints of the alert topic, raw, and no alarm or other alert', () => {
    const subscriptions = Object.values(resourcesOf(template, 'AWS::SNS::Subscription')).filter((s) => s.Properties?.Protocol === 'sqs');
    expect(subscriptions).toHaveLength(1);
    expect(subscriptions[0]?.Properties).toEqual({
      Protocol: 'sqs',
      TopicArn: { Ref: topicId },
      Endpoint: { 'Fn::GetAtt': [queueId, 'Arn'] },
      RawMessageDelivery: true,
      FilterPolicyScope: 'MessageBody',
      FilterPolicy: { eventType: ['Bounce', 'Complaint'] },
    });
    // The topic may send to the queue, and only this topic.
    const statements = Object.values(resourcesOf(template, 'AWS::SQS::QueuePolicy'))
      .filter((policy) => JSON.stringify(policy.Properties?.Queues) === JSON.stringify([{ Ref: queueId }]))
      .flatMap((policy) => (policy.Properties?.PolicyDocument as { Statement: Statement[] }).Statement)
      .filter((statement) => statement.Effect === 'Allow');
    expect(statements).toEqual([
      expect.objectContaining({ Action: 'sqs:SendMessage', Principal: { Service: 'sns.amazonaws.com' }, Condition: { ArnEquals: { 'aws:SourceArn': { Ref: topicId } } } }),
    ]);
  });

  it('is an encrypted queue feeding record-mail-feedback, with a dead-letter queue after five receives that alarms', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 180,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [deadLettersId, 'Arn'] }, maxReceiveCount: 5 },
    });
    const mappings = Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping')).filter(
      (mapping) => JSON.stringify(mapping.Properties?.EventSourceArn) === JSON.stringify({ 'Fn::GetAtt': [queueId, 'Arn'] }),
    );
    expect(mappings).toHaveLength(1);
    expect(mappings[0]?.Properties).toMatchObject({
      FunctionName: aliasFunctionName(synthesized.aliasIds['record-mail-feedback'] ?? ''),
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [deadLettersId, 'QueueName'] } }],
      AlarmActions: [{ Ref: topicId }],
    });
  });
});
