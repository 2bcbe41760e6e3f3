import { describe, expect, it } from 'vitest';
import {
  checkResolvedAddresses,
  isPublicAddress,
  MAX_WEBHOOK_URL_LENGTH,
  parseWebhookUrl,
  RESPONSE_EXCERPT_BYTES,
  WEBHOOK_TIMEOUT_MS,
} from '../../../lambdas/domain/webhook-targets.ts';

const AWS = { allowPrivate: false };
const LOCAL = { allowPrivate: true };

describe('limits', () => {
  it('are 10 s per try, 256 bytes of answer and 2048 characters of URL', () => {
    expect(WEBHOOK_TIMEOUT_MS).toBe(10_000);
    expect(RESPONSE_EXCERPT_BYTES).toBe(256);
    expect(MAX_WEBHOOK_URL_LENGTH).toBe(2048);
  });
});

describe('isPublicAddress', () => {
  it.each(['8.8.8.8', '1.1.1.1', '52.95.110.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8'])('%s is public', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.5', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local: cloud metadata'],
    ['169.254.170.2', 'link-local: container credentials'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.100.100.200', 'carrier-grade NAT: another cloud metadata'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'this network'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.8', 'IETF protocol assignments'],
    ['192.0.2.10', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['::1', 'IPv6 loopback'],
    ['::', 'IPv6 unspecified'],
    ['fe80::1', 'IPv6 link-local'],
    ['febf:ffff::1', 'IPv6 link-local, top of the range'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fd00:ec2::254', 'AWS IPv6 metadata'],
    ['ff02::1', 'IPv6 multicast'],
    ['2001:db8::1', 'IPv6 documentation'],
    ['3fff::1', 'IPv6 documentation'],
    ['2001:2::1', 'IPv6 benchmarking'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
    ['::ffff:10.0.0.5', 'IPv4-mapped private'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::127.0.0.1', 'IPv4-compatible loopback'],
    ['::a00:5', 'IPv4-compatible private, hex'],
    ['64:ff9b::a00:5', 'NAT64 of 10.0.0.5'],
    ['64:ff9b::808:808', 'NAT64, refused whole'],
    ['64:ff9b:1::1', 'local NAT64'],
    ['2002:a00:5::1', '6to4 of 10.0.0.5'],
    ['2002:808:808::1', '6to4, refused whole'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
    ['100::1', 'discard-only'],
    ['4000::1', 'outside global unicast'],
    ['fec0::1', 'site-local'],
  ])('%s is not public (%s)', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each(['', 'localhost', 'example.com', '127.1', '0x7f.0.0.1', '010.0.0.1', '2130706433', '8.8.8.8.8', '[::1]', 'fe80::1%eth0', '2606:4700::1%1', '8.8.8.8 '])(
    '%j is not a plain address, so not public',
    (ip) => {
      expect(isPublicAddress(ip)).toBe(false);
    },
  );
});

function reasonOf(result: { ok: true } | { ok: false; reason: string }): string {
  if (result.ok) throw new Error('expected a refusal');
  return result.reason;
}

describe('parseWebhookUrl', () => {
  it('accepts an https URL with a public name, port, path and query, and gives the parsed URL', () => {
    const result = parseWebhookUrl('https://Hooks.Partner.example:8443/transfers?team=ops', AWS);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.url.hostname).toBe('hooks.partner.example');
      expect(result.url.href).toBe('https://hooks.partner.example:8443/transfers?team=ops');
    }
  });

  it('accepts public IP-address hosts', () => {
    expect(parseWebhookUrl('https://8.8.8.8/hook', AWS).ok).toBe(true);
    expect(parseWebhookUrl('https://[2606:4700:4700::1111]/hook', AWS).ok).toBe(true);
  });

  it('accepts a URL of exactly 2048 characters and refuses one longer', () => {
    const base = 'https://hooks.partner.example/';
    const exact = base + 'a'.repeat(MAX_WEBHOOK_URL_LENGTH - base.length);
    expect(parseWebhookUrl(exact, AWS).ok).toBe(true);
    expect(reasonOf(parseWebhookUrl(`${exact}a`, AWS))).toBe('The URL must be at most 2048 characters long.');
  });

  it.each([
    ['hooks.partner.example/transfers', 'The URL must be an absolute URL, such as https://hooks.example.com/transfers.'],
    ['/transfers', 'The URL must be an absolute URL, such as https://hooks.example.com/transfers.'],
    ['https://', 'The URL must be an absolute URL, such as https://hooks.example.com/transfers.'],
    ['http://hooks.partner.example/', 'The URL must use https.'],
    ['ftp://hooks.partner.example/', 'The URL must use https.'],
    ['file:///etc/passwd', 'The URL must use https.'],
    ['https://user:secret@hooks.partner.example/', 'The URL must not contain a user name or password.'],
    ['https://user@hooks.partner.example/', 'The URL must not contain a user name or password.'],
    ['https://hooks.partner.example/#part', 'The URL must not contain a fragment (a # part).'],
    ['https://hooks.partner.example/#', 'The URL must not contain a fragment (a # part).'],
  ])('refuses %j: %s', (url, reason) => {
    expect(reasonOf(parseWebhookUrl(url, AWS))).toBe(reason);
  });

  it.each([
    ['https://127.0.0.1/hook', '127.0.0.1'],
    ['https://127.1/hook', '127.0.0.1'],
    ['https://0x7f000001/hook', '127.0.0.1'],
    ['https://2130706433/hook', '127.0.0.1'],
    ['https://10.0.0.5/hook', '10.0.0.5'],
    ['https://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['https://0.0.0.0/hook', '0.0.0.0'],
    ['https://[::1]/hook', '::1'],
    ['https://[::ffff:127.0.0.1]/hook', '::ffff:7f00:1'],
    ['https://[fd00:ec2::254]/hook', 'fd00:ec2::254'],
    ['https://[fe80::1]/hook', 'fe80::1'],
  ])('refuses the IP-address host of %s', (url, shown) => {
    expect(reasonOf(parseWebhookUrl(url, AWS))).toBe(`The URL's host ${shown} is an IP address which is not a public address.`);
  });

  it.each(['https://localhost/hook', 'https://LOCALHOST./hook', 'https://api.localhost:8443/hook'])('refuses the loopback name of %s', (url) => {
    expect(reasonOf(parseWebhookUrl(url, AWS))).toMatch(/^The URL's host .*localhost\.? is not a public name\.$/);
  });

  describe('with private targets allowed (the local stack)', () => {
    it.each(['http://127.0.0.1:4000/hook', 'https://127.0.0.1/hook', 'http://[::1]:4000/hook', 'http://localhost:4000/hook', 'http://10.0.0.5/hook', 'http://[fd12::1]/hook', 'http://hooks.partner.example/'])(
      'accepts %s',
      (url) => {
        expect(parseWebhookUrl(url, LOCAL).ok).toBe(true);
      },
    );

    it.each([
      ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
      ['http://[::ffff:169.254.169.254]/', '::ffff:a9fe:a9fe'],
      ['http://[fd00:ec2::254]/', 'fd00:ec2::254'],
      ['http://[fe80::1]/', 'fe80::1'],
      ['http://0.0.0.0:4000/', '0.0.0.0'],
      ['http://[::]:4000/', '::'],
      ['http://100.64.0.1/', '100.64.0.1'],
      ['http://224.0.0.1/', '224.0.0.1'],
    ])('still refuses %s', (url, shown) => {
      expect(reasonOf(parseWebhookUrl(url, LOCAL))).toBe(`The URL's host ${shown} is an IP address which is not a public, private or loopback address.`);
    });

    it('allows http but no other scheme', () => {
      expect(reasonOf(parseWebhookUrl('ftp://127.0.0.1/', LOCAL))).toBe('The URL must use https or http.');
    });
  });
});

describe('checkResolvedAddresses', () => {
  it('accepts a name whose every address is public', () => {
    expect(checkResolvedAddresses('hooks.partner.example', ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'], AWS)).toEqual({ ok: true });
  });

  it('refuses a name that resolves to nothing', () => {
    expect(reasonOf(checkResolvedAddresses('hooks.partner.example', [], AWS))).toBe('The host hooks.partner.example does not resolve to any address.');
    expect(reasonOf(checkResolvedAddresses('hooks.partner.example', [], LOCAL))).toBe('The host hooks.partner.example does not resolve to any address.');
  });

  it.each(['169.254.169.254', '10.0.0.5', '::ffff:10.0.0.5', '127.0.0.1', 'fd00:ec2::254', 'not-an-address'])('refuses a name with one address %s among public ones', (bad) => {
    expect(reasonOf(checkResolvedAddresses('hooks.partner.example', ['8.8.8.8', bad, '1.1.1.1'], AWS))).toBe(
      `The host hooks.partner.example resolves to ${bad}, which is not a public address.`,
    );
  });

  it('with private targets allowed, accepts loopback and private addresses but never link-local or metadata', () => {
    expect(checkResolvedAddresses('localhost', ['127.0.0.1', '::1'], LOCAL)).toEqual({ ok: true });
    expect(checkResolvedAddresses('receiver', ['10.0.0.5', '::ffff:192.168.1.2'], LOCAL)).toEqual({ ok: true });
    for (const bad of ['169.254.169.254', 'fd00:ec2::254', 'fe80::1', '0.0.0.0', '::ffff:169.254.169.254']) {
      expect(reasonOf(checkResolvedAddresses('metadata.internal', ['127.0.0.1', bad], LOCAL))).toBe(
        `The host metadata.internal resolves to ${bad}, which is not a public, private or loopback address.`,
      );
    }
  });
});
