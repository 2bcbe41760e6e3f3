import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import type { OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { SignJWT, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_REQUEST_BODY_BYTES, startLocalHttpApi } from '../../local/http-api/server.ts';
import type { LocalHttpApi, LocalHttpEvent, LocalRoute } from '../../local/http-api/server.ts';
import { loadOrCreateSigningKey, localJwtSettings, signLocalToken } from '../../local/jwt-keys.ts';
import type { LocalSigningKey } from '../../local/jwt-keys.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(baseUrl: string, method: string, path: string, headers: OutgoingHttpHeaders = {}, body?: Buffer | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const UNAUTHORIZED_BODY = '{"error":{"code":"UNAUTHORIZED","message":"A valid bearer token is required."}}';
const PORTAL = 'https://portal.provider.example';
const EC_KID = 'ec-key-in-the-jwks';

describe('local HTTP API (API Gateway HTTP API twin)', () => {
  const settings = localJwtSettings();
  const logs: string[] = [];
  const allLogs: string[] = [];
  const tokens: string[] = [];
  const calls: { event: LocalHttpEvent; context: Context }[] = [];
  let stateDir: string;
  let otherStateDir: string;
  let key: LocalSigningKey;
  let ecKey: CryptoKey;
  let jwks: { keys: JWK[] };
  let api: LocalHttpApi;

  const record = (event: LocalHttpEvent, context: Context): void => {
    calls.push({ event, context });
  };
  const lastCall = (): { event: LocalHttpEvent; context: Context } => {
    const last = calls.at(-1);
    if (!last) throw new Error('the handler was not called');
    return last;
  };
  const token = async (options: Omit<Parameters<typeof signLocalToken>[0], 'stateDir'> & { stateDir?: string }): Promise<string> => {
    const signed = await signLocalToken({ stateDir, ...options });
    tokens.push(signed);
    return signed;
  };

  const routes: LocalRoute[] = [
    {
      method: 'GET', path: '/transfers/{id}', auth: 'jwt', functionName: 'transfers-get',
      handler: async (event, context) => {
        record(event, context);
        return { statusCode: 201, headers: { 'X-Custom': 'yes', 'x-number': 7 }, cookies: ['a=1; Path=/; HttpOnly', 'b=2'], body: '{"id":"x"}' };
      },
    },
    {
      method: 'POST', path: '/echo/{proxy+}', auth: 'none',
      handler: async (event, context) => {
        record(event, context);
        // Format 2.0 accepts any JSON result; the aws-lambda type only models strings and structured results.
        return { ok: true, list: [1, 2] } as unknown as APIGatewayProxyResultV2;
      },
    },
    { method: 'POST', path: '/echo/literal', auth: 'none', handler: async () => 'literal route wins' },
    { method: 'GET', path: '/text', auth: 'none', handler: async () => 'plain text' },
    { method: 'GET', path: '/health', auth: 'none', handler: async () => ({ statusCode: 200, body: 'healthy' }) },
    { method: 'HEAD', path: '/health', auth: 'none', handler: async () => ({ statusCode: 200, headers: { 'x-head': '1' }, body: 'ignored' }) },
    {
      method: 'GET', path: '/image', auth: 'none',
      handler: async () => ({ statusCode: 200, headers: { 'content-type': 'image/png' }, body: Buffer.from([1, 2, 3]).toString('base64'), isBase64Encoded: true }),
    },
    {
      method: 'POST', path: '/approvals/{secret}', auth: 'none',
      handler: async (event, context) => {
        record(event, context);
        return { statusCode: 200, body: '{"approved":true}' };
      },
    },
    {
      method: 'GET', path: '/boom', auth: 'none',
      handler: async () => {
        throw new TypeError('db password hunter2 leaked in message');
      },
    },
  ];

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'http-api-test-'));
    otherStateDir = await mkdtemp(join(tmpdir(), 'http-api-test-other-'));
    key = await loadOrCreateSigningKey(stateDir);
    // An EC key in the issuer's JWKS, named by its kid: API Gateway still refuses what it signs.
    const ec = await generateKeyPair('ES256', { extractable: true });
    ecKey = ec.privateKey;
    jwks = { keys: [...key.publicJwks.keys, { ...(await exportJWK(ec.publicKey)), kid: EC_KID, alg: 'ES256', use: 'sig' }] };
    api = await startLocalHttpApi({
      port: 0,
      routes,
      jwt: { issuer: settings.issuer, audience: settings.audience, jwks },
      log: (line) => {
        logs.push(line);
        allLogs.push(line);
      },
    });
  });

  afterAll(async () => {
    await api.close();
    await rm(stateDir, { recursive: true, force: true });
    await rm(otherStateDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    calls.length = 0;
  });

  it('builds a format 2.0 event with decoded path parameters, joined query and headers, cookies and JWT claims', async () => {
    const bearer = await token({ partnerId: 'P-ACME', operator: true, roles: ['operator', 'admin'] });
    const reply = await call(api.url, 'GET', '/transfers/T%2F1%20x?status=open&tag=a&tag=b%20c', {
      Authorization: `Bearer ${bearer}`,
      'X-Multi': ['1', '2'],
      'X-Custom-Header': 'Value',
      Cookie: 'c1=v1; c2=v2',
      'User-Agent': 'vitest-agent',
    });
    expect(reply.status).toBe(201);
    expect(reply.headers['x-custom']).toBe('yes');
    expect(reply.headers['x-number']).toBe('7');
    expect(reply.headers['set-cookie']).toEqual(['a=1; Path=/; HttpOnly', 'b=2']);
    expect(reply.headers['apigw-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(reply.body).toBe('{"id":"x"}');

    const { event, context } = lastCall();
    expect(event.version).toBe('2.0');
    expect(event.routeKey).toBe('GET /transfers/{id}');
    expect(event.rawPath).toBe('/transfers/T%2F1%20x');
    expect(event.rawQueryString).toBe('status=open&tag=a&tag=b%20c');
    expect(event.pathParameters).toEqual({ id: 'T/1 x' });
    expect(event.queryStringParameters).toEqual({ status: 'open', tag: 'a,b c' });
    expect(event.headers['x-multi']).toBe('1,2');
    expect(event.headers['x-custom-header']).toBe('Value');
    expect(event.headers.cookie).toBeUndefined();
    expect(Object.keys(event.headers).every((name) => name === name.toLowerCase())).toBe(true);
    expect(event.cookies).toEqual(['c1=v1', 'c2=v2']);
    expect(event.body).toBeUndefined();
    expect(event.isBase64Encoded).toBe(false);
    expect(event.requestContext).toMatchObject({
      routeKey: 'GET /transfers/{id}',
      stage: '$default',
      domainName: '127.0.0.1',
      http: { method: 'GET', path: '/transfers/T%2F1%20x', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest-agent' },
    });
    expect(event.requestContext.requestId).toBe(reply.headers['apigw-requestid']);
    expect(event.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(Math.abs(event.requestContext.timeEpoch - Date.now())).toBeLessThan(10_000);

    const claims = event.requestContext.authorizer?.jwt.claims;
    expect(claims?.partner_id).toBe('P-ACME');
    // The local token carries roles as a space-separated string (array claims are flattened: see below).
    expect(claims?.roles).toBe('operator admin');
    expect(claims?.iss).toBe(settings.issuer);
    expect(claims?.aud).toBe(settings.audience);
    expect(claims?.exp).toMatch(/^\d+$/);
    expect(event.requestContext.authorizer?.jwt.scopes).toBeNull();

    expect(context.functionName).toBe('transfers-get');
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(context.getRemainingTimeInMillis()).toBeGreaterThan(0);
    expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(30_000);
  });

  it('stringifies numbers, booleans, arrays and objects in claims as API Gateway does, and reads scopes', async () => {
    const now = Math.floor(Date.now() / 1000);
    const custom = await new SignJWT({ n: 5, b: true, obj: { a: 1 }, list: ['x', 2], scope: 'transfers:read transfers:write' })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .setIssuer(settings.issuer)
      .setAudience(['someone-else', settings.audience])
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(key.privateKey);
    tokens.push(custom);
    const reply = await call(api.url, 'GET', '/transfers/T1', { authorization: `Bearer ${custom}` });
    expect(reply.status).toBe(201);
    const authorizer = lastCall().event.requestContext.authorizer;
    expect(authorizer?.jwt.claims).toMatchObject({ n: '5', b: 'true', obj: '{"a":1}', list: '[x 2]', aud: `[someone-else ${settings.audience}]` });
    expect(authorizer?.jwt.scopes).toEqual(['transfers:read', 'transfers:write']);
  });

  it('answers 401 without calling the handler for a missing, forged, mis-addressed or expired token', async () => {
    const otherKeyToken = await token({ stateDir: otherStateDir, partnerId: 'P-ACME' });
    const cases: Record<string, OutgoingHttpHeaders> = {
      missing: {},
      garbage: { authorization: 'Bearer not-a-jwt' },
      basicScheme: { authorization: 'Basic dXNlcjpwYXNz' },
      otherKey: { authorization: `Bearer ${otherKeyToken}` },
      wrongAudience: { authorization: `Bearer ${await token({ partnerId: 'P-ACME', audience: 'another-api' })}` },
      wrongIssuer: { authorization: `Bearer ${await token({ partnerId: 'P-ACME', issuer: 'https://evil.example/' })}` },
      expired: { authorization: `Bearer ${await token({ partnerId: 'P-ACME', expiresInSeconds: -60 })}` },
    };
    for (const [name, headers] of Object.entries(cases)) {
      const reply = await call(api.url, 'GET', '/transfers/T1', headers);
      expect({ name, status: reply.status }).toEqual({ name, status: 401 });
      expect(reply.body).toBe(UNAUTHORIZED_BODY);
      expect(reply.headers['www-authenticate']).toBe('Bearer');
      expect(reply.headers['content-type']).toBe('application/json');
    }
    expect(calls).toHaveLength(0);
  });

  it('accepts RS256, as API Gateway does, and answers 401 to an ES256 token even when the JWKS has its key', async () => {
    const rs256 = await token({ partnerId: 'P-ACME' });
    expect(decodeProtectedHeader(rs256)).toMatchObject({ alg: 'RS256', kid: key.kid });
    expect((await call(api.url, 'GET', '/transfers/T1', { authorization: `Bearer ${rs256}` })).status).toBe(201);
    calls.length = 0;

    const now = Math.floor(Date.now() / 1000);
    const es256 = await new SignJWT({ partner_id: 'P-ACME', roles: ['operator'] })
      .setProtectedHeader({ alg: 'ES256', kid: EC_KID })
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(ecKey);
    tokens.push(es256);
    const reply = await call(api.url, 'GET', '/transfers/T1', { authorization: `Bearer ${es256}` });
    expect(reply.status).toBe(401);
    expect(reply.body).toBe(UNAUTHORIZED_BODY);
    expect(calls).toHaveLength(0);
  });

  it('routes by method and template: 404 for unknown paths and methods, literal beats greedy', async () => {
    for (const [method, path] of [['GET', '/nope'], ['GET', '/transfers'], ['GET', '/transfers/'], ['DELETE', '/transfers/T1'], ['GET', '/echo/x']]) {
      const reply = await call(api.url, method ?? 'GET', path ?? '/');
      expect({ method, path, status: reply.status, body: reply.body }).toEqual({ method, path, status: 404, body: '{"message":"Not Found"}' });
    }
    const literal = await call(api.url, 'POST', '/echo/literal');
    expect(literal.body).toBe('literal route wins');
  });

  it('serves HEAD only where a HEAD route exists, without a body', async () => {
    const head = await call(api.url, 'HEAD', '/health');
    expect(head.status).toBe(200);
    expect(head.headers['x-head']).toBe('1');
    expect(head.body).toBe('');
    const noHeadRoute = await call(api.url, 'HEAD', '/text');
    expect(noHeadRoute.status).toBe(404);
    expect(noHeadRoute.body).toBe('');
  });

  it('passes text bodies as utf-8 and other content types base64-encoded; greedy proxy parameters are decoded', async () => {
    const json = await call(api.url, 'POST', '/echo/a/b%20c', { 'content-type': 'application/json; charset=utf-8' }, '{"name":"Zoë"}');
    expect(json.status).toBe(200);
    expect(json.headers['content-type']).toBe('application/json');
    expect(json.body).toBe('{"ok":true,"list":[1,2]}');
    const jsonEvent = lastCall().event;
    expect(jsonEvent.routeKey).toBe('POST /echo/{proxy+}');
    expect(jsonEvent.pathParameters).toEqual({ proxy: 'a/b c' });
    expect(jsonEvent.body).toBe('{"name":"Zoë"}');
    expect(jsonEvent.isBase64Encoded).toBe(false);

    const bytes = Buffer.from([0, 1, 2, 254, 255]);
    await call(api.url, 'POST', '/echo/upload', { 'content-type': 'application/octet-stream' }, bytes);
    const binaryEvent = lastCall().event;
    expect(binaryEvent.isBase64Encoded).toBe(true);
    expect(binaryEvent.body).toBe(bytes.toString('base64'));
  });

  it('maps string results and base64 structured results', async () => {
    const text = await call(api.url, 'GET', '/text');
    expect(text.status).toBe(200);
    expect(text.headers['content-type']).toBe('application/json');
    expect(text.body).toBe('plain text');
    const image = await new Promise<Buffer>((resolve, reject) => {
      request(`${api.url}/image`, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(Buffer.concat(chunks)));
      }).on('error', reject).end();
    });
    expect([...image]).toEqual([1, 2, 3]);
  });

  it('turns a handler error into a bare 500 and logs only the route and error name', async () => {
    const reply = await call(api.url, 'GET', '/boom');
    expect(reply.status).toBe(500);
    expect(reply.body).toBe('{"message":"Internal Server Error"}');
    expect(logs).toContain('handler error GET /boom: TypeError');
    expect(logs.join('\n')).not.toContain('hunter2');
  });

  it('answers 413 for bodies over 10 MiB', async () => {
    const reply = await call(api.url, 'POST', '/echo/big', { 'content-type': 'text/plain' }, Buffer.alloc(MAX_REQUEST_BODY_BYTES + 1, 97));
    expect(reply.status).toBe(413);
    expect(calls).toHaveLength(0);
  });

  it('logs one line per request with the route template for approval secrets and never a token', async () => {
    const bearer = await token({ partnerId: 'P-ACME' });
    logs.length = 0;
    await call(api.url, 'POST', '/approvals/s3cr3t-approval-value?x=1', { authorization: `Bearer ${bearer}` });
    await call(api.url, 'GET', '/approvals/another-s3cr3t', { authorization: `Bearer ${bearer}` });
    await call(api.url, 'GET', '/transfers/T9?token=abc', { authorization: `Bearer ${bearer}` });
    expect(logs).toHaveLength(3);
    expect(logs[0]).toMatch(/^POST \/approvals\/\{secret\} 200 \d+ms$/);
    expect(logs[1]).toMatch(/^GET \/approvals\/\{redacted\} 404 \d+ms$/);
    expect(logs[2]).toMatch(/^GET \/transfers\/T9 201 \d+ms$/);
    expect(lastCall().event.rawQueryString).toBe('token=abc');
  });

  it('never writes a token or approval secret to the log', () => {
    const all = allLogs.join('\n');
    expect(allLogs.length).toBeGreaterThan(20);
    expect(all).not.toContain('s3cr3t');
    for (const t of tokens) {
      expect(all).not.toContain(t);
      expect(all).not.toContain(t.split('.')[2]);
    }
  });

  it('answers 503 when the integration times out', async () => {
    const slow = await startLocalHttpApi({
      port: 0,
      integrationTimeoutMs: 100,
      routes: [{ method: 'GET', path: '/slow', auth: 'none', handler: () => new Promise((resolve) => setTimeout(() => resolve('late'), 400)) }],
      jwt: { issuer: settings.issuer, audience: settings.audience, jwks: key.publicJwks },
      log: () => undefined,
    });
    try {
      const reply = await call(slow.url, 'GET', '/slow');
      expect(reply.status).toBe(503);
      expect(reply.body).toBe('{"message":"Service Unavailable"}');
    } finally {
      await slow.close();
    }
  });

  describe('CORS', () => {
    let corsApi: LocalHttpApi;
    const preflight = (origin: string, path = '/transfers/T1', headers: OutgoingHttpHeaders = {}) =>
      call(corsApi.url, 'OPTIONS', path, { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type', ...headers });
    const corsHeaders = (reply: Reply): Record<string, unknown> =>
      Object.fromEntries(Object.entries(reply.headers).filter(([name]) => name.startsWith('access-control-')));

    beforeAll(async () => {
      corsApi = await startLocalHttpApi({
        port: 0,
        routes: [
          ...routes,
          { method: 'GET', path: '/own-cors', auth: 'none', handler: async () => ({ statusCode: 200, headers: { 'access-control-allow-origin': '*' }, body: 'x' }) },
        ],
        jwt: { issuer: settings.issuer, audience: settings.audience, jwks },
        cors: { allowOrigins: [PORTAL, 'http://localhost:5173'] },
        log: (line) => allLogs.push(line),
      });
    });

    afterAll(async () => {
      await corsApi.close();
    });

    it('answers a preflight from an allowed origin itself: 204 with what the portal may send, no authorizer, no integration', async () => {
      for (const path of ['/transfers/T1', '/approvals/s3cr3t-in-a-preflight', '/no-such-route']) {
        const reply = await preflight(PORTAL, path);
        expect({ path, status: reply.status, body: reply.body }).toEqual({ path, status: 204, body: '' });
        expect(corsHeaders(reply)).toEqual({
          'access-control-allow-origin': PORTAL,
          'access-control-allow-methods': 'GET,POST,DELETE,HEAD',
          'access-control-allow-headers': 'authorization,content-type,idempotency-key',
          'access-control-max-age': '3600',
        });
      }
      expect(calls).toHaveLength(0);
      expect(allLogs.join('\n')).not.toContain('s3cr3t-in-a-preflight');
    });

    it("adds the allowed origin and the exposed Location to every answer, the gateway's own 401 included", async () => {
      const bearer = await token({ partnerId: 'P-ACME' });
      const answered = await call(corsApi.url, 'GET', '/transfers/T1', { origin: PORTAL, authorization: `Bearer ${bearer}` });
      expect(answered.status).toBe(201);
      expect(corsHeaders(answered)).toEqual({ 'access-control-allow-origin': PORTAL, 'access-control-expose-headers': 'location' });
      expect(lastCall().event.headers.origin).toBe(PORTAL);

      const refused = await call(corsApi.url, 'GET', '/transfers/T1', { origin: 'http://localhost:5173' });
      expect(refused.status).toBe(401);
      expect(corsHeaders(refused)).toEqual({ 'access-control-allow-origin': 'http://localhost:5173', 'access-control-expose-headers': 'location' });
    });

    it('gives an origin not allowed no CORS header, on a preflight or an answer, and ignores CORS headers of an integration', async () => {
      for (const origin of ['https://evil.example', `${PORTAL}.evil.example`, 'http://portal.provider.example', 'null']) {
        const reply = await preflight(origin);
        expect({ origin, status: reply.status, cors: corsHeaders(reply) }).toEqual({ origin, status: 204, cors: {} });
        const answer = await call(corsApi.url, 'GET', '/health', { origin });
        expect({ origin, status: answer.status, cors: corsHeaders(answer) }).toEqual({ origin, status: 200, cors: {} });
      }
      expect(corsHeaders(await call(corsApi.url, 'GET', '/own-cors', { origin: 'https://evil.example' }))).toEqual({});
      expect(corsHeaders(await call(corsApi.url, 'GET', '/own-cors', { origin: PORTAL }))).toEqual({
        'access-control-allow-origin': PORTAL,
        'access-control-expose-headers': 'location',
      });
      expect(calls).toHaveLength(0);
    });

    it('leaves an OPTIONS request without Access-Control-Request-Method to the routes (404 here)', async () => {
      const reply = await call(corsApi.url, 'OPTIONS', '/transfers/T1', { origin: PORTAL });
      expect(reply.status).toBe(404);
    });

    it('is off without the option: a preflight is 404 and no answer carries a CORS header', async () => {
      const reply = await call(api.url, 'OPTIONS', '/transfers/T1', { origin: PORTAL, 'access-control-request-method': 'POST' });
      expect(reply.status).toBe(404);
      expect(corsHeaders(reply)).toEqual({});
      const answer = await call(api.url, 'GET', '/health', { origin: PORTAL });
      expect(answer.status).toBe(200);
      expect(corsHeaders(answer)).toEqual({});
    });
  });
});
