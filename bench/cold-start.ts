/**
 * Cold start of each handler of the catalog as CDK bundles them (the esbuild options of lib/bundling.ts,
 * which TransferFunction hands to CDK, given to the esbuild API), the bundle's size, and the
 * median time fresh Node processes take from their start to the handler being exported, next to the
 * same handler built without bundling its dependencies.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { allFunctions } from '../lambdas/handlers/catalog.ts';
import { esbuildOptions } from '../lib/bundling.ts';
import { REPO_ROOT, errorText, markdownTable, median, ms, progress, verdict, type BenchSection } from './harness.ts';

const RUNS = 10;
const TARGET_MS = 150;
const TARGET_SPEEDUP = 2;
type Handler = ReturnType<typeof allFunctions>[number];

/** The handler bundled as TransferFunction has CDK bundle it (lib/bundling.ts), with a metafile to say what is inside. */
async function bundleLikeCdk(handler: Handler, outDir: string): Promise<{ file: string; contents: PackageShare[] }> {
  const outfile = join(outDir, 'index.mjs');
  // The metafile only describes the inputs (CDK does not ask for it); the bundle is the same.
  const result = await build({ ...esbuildOptions(REPO_ROOT, handler.entry, outfile), metafile: true });
  return { file: outfile, contents: packageShares(result.metafile) };
}

export interface PackageShare {
  /** A package name, or "the product's own code". */
  name: string;
  bytes: number;
}

const OWN_CODE = "the product's own code";

/** How much of a bundle each package makes up, largest first. */
function packageShares(metafile: Metafile): PackageShare[] {
  const shares = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? OWN_CODE;
      shares.set(name, (shares.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return [...shares].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/** The same handler compiled by esbuild into one ESM file with every package left external (loaded from node_modules). */
async function buildUnbundled(handler: Handler, outDir: string): Promise<string> {
  const outfile = join(outDir, 'index.mjs');
  await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [handler.entry],
    bundle: true,
    packages: 'external',
    target: 'node24',
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'error',
  });
  return outfile;
}

// Runs in the fresh process: performance.now() counts from the process's time origin (its start).
const IMPORT_SCRIPT = `
const before = performance.now();
if (process.env.BENCH_IMPORT) {
  const module = await import(process.env.BENCH_IMPORT);
  if (typeof module.handler !== 'function') throw new Error('no handler export');
}
const ready = performance.now();
const cpu = process.cpuUsage();
process.stdout.write(JSON.stringify({ ready, importMs: ready - before, cpuMs: (cpu.user + cpu.system) / 1000 }));
`;

/** The environment a deployed function sees (names from TransferFunction; values are placeholders, nothing is called). */
function lambdaEnvironment(name: string, file: string | undefined): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_NAME: name,
    POWERTOOLS_SERVICE_NAME: 'customer-transfer',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    LOG_LEVEL: 'WARN',
    TABLE_NAME: 'customer-transfers',
    STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:customer-transfer',
    SENDER_EMAIL: 'transfers@example.com',
    DEVOPS_EMAIL: 'devops@example.com',
    PUBLIC_BASE_URL: 'https://api.example.com',
    APPROVAL_LINK_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:approval-link-key',
    ...(file !== undefined ? { BENCH_IMPORT: pathToFileURL(file).href } : {}),
  };
}

interface Timing {
  ready: number;
  importMs: number;
  /** CPU time (user and system) of the process until ready: what the time would be without other work on the machine. */
  cpuMs: number;
}

function timeImport(name: string, file: string | undefined): Promise<Timing> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', IMPORT_SCRIPT], { env: lambdaEnvironment(name, file), timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${name}: ${stderr.trim().split('\n').slice(-3).join(' ') || error.message}`));
        return;
      }
      resolve(JSON.parse(stdout) as Timing);
    });
  });
}

export interface HandlerColdStart {
  handler: string;
  /** What the bundle is made of, by package. */
  contents: PackageShare[];
  bundleBytes: number;
  sourceMapBytes: number;
  bundledReadyMs: number;
  bundledImportMs: number;
  unbundledReadyMs: number;
  unbundledImportMs: number;
  bundledCpuMs: number;
  unbundledCpuMs: number;
  /** Unbundled over bundled, process start to handler. */
  speedup: number;
  /** Unbundled over bundled, CPU time to handler. */
  cpuSpeedup: number;
}

export interface ColdStartFigures {
  runs: number;
  emptyProcessMs: number;
  handlers: HandlerColdStart[];
}

