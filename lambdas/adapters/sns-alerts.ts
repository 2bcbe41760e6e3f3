import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Config } from '../composition.ts';
import type { AlertPort } from '../domain/ports.ts';
import { asTransient } from './transient.ts';

/** The alert adapter of a function that alerts operators (see `Adapters` in composition.ts). */
export function snsAlerts(config: Pick<Config, 'ALERT_TOPIC_ARN'>): AlertPort {
  return new SnsAlerts(new SNSClient({}), config.ALERT_TOPIC_ARN);
}

/** Operator alerts on the SNS topic; without a topic (the local stack) alerts go by email only. */
export class SnsAlerts implements AlertPort {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(subject: string, message: string): Promise<boolean> {
    if (!this.topicArn) return false;
    // SNS subjects: at most 100 printable ASCII characters on one line.
    const safeSubject = subject.replace(/[^\x20-\x7e]/g, ' ').slice(0, 100);
    await asTransient(() => this.sns.send(new PublishCommand({ TopicArn: this.topicArn, Subject: safeSubject, Message: message })));
    return true;
  }
}
