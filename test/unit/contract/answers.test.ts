import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as example from '../../../lambdas/contract/examples.ts';
import { handler as health } from '../../../lambdas/handlers/http/health.ts';
import { handler as openapi } from '../../../lambdas/handlers/http/openapi.ts';
import { startLocalHttpApi, type LocalHttpAnswer, type LocalHttpApi } from '../../../local/http-api/server.ts';
import { loadOrCreateSigningKey, localJwtSettings, signLocalToken } from '../../../local/jwt-keys.ts';
import { AnswerContract } from '../../contract/answers.ts';

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

function answer(routeKey: string, status: number, body: unknown, headers: Record<string, string> = JSON_HEADERS): LocalHttpAnswer {
  const [method = '', path = ''] = routeKey.split(' ');
  return { routeKey, method, path, status, headers, body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) };
}

describe('the local HTTP API shows every answer to a matched route to its onAnswer hook', () => {
  const seen: LocalHttpAnswer[] = [];
  let stateDir: string;
  let api: LocalHttpApi;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'contract-hook-'));
    const key = await loadOrCreateSigningKey(stateDir);
    const jwt = localJwtSettings();
    api = await startLocalHttpApi({
      port: 0,
      routes: [
        { method: 'GET', path: '/health', auth: 'none', handler: () => health() },
        { method: 'GET', path: '/openapi.json', auth: 'none', handler: () => openapi() },
        { method: 'GET', path: '/transfers/{id}', auth: 'jwt', handler: async () => ({ statusCode: 200, headers: JSON_HEADERS, body: '{"id":"TR-1"}' }) },
      ],
      jwt: { issuer: jwt.issuer, audience: jwt.audience, jwks: key.publicJwks },
      log: () => undefined,
      onAnswer: (seenAnswer) => {
        seen.push(seenAnswer);
        if (seenAnswer.status === 401) throw new Error('a hook that throws does not change the answer');
      },
    });
  });
  afterAll(async () => {
    await api?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('with route key, status, headers and body; not for requests that match no route', async () => {
    const token = await signLocalToken({ stateDir, partnerId: 'P-ACME', subject: 'alice@acme.example' });
    expect((await fetch(`${api.url}/health`)).status).toBe(200);
    expect((await fetch(`${api.url}/transfers/TR-1`)).status).toBe(401);
    expect((await fetch(`${api.url}/transfers/TR-1`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(`${api.url}/openapi.json`)).status).toBe(200);
    expect((await fetch(`${api.url}/nowhere`)).status).toBe(404);

    expect(seen.map((a) => `${a.routeKey} ${a.status}`)).toEqual([
      'GET /health 200',
      'GET /transfers/{id} 401',
      'GET /transfers/{id} 200',
      'GET /openapi.json 200',
    ]);
    expect(seen[0]).toEqual(expect.objectContaining({ method: 'GET', path: '/health', body: Buffer.from('{"status":"ok"}') }));
    expect(seen[3]?.headers['cache-control']).toBe('public, max-age=300');

    // The same answers held to the document: the health check and the document keep it, the bare transfer does not.
    const contract = new AnswerContract();
    const violations = seen.map((a) => contract.check(a));
    expect(violations.map((v) => v?.status)).toEqual([undefined, undefined, 200, undefined]);
    expect(violations[2]?.problems.join('\n')).toMatch(/must have required property 'status'/);
  });
});

describe('AnswerContract', () => {
  it('passes the answers the document declares, and counts them per route and status', () => {
    const contract = new AnswerContract();
    expect(contract.check(answer('GET /health', 200, { status: 'ok' }))).toBeUndefined();
    expect(contract.check(answer('POST /transfers', 201, example.filedTransfer, { ...JSON_HEADERS, location: '/transfers/TR-1' }))).toBeUndefined();
    expect(contract.check(answer('POST /transfers', 401, { message: 'Unauthorized' }))).toBeUndefined();
    expect(contract.check(answer('POST /transfers', 422, { error: { code: 'SAME_PARTNER', message: 'The customers already belong to P-BLUE.' } }))).toBeUndefined();
    expect(contract.check(answer('GET /transfers/{id}/record', 200, '%PDF-1.7', { 'content-type': 'application/pdf', 'x-record-fingerprint': 'ab' }))).toBeUndefined();
    expect(contract.check(answer('GET /approvals/{secret}', 410, '<!doctype html>', { 'content-type': 'text/html; charset=utf-8' }))).toBeUndefined();
    expect(contract.check(answer('HEAD /approvals/{secret}', 200, '<!doctype html>', { 'content-type': 'text/html; charset=utf-8' }))).toBeUndefined();
    // The local operator view is no part of the contract.
    expect(contract.check(answer('GET /operator', 200, '<html>', { 'content-type': 'text/html' }))).toBeUndefined();

    const summary = contract.summary();
    expect(summary.routes['POST /transfers']).toEqual({ answers: 3, statuses: { 201: 1, 401: 1, 422: 1 } });
    expect(summary.routes['GET /health']).toEqual({ answers: 1, statuses: { 200: 1 } });
    expect(summary.unexercised).toContain('POST /transfers/check');
    expect(summary.outsideContract).toBe(1);
    expect(summary.violations).toEqual([]);
    expect(contract.failure()).toBeUndefined();
  });

  it('finds every kind of violation and reports route, status and the schema errors', async () => {
    const contract = new AnswerContract();
    const undeclared = contract.check(answer('GET /health', 404, { message: 'Not Found' }));
    expect(undeclared?.problems).toEqual([expect.stringMatching(/^status 404 is not declared/)]);
    const badCode = contract.check(answer('POST /transfers', 409, { error: { code: 'NOT_A_CODE', message: 'x' } }));
    expect(badCode?.problems.join('\n')).toMatch(/must be equal to one of the allowed values/);
    const extra = contract.check(answer('GET /transfers/{id}', 200, { ...example.scheduledTransfer, secret: 'leak' }));
    expect(extra?.problems.join('\n')).toMatch(/must NOT have additional properties .*"secret"/);
    const noLocation = contract.check(answer('POST /transfers', 201, example.filedTransfer));
    expect(noLocation?.problems).toEqual(['required header Location is missing']);
    const wrongType = contract.check(answer('GET /transfers/{id}/record', 200, 'text', { 'content-type': 'text/plain', 'x-record-fingerprint': 'ab' }));
    expect(wrongType?.problems).toEqual([expect.stringMatching(/^content type text\/plain is not declared/)]);
    const notJson = contract.check(answer('GET /health', 200, 'ok'));
    expect(notJson?.problems).toEqual(['the body is not JSON']);

    expect(contract.violations).toHaveLength(6);
    const failure = contract.failure() ?? '';
    expect(failure).toMatch(/^6 of 6 answers broke the OpenAPI contract/);
    expect(failure).toContain('- POST /transfers → 409 (application/json; charset=utf-8):');
    expect(failure).toContain('- GET /health → 404');

    const dir = await mkdtemp(join(tmpdir(), 'contract-summary-'));
    try {
      await contract.writeSummary(join(dir, 'x', 'summary.json'));
      const written = JSON.parse(await readFile(join(dir, 'x', 'summary.json'), 'utf8')) as { violations: unknown[]; routes: Record<string, unknown> };
      expect(written.violations).toHaveLength(6);
      expect(written.routes['GET /health']).toEqual({ answers: 2, statuses: { 200: 1, 404: 1 } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
