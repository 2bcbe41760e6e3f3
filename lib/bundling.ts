import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

/**
 * How every function is bundled, in one place: `cdkBundling` hands it to NodejsFunction, which runs
 * `esbuild --bundle <entry> --platform=node --outfile=index.mjs …` from the repository root;
 * `esbuildOptions` says the same to the esbuild API, for the cold-start benchmark and the bundle tests.
 */
const BUNDLE = {
  /** Node.js 24, as the functions' runtime. */
  target: 'node24',
  /** ES module packages first: esbuild drops the SDK commands and zod parts a function does not import. */
  mainFields: ['module', 'main'],
  /** CommonJS dependencies call require(), which an ES module bundle lacks. */
  banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  /**
   * Import paths replaced in the bundle, relative to the repository root. `node:http` becomes a
   * CommonJS-style lookup of the builtin: the ES module import the AWS SDK's HTTP handler writes makes
   * Node evaluate undici on every cold start (see lambdas/bundling/node-http.cjs). The SDK's default
   * credential chain becomes the environment alone (lambdas/bundling/credentials.ts).
   */
  alias: {
    http: './lambdas/bundling/node-http.cjs',
    'node:http': './lambdas/bundling/node-http.cjs',
    // Lambda hands a function its role's credentials in the environment: the SDK's chain of other sources stays out.
    '@aws-sdk/credential-provider-node': './lambdas/bundling/credentials.ts',
  },
  /**
   * Runs first in every bundle: stack traces point at the TypeScript source through the bundle's
   * source map, read on the first stack trace rather than by `--enable-source-maps` at every cold start.
   */
  inject: ['./lambdas/bundling/source-maps.ts'],
} as const;

/** NodejsFunction's bundling: an ES module, minified, with source maps (no sources inside) and the AWS SDK bundled. */
export function cdkBundling(): BundlingOptions {
  return {
    format: OutputFormat.ESM,
    target: BUNDLE.target,
    mainFields: [...BUNDLE.mainFields],
    minify: true,
    sourceMap: true,
    sourcesContent: false,
    // The SDK version we test with ships inside the bundle, not whatever the runtime carries.
    externalModules: [],
    banner: BUNDLE.banner,
    inject: [...BUNDLE.inject],
    esbuildArgs: { '--alias': Object.entries(BUNDLE.alias).map(([from, to]) => `${from}=${to}`) },
  };
}

/** The esbuild API options that build what {@link cdkBundling} has CDK build, from `repoRoot`. */
export function esbuildOptions(repoRoot: string, entry: string, outfile: string): BuildOptions {
  return {
    absWorkingDir: repoRoot,
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: BUNDLE.target,
    mainFields: [...BUNDLE.mainFields],
    outfile,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: [],
    banner: { js: BUNDLE.banner },
    alias: { ...BUNDLE.alias },
    inject: [...BUNDLE.inject],
    logLevel: 'error',
  };
}
