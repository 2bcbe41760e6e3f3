import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { MAX_SUBJECT_LENGTH, SnsAlerts, snsSubject } from '../../../lambdas/adapters/sns-alerts.ts';
import { TransientError } from '../../../lambdas/domain/errors.ts';
import './aws-matchers.ts';
import { failure, MOCKED_CLIENT_CONFIG, resetAfterEach } from './support.ts';

const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:us-east-1:000000000000:alerts';
const alerts = new SnsAlerts(new SNSClient(MOCKED_CLIENT_CONFIG), TOPIC);
const MESSAGE = 'Re-homing failed\n\nC-1 failed: it left the current partner.';

/** What SNS accepts as a subject: printable ASCII on one line, starting with a letter, number or punctuation, under 100 characters. */
const ACCEPTED_SUBJECT = /^[!-~][ -~]{0,98}$/;

resetAfterEach(sns);

describe('SnsAlerts', () => {
  it('publishes the message with a subject over 99 characters cut to 99, ending in an ellipsis', async () => {
    const subject = 'Action needed: re-homing failed for transfer TR-20260310-ABCDEFGHJK (Northwind IT to Southgate Networks)';
    const expected = 'Action needed: re-homing failed for transfer TR-20260310-ABCDEFGHJK (Northwind IT to Southgate N...';
    sns.on(PublishCommand, { TopicArn: TOPIC, Subject: expected, Message: MESSAGE }).resolves({ MessageId: 'm-1' });

    await expect(alerts.publish(subject, MESSAGE)).resolves.toBe(true);

    expect(sns).toHaveReceivedCommandExactlyOnceWith(PublishCommand, { TopicArn: TOPIC, Subject: expected, Message: MESSAGE });
    expect(expected).toHaveLength(MAX_SUBJECT_LENGTH);
  });

  it('keeps the start of a long subject, which names the transfer, within the limit', async () => {
    sns.on(PublishCommand, { TopicArn: TOPIC }).resolves({ MessageId: 'm-1' });

    await alerts.publish(`Action needed: ${'Very Long Customer Name, '.repeat(10)}(TR-1)`, MESSAGE);

    const subject = sns.commandCalls(PublishCommand)[0]?.args[0].input.Subject ?? '';
    expect(subject).toMatch(ACCEPTED_SUBJECT);
    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^Action needed: Very Long Customer Name, .*\.\.\.$/);
  });

  it('strips line breaks, control characters and non-ASCII text, keeping letters without their accents', async () => {
    sns.on(PublishCommand, { TopicArn: TOPIC }).resolves({ MessageId: 'm-1' });

    await alerts.publish('  \tTransfer completed:\r\nCafé Zürich\u0000 → Ünïcödé 🚀 now with Sǿuth\u2028Gate (TR-1)', MESSAGE);

    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: TOPIC,
      Subject: 'Transfer completed: Cafe Zurich ? Unicode ? now with S?uth Gate (TR-1)',
    });
  });

  it('publishes nothing without a topic (the local stack alerts by email only)', async () => {
    await expect(new SnsAlerts(new SNSClient(MOCKED_CLIENT_CONFIG), '').publish('Action needed', MESSAGE)).resolves.toBe(false);
    expect(sns).not.toHaveReceivedAnyCommand();
  });

  it('turns SNS throttling into a TransientError', async () => {
    sns.on(PublishCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    expect(await failure(alerts.publish('Action needed', MESSAGE))).toBeInstanceOf(TransientError);
  });
});

describe('snsSubject', () => {
  it.each([
    ['a subject of 99 characters', 'a'.repeat(99), 'a'.repeat(99)],
    ['a subject of 100 characters', 'a'.repeat(100), `${'a'.repeat(96)}...`],
    ['an emoji at the cut, never half a surrogate pair', `${'a'.repeat(95)}😀😀😀😀😀`, `${'a'.repeat(95)}?...`],
    ['a subject that leads with spaces and a line break', ' \n Action needed', 'Action needed'],
    ['nothing SNS would take', '\u0000\n\t ', 'Customer transfer alert'],
  ])('%s', (_label, subject, expected) => {
    const safe = snsSubject(subject);
    expect(safe).toBe(expected);
    expect(safe).toMatch(ACCEPTED_SUBJECT);
  });

  it('always gives a subject SNS accepts, whatever the text', () => {
    const samples = ['', '\ud83d', 'x\ud800y', '\u00a0'.repeat(200), `${'é'.repeat(60)}${'😀'.repeat(60)}`, '\u007f\u0085\u200b'.repeat(50)];
    for (const sample of samples) expect(snsSubject(sample), JSON.stringify(sample)).toMatch(ACCEPTED_SUBJECT);
  });
});
