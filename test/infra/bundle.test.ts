import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdkBundling, esbuildOptions, FUNCTION_NODE_OPTIONS } from '../../lib/bundling.ts';

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
    expect(Object.values(metafile.outputs).some((output) => (output.inputs['lambdas/bundling/node-http.cjs']?.bytesInOutput ?? 0) > 0)).toBe(true);
    // esbuild leaves a builtin's ES module import in the output as `from"node:http"` (minified).
    expect(code).not.toMatch(/from\s*"(node:)?http"/);
    // The SDK's other builtins are still imported as ES modules: the check above can see one.
    expect(code).toMatch(/from\s*"node:https"/);
  });

  it('holds no zod locale but English', () => {
    // Files esbuild read but left out (tree-shaken) are inputs of the build, not of the output.
    const inBundle = Object.values(metafile.outputs).flatMap((output) => Object.entries(output.inputs).filter(([, input]) => input.bytesInOutput > 0));
    const locales = inBundle.map(([path]) => path).filter((path) => path.includes('zod/') && path.includes('/locales/'));
    expect(locales).toEqual(['node_modules/zod/v4/locales/en.js']);
  });

  it('answers a request through DynamoDB over node:http without loading undici', async () => {
    const seen: SeenRequest[] = [];
    const endpoint = fakeEndpoint(seen);
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = endpoint.address() as AddressInfo;
      const output = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--input-type=module', '-e', INVOKE_SCRIPT],
          {
            timeout: 20_000,
            env: {
              PATH: process.env.PATH,
              NODE_OPTIONS: FUNCTION_NODE_OPTIONS,
              BUNDLE: pathToFileURL(bundle).href,
              AWS_REGION: 'us-east-1',
              AWS_ACCESS_KEY_ID: 'test',
              AWS_SECRET_ACCESS_KEY: 'test',
              AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}`,
              TABLE_NAME: 'customer-transfers',
              POWERTOOLS_LOG_LEVEL: 'SILENT',
              POWERTOOLS_METRICS_DISABLED: 'true',
            },
          },
          (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
        );
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
