import { describe, expect, it } from 'vitest';
import { BOUNCE_RATE_ALARM, COMPLAINT_RATE_ALARM } from '../../lib/constructs/mailer.ts';
import { resourceIdOf, resourcesOf, synthesize, type Statement } from './synth.ts';

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
    expect(named).toHaveLength(21);
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
