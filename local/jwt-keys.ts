import { randomUUID } from 'node:crypto';
import { chmod, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { replaceFile } from './replace-file.ts';

/** Signing algorithm of the local issuer: RSA, the only kind API Gateway's HTTP API JWT authorizer verifies. */
export const LOCAL_JWT_ALG = 'RS256';
const RSA_MODULUS_BITS = 2048;

export interface LocalJwtClaimSettings {
  issuer: string;
  audience: string;
  partnerClaim: string;
  rolesClaim: string;
}

export interface LocalSigningKey {
  privateKey: CryptoKey;
  publicJwks: { keys: JWK[] };
  kid: string;
}

export interface SignLocalTokenOptions {
  stateDir: string;
  partnerId?: string;
  operator?: boolean;
  roles?: string[];
  /** Lifetime in seconds (default 3600); a negative value mints an already-expired token for tests. */
  expiresInSeconds?: number;
  subject?: string;
  audience?: string;
  issuer?: string;
}

// Named by algorithm: a key of another algorithm (the ES256 key of earlier versions) is left aside
// and removed, and the new one is made by the same race-free path as a first run's.
const PRIVATE_KEY_FILE = 'signing-key.rs256.private.jwk.json';
const EARLIER_PRIVATE_KEY_FILES = ['signing-key.private.jwk.json'];
const PUBLIC_JWKS_FILE = 'jwks.json';
const OPERATOR_ROLE = 'operator';

function envOr(name: string, fallback: string): string {
  const value = process.env[name]?.trim();
  return value ? value : fallback;
}

/** JWT settings shared by the local issuer (token command) and the local API Gateway twin. */
export function localJwtSettings(): LocalJwtClaimSettings {
  return {
    issuer: envOr('JWT_ISSUER', 'https://issuer.transfer.localhost/'),
    audience: envOr('JWT_AUDIENCE', 'transfer-portal'),
    partnerClaim: envOr('JWT_PARTNER_CLAIM', 'partner_id'),
    rolesClaim: envOr('JWT_ROLES_CLAIM', 'roles'),
  };
}

/** Directory for local state (keys, etc.): LOCAL_STATE_DIR or <repo root>/.local. */
export function localStateDir(): string {
  const fromEnv = process.env.LOCAL_STATE_DIR?.trim();
  if (fromEnv) return resolve(fromEnv);
  // This file lives in <repo root>/local/, so the repo root is its folder's parent.
  const repoRoot = dirname(dirname(fileURLToPath(import.meta.url)));
  return join(repoRoot, '.local');
}

type RsaPrivateJwk = JWK & { kty: 'RSA'; n: string; e: string; d: string; p: string; q: string; dp: string; dq: string; qi: string; kid: string };

function isRsaPrivateJwk(value: unknown): value is RsaPrivateJwk {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.kty === 'RSA' && v.alg === LOCAL_JWT_ALG && typeof v.kid === 'string'
    && ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'].every((member) => typeof v[member] === 'string');
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

async function readPrivateJwk(file: string): Promise<JWK | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!isRsaPrivateJwk(parsed)) {
    throw new Error(`The local signing key ${file} is not a valid ${LOCAL_JWT_ALG} private JWK: delete ${dirname(file)} to create a new one.`);
  }
  return parsed;
}

async function createPrivateJwk(file: string): Promise<void> {
  const { privateKey } = await generateKeyPair(LOCAL_JWT_ALG, { modulusLength: RSA_MODULUS_BITS, extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const content = `${JSON.stringify({ ...jwk, kid, alg: LOCAL_JWT_ALG, use: 'sig' }, null, 2)}\n`;
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    // link() fails with EEXIST instead of overwriting, so concurrent first runs agree on one key.
    await link(tmp, file);
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error;
  } finally {
    await unlink(tmp);
  }
}

function publicPart(jwk: JWK): JWK {
  const { kty, n, e, kid, alg, use } = jwk;
  return { kty, n, e, kid, alg, use };
}

/** Removes a key of an earlier version; its tokens then fail, as after `rm -rf .local/jwt`. */
async function removeEarlierKeys(dir: string): Promise<void> {
  for (const name of EARLIER_PRIVATE_KEY_FILES) {
    try {
      await unlink(join(dir, name));
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
  }
}

/**
 * Loads the local RS256 signing key (2048-bit RSA, with a kid) from <stateDir>/jwt/, creating it
 * (0600) on first use so tokens survive restarts; an ES256 key of an earlier version is replaced.
 */
export async function loadOrCreateSigningKey(stateDir: string): Promise<LocalSigningKey> {
  const dir = join(stateDir, 'jwt');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privateFile = join(dir, PRIVATE_KEY_FILE);
  let jwk = await readPrivateJwk(privateFile);
  if (!jwk) {
    await createPrivateJwk(privateFile);
    jwk = await readPrivateJwk(privateFile);
  }
  await removeEarlierKeys(dir);
  if (!jwk || typeof jwk.kid !== 'string') {
    throw new Error(`Could not create the local signing key in ${dir}.`);
  }
  // A key restored from a backup or another checkout may have lost its mode; it is a secret.
  await chmod(privateFile, 0o600);
  const publicJwks = { keys: [publicPart(jwk)] };
  const jwksFile = join(dir, PUBLIC_JWKS_FILE);
  await replaceFile(jwksFile, `${JSON.stringify(publicJwks, null, 2)}\n`, 0o644);
  const privateKey = await importJWK(jwk, LOCAL_JWT_ALG);
  if (privateKey instanceof Uint8Array) {
    throw new Error(`The local signing key in ${dir} is not an asymmetric key.`);
  }
  return { privateKey, publicJwks, kid: jwk.kid };
}

/** Signs a token the way the partner portal's identity provider would, with the local key. */
export async function signLocalToken(options: SignLocalTokenOptions): Promise<string> {
  const settings = localJwtSettings();
  const expiresIn = options.expiresInSeconds ?? 3600;
  if (!Number.isSafeInteger(expiresIn) || expiresIn === 0) {
    throw new RangeError('expiresInSeconds must be a non-zero integer.');
  }
  const roles = [...(options.roles ?? [])];
  if (options.operator && !roles.includes(OPERATOR_ROLE)) roles.push(OPERATOR_ROLE);
  const partnerId = options.partnerId;
  const subject = options.subject ?? (partnerId ? `local-user:${partnerId}` : `local-${OPERATOR_ROLE}`);
  const { privateKey, kid } = await loadOrCreateSigningKey(options.stateDir);
  // A space-separated string: API Gateway hands an array claim to the functions flattened as "[a b]",
  // which cannot be read back as whole roles when there are several (see lambdas/domain/caller.ts).
  const claims: Record<string, unknown> = { [settings.rolesClaim]: roles.join(' ') };
  if (partnerId !== undefined) claims[settings.partnerClaim] = partnerId;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: LOCAL_JWT_ALG, kid, typ: 'JWT' })
    .setSubject(subject)
    .setIssuer(options.issuer ?? settings.issuer)
    .setAudience(options.audience ?? settings.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .sign(privateKey);
}