export async function measureColdStart(): Promise<BenchSection<ColdStartFigures>> {
  const bundledRoot = await mkdtemp(join(tmpdir(), 'transfer-bench-bundled-'));
  const unbundledRoot = await mkdtemp(join(tmpdir(), 'transfer-bench-unbundled-'));
  const problems: string[] = [];
  const results: HandlerColdStart[] = [];
  let emptyProcessMs = Number.NaN;
  try {
    // Only the unbundled builds may find packages: through a node_modules link next to them.
    await symlink(join(REPO_ROOT, 'node_modules'), join(unbundledRoot, 'node_modules'), 'dir');
    progress(`cold start: bundling the ${allFunctions().length} handlers as CDK does`);
    const builds = await Promise.all(
      allFunctions().map(async (handler) => {
        try {
          const bundledDir = join(bundledRoot, handler.name);
          const unbundledDir = join(unbundledRoot, handler.name);
          await mkdir(bundledDir, { recursive: true });
          await mkdir(unbundledDir, { recursive: true });
          const [bundle, unbundled] = await Promise.all([bundleLikeCdk(handler, bundledDir), buildUnbundled(handler, unbundledDir)]);
          return { ...handler, bundled: bundle.file, contents: bundle.contents, unbundled };
        } catch (error) {
          problems.push(`${handler.entry} does not build: ${errorText(error)}`);
          return undefined;
        }
      }),
    );
    const built = builds.filter((b): b is Handler & { bundled: string; contents: PackageShare[]; unbundled: string } => b !== undefined);

    const timings = new Map<string, { bundled: Timing[]; unbundled: Timing[] }>(built.map((h) => [h.name, { bundled: [], unbundled: [] }]));
    const empty: number[] = [];
    const broken = new Set<string>();
    // Rounds interleave handlers and variants, so that a busy moment of the machine hits all of them alike.
    for (let round = 1; round <= RUNS; round += 1) {
      progress(`cold start: round ${round} of ${RUNS} (${built.length * 2 + 1} fresh processes)`);
      empty.push((await timeImport('empty', undefined)).ready);
      for (const handler of built) {
        if (broken.has(handler.name)) continue;
        const slot = timings.get(handler.name);
        if (slot === undefined) continue;
        try {
          slot.bundled.push(await timeImport(handler.name, handler.bundled));
          slot.unbundled.push(await timeImport(handler.name, handler.unbundled));
        } catch (error) {
          broken.add(handler.name);
          problems.push(`${handler.entry} does not load: ${errorText(error)}`);
        }
      }
    }
    emptyProcessMs = median(empty);
    for (const handler of built) {
      const slot = timings.get(handler.name);
      if (slot === undefined || broken.has(handler.name)) continue;
      const bundledReadyMs = median(slot.bundled.map((t) => t.ready));
      const unbundledReadyMs = median(slot.unbundled.map((t) => t.ready));
      results.push({
        handler: handler.entry,
        contents: handler.contents,
        bundleBytes: (await stat(handler.bundled)).size,
        sourceMapBytes: (await stat(`${handler.bundled}.map`)).size,
        bundledReadyMs,
        bundledImportMs: median(slot.bundled.map((t) => t.importMs)),
        unbundledReadyMs,
        unbundledImportMs: median(slot.unbundled.map((t) => t.importMs)),
        bundledCpuMs: median(slot.bundled.map((t) => t.cpuMs)),
        unbundledCpuMs: median(slot.unbundled.map((t) => t.cpuMs)),
        speedup: unbundledReadyMs / bundledReadyMs,
        cpuSpeedup: median(slot.unbundled.map((t) => t.cpuMs)) / median(slot.bundled.map((t) => t.cpuMs)),
      });
    }
  } finally {
    await rm(bundledRoot, { recursive: true, force: true });
    await rm(unbundledRoot, { recursive: true, force: true });
  }

  const readings: string[] = [];
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
  if (results.length > 0) {
    // Every handler of the catalog measured, none lost to a failed build or import.
    const complete = results.length === allFunctions().length;
    const slowest = results.reduce((a, b) => (b.bundledReadyMs > a.bundledReadyMs ? b : a));
    const under = results.filter((r) => r.bundledReadyMs < TARGET_MS).length;
    readings.push(
      `Ready in < ${TARGET_MS} ms from process start: ${under} of ${results.length} handlers (slowest ${slowest.handler}: ${ms(slowest.bundledReadyMs)}): ` +
        `${verdict(under === results.length && complete)}.`,
    );
    // A handler that imports no package has nothing to bundle: both builds are the same code, and 1× is all it can be.
    const bundling = results.filter((r) => r.contents.some((p) => p.name !== OWN_CODE));
    const nothingToBundle = results.filter((r) => !bundling.includes(r)).map((r) => r.handler);
    const weakest = bundling.length > 0 ? bundling.reduce((a, b) => (b.speedup < a.speedup ? b : a)) : undefined;
    const fast = bundling.filter((r) => r.speedup >= TARGET_SPEEDUP).length;
    readings.push(
      `≥ ${TARGET_SPEEDUP}× faster than unbundled: ${fast} of the ${bundling.length} handlers that import packages` +
        (weakest ? ` (lowest ${weakest.handler}: ${weakest.speedup.toFixed(2)}×)` : '') +
        `: ${verdict(fast === bundling.length && complete)}.` +
        (nothingToBundle.length > 0 ? ` Not counted, as they import no package: ${nothingToBundle.join(', ')}.` : ''),
    );
    const cpuSlowest = results.reduce((a, b) => (b.bundledCpuMs > a.bundledCpuMs ? b : a));
    const cpuUnder = results.filter((r) => r.bundledCpuMs < TARGET_MS).length;
    const cpuWeakest = (bundling.length > 0 ? bundling : results).reduce((a, b) => (b.cpuSpeedup < a.cpuSpeedup ? b : a));
    readings.push(
      `The same targets in CPU time, which waiting for a busy CPU does not inflate: ${cpuUnder} of ${results.length} handlers under ${TARGET_MS} ms ` +
        `(highest ${cpuSlowest.handler}: ${ms(cpuSlowest.bundledCpuMs)}), ${verdict(cpuUnder === results.length && complete)}; lowest speed-up of those that import packages ` +
        `${cpuWeakest.cpuSpeedup.toFixed(2)}× (${cpuWeakest.handler}), ${verdict(cpuWeakest.cpuSpeedup >= TARGET_SPEEDUP && complete)}.`,
    );
    const largest = results.reduce((a, b) => (b.bundleBytes > a.bundleBytes ? b : a));
    const top = largest.contents
      .slice(0, 8)
      .map((p) => `${p.name} ${kib(p.bytes)}`)
      .join(', ');
    readings.push(`Bundle size (no target): largest ${largest.handler} at ${kib(largest.bundleBytes)}; by package: ${top}.`);
  }
  return {
    title: `Cold start of the ${allFunctions().length} handlers`,
    method:
      `Each handler bundled with the esbuild API from the options \`TransferFunction\` hands to CDK (lib/bundling.ts: ESM, target node24, ` +
      `platform node, minify, source maps without sources content, main fields module,main, no externals so \`@aws-sdk/*\` is inside, the ` +
      `createRequire banner, the aliases that load \`node:http\` without an ES module import, which would make Node load undici, and ` +
      `reduce the SDK's credential chain to the environment, where Lambda puts the role's credentials, and the ` +
      `injected lambdas/bundling/source-maps.ts, which reads the source map on the first stack trace instead of \`--enable-source-maps\` ` +
      `reading it at every start). ` +
      `"Unbundled" is the same entry compiled by esbuild into one ESM file with every package external ` +
      `(\`packages: 'external'\`, loaded from node_modules as a deploy without bundling would). Times are the median of ${RUNS} fresh Node ` +
      `processes (\`node --input-type=module -e\`) with the deployed environment: "ready" is \`performance.now()\` once ` +
      `\`await import(file)\` has resolved with \`handler\` exported, i.e. from the process's start (an empty process is ready after ` +
      `${ms(emptyProcessMs)}, median, included in every "ready"); "CPU" is the process's user and system CPU time at that moment ` +
      `(\`process.cpuUsage()\`), which waiting for a busy CPU does not inflate. The import alone is in the figures (\`bundledImportMs\`).`,
    figures: { runs: RUNS, emptyProcessMs, handlers: results },
    tables: [
      markdownTable(
        ['handler', 'bundle', 'source map', 'ready, bundled', 'ready, unbundled', 'speed-up', 'CPU, bundled', 'CPU, unbundled', 'CPU speed-up'],
        results.map((r) => [
          r.handler.replace('lambdas/handlers/', ''),
          kib(r.bundleBytes),
          kib(r.sourceMapBytes),
          ms(r.bundledReadyMs),
          ms(r.unbundledReadyMs),
          `${r.speedup.toFixed(2)}×`,
          ms(r.bundledCpuMs),
          ms(r.unbundledCpuMs),
          `${r.cpuSpeedup.toFixed(2)}×`,
        ]),
      ),
    ],
    readings,
    problems,
  };
}
