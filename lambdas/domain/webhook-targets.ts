import ipaddr from 'ipaddr.js';

/** How long one delivery try may take, from the name lookup to the last byte read of the answer. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** How much of a partner's answer is kept to show with a delivery (the rest is never read). */
export const RESPONSE_EXCERPT_BYTES = 256;

/** The longest webhook URL accepted. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** What one delivery try did: `ok` only for a 2xx answer; `error` says in a sentence why it failed. */
export interface WebhookAttempt {
  ok: boolean;
  status: number | null;
  error: string | null;
  excerpt: string;
  durationMs: number;
}

/** Whether loopback and private addresses (and `http:`) are allowed: only on the local stack. */
export interface TargetPolicy {
  allowPrivate: boolean;
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };
export type AddressCheck = { ok: true } | { ok: false; reason: string };

type Address = ipaddr.IPv4 | ipaddr.IPv6;

const cidr = (text: string): [Address, number] => ipaddr.parseCIDR(text);

/** IPv6 global unicast; ipaddr.js calls every address outside its listed ranges "unicast", even unassigned ones. */
const GLOBAL_UNICAST_V6 = cidr('2000::/3');

/** Ranges ipaddr.js counts as unicast inside 2000::/3 that still must not be reached; 6to4 and Teredo may wrap private IPv4. */
const REFUSED_V6 = [cidr('2002::/16'), cidr('2001::/32')];

/** Cloud instance services (metadata, DNS, time), refused even on the local stack: AWS's IPv6 block, then Alibaba's metadata. */
const NEVER = [cidr('fd00:ec2::/32'), cidr('100.100.100.200/32')];

/** Parses only the plain forms an OS or resolver gives (no `0x7f.1` or `010.0.0.1`), so no two readings of one string differ. */
function parseAddress(ip: string): Address | null {
  if (ipaddr.IPv4.isValidFourPartDecimal(ip)) return ipaddr.IPv4.parse(ip);
  if (!ip.includes(':') || !ipaddr.IPv6.isValid(ip)) return null;
  const address = ipaddr.IPv6.parse(ip);
  // A zone (fe80::1%eth0) only exists on one link; no global address has one.
  if (address.zoneId) return null;
  // IPv4-mapped (and the old compatible ::a.b.c.d, which ipaddr.js reads as mapped) reach the embedded IPv4.
  return address.isIPv4MappedAddress() ? address.toIPv4Address() : address;
}

function within(address: Address, ranges: [Address, number][]): boolean {
  return ranges.some(([base, bits]) => base.kind() === address.kind() && address.match(base, bits));
}

function isPublic(address: Address): boolean {
  if (address.kind() === 'ipv4') return address.range() === 'unicast';
  return address.range() === 'unicast' && within(address, [GLOBAL_UNICAST_V6]) && !within(address, REFUSED_V6);
}

/** Loopback and private networks, which the local stack may deliver to (its receivers run there). */
function isLocal(address: Address): boolean {
  if (within(address, NEVER)) return false;
  const range = address.range();
  return range === 'loopback' || range === 'private' || range === 'uniqueLocal';
}

/**
 * Whether an IP address is globally routable unicast: not loopback, private, link-local (cloud metadata),
 * carrier-grade NAT, multicast, broadcast, reserved, documentation or benchmarking; IPv4 inside IPv6
 * (mapped, compatible) is judged by the IPv4, NAT64, 6to4 and Teredo are refused whole. Anything that is
 * not a plain IPv4 or IPv6 address is not public.
 */
export function isPublicAddress(ip: string): boolean {
  const address = parseAddress(ip);
  return address !== null && isPublic(address) && !within(address, NEVER);
}

/** Why a webhook may not be sent to this address, or null when it may. */
function addressProblem(ip: string, policy: TargetPolicy): string | null {
  const address = parseAddress(ip);
  if (address && isPublic(address) && !within(address, NEVER)) return null;
  if (address && policy.allowPrivate && isLocal(address)) return null;
  return policy.allowPrivate ? 'which is not a public, private or loopback address' : 'which is not a public address';
}

function literalAddress(hostname: string): string | null {
  if (hostname.startsWith('[') && hostname.endsWith(']')) return hostname.slice(1, -1);
  // The URL parser has already turned every numeric IPv4 spelling into four decimal parts.
  return ipaddr.IPv4.isValidFourPartDecimal(hostname) ? hostname : null;
}

/** Names reserved for the machine itself (RFC 6761), whatever a resolver answers for them. */
function isLocalName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * Checks a webhook URL's syntax and policy (no lookups): an absolute `https:` URL (also `http:` when
 * private targets are allowed) of at most 2048 characters, with a host, without credentials or a
 * fragment; an IP-address host must be public (or, when allowed, loopback or private; link-local never).
 * Reasons are sentences for the partner's developer.
 */
export function parseWebhookUrl(url: string, options: TargetPolicy): UrlCheck {
  if (url.length > MAX_WEBHOOK_URL_LENGTH) return { ok: false, reason: `The URL must be at most ${MAX_WEBHOOK_URL_LENGTH} characters long.` };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: 'The URL must be an absolute URL, such as https://hooks.example.com/transfers.' };
  }
  const schemes = options.allowPrivate ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(parsed.protocol)) {
    return { ok: false, reason: options.allowPrivate ? 'The URL must use https or http.' : 'The URL must use https.' };
  }
  if (parsed.username || parsed.password) return { ok: false, reason: 'The URL must not contain a user name or password.' };
  // The parser keeps an empty fragment ("…#") out of `hash`; a "#" anywhere in href is a fragment.
  if (parsed.href.includes('#')) return { ok: false, reason: 'The URL must not contain a fragment (a # part).' };
  if (!parsed.hostname) return { ok: false, reason: 'The URL must name a host.' };
  const literal = literalAddress(parsed.hostname);
  if (literal !== null) {
    const problem = addressProblem(literal, options);
    if (problem) return { ok: false, reason: `The URL's host ${literal} is an IP address ${problem}.` };
  } else if (!options.allowPrivate && isLocalName(parsed.hostname)) {
    return { ok: false, reason: `The URL's host ${parsed.hostname} is not a public name.` };
  }
  return { ok: true, url: parsed };
}

/**
 * Checks the addresses a webhook host name resolved to: every one must pass the same rule as an
 * IP-address host, so a name cannot lead to the internal network; no address at all is refused too.
 */
export function checkResolvedAddresses(host: string, addresses: string[], options: TargetPolicy): AddressCheck {
  if (addresses.length === 0) return { ok: false, reason: `The host ${host} does not resolve to any address.` };
  for (const address of addresses) {
    const problem = addressProblem(address, options);
    if (problem) return { ok: false, reason: `The host ${host} resolves to ${address}, ${problem}.` };
  }
  return { ok: true };
}
