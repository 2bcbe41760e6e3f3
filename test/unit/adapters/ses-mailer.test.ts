import { MessageRejected, SendEmailCommand, SESv2Client, TooManyRequestsException } from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { SesMailer, sesMailer } from '../../../lambdas/adapters/ses-mailer.ts';
import { TransientError } from '../../../lambdas/domain/errors.ts';
import type { ApprovalRequestNotice, CancellationNotice } from '../../../lambdas/domain/notices.ts';
import { renderNotice } from '../../../lambdas/presentation/emails.ts';
import './aws-matchers.ts';
import { failure, MOCKED_CLIENT_CONFIG, resetAfterEach, sampleTransfer } from './support.ts';

const ses = mockClient(SESv2Client);
const SENDER = 'transfers@provider.example';
const ZONE = 'Europe/Berlin';
const mailer = new SesMailer(new SESv2Client(MOCKED_CLIENT_CONFIG), SENDER, ZONE);

const NOTICE: CancellationNotice = {
  kind: 'cancellation',
  transfer: sampleTransfer({ status: 'CANCELLED', customers: [{ id: 'C-1', name: 'Café Zürich', domains: ['zuerich.example'], domainCount: 1, domainsTruncated: false }] }),
  cancelledBy: 'Northwind IT',
  reason: 'Customer changed its mind — ünïcödé',
  recipients: ['ops@northwind.example', 'billing@northwind.example'],
};

const LINK_NOTICE: ApprovalRequestNotice = {
  kind: 'approval-request',
  transfer: sampleTransfer(),
  step: 'release',
  link: 'https://transfers.example.test/approvals/abc',
  expiresAt: '2026-12-02T16:05:00.000Z',
  recipients: ['ops@northwind.example'],
};

resetAfterEach(ses);

describe('SesMailer', () => {
  it('renders the notice and sends its subject, text and HTML as UTF-8 from the sender to the recipients, tagged with the transfer', async () => {
    ses.on(SendEmailCommand, { FromEmailAddress: SENDER, Destination: { ToAddresses: NOTICE.recipients as string[] } }).resolves({ MessageId: 'm-1' });

    await mailer.send(NOTICE);

    const email = renderNotice(NOTICE, ZONE);
    expect(email.subject).toBe(`Transfer cancelled: Café Zürich (${NOTICE.transfer.id})`);
    expect(ses).toHaveReceivedCommandExactlyOnceWith(SendEmailCommand, {
      FromEmailAddress: SENDER,
      Destination: { ToAddresses: ['ops@northwind.example', 'billing@northwind.example'] },
      // Bounces and complaints come back with this tag, naming the transfer.
      EmailTags: [{ Name: 'transferId', Value: NOTICE.transfer.id }],
      Content: {
        Simple: {
          Subject: { Data: email.subject, Charset: 'UTF-8' },
          Body: {
            Text: { Data: email.text, Charset: 'UTF-8' },
            Html: { Data: email.html, Charset: 'UTF-8' },
          },
        },
      },
    });
    const input = ses.commandCalls(SendEmailCommand)[0]?.args[0].input;
    expect(input?.Content?.Simple?.Body?.Text?.Data).toContain('Customer changed its mind — ünïcödé');
    expect(input?.Destination?.CcAddresses).toBeUndefined();
    expect(input?.Destination?.BccAddresses).toBeUndefined();
  });

  it("shows times in the configured zone, named: the factory takes TRANSFER_TIMEZONE from the configuration", async () => {
    ses.on(SendEmailCommand).resolves({ MessageId: 'm-2' });

    await sesMailer({ SENDER_EMAIL: SENDER, SES_CONFIGURATION_SET: '', TRANSFER_TIMEZONE: 'America/New_York' }).send(LINK_NOTICE);
    await mailer.send(LINK_NOTICE);

    const [newYork, berlin] = ses.commandCalls(SendEmailCommand).map((call) => call.args[0].input.Content?.Simple?.Body);
    expect(newYork?.Text?.Data).toContain('Please decide by 2026-12-02 11:05 (America/New_York, UTC\u221205:00).');
    expect(berlin?.Text?.Data).toContain('Please decide by 2026-12-02 17:05 (Europe/Berlin, UTC+01:00).');
    expect(berlin?.Html?.Data).toContain('2026-12-02 17:05 (Europe/Berlin, UTC+01:00)');
    expect(berlin?.Html?.Data).toContain('href="https://transfers.example.test/approvals/abc"');
  });

  it('names the configuration set on every send when one is configured (SES_CONFIGURATION_SET), and none when it is empty', async () => {
    ses.on(SendEmailCommand).resolves({ MessageId: 'm-3' });

    await sesMailer({ SENDER_EMAIL: SENDER, SES_CONFIGURATION_SET: 'CustomerTransfer-prod-mail', TRANSFER_TIMEZONE: ZONE }).send(NOTICE);
    await sesMailer({ SENDER_EMAIL: SENDER, SES_CONFIGURATION_SET: '', TRANSFER_TIMEZONE: ZONE }).send(NOTICE);

    const [configured, unconfigured] = ses.commandCalls(SendEmailCommand).map((call) => call.args[0].input);
    expect(configured?.ConfigurationSetName).toBe('CustomerTransfer-prod-mail');
    expect(unconfigured).not.toHaveProperty('ConfigurationSetName');
  });

  it('sends nothing when there is no recipient', async () => {
    await mailer.send({ ...NOTICE, recipients: [] });
    expect(ses).not.toHaveReceivedAnyCommand();
  });

  it('turns SES throttling into a TransientError (503, retried by the workflow)', async () => {
    ses.on(SendEmailCommand).rejects(new TooManyRequestsException({ message: 'Maximum sending rate exceeded.', $metadata: { httpStatusCode: 429 } }));

    const error = await failure(mailer.send(NOTICE));

    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ status: 503, code: 'TRY_AGAIN', name: 'TransientError' });
    expect(ses).toHaveReceivedCommandTimes(SendEmailCommand, 1);
  });

  it('a generic ThrottlingException is transient too', async () => {
    ses.on(SendEmailCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    expect(await failure(mailer.send(NOTICE))).toBeInstanceOf(TransientError);
  });

  it('a rejected message is not transient and is passed on as it is', async () => {
    const rejected = new MessageRejected({ message: 'Email address is not verified.', $metadata: { httpStatusCode: 400 } });
    ses.on(SendEmailCommand).rejects(rejected);
    expect(await failure(mailer.send(NOTICE))).toBe(rejected);
  });
});
