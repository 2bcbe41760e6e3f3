import { MessageRejected, SendEmailCommand, SESv2Client, TooManyRequestsException } from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { SesMailer } from '../../../lambdas/adapters/ses-mailer.ts';
import { TransientError } from '../../../lambdas/domain/errors.ts';
import type { EmailMessage } from '../../../lambdas/domain/ports.ts';
import './aws-matchers.ts';
import { failure, MOCKED_CLIENT_CONFIG, resetAfterEach } from './support.ts';

const ses = mockClient(SESv2Client);
const SENDER = 'transfers@provider.example';
const mailer = new SesMailer(new SESv2Client(MOCKED_CLIENT_CONFIG), SENDER);

const MESSAGE: EmailMessage = {
  to: ['ops@northwind.example', 'billing@northwind.example'],
  subject: 'Release needed: Café Zürich from Northwind IT to Southgate Networks (TR-1)',
  text: 'Please review: https://transfers.example.test/approvals/abc',
  html: '<p>Please review: <a href="https://transfers.example.test/approvals/abc">the request</a> — ünïcödé</p>',
};

resetAfterEach(ses);

describe('SesMailer', () => {
  it('sends subject, text and HTML as UTF-8 from the sender to the recipients', async () => {
    ses.on(SendEmailCommand, { FromEmailAddress: SENDER, Destination: { ToAddresses: MESSAGE.to } }).resolves({ MessageId: 'm-1' });

    await mailer.send(MESSAGE);

    expect(ses).toHaveReceivedCommandExactlyOnceWith(SendEmailCommand, {
      FromEmailAddress: SENDER,
      Destination: { ToAddresses: ['ops@northwind.example', 'billing@northwind.example'] },
      Content: {
        Simple: {
          Subject: { Data: MESSAGE.subject, Charset: 'UTF-8' },
          Body: {
            Text: { Data: MESSAGE.text, Charset: 'UTF-8' },
            Html: { Data: MESSAGE.html, Charset: 'UTF-8' },
          },
        },
      },
    });
    const input = ses.commandCalls(SendEmailCommand)[0]?.args[0].input;
    expect(input?.Destination?.CcAddresses).toBeUndefined();
    expect(input?.Destination?.BccAddresses).toBeUndefined();
  });

  it('sends nothing when there is no recipient', async () => {
    await mailer.send({ ...MESSAGE, to: [] });
    expect(ses).not.toHaveReceivedAnyCommand();
  });

  it('turns SES throttling into a TransientError (503, retried by the workflow)', async () => {
    ses.on(SendEmailCommand).rejects(new TooManyRequestsException({ message: 'Maximum sending rate exceeded.', $metadata: { httpStatusCode: 429 } }));

    const error = await failure(mailer.send(MESSAGE));

    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ status: 503, code: 'TRY_AGAIN', name: 'TransientError' });
    expect(ses).toHaveReceivedCommandTimes(SendEmailCommand, 1);
  });

  it('a generic ThrottlingException is transient too', async () => {
    ses.on(SendEmailCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    expect(await failure(mailer.send(MESSAGE))).toBeInstanceOf(TransientError);
  });

  it('a rejected message is not transient and is passed on as it is', async () => {
    const rejected = new MessageRejected({ message: 'Email address is not verified.', $metadata: { httpStatusCode: 400 } });
    ses.on(SendEmailCommand).rejects(rejected);
    expect(await failure(mailer.send(MESSAGE))).toBe(rejected);
  });
});
