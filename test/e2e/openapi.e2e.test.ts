import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../lambdas/contract/openapi.ts';
import { startTestStack, type TestStack } from './local-stack.ts';

/** The contract as a portal team fetches it: from the running API, without a token. */

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({ seedFile: null });
});

afterAll(async () => {
  await t?.stop();
});

describe('GET /openapi.json', () => {
  it('serves the OpenAPI document to anyone, from the function as deployed, cacheable for five minutes', async () => {
    const response = await fetch(`${t.stack.urls.api}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    const served = (await response.json()) as ReturnType<typeof openApiDocument>;
    expect(served).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
    expect(served.servers).toEqual([expect.objectContaining({ url: '/' })]);
  });

  it('is held to itself like every other answer of the stack', async () => {
    await t.client.health();
    const { routes, violations } = t.contract.summary();
    expect(routes['GET /openapi.json']).toEqual({ answers: 1, statuses: { 200: 1 } });
    expect(routes['GET /health']).toEqual({ answers: 1, statuses: { 200: 1 } });
    expect(violations).toEqual([]);
  });
});
