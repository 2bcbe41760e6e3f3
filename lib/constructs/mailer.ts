import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ses from 'aws-cdk-lib/aws-ses';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { alertingAlarm } from './alarms.ts';

/** Properties of a {@link Mailer}. */
export interface MailerProps {
  /** The address emails are sent from, e.g. `transfers@example.com`. */
  readonly senderEmail: string;
  /** Where bounces, complaints and the reputation alarms go. */
  readonly alertTopic: sns.ITopic;
  /**
   * The sender's domain, made an SES identity here with Easy DKIM (2048-bit keys SES rotates).
   * @default - the identity is set up outside the stack
   */
  readonly senderDomain?: string;
}

/** SES reviews an account whose bounce rate passes 5%, and may pause its sending past 10%. */
export const BOUNCE_RATE_ALARM = 0.05;
/** SES reviews an account whose complaint rate passes 0.1%, and may pause its sending past 0.5%. */
export const COMPLAINT_RATE_ALARM = 0.001;

/**
 * Who may send the product's emails, as whom, and how SES treats them. Every email goes through the
 * stack's configuration set: addresses that bounced or complained are suppressed (SES does not send to
 * them again), reputation metrics are kept for the set, bounces and complaints reach the alert topic,
 * and alarms fire before SES's own review thresholds, because a paused account stops every approval.
 * The sender's identity is made here with Easy DKIM when `senderDomain` is given, else set up once per
 * account outside this stack; either way `ses:SendEmail` is scoped to that sender and this set.
 */
export class Mailer extends Construct {
  /** The SES identities the sender may be verified as: the sender domain, the address's domain, the address itself. */
  readonly identityArns: readonly string[];
  /** The configuration set every send names (`SES_CONFIGURATION_SET`). */
  readonly configurationSet: ses.ConfigurationSet;
  readonly configurationSetName: string;
  /** Bounce rate and complaint rate of the set's sends, to the alert topic. */
  readonly alarms: readonly cloudwatch.Alarm[];
  /** The DKIM CNAME records to publish for the sender domain, when the stack makes its identity. */
  readonly dkimRecords: readonly ses.DkimRecord[];

  constructor(scope: Construct, id: string, props: MailerProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const domain = domainOfAddress(props.senderEmail);
    const identityArn = (name: string) => stack.formatArn({ service: 'ses', resource: 'identity', resourceName: name });
    // The identity SES sends as may be the address, its domain, or the stack's sender domain above it.
    this.identityArns = [...new Set([props.senderDomain ?? domain, domain, props.senderEmail])].map(identityArn);

    // Named after the stack, so each stage has its own and the functions are told a literal name.
    if (Token.isUnresolved(stack.stackName)) throw new Error('The mailer needs a stack with a literal name.');
    this.configurationSetName = `${stack.stackName}-mail`.slice(0, 64);
    this.configurationSet = new ses.ConfigurationSet(this, 'ConfigurationSet', {
      configurationSetName: this.configurationSetName,
      suppressionReasons: ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
      reputationMetrics: true,
      sendingEnabled: true,
    });
    this.configurationSet.addEventDestination('BouncesAndComplaints', {
      destination: ses.EventDestination.snsTopic(props.alertTopic),
      events: [ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT],
    });

    this.dkimRecords = props.senderDomain
      ? new ses.EmailIdentity(this, 'SenderDomain', {
          identity: ses.Identity.domain(props.senderDomain),
          dkimIdentity: ses.DkimIdentity.easyDkim(ses.EasyDkimSigningKeyLength.RSA_2048_BIT),
          dkimSigning: true,
          configurationSet: this.configurationSet,
          feedbackForwarding: true,
        }).dkimRecords
      : [];

    const rate = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/SES',
        metricName,
        dimensionsMap: { 'ses:configuration-set': this.configurationSetName },
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.minutes(15),
      });
    const alarm = (alarmId: string, metricName: string, threshold: number, what: string) =>
      alertingAlarm(this, alarmId, {
        metric: rate(metricName),
        topic: props.alertTopic,
        threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        description: `The ${what} rate of the transfer emails passed ${threshold * 100}%: SES reviews (and may pause) a sender past it, which would stop every approval. See the bounce and complaint notices on the alert topic.`,
      });
    this.alarms = [
      alarm('BounceRateAlarm', 'Reputation.BounceRate', BOUNCE_RATE_ALARM, 'bounce'),
      alarm('ComplaintRateAlarm', 'Reputation.ComplaintRate', COMPLAINT_RATE_ALARM, 'complaint'),
    ];
  }

  /** Lets `grantee` send email (SES v2 `SendEmail`, every content type) from the sender only, through the configuration set. */
  grantSendEmail(grantee: iam.IGrantable): iam.Grant {
    const configurationSetArn = Stack.of(this).formatArn({ service: 'ses', resource: 'configuration-set', resourceName: this.configurationSetName });
    return iam.Grant.addToPrincipal({ grantee, actions: ['ses:SendEmail'], resourceArns: [...this.identityArns, configurationSetArn] });
  }
}

/** The domain of a sender address, lower-cased; throws for a token or a string that is not an address. */
export function domainOfAddress(email: string): string {
  if (Token.isUnresolved(email)) throw new Error('senderEmail must be a literal address, not a token.');
  const match = /^[^@\s]+@([^@\s]+\.[^@\s]+)$/.exec(email);
  if (match?.[1] === undefined) throw new Error(`senderEmail "${email}" is not an email address.`);
  return match[1].toLowerCase();
}
