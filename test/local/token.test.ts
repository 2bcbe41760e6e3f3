import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localJwtSettings } from '../../local/jwt-keys.ts';

const repoRoot = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runToken(stateDir: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'local/token.ts', ...args],
      { cwd: repoRoot, env: { ...process.env, LOCAL_STATE_DIR: stateDir }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? -1 : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('npm run token', () => {
  const settings = localJwtSettings();
  let stateDir: string;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'token-test-'));
  });

  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  const publicJwks = async (dir = stateDir): Promise<JSONWebKeySet> =>
    JSON.parse(await readFile(join(dir, 'jwt', 'jwks.json'), 'utf8')) as JSONWebKeySet;

  async function verify(token: string, dir = stateDir) {
    return jwtVerify(token, createLocalJWKSet(await publicJwks(dir)), { issuer: settings.issuer, audience: settings.audience });
  }

  it('prints only a partner token that verifies against the stored public JWKS', async () => {
    const run = await runToken(stateDir, ['--partner', 'P-ACME']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = run.stdout.trim();
    const { payload, protectedHeader } = await verify(token);
    // RS256, as API Gateway's JWT authorizer verifies: a 2048-bit RSA key named by its kid.
    expect(protectedHeader.alg).toBe('RS256');
    expect(typeof protectedHeader.kid).toBe('string');
    const [publicKey, ...others] = (await publicJwks()).keys;
    expect(others).toEqual([]);
    expect(publicKey).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: protectedHeader.kid });
    expect(Buffer.from(publicKey?.n ?? '', 'base64url').length * 8).toBe(2048);
    expect(publicKey).not.toHaveProperty('d');
    expect(payload[settings.partnerClaim]).toBe('P-ACME');
    expect(payload[settings.rolesClaim]).toBe('');
    expect(typeof payload.sub).toBe('string');
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3600);
    const keyFile = await stat(join(stateDir, 'jwt', 'signing-key.rs256.private.jwk.json'));
    expect(keyFile.mode & 0o777).toBe(0o600);
  });

  it('reuses the stored key and supports --operator, --roles and --expires-in', async () => {
    const first = await runToken(stateDir, ['--partner', 'P-ACME']);
    const run = await runToken(stateDir, ['--operator', '--roles', 'auditor, admin', '--expires-in', '120']);
    expect(run.code).toBe(0);
    const token = run.stdout.trim();
    expect(decodeProtectedHeader(token).kid).toBe(decodeProtectedHeader(first.stdout.trim()).kid);
    const { payload } = await verify(token);
    expect(payload[settings.rolesClaim]).toBe('auditor admin operator');
    expect(payload[settings.partnerClaim]).toBeUndefined();
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(120);
  });

  it('replaces the ES256 key of an earlier version with an RSA one, whose tokens the old key no longer matches', async () => {
    const earlierDir = join(stateDir, 'earlier');
    await mkdir(join(earlierDir, 'jwt'), { recursive: true });
    const earlier = await generateKeyPair('ES256', { extractable: true });
    const earlierJwk = await exportJWK(earlier.privateKey);
    const earlierKid = await calculateJwkThumbprint(earlierJwk);
    const earlierFile = join(earlierDir, 'jwt', 'signing-key.private.jwk.json');
    await writeFile(earlierFile, JSON.stringify({ ...earlierJwk, kid: earlierKid, alg: 'ES256', use: 'sig' }), { mode: 0o600 });

    const run = await runToken(earlierDir, ['--partner', 'P-ACME']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(decodeProtectedHeader(run.stdout.trim()).alg).toBe('RS256');
    await expect(verify(run.stdout.trim(), earlierDir)).resolves.toBeDefined();
    expect((await publicJwks(earlierDir)).keys.map((key) => [key.kty, key.kid])).toEqual([['RSA', decodeProtectedHeader(run.stdout.trim()).kid]]);
    await expect(access(earlierFile)).rejects.toThrow(/ENOENT/);
    // A token of the earlier key now fails, as after `rm -rf .local/jwt`.
    const old = await new SignJWT({ [settings.partnerClaim]: 'P-ACME' })
      .setProtectedHeader({ alg: 'ES256', kid: earlierKid })
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setExpirationTime('1h')
      .sign(earlier.privateKey);
    await expect(verify(old, earlierDir)).rejects.toThrow();
  });

  it.each([
    ['no arguments', []],
    ['an unknown option', ['--partner', 'P-ACME', '--bogus']],
    ['a partner without value', ['--partner']],
    ['an empty partner', ['--partner', '']],
    ['a bad expiry', ['--operator', '--expires-in', 'soon']],
    ['a zero expiry', ['--operator', '--expires-in', '0']],
    ['empty roles', ['--operator', '--roles', ',']],
    ['a positional argument', ['P-ACME']],
  ])('exits 2 with a one-line usage error for %s', async (_name, args) => {
    const run = await runToken(stateDir, args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^token: .*usage: npm run --silent token -- .*\n$/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
