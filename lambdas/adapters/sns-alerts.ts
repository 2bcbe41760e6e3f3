import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Config } from '../config.ts';
import type { AlertPort } from '../domain/ports.ts';
import { asTransient } from './transient.ts';

/** The alert adapter of a function that alerts operators (see `Adapters` in composition.ts). */
export function snsAlerts(config: Pick<Config, 'ALERT_TOPIC_ARN'>): AlertPort {
  return new SnsAlerts(new SNSClient({}), config.ALERT_TOPIC_ARN);
}

/** SNS takes a subject of fewer than 100 characters. */
export const MAX_SUBJECT_LENGTH = 99;
const ELLIPSIS = '...';
const FALLBACK_SUBJECT = 'Customer transfer alert';
const COMBINING_MARK = /\p{M}/gu;
const BREAK_OR_CONTROL = /[\p{Cc}\p{Zl}\p{Zp}\s]/u;

/**
 * A subject SNS accepts: printable ASCII on one line, starting with a letter, number or punctuation,
 * fewer than 100 characters. Accents are dropped ("Zürich" becomes "Zurich"), any other non-ASCII
 * character becomes "?" (one per code point, so a surrogate pair is never split), line breaks and
 * control characters become spaces, and a longer subject ends in "...".
 */
export function snsSubject(subject: string): string {
  let ascii = '';
  for (const char of subject.normalize('NFKD').replace(COMBINING_MARK, '')) {
    if (BREAK_OR_CONTROL.test(char)) ascii += ' ';
    else ascii += char <= '\x7e' ? char : '?';
  }
  const text = ascii.replace(/ {2,}/g, ' ').trim();
  if (text === '') return FALLBACK_SUBJECT;
  if (text.length <= MAX_SUBJECT_LENGTH) return text;
  return `${text.slice(0, MAX_SUBJECT_LENGTH - ELLIPSIS.length).trimEnd()}${ELLIPSIS}`;
}

/** Operator alerts on the SNS topic; without a topic (the local stack) alerts go by email only. */
export class SnsAlerts implements AlertPort {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(subject: string, message: string): Promise<boolean> {
    if (!this.topicArn) return false;
    await asTransient(() => this.sns.send(new PublishCommand({ TopicArn: this.topicArn, Subject: snsSubject(subject), Message: message })));
    return true;
  }
}
