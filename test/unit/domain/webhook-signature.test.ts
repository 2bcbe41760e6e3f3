import { createHmac } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { linkSecret } from '../../../lambdas/domain/approval-links.ts';
import { signPayload, webhookHeaders, webhookSecret } from '../../../lambdas/domain/webhook-signature.ts';

const KEY = Buffer.from('a-link-key-of-at-least-32-bytes-long!!', 'utf8');
const OTHER_KEY = Buffer.from('another-key-of-at-least-32-bytes-long!!', 'utf8');
const WEBHOOK_ID = 'wh_0123456789abcdef0123456789abcdef';
const NONCE = 'c2l4dGVlbi1ieXRlcy1ub24';
const BODY = JSON.stringify({ id: 'evt_1', type: 'transfer.released', occurredAt: '2026-03-10T15:00:00.000Z', transferId: 'TR-1' });

function verificationError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return (error as Error).message;
  }
  throw new Error('expected the verification to fail');
}

describe('webhookSecret', () => {
  it('is whsec_ and the base64 of 32 bytes', () => {
    const secret = webhookSecret(KEY, WEBHOOK_ID, NONCE);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
  });

  it('is the same for the same key, webhook and nonce, and different when any of them differs', () => {
    const secret = webhookSecret(KEY, WEBHOOK_ID, NONCE);
    expect(webhookSecret(Buffer.from(KEY), WEBHOOK_ID, NONCE)).toBe(secret);
    const others = [
      webhookSecret(OTHER_KEY, WEBHOOK_ID, NONCE),
      webhookSecret(KEY, 'wh_fedcba9876543210fedcba9876543210', NONCE),
      webhookSecret(KEY, WEBHOOK_ID, 'YW5vdGhlci1ub25jZS1vZi0'),
    ];
    expect(new Set([secret, ...others]).size).toBe(4);
  });

  it('is the HMAC-SHA256 under the key of a labelled message: webhook id and nonce after the label', () => {
    const expected = createHmac('sha256', KEY).update(`webhook-signing-secret\nv1\n${WEBHOOK_ID}\n${NONCE}`).digest('base64');
    expect(webhookSecret(KEY, WEBHOOK_ID, NONCE)).toBe(`whsec_${expected}`);
  });

  it('never equals an approval-link secret drawn from the same key and nonce', () => {
    const linkBytes = Buffer.from(linkSecret(KEY, WEBHOOK_ID, 'release', NONCE), 'base64url');
    const webhookBytes = Buffer.from(webhookSecret(KEY, WEBHOOK_ID, NONCE).slice('whsec_'.length), 'base64');
    expect(webhookBytes.equals(linkBytes)).toBe(false);
  });
});

describe('signPayload', () => {
  it("matches the Standard Webhooks specification's published test vector", () => {
    expect(signPayload('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('is v1, and the base64 HMAC-SHA256 of "id.timestamp.body" under the decoded secret bytes', () => {
    const secret = webhookSecret(KEY, WEBHOOK_ID, NONCE);
    const bytes = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const body = '{"name":"Zoë ✓"}';
    const expected = createHmac('sha256', bytes).update(Buffer.from(`evt_1.1773154800.${body}`, 'utf8')).digest('base64');
    expect(signPayload(secret, 'evt_1', 1773154800, body)).toBe(`v1,${expected}`);
  });

  it('refuses a message id with a "." or none, a timestamp that is not whole seconds, and a secret not in whsec_ form', () => {
    const secret = webhookSecret(KEY, WEBHOOK_ID, NONCE);
    expect(() => signPayload(secret, 'evt.1', 1773154800, BODY)).toThrow('A webhook message id is not empty and has no ".".');
    expect(() => signPayload(secret, '', 1773154800, BODY)).toThrow('A webhook message id is not empty and has no ".".');
    for (const timestamp of [1773154800.5, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => signPayload(secret, 'evt_1', timestamp, BODY)).toThrow('A webhook timestamp is whole seconds since 1970.');
    }
    expect(() => signPayload(secret.slice('whsec_'.length), 'evt_1', 1773154800, BODY)).toThrow('A webhook secret starts with whsec_.');
    expect(() => signPayload('whsec_', 'evt_1', 1773154800, BODY)).toThrow('A webhook secret is base64 after whsec_.');
    expect(() => signPayload('whsec_not base64!', 'evt_1', 1773154800, BODY)).toThrow('A webhook secret is base64 after whsec_.');
  });
});

describe('webhookHeaders', () => {
  const secret = webhookSecret(KEY, WEBHOOK_ID, NONCE);

  it('are the three Standard Webhooks headers, the JSON type and our user agent; the timestamp is whole seconds', () => {
    const at = new Date('2026-03-10T15:00:00.999Z');
    expect(webhookHeaders(secret, 'evt_1', at, BODY)).toEqual({
      'webhook-id': 'evt_1',
      'webhook-timestamp': '1773154800',
      'webhook-signature': signPayload(secret, 'evt_1', 1773154800, BODY),
      'content-type': 'application/json',
      'user-agent': 'customer-transfer-webhooks/1',
    });
  });

  it('verify with the official standardwebhooks library', () => {
    const headers = webhookHeaders(secret, 'evt_1', new Date(), BODY);
    expect(new Webhook(secret).verify(BODY, headers)).toEqual(JSON.parse(BODY));
  });

  it('fail verification when the body, the id or the timestamp is changed, or under another secret', () => {
    const headers = webhookHeaders(secret, 'evt_1', new Date(), BODY);
    const receiver = new Webhook(secret);
    expect(verificationError(() => receiver.verify(BODY.replace('released', 'declined'), headers))).toBe('No matching signature found');
    expect(verificationError(() => receiver.verify(`${BODY} `, headers))).toBe('No matching signature found');
    expect(verificationError(() => receiver.verify(BODY, { ...headers, 'webhook-id': 'evt_2' }))).toBe('No matching signature found');
    const earlier = String(Number(headers['webhook-timestamp']) - 1);
    expect(verificationError(() => receiver.verify(BODY, { ...headers, 'webhook-timestamp': earlier }))).toBe('No matching signature found');
    const stranger = new Webhook(webhookSecret(OTHER_KEY, WEBHOOK_ID, NONCE));
    expect(verificationError(() => stranger.verify(BODY, headers))).toBe('No matching signature found');
  });

  it('signed long ago are refused by a receiver as a replay, as the library checks the timestamp', () => {
    const headers = webhookHeaders(secret, 'evt_1', new Date(Date.now() - 10 * 60_000), BODY);
    expect(verificationError(() => new Webhook(secret).verify(BODY, headers))).toBe('Message timestamp too old');
  });
});
