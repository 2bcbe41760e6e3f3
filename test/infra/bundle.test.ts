import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allFunctions } from '../../lambdas/handlers/catalog.ts';
import { cdkBundling, esbuildOptions } from '../../lib/bundling.ts';
import { allowedActionsByFunction, allowedResourcesByFunction, resourceIdOf, synthesize } from './synth.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = 'lambdas/handlers/http/get-transfer.ts';

interface SeenRequest {
  method: string | undefined;
  headers: IncomingHttpHeaders;
}

/** Stands in for the DynamoDB endpoint: records each request and answers "no items". */
function fakeEndpoint(seen: SeenRequest[]): Server {
  return createServer((request, response) => {
    seen.push({ method: request.method, headers: request.headers });
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify({ Items: [], Count: 0, ScannedCount: 0 }));
    });
  });
}

// Runs in a fresh Node: imports the bundle, calls its handler once as API Gateway would, and says
// what it answered and whether undici, which an ES module import of node:http loads, was loaded.
const INVOKE_SCRIPT = `
const { handler } = await import(process.env.BUNDLE);
const event = {
  rawPath: '/transfers/T-1', headers: {}, pathParameters: { id: 'T-1' },
  requestContext: { http: { method: 'GET', sourceIp: '127.0.0.1', userAgent: 'test' }, authorizer: { jwt: { claims: { sub: 'u', partner_id: 'P-ACME' } } } },
};
const context = { awsRequestId: 'r-1', functionName: 'get-transfer', getRemainingTimeInMillis: () => 10000 };
const result = await handler(event, context);
const undici = process.moduleLoadList.some((name) => name.includes('undici'));
process.stdout.write(JSON.stringify({ statusCode: result.statusCode, body: JSON.parse(result.body), undici }));
`;

/** Runs `script` in a fresh Node with `env` (and nothing else from this process's environment); its standard output. */
function runNode(script: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000, env: { PATH: process.env.PATH, ...env } }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

/** The files of a build that made it into its output (esbuild also lists the files it read and left out). */
function filesInBundle(metafile: Metafile): string[] {
  return Object.values(metafile.outputs).flatMap((output) =>
    Object.entries(output.inputs)
      .filter(([, input]) => input.bytesInOutput > 0)
      .map(([path]) => path),
  );
}

/** What a deployed function's environment has, as far as these tests need it (credentials are placeholders). */
const FUNCTION_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  TABLE_NAME: 'customer-transfers',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
};

// A workflow step lets its errors through: this one is handed a payload without a transfer id.
const FAILING_STEP_SCRIPT = `
const { handler } = await import(process.env.BUNDLE);
const context = { awsRequestId: 'r-1', functionName: 'record-outcome', getRemainingTimeInMillis: () => 10000 };
try {
  await handler({ outcome: 'DECLINED' }, context);
  process.stdout.write('no error');
} catch (error) {
  process.stdout.write(error.stack);
}
`;

