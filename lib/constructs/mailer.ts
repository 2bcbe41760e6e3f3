import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** Properties of a {@link Mailer}. */
export interface MailerProps {
  /** The address emails are sent from, e.g. `transfers@example.com`. */
  readonly senderEmail: string;
}

/**
 * Who may send the product's emails, and as whom. The SES identity itself (the domain's DKIM
 * records, leaving the sandbox) is set up once per account outside this stack, so this construct
 * only scopes `ses:SendEmail` to that sender.
 */
export class Mailer extends Construct {
  /** The SES identities the sender may be verified as: its domain and the address itself. */
  readonly identityArns: readonly string[];

  constructor(scope: Construct, id: string, props: MailerProps) {
    super(scope, id);
    const domain = senderDomain(props.senderEmail);
    const identityArn = (name: string) =>
      Stack.of(this).formatArn({ service: 'ses', resource: 'identity', resourceName: name });
    this.identityArns = [identityArn(domain), identityArn(props.senderEmail)];
  }

  /** Lets `grantee` send email (SES v2 `SendEmail`, every content type) from the sender only. */
  grantSendEmail(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['ses:SendEmail'], resourceArns: [...this.identityArns] });
  }
}

function senderDomain(email: string): string {
  if (Token.isUnresolved(email)) throw new Error('senderEmail must be a literal address, not a token.');
  const match = /^[^@\s]+@([^@\s]+\.[^@\s]+)$/.exec(email);
  if (match?.[1] === undefined) throw new Error(`senderEmail "${email}" is not an email address.`);
  return match[1].toLowerCase();
}
