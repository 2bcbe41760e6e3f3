// Local twin of an API Gateway HTTP API (payload format 2.0) with a JWT authorizer and Lambda proxy integrations.
import { randomBytes, randomUUID } from 'node:crypto';
import { LOCAL_ACCOUNT, lambdaContext } from '../lambda-context.ts';
import { createServer, validateHeaderName, validateHeaderValue } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { JWK, JWTPayload } from 'jose';
import { PORTAL_CORS } from '../../lib/cors.ts';

export type JsonWebKey = JWK;

export interface LocalJwtAuthorizerContext {
  jwt: { claims: Record<string, string>; scopes: string[] | null };
}

export type LocalHttpEvent = APIGatewayProxyEventV2 & { requestContext: { authorizer?: LocalJwtAuthorizerContext } };

export type LocalHttpHandler = (event: LocalHttpEvent, context: Context) => Promise<APIGatewayProxyResultV2>;

export interface LocalRoute {
  method: 'GET' | 'POST' | 'HEAD' | 'PUT' | 'DELETE' | 'PATCH';
  /** Path template, e.g. '/transfers/{id}' or '/files/{proxy+}'. */
  path: string;
  auth: 'jwt' | 'none';
  handler: LocalHttpHandler;
  /** Lambda function name shown in the Context; derived from the route when omitted. */
  functionName?: string;
}

export interface LocalJwtSettings {
  issuer: string;
  audience: string;
  /** Public JWKS. */
  jwks: { keys: JsonWebKey[] };
}

export interface LocalHttpApiOptions {
  /** 0 = free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  routes: LocalRoute[];
  jwt: LocalJwtSettings;
  log?: (line: string) => void;
  /** Integration timeout; API Gateway HTTP APIs answer 503 after at most 30 s. */
  integrationTimeoutMs?: number;
  /**
   * CORS as the CDK API configures it (lib/cors.ts) for these origins; without it, no CORS at all
   * (a preflight is an OPTIONS request like any other: 404).
   */
  cors?: LocalCorsSettings;
  /**
   * Called with every answer to a request that matched a route (the authorizer's and the gateway's own
   * answers included), as sent; for contract tests. A hook that throws is logged, and the answer still sent.
   */
  onAnswer?: (answer: LocalHttpAnswer) => void;
}

/** An answer as {@link LocalHttpApiOptions.onAnswer} sees it (a HEAD's body is the one the handler returned). */
export interface LocalHttpAnswer {
  /** The matched route, e.g. `GET /transfers/{id}`. */
  routeKey: string;
  method: string;
  /** The request's path; approval paths carry a link's secret. */
  path: string;
  status: number;
  headers: Readonly<Record<string, string | string[]>>;
  body: Buffer;
}

export interface LocalCorsSettings {
  /** Exact origins, e.g. `https://portal.example.com` (see `parsePortalOrigins` in lib/cors.ts). */
  allowOrigins: readonly string[];
}

export interface LocalHttpApi {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** API Gateway HTTP API request payload quota. */
export const MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024;
const DEFAULT_INTEGRATION_TIMEOUT_MS = 30_000;
const LOCAL_API_ID = 'local';
const SECRET_PATH_PREFIX = '/approvals/';
// API Gateway's HTTP API JWT authorizer verifies RSA signatures only; an EC-signed token is refused even with its key in the JWKS.
const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512'];
// Content types delivered as text; HTTP APIs base64-encode everything else (form posts included).
const TEXT_CONTENT_TYPE = /^(text\/[^;]+|application\/(json|[^;]+\+json|xml|[^;]+\+xml|javascript|ecmascript|graphql))(\s*;.*)?$/i;

type Segment = { kind: 'literal'; value: string } | { kind: 'param'; name: string } | { kind: 'greedy'; name: string };

interface CompiledRoute {
  route: LocalRoute;
  routeKey: string;
  segments: Segment[];
  functionName: string;
}

interface RouteMatch {
  compiled: CompiledRoute;
  pathParameters: Record<string, string> | undefined;
}

interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

class MalformedPathError extends Error {}

function jsonResponse(statusCode: number, payload: unknown, extraHeaders: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...extraHeaders },
    body: Buffer.from(JSON.stringify(payload)),
  };
}

