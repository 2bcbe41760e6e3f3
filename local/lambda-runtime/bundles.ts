import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, version as esbuildVersion } from 'esbuild';
import { esbuildOptions } from '../../lib/bundling.ts';
import { replaceFile } from '../replace-file.ts';

/** The repository root: entries and esbuild's working directory hang off it. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where built bundles are kept between runs (git-ignored), whatever LOCAL_STATE_DIR says. */
export const BUILD_DIR = resolve(REPO_ROOT, '.local', 'build');

/** A function's bundle as CDK deploys it: `index.mjs` with its source map. */
export interface FunctionBundle {
  readonly name: string;
  /** Absolute path of `index.mjs`. */
  readonly file: string;
  /** True when this run built it; false when the cached one was still current. */
  readonly built: boolean;
  /** The bundle's size in bytes. */
  readonly bytes: number;
}

interface Manifest {
  readonly optionsHash: string;
  /** The build directory (under the function's) holding the bundle. */
  readonly dir: string;
  /** Each file esbuild read, relative to the repository root, with its SHA-256. */
  readonly inputs: Record<string, string>;
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** Hashes files once per call of {@link buildBundles}: functions share most of their inputs. */
function fileHasher(): (path: string) => Promise<string | undefined> {
  const hashes = new Map<string, Promise<string | undefined>>();
  return (path) => {
    let hash = hashes.get(path);
    if (hash === undefined) {
      hash = readFile(join(REPO_ROOT, path)).then(sha256, () => undefined);
      hashes.set(path, hash);
    }
    return hash;
  };
}

/** The bundle options minus where they are written, with esbuild's version: a change in either rebuilds. */
function optionsHash(entry: string): string {
  const { outfile: _outfile, absWorkingDir: _root, ...options } = esbuildOptions(REPO_ROOT, entry, 'index.mjs');
  return sha256(JSON.stringify({ esbuildVersion, options }));
}

async function readManifest(path: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

async function isCurrent(manifest: Manifest | undefined, expectedOptions: string, hashOf: (path: string) => Promise<string | undefined>): Promise<boolean> {
  if (manifest === undefined || manifest.optionsHash !== expectedOptions) return false;
  const checks = await Promise.all(Object.entries(manifest.inputs).map(async ([path, hash]) => (await hashOf(path)) === hash));
  return checks.every(Boolean);
}

/** Builds one function's bundle into a fresh directory, then points its manifest there (atomically). */
async function buildOne(entry: string, functionDir: string, hashOf: (path: string) => Promise<string | undefined>): Promise<string> {
  const dir = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const outfile = join(functionDir, dir, 'index.mjs');
  const result = await build({ ...esbuildOptions(REPO_ROOT, entry, outfile), metafile: true });
  const inputs: Record<string, string> = {};
  for (const path of Object.keys(result.metafile.inputs)) {
    const hash = await hashOf(path);
    // Virtual inputs (none today) have no file to compare; a file that vanished rebuilds next time.
    if (hash !== undefined) inputs[path] = hash;
  }
  const manifest: Manifest = { optionsHash: optionsHash(entry), dir, inputs };
  await replaceFile(join(functionDir, 'manifest.json'), JSON.stringify(manifest));
  await pruneOldBuilds(functionDir, dir);
  return outfile;
}

/** Drops builds older than an hour other than the current one: another process may still be starting from a recent one. */
async function pruneOldBuilds(functionDir: string, current: string): Promise<void> {
  const hourAgo = Date.now() - 3_600_000;
  for (const entry of await readdir(functionDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === current) continue;
    const path = join(functionDir, entry.name);
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && info.mtimeMs < hourAgo) await rm(path, { recursive: true, force: true });
  }
}

/**
 * The bundle of each function, built with the very options CDK bundles with (lib/bundling.ts) and
 * kept in {@link BUILD_DIR}: a function is rebuilt only when one of the files that went into it, the
 * options or esbuild changed. Safe to run from several processes at once.
 */
export async function buildBundles(functions: ReadonlyArray<{ name: string; entry: string }>): Promise<Map<string, FunctionBundle>> {
  const hashOf = fileHasher();
  const bundles = await Promise.all(
    functions.map(async ({ name, entry }): Promise<FunctionBundle> => {
      const functionDir = join(BUILD_DIR, name);
      await mkdir(functionDir, { recursive: true });
      const manifest = await readManifest(join(functionDir, 'manifest.json'));
      const current = manifest !== undefined && (await isCurrent(manifest, optionsHash(entry), hashOf));
      const file = current ? join(functionDir, manifest.dir, 'index.mjs') : await buildOne(entry, functionDir, hashOf);
      const bytes = (await stat(file)).size;
      return { name, file, built: !current, bytes };
    }),
  );
  return new Map(bundles.map((bundle) => [bundle.name, bundle]));
}