describe('a function bundle, built as CDK builds it', () => {
  let dir: string;
  let bundle: string;
  let metafile: Metafile;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'transfer-bundle-'));
    bundle = join(dir, 'index.mjs');
    metafile = (await build({ ...esbuildOptions(REPO_ROOT, ENTRY, bundle), metafile: true })).metafile;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is given to CDK with the same alias the esbuild options carry', () => {
    const aliases = Object.entries(esbuildOptions(REPO_ROOT, ENTRY, bundle).alias ?? {}).map(([from, to]) => `${from}=${to}`);
    expect(aliases).toContain('node:http=./lambdas/bundling/node-http.cjs');
    expect(cdkBundling().esbuildArgs).toEqual({ '--alias': aliases });
  });

  it('imports node:http through the CommonJS lookup, never as an ES module', async () => {
    const code = await readFile(bundle, 'utf8');
    expect(filesInBundle(metafile)).toContain('lambdas/bundling/node-http.cjs');
    // esbuild leaves a builtin's ES module import in the output as `from"node:http"` (minified).
    expect(code).not.toMatch(/from\s*"(node:)?http"/);
    // The SDK's other builtins are still imported as ES modules: the check above can see one.
    expect(code).toMatch(/from\s*"node:https"/);
  });

  it("holds zod/mini with zod's English messages, and no other part of zod", () => {
    const zod = filesInBundle(metafile).filter((path) => path.startsWith('node_modules/zod/'));
    expect(zod).toContain('node_modules/zod/v4/mini/schemas.js');
    // The locales' index re-exports each locale; of the locales themselves only English is in.
    expect(zod.filter((path) => path.includes('/locales/')).sort()).toEqual(['node_modules/zod/v4/locales/en.js', 'node_modules/zod/v4/locales/index.js']);
    expect(zod.filter((path) => path.includes('/classic/'))).toEqual([]);
  });

  it("takes the SDK's credentials from the environment alone, as Lambda supplies them", () => {
    const packages = new Set(filesInBundle(metafile).map((path) => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1]));
    expect(packages).toContain('@aws-sdk/credential-provider-env');
    const otherSources = [...packages].filter((name) => name !== undefined && /credential-provider|nested-clients|token-providers/.test(name));
    expect(otherSources).toEqual(['@aws-sdk/credential-provider-env']);
  });

  it('answers a request through DynamoDB over node:http without loading undici', async () => {
    const seen: SeenRequest[] = [];
    const endpoint = fakeEndpoint(seen);
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = endpoint.address() as AddressInfo;
      const output = await runNode(INVOKE_SCRIPT, {
        ...FUNCTION_ENV,
        BUNDLE: pathToFileURL(bundle).href,
        AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}`,
      });
      expect(JSON.parse(output)).toEqual({ statusCode: 404, body: { error: { code: 'NOT_FOUND', message: 'Transfer T-1 was not found.' } }, undici: false });
      expect(seen.length).toBeGreaterThan(0);
      expect(seen[0]?.method).toBe('POST');
      expect(seen[0]?.headers['x-amz-target']).toBe('DynamoDB_20120810.Query');
    } finally {
      await new Promise((resolve) => endpoint.close(resolve));
    }
  });
});

/** What a function's role allows: its actions, and whether it may queue webhook deliveries (send to that queue). */
interface Access {
  readonly actions: Set<string>;
  readonly queuesDeliveries: boolean;
}

/**
 * The adapters beyond DynamoDB (lambdas/composition.ts `Adapters`): the file, the package of its
 * client, and the grant that shows a function may call that service.
 */
const ADAPTERS = [
  { file: 'lambdas/adapters/sfn-workflow.ts', pkg: '@aws-sdk/client-sfn', granted: ({ actions }: Access) => [...actions].some((a) => a.startsWith('states:')) },
  { file: 'lambdas/adapters/ses-mailer.ts', pkg: '@aws-sdk/client-sesv2', granted: ({ actions }: Access) => actions.has('ses:SendEmail') },
  { file: 'lambdas/adapters/sns-alerts.ts', pkg: '@aws-sdk/client-sns', granted: ({ actions }: Access) => actions.has('sns:Publish') },
  {
    file: 'lambdas/adapters/link-key.ts',
    pkg: '@aws-sdk/client-secrets-manager',
    granted: ({ actions }: Access) => actions.has('secretsmanager:GetSecretValue'),
  },
  // The relay's publisher (passed to `composeRelay` by lambdas/handlers/stream/relay-events.ts).
  {
    file: 'lambdas/adapters/eventbridge-publisher.ts',
    pkg: '@aws-sdk/client-eventbridge',
    granted: ({ actions }: Access) => actions.has('events:PutEvents'),
  },
  // The deliveries queue: sqs:SendMessage on it, not the relay's on its stream dead-letter queue, which Lambda sends to.
  {
    file: 'lambdas/adapters/sqs-delivery-queue.ts',
    pkg: '@aws-sdk/client-sqs',
    granted: ({ queuesDeliveries }: Access) => queuesDeliveries,
  },
] as const;

const ENTRIES: Record<string, string> = Object.fromEntries(allFunctions().map(({ name, entry }) => [name, entry]));

describe('each function bundle', () => {
  let dir: string;
  const files = new Map<string, string[]>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'transfer-bundles-'));
    await Promise.all(
      Object.entries(ENTRIES).map(async ([name, entry]) => {
        const result = await build({ ...esbuildOptions(REPO_ROOT, entry, join(dir, name, 'index.mjs')), metafile: true });
        files.set(name, filesInBundle(result.metafile));
      }),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("holds the adapter and SDK client of exactly the services its role may call, no other", () => {
    const synthesized = synthesize();
    const allowed = allowedActionsByFunction(synthesized);
    const deliveriesQueue = JSON.stringify({ 'Fn::GetAtt': [resourceIdOf(synthesized.stack, synthesized.stack.webhooks.queue), 'Arn'] });
    const sends = allowedResourcesByFunction(synthesized, 'sqs:SendMessage');
    expect(Object.keys(allowed).sort()).toEqual(Object.keys(ENTRIES).sort());
    const mismatches: string[] = [];
    for (const [name, actions] of Object.entries(allowed)) {
      const inBundle = files.get(name) ?? [];
      const queuesDeliveries = (sends[name] ?? []).some((resource) => JSON.stringify(resource) === deliveriesQueue);
      for (const adapter of ADAPTERS) {
        const granted = adapter.granted({ actions, queuesDeliveries });
        const bundled = inBundle.includes(adapter.file);
        const client = inBundle.some((path) => path.startsWith(`node_modules/${adapter.pkg}/`));
        if (bundled !== granted || client !== granted) mismatches.push(`${name}: ${adapter.file} granted ${granted}, bundled ${bundled}, client ${client}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('writes stack traces that point at the TypeScript source, without --enable-source-maps', async () => {
    const stack = await runNode(FAILING_STEP_SCRIPT, { ...FUNCTION_ENV, BUNDLE: pathToFileURL(join(dir, 'record-outcome', 'index.mjs')).href });
    expect(stack).toMatch(/^\$ZodError: /);
    // Sources are named from the bundle's directory, here a temporary one: hence any prefix before lambdas/.
    expect(stack).toMatch(/\n {4}at (\S+ \()?\S*lambdas\/handlers\/workflow\/step-handler\.ts:\d+:\d+\)?\n/);
    // Without the source map the same frames would be positions in the minified bundle.
    expect(stack).not.toContain('index.mjs');
  });

  it('holds the Idempotency-Key records (Powertools) only where the handler reads the header', () => {
    for (const [name, entry] of Object.entries(ENTRIES)) {
      const readsHeader = readFileSync(join(REPO_ROOT, entry), 'utf8').includes('idempotencyKeyOf(');
      const inBundle = files.get(name) ?? [];
      expect({ name, adapter: inBundle.includes('lambdas/adapters/idempotency.ts') }).toEqual({ name, adapter: readsHeader });
      expect({ name, powertools: inBundle.some((path) => path.startsWith('node_modules/@aws-lambda-powertools/idempotency/')) }).toEqual({
        name,
        powertools: readsHeader,
      });
    }
    // The check above can see the adapter: one handler does read the header.
    expect([...files.entries()].filter(([, inBundle]) => inBundle.includes('lambdas/adapters/idempotency.ts')).map(([name]) => name)).toEqual(['create-transfer']);
  });
});
