import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIPv4, isIPv6, type LookupFunction } from 'node:net';
import type { Config } from '../config.ts';
import type { WebhookTargetsPort, WebhookTransportPort } from '../domain/webhooks.ts';
import { checkResolvedAddresses, parseWebhookUrl, RESPONSE_EXCERPT_BYTES, WEBHOOK_TIMEOUT_MS, type WebhookAttempt } from '../domain/webhook-targets.ts';

/** Settings of the transport and the registration check: the target policy, the time limit and the name resolver. */
export interface HttpWebhookTransportOptions {
  /** Allows `http:` and loopback or private targets (the local stack only). */
  allowPrivate: boolean;
  /** @default WEBHOOK_TIMEOUT_MS (10 s) */
  timeoutMs?: number;
  /** Every address a host name resolves to. @default dns.promises.lookup with all addresses, in the resolver's order */
  resolve?: Resolve;
}

type Resolve = (host: string) => Promise<string[]>;

type Outcome = Omit<WebhookAttempt, 'durationMs'>;

/** The address a request is pinned to, or a failed try; null for a URL whose host is already an IP address. */
type Target = { address: string | null } | { outcome: Outcome };

class Timeout extends Error {}

const TLS_CODE = /TLS|SSL|CERT|EPROTO/;

// C0 and C1 controls, line and paragraph separators, and bidirectional overrides: an excerpt is shown as one plain line.
const UNSAFE_CHARACTERS = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

async function lookupAll(host: string): Promise<string[]> {
  const answers = await dnsLookup(host, { all: true, order: 'verbatim' });
  return answers.map((answer) => answer.address);
}

function failure(error: string): Outcome {
  return { ok: false, status: null, error, excerpt: '' };
}

function answered(status: number, body: Buffer[]): Outcome {
  const excerpt = Buffer.concat(body).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8').replace(UNSAFE_CHARACTERS, ' ');
  if (status >= 200 && status < 300) return { ok: true, status, error: null, excerpt };
  const error = status >= 300 && status < 400 ? `The endpoint answered ${status}, a redirect; redirects are not followed.` : `The endpoint answered ${status}.`;
  return { ok: false, status, error, excerpt };
}

/** A short sentence for a failed connection or request, never a stack or the error's own wording. */
function describe(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  if (code === 'ECONNREFUSED') return 'The connection was refused.';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'The connection was closed before an answer.';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return 'The host could not be reached.';
  if (code.startsWith('HPE_')) return 'The answer was not valid HTTP.';
  if (TLS_CODE.test(code)) return `The TLS connection failed (${code}).`;
  return code ? `The request failed (${code}).` : 'The request failed.';
}

/** Answers every lookup of `host` with the checked address, so the connection goes where the check looked. */
function pinnedLookup(host: string, address: string): LookupFunction {
  const family = isIPv6(address) ? 6 : 4;
  return (hostname, options, callback) => {
    if (hostname !== host) {
      callback(Object.assign(new Error('Only the checked host is looked up.'), { code: 'ENOTFOUND' }), '', 0);
    } else if (options.all) {
      callback(null, [{ address, family }]);
    } else {
      callback(null, address, family);
    }
  };
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Timeout());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function timeoutText(timeoutMs: number): string {
  return `No answer within ${timeoutMs / 1000} s.`;
}

/** Resolves a URL's host once and checks every address; the address to connect to, or why not to. */
async function resolveTarget(url: URL, allowPrivate: boolean, resolve: Resolve, signal: AbortSignal, timeoutMs: number): Promise<Target> {
  const host = url.hostname;
  // IP-address hosts were checked with the URL; Node connects to them without a lookup.
  if (host.startsWith('[') || isIPv4(host)) return { address: null };
  let addresses: string[];
  try {
    addresses = await untilAborted(resolve(host), signal);
  } catch (error) {
    return { outcome: failure(error instanceof Timeout ? timeoutText(timeoutMs) : `The host ${host} does not resolve.`) };
  }
  const check = checkResolvedAddresses(host, addresses, { allowPrivate });
  if (!check.ok) return { outcome: failure(check.reason) };
  return { address: addresses[0] ?? null };
}

