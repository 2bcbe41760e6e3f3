import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import type { Config } from '../config.ts';
import { MAIL_TAG_TRANSFER } from '../domain/mail-feedback.ts';
import type { Notice } from '../domain/notices.ts';
import type { MailerPort } from '../domain/ports.ts';
import { renderNotice, type EmailMessage } from '../presentation/emails.ts';
import { asTransient } from './transient.ts';

/** The mail adapter of a function that sends email (see `Adapters` in composition.ts). */
export function sesMailer(config: Pick<Config, 'SENDER_EMAIL' | 'SES_CONFIGURATION_SET' | 'TRANSFER_TIMEZONE'>): MailerPort {
  return new SesMailer(new SESv2Client({}), config.SENDER_EMAIL, config.TRANSFER_TIMEZONE, config.SES_CONFIGURATION_SET || undefined);
}

/** Renders each notice as an email (its times in the deployment's zone) and sends it through SES. */
export class SesMailer implements MailerPort {
  constructor(
    private readonly ses: SESv2Client,
    private readonly sender: string,
    private readonly timeZone: string,
    /** Named on every send, so SES suppresses bounced addresses and reports bounces and complaints. */
    private readonly configurationSet?: string,
  ) {}

  async send(notice: Notice): Promise<void> {
    if (notice.recipients.length === 0) return;
    await this.sendEmail(renderNotice(notice, this.timeZone), notice.transfer.id);
  }

  private async sendEmail(message: EmailMessage, transferId: string): Promise<void> {
    await asTransient(() =>
      this.ses.send(
        new SendEmailCommand({
          FromEmailAddress: this.sender,
          ...(this.configurationSet ? { ConfigurationSetName: this.configurationSet } : {}),
          Destination: { ToAddresses: message.to },
          // SES hands the tags back with each bounce and complaint, so the feedback finds its transfer.
          EmailTags: [{ Name: MAIL_TAG_TRANSFER, Value: transferId }],
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
