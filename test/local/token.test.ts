import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
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

  async function verify(token: string) {
    const jwks = JSON.parse(await readFile(join(stateDir, 'jwt', 'jwks.json'), 'utf8')) as JSONWebKeySet;
    return jwtVerify(token, createLocalJWKSet(jwks), { issuer: settings.issuer, audience: settings.audience });
  }

  it('prints only a partner token that verifies against the stored public JWKS', async () => {
    const run = await runToken(stateDir, ['--partner', 'P-ACME']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = run.stdout.trim();
    const { payload, protectedHeader } = await verify(token);
    expect(protectedHeader.alg).toBe('ES256');
    expect(typeof protectedHeader.kid).toBe('string');
    expect(payload[settings.partnerClaim]).toBe('P-ACME');
    expect(payload[settings.rolesClaim]).toEqual([]);
    expect(typeof payload.sub).toBe('string');
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3600);
    const keyFile = await stat(join(stateDir, 'jwt', 'signing-key.private.jwk.json'));
    expect(keyFile.mode & 0o777).toBe(0o600);
  });

  it('reuses the stored key and supports --operator, --roles and --expires-in', async () => {
    const first = await runToken(stateDir, ['--partner', 'P-ACME']);
    const run = await runToken(stateDir, ['--operator', '--roles', 'auditor, admin', '--expires-in', '120']);
    expect(run.code).toBe(0);
    const token = run.stdout.trim();
    expect(decodeProtectedHeader(token).kid).toBe(decodeProtectedHeader(first.stdout.trim()).kid);
    const { payload } = await verify(token);
    expect(payload[settings.rolesClaim]).toEqual(['auditor', 'admin', 'operator']);
    expect(payload[settings.partnerClaim]).toBeUndefined();
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(120);
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