const NOT_FOUND = (): HttpResponse => jsonResponse(404, { message: 'Not Found' });
const INTERNAL_ERROR = (): HttpResponse => jsonResponse(500, { message: 'Internal Server Error' });
const UNAUTHORIZED = (): HttpResponse =>
  jsonResponse(401, { error: { code: 'UNAUTHORIZED', message: 'A valid bearer token is required.' } }, { 'www-authenticate': 'Bearer' });

function compileRoute(route: LocalRoute): CompiledRoute {
  if (!route.path.startsWith('/')) throw new Error(`Route path must start with '/': ${route.path}`);
  const parts = route.path.slice(1).split('/');
  const segments = parts.map((part, index): Segment => {
    const param = /^\{([A-Za-z0-9_.-]+)(\+?)\}$/.exec(part);
    if (!param) {
      if (part.includes('{') || part.includes('}')) throw new Error(`Invalid path segment '${part}' in ${route.path}`);
      return { kind: 'literal', value: part };
    }
    const name = param[1] ?? '';
    if (param[2] === '+') {
      if (index !== parts.length - 1) throw new Error(`A greedy parameter must be the last segment: ${route.path}`);
      return { kind: 'greedy', name };
    }
    return { kind: 'param', name };
  });
  const routeKey = `${route.method} ${route.path}`;
  const functionName = route.functionName
    ?? `local-${route.method}${route.path.replace(/[^A-Za-z0-9]+/g, '-')}`.replace(/-+$/, '');
  return { route, routeKey, segments, functionName };
}

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new MalformedPathError('malformed percent-encoding');
  }
}

function matchSegments(segments: Segment[], pathParts: string[]): Record<string, string> | undefined | false {
  const params: Record<string, string> = {};
  for (const [index, segment] of segments.entries()) {
    if (segment.kind === 'greedy') {
      const rest = pathParts.slice(index).join('/');
      if (rest === '') return false;
      params[segment.name] = decodeSegment(rest);
      return params;
    }
    const part = pathParts[index];
    if (part === undefined) return false;
    if (segment.kind === 'literal') {
      if (part !== segment.value) return false;
    } else {
      if (part === '') return false;
      params[segment.name] = decodeSegment(part);
    }
  }
  if (pathParts.length !== segments.length) return false;
  return Object.keys(params).length > 0 ? params : undefined;
}

const SPECIFICITY = { literal: 2, param: 1, greedy: 0 } as const;

// API Gateway prefers the most specific route: literal segments beat {param}, which beats {proxy+}.
function moreSpecific(a: CompiledRoute, b: CompiledRoute): boolean {
  const length = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i += 1) {
    const sa = a.segments[i];
    const sb = b.segments[i];
    if (!sa || !sb) return false;
    if (SPECIFICITY[sa.kind] !== SPECIFICITY[sb.kind]) return SPECIFICITY[sa.kind] > SPECIFICITY[sb.kind];
  }
  return false;
}

function findRoute(routes: CompiledRoute[], method: string, rawPath: string): RouteMatch | undefined {
  const pathParts = rawPath.slice(1).split('/');
  let best: RouteMatch | undefined;
  for (const compiled of routes) {
    if (compiled.route.method !== method) continue;
    const params = matchSegments(compiled.segments, pathParts);
    if (params === false) continue;
    if (!best || moreSpecific(compiled, best.compiled)) best = { compiled, pathParameters: params };
  }
  return best;
}

/** Path as written to the log: approval secrets travel in the path, so those routes log their template. */
function loggablePath(rawPath: string, match: RouteMatch | undefined): string {
  if (match) return match.compiled.route.path.startsWith(SECRET_PATH_PREFIX) ? match.compiled.route.path : rawPath;
  return rawPath.startsWith(SECRET_PATH_PREFIX) ? `${SECRET_PATH_PREFIX}{redacted}` : rawPath;
}

function stringifyClaim(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `[${value.map(stringifyClaim).join(' ')}]`;
  return JSON.stringify(value) ?? '';
}

function scopesOf(payload: JWTPayload): string[] | null {
  const raw = payload.scope ?? payload.scp;
  let scopes: string[] = [];
  if (typeof raw === 'string') scopes = raw.split(/\s+/);
  else if (Array.isArray(raw)) scopes = raw.filter((s): s is string => typeof s === 'string');
  scopes = scopes.filter((s) => s !== '');
  return scopes.length > 0 ? scopes : null;
}

