import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../config.ts';
import type { LinkKeyPort } from '../domain/ports.ts';
import { asTransient } from './transient.ts';

const MIN_KEY_BYTES = 32;

function checked(key: Buffer, source: string): Buffer {
  if (key.length < MIN_KEY_BYTES) throw new Error(`The approval-link key from ${source} is shorter than ${MIN_KEY_BYTES} bytes.`);
  return key;
}

/**
 * The link key of a function that sends approval links (see `Adapters` in composition.ts): the key
 * itself where APPROVAL_LINK_KEY is set (local runs), else the Secrets Manager secret (AWS).
 */
export function approvalLinkKey(config: Pick<Config, 'APPROVAL_LINK_KEY' | 'APPROVAL_LINK_KEY_SECRET_ARN'>): LinkKeyPort {
  if (config.APPROVAL_LINK_KEY) return new StaticLinkKey(config.APPROVAL_LINK_KEY);
  if (config.APPROVAL_LINK_KEY_SECRET_ARN) return new SecretsManagerLinkKey(new SecretsManagerClient({}), config.APPROVAL_LINK_KEY_SECRET_ARN);
  return { key: () => Promise.reject(new Error('Set APPROVAL_LINK_KEY or APPROVAL_LINK_KEY_SECRET_ARN to send approval links.')) };
}

/** The link key from a Secrets Manager secret (as deployed), read once per container. */
export class SecretsManagerLinkKey implements LinkKeyPort {
  private cached: Promise<Buffer> | undefined;

  constructor(
    private readonly secrets: SecretsManagerClient,
    private readonly secretId: string,
  ) {}

  key(): Promise<Buffer> {
    this.cached ??= asTransient(() => this.secrets.send(new GetSecretValueCommand({ SecretId: this.secretId }))).then((result) => {
      if (!result.SecretString) throw new Error('The approval-link key secret holds no string.');
      return checked(Buffer.from(result.SecretString, 'utf8'), 'Secrets Manager');
    });
    this.cached.catch(() => (this.cached = undefined));
    return this.cached;
  }
}

/** The link key given directly (the local stack generates one per machine). */
export class StaticLinkKey implements LinkKeyPort {
  private readonly value: Buffer;

  constructor(value: string) {
    this.value = checked(Buffer.from(value, 'utf8'), 'APPROVAL_LINK_KEY');
  }

  key(): Promise<Buffer> {
    return Promise.resolve(this.value);
  }
}
