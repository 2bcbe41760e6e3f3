import { createHmac } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';

/**
 * Sets webhook secrets apart from approval-link secrets drawn from the same key: a link's input is
 * three lines (transfer id, step, base64url nonce) and can never equal this four-line one.
 */
const SECRET_LABEL = 'webhook-signing-secret\nv1';

/**
 * A webhook's signing secret in the Standard Webhooks form (`whsec_` + base64 of 32 bytes), derived
 * from the server's key, the webhook id and its random nonce: only the nonce is stored, and the same
 * secret can be derived again to sign each delivery.
 */
export function webhookSecret(key: Buffer, webhookId: string, nonce: string): string {
  const bytes = createHmac('sha256', key).update(`${SECRET_LABEL}\n${webhookId}\n${nonce}`, 'utf8').digest();
  return SECRET_PREFIX + bytes.toString('base64');
}

function secretBytes(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('A webhook secret starts with whsec_.');
  const encoded = secret.slice(SECRET_PREFIX.length);
  const bytes = Buffer.from(encoded, 'base64');
  // Buffer.from skips characters that are not base64; a secret that does not round-trip is not one.
  if (bytes.length === 0 || bytes.toString('base64') !== encoded) throw new Error('A webhook secret is base64 after whsec_.');
  return bytes;
}

/**
 * The Standard Webhooks signature of one delivery: `v1,` + base64 HMAC-SHA256 over
 * `{messageId}.{timestampSeconds}.{body}` under the secret's decoded bytes.
 */
export function signPayload(secret: string, messageId: string, timestampSeconds: number, body: string): string {
  // The id and timestamp are joined with "."; one containing a "." could make two messages sign alike.
  if (messageId === '' || messageId.includes('.')) throw new Error('A webhook message id is not empty and has no ".".');
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) throw new Error('A webhook timestamp is whole seconds since 1970.');
  const mac = createHmac('sha256', secretBytes(secret)).update(`${messageId}.${timestampSeconds}.${body}`, 'utf8').digest('base64');
  return `v1,${mac}`;
}

/** The headers of one delivery try: the Standard Webhooks three, signed at `at`, with the JSON type and our user agent. */
export function webhookHeaders(secret: string, messageId: string, at: Date, body: string): Record<string, string> {
  const timestamp = Math.floor(at.getTime() / 1000);
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signPayload(secret, messageId, timestamp, body),
    'content-type': 'application/json',
    'user-agent': 'customer-transfer-webhooks/1',
  };
}