function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const value = authorization.trim();
  const prefixed = /^Bearer\s+(\S+)$/i.exec(value);
  if (prefixed) return prefixed[1];
  // API Gateway's JWT authorizer also accepts the bare token in the identity source.
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(value) ? value : undefined;
}

function formatRequestTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()] ?? ''}/${date.getUTCFullYear()}:`
    + `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    let tooLarge = Number.isFinite(declared) && declared > MAX_REQUEST_BODY_BYTES;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BODY_BYTES) tooLarge = true;
      // An oversized body is drained and dropped so the client still reads the 413 instead of a reset.
      if (tooLarge) {
        chunks.length = 0;
        if (size > 8 * MAX_REQUEST_BODY_BYTES) req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function collectHeaders(req: IncomingMessage): { headers: Record<string, string>; cookies: string[] } {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    const value = raw[i + 1] ?? '';
    // Format 2.0 moves cookies out of the headers into the cookies array.
    if (name === 'cookie') {
      cookies.push(...value.split(';').map((c) => c.trim()).filter((c) => c !== ''));
      continue;
    }
    const existing = headers[name];
    headers[name] = existing === undefined ? value : `${existing},${value}`;
  }
  return { headers, cookies };
}

function parseQuery(rawQueryString: string): Record<string, string> | undefined {
  if (rawQueryString === '') return undefined;
  const result: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    const existing = result[key];
    result[key] = existing === undefined ? value : `${existing},${value}`;
  }
  return Object.keys(result).length > 0 ? result : undefined;
}