/** Runs `work` with an abort signal that fires after `timeoutMs`. */
async function withDeadline<T>(timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  try {
    return await work(deadline.signal);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Posts webhook deliveries with node:http(s), safe against a partner's URL pointing inside our network:
 * the URL is checked, the host name resolved once, every address checked, and the connection pinned to
 * a checked address (TLS and the Host header still use the name). Redirects are never followed; one
 * time limit covers lookup, connection, sending and the answer; only 256 bytes of the answer are read.
 */
export class HttpWebhookTransport implements WebhookTransportPort {
  readonly timeoutMs: number;
  private readonly allowPrivate: boolean;
  private readonly resolve: Resolve;

  constructor(options: HttpWebhookTransportOptions) {
    this.allowPrivate = options.allowPrivate;
    this.timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
    this.resolve = options.resolve ?? lookupAll;
  }

  /** One delivery try: never throws; the attempt says what happened. */
  async post(url: string, headers: Record<string, string>, body: string): Promise<WebhookAttempt> {
    const started = performance.now();
    const done = (outcome: Outcome): WebhookAttempt => ({ ...outcome, durationMs: Math.round(performance.now() - started) });
    const parsed = parseWebhookUrl(url, { allowPrivate: this.allowPrivate });
    if (!parsed.ok) return done(failure(parsed.reason));
    const { url: target } = parsed;
    return withDeadline(this.timeoutMs, async (signal) => {
      const pinned = await resolveTarget(target, this.allowPrivate, this.resolve, signal, this.timeoutMs);
      if ('outcome' in pinned) return done(pinned.outcome);
      return done(await this.send(target, pinned.address, headers, body, signal));
    });
  }

  private send(url: URL, address: string | null, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<Outcome> {
    return new Promise<Outcome>((settle) => {
      const options: RequestOptions = {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body, 'utf8')) },
        // A connection of its own: nothing is reused across partners or tries.
        agent: false,
        ...(address ? { lookup: pinnedLookup(url.hostname, address) } : {}),
      };
      let status: number | null = null;
      const chunks: Buffer[] = [];
      let size = 0;
      let request: ClientRequest | undefined;
      let finished = false;
      const finish = (outcome: () => Outcome) => {
        if (finished) return;
        finished = true;
        signal.removeEventListener('abort', onAbort);
        request?.destroy();
        settle(outcome());
      };
      // Once the status has come, the partner has answered: a slow or broken body only ends the reading.
      const endOrFail = (error: () => string) => finish(() => (status === null ? failure(error()) : answered(status, chunks)));
      const onAbort = () => endOrFail(() => timeoutText(this.timeoutMs));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options);
      } catch {
        return finish(() => failure('The request could not be sent.'));
      }
      request.on('response', (response: IncomingMessage) => {
        status = response.statusCode ?? 0;
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= RESPONSE_EXCERPT_BYTES) endOrFail(() => '');
        });
        response.on('end', () => endOrFail(() => ''));
        response.on('error', () => endOrFail(() => ''));
      });
      request.on('error', (error) => endOrFail(() => describe(error)));
      request.end(body);
    });
  }
}

/**
 * Checks a URL when a webhook is registered: the URL rules, then (for a host name) every address it
 * resolves to now; the transport checks again at each try, as an answer may change.
 */
export class ResolvingWebhookTargets implements WebhookTargetsPort {
  private readonly allowPrivate: boolean;
  private readonly timeoutMs: number;
  private readonly resolve: Resolve;

  constructor(options: HttpWebhookTransportOptions) {
    this.allowPrivate = options.allowPrivate;
    this.timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
    this.resolve = options.resolve ?? lookupAll;
  }

  async check(url: string): Promise<{ ok: true } | { ok: false; reason: string }> {
    const parsed = parseWebhookUrl(url, { allowPrivate: this.allowPrivate });
    if (!parsed.ok) return parsed;
    const target = await withDeadline(this.timeoutMs, (signal) => resolveTarget(parsed.url, this.allowPrivate, this.resolve, signal, this.timeoutMs));
    return 'outcome' in target ? { ok: false, reason: target.outcome.error ?? 'The URL cannot be used.' } : { ok: true };
  }
}

function allowPrivate(config: Pick<Config, 'WEBHOOK_ALLOW_PRIVATE_TARGETS'>): boolean {
  return config.WEBHOOK_ALLOW_PRIVATE_TARGETS === 'true';
}

/** The delivery transport of the dispatcher (see `composeDispatcher`), with the target policy from WEBHOOK_ALLOW_PRIVATE_TARGETS. */
export function webhookTransport(config: Pick<Config, 'WEBHOOK_ALLOW_PRIVATE_TARGETS'>): WebhookTransportPort {
  return new HttpWebhookTransport({ allowPrivate: allowPrivate(config) });
}

/** The registration check of manage-webhooks (see `Adapters`), with the target policy from WEBHOOK_ALLOW_PRIVATE_TARGETS. */
export function webhookTargets(config: Pick<Config, 'WEBHOOK_ALLOW_PRIVATE_TARGETS'>): WebhookTargetsPort {
  return new ResolvingWebhookTargets({ allowPrivate: allowPrivate(config) });
}
