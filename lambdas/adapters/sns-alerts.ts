import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { AlertPort } from '../domain/ports.ts';
import { asTransient } from './transient.ts';

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