function traceId(now: Date): string {
  return `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
}


function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Maps a Lambda result the way HTTP API format 2.0 does; throws on a malformed structured result. */
function toHttpResponse(result: unknown): HttpResponse {
  if (!isRecord(result) || !('statusCode' in result)) {
    // Format 2.0 inference: anything without statusCode is a 200 JSON body.
    const body = typeof result === 'string' ? result : (JSON.stringify(result) ?? 'null');
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(body) };
  }
  const { statusCode, headers, cookies, body, isBase64Encoded } = result;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    throw new TypeError('statusCode must be an integer HTTP status');
  }
  if (body !== undefined && body !== null && typeof body !== 'string') throw new TypeError('body must be a string');
  const out: Record<string, string | string[]> = {};
  if (headers !== undefined && headers !== null) {
    if (!isRecord(headers)) throw new TypeError('headers must be an object');
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new TypeError('header values must be strings, numbers or booleans');
      }
      validateHeaderName(name);
      validateHeaderValue(name, String(value));
      out[name.toLowerCase()] = String(value);
    }
  }
  if (cookies !== undefined && cookies !== null) {
    if (!Array.isArray(cookies) || !cookies.every((c): c is string => typeof c === 'string')) {
      throw new TypeError('cookies must be an array of strings');
    }
    for (const cookie of cookies) validateHeaderValue('set-cookie', cookie);
    const existing = out['set-cookie'];
    out['set-cookie'] = [...(existing === undefined ? [] : [existing].flat()), ...cookies];
  }
  const text = typeof body === 'string' ? body : '';
  return { statusCode, headers: out, body: isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text) };
}

function send(res: ServerResponse, method: string, response: HttpResponse, requestId: string): void {
  res.statusCode = response.statusCode;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  res.setHeader('apigw-requestid', requestId);
  res.setHeader('content-length', response.body.length);
  if (method === 'HEAD') res.end();
  else res.end(response.body);
}

class IntegrationTimeout extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new IntegrationTimeout()), ms);
  });
  // The handler keeps running after a timeout (as Lambda does); its late failure must not crash the process.
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function errorName(error: unknown): string {
  if (error instanceof Error) return error.name;
  return typeof error;
}

const CORS_HEADER = /^access-control-/i;

/**
 * API Gateway's CORS for HTTP APIs: once configured, the gateway itself answers every preflight
 * (an OPTIONS request with Origin and Access-Control-Request-Method, whatever its path and without
 * the authorizer or an integration), adds the CORS headers to every answer to an allowed Origin,
 * and drops any CORS header an integration returns. An origin not allowed gets no CORS header.
 */
class GatewayCors {
  readonly #origins: ReadonlySet<string>;

  constructor(settings: LocalCorsSettings) {
    this.#origins = new Set(settings.allowOrigins);
  }

  isPreflight(method: string, req: IncomingMessage): boolean {
    return method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined;
  }

  preflight(origin: string | undefined): HttpResponse {
    const headers: Record<string, string> = !this.allows(origin) ? {} : {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': PORTAL_CORS.allowMethods.join(','),
      'access-control-allow-headers': PORTAL_CORS.allowHeaders.join(','),
      'access-control-max-age': String(PORTAL_CORS.maxAgeSeconds),
    };
    return { statusCode: 204, headers, body: Buffer.alloc(0) };
  }

  /** The response with the gateway's CORS headers in place of any the integration set. */
  apply(origin: string | undefined, response: HttpResponse): HttpResponse {
    const headers = Object.fromEntries(Object.entries(response.headers).filter(([name]) => !CORS_HEADER.test(name)));
    if (this.allows(origin)) {
      headers['access-control-allow-origin'] = origin;
      headers['access-control-expose-headers'] = PORTAL_CORS.exposeHeaders.join(',');
    }
    return { ...response, headers };
  }

  private allows(origin: string | undefined): origin is string {
    return origin !== undefined && this.#origins.has(origin);
  }
}

export async function startLocalHttpApi(options: LocalHttpApiOptions): Promise<LocalHttpApi> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const integrationTimeoutMs = options.integrationTimeoutMs ?? DEFAULT_INTEGRATION_TIMEOUT_MS;
  const routes = options.routes.map(compileRoute);
  const seen = new Set<string>();
  for (const { routeKey } of routes) {
    if (seen.has(routeKey)) throw new Error(`Duplicate route: ${routeKey}`);
    seen.add(routeKey);
  }
  if (options.jwt.jwks.keys.length === 0) throw new Error('The JWT authorizer needs at least one public key.');
  const jwks = createLocalJWKSet(options.jwt.jwks);
  const cors = options.cors === undefined ? undefined : new GatewayCors(options.cors);
  let listeningPort = options.port;

  async function authorize(authorization: string | undefined): Promise<LocalJwtAuthorizerContext | undefined> {
    const token = bearerToken(authorization);
    if (!token) return undefined;
    try {
      // API Gateway requires a kid that names a key of the issuer's JWKS.
      if (typeof decodeProtectedHeader(token).kid !== 'string') return undefined;
      const { payload } = await jwtVerify(token, jwks, {
        issuer: options.jwt.issuer,
        algorithms: ACCEPTED_ALGORITHMS,
        requiredClaims: ['exp'],
      });
      const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
      // Access tokens without aud (e.g. Cognito's) are matched on client_id, as API Gateway does.
      const audienceOk = payload.aud === undefined ? payload.client_id === options.jwt.audience : audiences.includes(options.jwt.audience);
      if (!audienceOk) return undefined;
      if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000) return undefined;
      const claims: Record<string, string> = {};
      for (const [name, value] of Object.entries(payload)) claims[name] = stringifyClaim(value);
      return { jwt: { claims, scopes: scopesOf(payload) } };
    } catch {
      return undefined;
    }
  }

  async function invoke(match: RouteMatch, event: LocalHttpEvent): Promise<HttpResponse> {
    const { compiled } = match;
    const context = lambdaContext(compiled.functionName, Date.now() + integrationTimeoutMs);
    let result: unknown;
    try {
      result = await withTimeout(Promise.resolve().then(() => compiled.route.handler(event, context)), integrationTimeoutMs);
    } catch (error) {
      if (error instanceof IntegrationTimeout) {
        log(`integration timeout ${compiled.routeKey} after ${integrationTimeoutMs}ms`);
        return jsonResponse(503, { message: 'Service Unavailable' });
      }
      // Only the route and error name: messages and stacks may carry secrets or personal data.
      log(`handler error ${compiled.routeKey}: ${errorName(error)}`);
      return INTERNAL_ERROR();
    }
    try {
      return toHttpResponse(result);
    } catch (error) {
      log(`invalid handler response ${compiled.routeKey}: ${errorName(error)}`);
      return INTERNAL_ERROR();
    }
  }

  async function respond(req: IncomingMessage, requestId: string, rawPath: string, rawQueryString: string,
    match: RouteMatch | undefined): Promise<HttpResponse> {
    if (!match) {
      req.resume();
      return NOT_FOUND();
    }
    const body = await readBody(req);
    if (body === 'too-large') return jsonResponse(413, { message: 'Request Entity Too Large' });
    const { headers, cookies } = collectHeaders(req);
    const { compiled } = match;
    let authorizer: LocalJwtAuthorizerContext | undefined;
    if (compiled.route.auth === 'jwt') {
      authorizer = await authorize(headers.authorization);
      if (!authorizer) return UNAUTHORIZED();
    }
    const now = new Date();
    const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${sourceIp}` : sourceIp;
    headers['x-forwarded-port'] = String(listeningPort);
    headers['x-forwarded-proto'] = 'http';
    headers['x-amzn-trace-id'] ??= traceId(now);
    const domainName = (headers.host ?? host).replace(/:\d+$/, '');
    const queryStringParameters = parseQuery(rawQueryString);
    const isText = body.length === 0 || TEXT_CONTENT_TYPE.test(headers['content-type'] ?? '');
    const event: LocalHttpEvent = {
      version: '2.0',
      routeKey: compiled.routeKey,
      rawPath,
      rawQueryString,
      ...(cookies.length > 0 ? { cookies } : {}),
      headers,
      ...(queryStringParameters ? { queryStringParameters } : {}),
      requestContext: {
        accountId: LOCAL_ACCOUNT,
        apiId: LOCAL_API_ID,
        ...(authorizer ? { authorizer } : {}),
        domainName,
        domainPrefix: domainName.split('.')[0] ?? domainName,
        http: {
          method: compiled.route.method,
          path: rawPath,
          protocol: `HTTP/${req.httpVersion}`,
          sourceIp,
          userAgent: headers['user-agent'] ?? '',
        },
        requestId,
        routeKey: compiled.routeKey,
        stage: '$default',
        time: formatRequestTime(now),
        timeEpoch: now.getTime(),
      },
      ...(match.pathParameters ? { pathParameters: match.pathParameters } : {}),
      ...(body.length > 0 ? { body: isText ? body.toString('utf8') : body.toString('base64') } : {}),
      isBase64Encoded: !isText,
    };
    return invoke(match, event);
  }

  const server = createServer((req, res) => {
    const started = performance.now();
    const requestId = randomUUID();
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
    const rawQueryString = queryAt === -1 ? '' : url.slice(queryAt + 1);
    let logPath = loggablePath(rawPath, undefined);
    let routeKey: string | undefined;
    const preflight = cors?.isPreflight(method, req) === true;
    void (async () => {
      let response: HttpResponse;
      try {
        if (!rawPath.startsWith('/')) {
          req.resume();
          response = jsonResponse(400, { message: 'Bad Request' });
        } else if (preflight) {
          req.resume();
          response = cors.preflight(req.headers.origin);
        } else {
          const match = findRoute(routes, method, rawPath);
          logPath = loggablePath(rawPath, match);
          routeKey = match?.compiled.routeKey;
          response = await respond(req, requestId, rawPath, rawQueryString, match);
        }
      } catch (error) {
        if (error instanceof MalformedPathError) {
          response = jsonResponse(400, { message: 'Bad Request' });
        } else {
          log(`local http api error ${method} ${logPath}: ${errorName(error)}`);
          response = INTERNAL_ERROR();
        }
      }
      if (cors !== undefined && !preflight) response = cors.apply(req.headers.origin, response);
      if (routeKey !== undefined && options.onAnswer !== undefined) {
        try {
          options.onAnswer({ routeKey, method, path: rawPath, status: response.statusCode, headers: response.headers, body: response.body });
        } catch (error) {
          log(`answer hook error ${method} ${logPath}: ${errorName(error)}`);
        }
      }
      try {
        if (!res.headersSent && !res.destroyed) send(res, method, response, requestId);
      } catch (error) {
        log(`local http api error ${method} ${logPath}: ${errorName(error)}`);
        res.destroy();
      }
      log(`${method} ${logPath} ${response.statusCode} ${Math.round(performance.now() - started)}ms`);
    })();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  listeningPort = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${listeningPort}`,
    port: listeningPort,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
