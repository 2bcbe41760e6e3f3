import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import type { Config } from '../config.ts';
import type { EmailMessage, MailerPort } from '../domain/ports.ts';
import { asTransient } from './transient.ts';

/** The mail adapter of a function that sends email (see `Adapters` in composition.ts). */
export function sesMailer(config: Pick<Config, 'SENDER_EMAIL'>): MailerPort {
  return new SesMailer(new SESv2Client({}), config.SENDER_EMAIL);
}

export class SesMailer implements MailerPort {
  constructor(
    private readonly ses: SESv2Client,
    private readonly sender: string,
  ) {}

  async send(message: EmailMessage): Promise<void> {
    if (message.to.length === 0) return;
    await asTransient(() =>
      this.ses.send(
        new SendEmailCommand({
          FromEmailAddress: this.sender,
          Destination: { ToAddresses: message.to },
          Content: {
            Simple: {
              Subject: { Data: message.subject, Charset: 'UTF-8' },
              Body: { Text: { Data: message.text, Charset: 'UTF-8' }, Html: { Data: message.html, Charset: 'UTF-8' } },
            },
          },
        }),
      ),
    );
  }
}
