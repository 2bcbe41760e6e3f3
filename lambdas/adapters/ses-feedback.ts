import { MAIL_TAG_TRANSFER, type MailFeedback } from '../domain/mail-feedback.ts';

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const addressesOf = (recipients: unknown): string[] =>
  Array.isArray(recipients) ? recipients.flatMap((recipient) => (isRecord(recipient) && typeof recipient.emailAddress === 'string' ? [recipient.emailAddress] : [])) : [];

/**
 * The feedback an SES event tells (as the configuration set publishes it to SNS, delivered raw to the
 * queue): a bounce or a complaint of an email tagged with its transfer. Anything else (another event type,
 * an email without the tag, a body that is not such an event) is undefined.
 */
export function feedbackOf(body: string): MailFeedback | undefined {
  let event: unknown;
  try {
    event = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isRecord(event) || !isRecord(event.mail)) return undefined;
  const tags = isRecord(event.mail.tags) ? event.mail.tags[MAIL_TAG_TRANSFER] : undefined;
  const transferId = Array.isArray(tags) && typeof tags[0] === 'string' ? tags[0] : undefined;
  if (transferId === undefined) return undefined;
  if (event.eventType === 'Bounce' && isRecord(event.bounce)) {
    const at = typeof event.bounce.timestamp === 'string' ? event.bounce.timestamp : String(event.mail.timestamp);
    return { transferId, kind: 'bounce', permanent: event.bounce.bounceType === 'Permanent', addresses: addressesOf(event.bounce.bouncedRecipients), at };
  }
  if (event.eventType === 'Complaint' && isRecord(event.complaint)) {
    const at = typeof event.complaint.timestamp === 'string' ? event.complaint.timestamp : String(event.mail.timestamp);
    return { transferId, kind: 'complaint', permanent: true, addresses: addressesOf(event.complaint.complainedRecipients), at };
  }
  return undefined;
}
