import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

/**
 * What the local AWS APIs (Step Functions, EventBridge, SQS) share of the AWS JSON protocols: a POST of a JSON
 * object naming its operation in `X-Amz-Target`, answered with JSON, errors as `{__type, message}`.
 */

/** A modelled service error; `code` becomes `__type`, which the SDK maps to its exception classes. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
    this.name = code;
  }
}

export type RequestBody = Readonly<Record<string, unknown>>;

/** A member of the wrong JSON type is refused before validation, as the services' deserializers do. */
export function serialization(field: string, expected: string): ApiError {
  return new ApiError('SerializationException', `${field} must be ${expected}`);
}

export function validation(field: string, constraint: string): ApiError {
  return new ApiError('ValidationException', `1 validation error detected: Value at '${field}' failed to satisfy constraint: ${constraint}`);
}

/** The request's JSON object; a body over `maxBytes` is refused (413) with the service's own words, unread. */
export async function readJsonBody(request: IncomingMessage, limit: { maxBytes: number; tooLarge: string }): Promise<RequestBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > limit.maxBytes) throw new ApiError('ValidationException', limit.tooLarge, 413);
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError('SerializationException', 'Request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiError('SerializationException', 'Request body must be a JSON object');
  }
  return parsed as RequestBody;
}

/** A string member, if present; longer than `maxLength` is a ValidationException. */
export function optionalString(body: RequestBody, field: string, maxLength = Number.MAX_SAFE_INTEGER): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw serialization(field, 'a string');
  if (value.length > maxLength) throw validation(field, `Member must have length less than or equal to ${maxLength}`);
  return value;
}

/** An integer member, if present; its range is the caller's to check, in its service's words. */
export function optionalIntegerMember(body: RequestBody, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw serialization(field, 'an integer');
  return value;
}

export function sendJson(response: ServerResponse, statusCode: number, body: unknown, contentType: string): void {
  const payload = JSON.stringify(body);
  response.writeHead(statusCode, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(payload),
    'x-amzn-RequestId': randomUUID(),
  });
  response.end(payload);
}

export function sendError(response: ServerResponse, error: ApiError, contentType: string): void {
  response.setHeader('x-amzn-ErrorType', error.code);
  sendJson(response, error.statusCode, { __type: error.code, message: error.message }, contentType);
}

/**
 * The operation the request names in `X-Amz-Target` (`prefix` then its name). A missing or foreign target
 * is an UnknownOperationException; so is a name `operations` lacks, unless `unknownOperation` says otherwise.
 */
export function operationOf<Operation>(
  request: IncomingMessage,
  prefix: string,
  operations: Readonly<Record<string, Operation>>,
  unknownOperation?: (name: string) => ApiError,
): Operation {
  const target = request.headers['x-amz-target'];
  if (typeof target === 'string' && target.startsWith(prefix)) {
    const name = target.slice(prefix.length);
    // Own names only: `toString` or `__proto__` is no operation.
    if (Object.hasOwn(operations, name)) return operations[name] as Operation;
    if (unknownOperation !== undefined) throw unknownOperation(name);
  }
  throw new ApiError('UnknownOperationException', `Unknown operation ${typeof target === 'string' ? target : '(no X-Amz-Target)'}`);
}

/** How one local AWS JSON API answers where the others answer differently. */
export interface AwsJsonApi {
  /** Of every operation's answer and every error. */
  contentType: string;
  /** The request's JSON object, within the service's size limit. */
  readBody(request: IncomingMessage): Promise<RequestBody>;
  /** Headers an error answer carries besides `x-amzn-ErrorType`. */
  errorHeaders?: (error: ApiError) => Readonly<Record<string, string>>;
  /** The 500 answered for any error that is not an ApiError. */
  internalError: { code: string; message: string };
  /** Gets a line for each such 500 naming the error only, since its message may carry request data. */
  log(line: string): void;
  /** GET routes besides `/health`, by path, answered as plain JSON. */
  routes?: Readonly<Record<string, (url: URL) => unknown>>;
  /** Nothing is answered, nor logged, once the client has closed the response (SQS: a long poll it gave up). */
  quietOnClose?: boolean;
}

/**
 * Answers one request: `GET /health` and `api.routes`, and for a POST what `call` returns for its JSON
 * body, as JSON. Other methods are a 404; an ApiError is answered as itself, any other error as a 500.
 */
export async function answerRequest(
  request: IncomingMessage,
  response: ServerResponse,
  api: AwsJsonApi,
  call: (body: RequestBody) => unknown,
): Promise<void> {
  const closed = () => api.quietOnClose === true && response.destroyed;
  const fail = (error: ApiError) => {
    for (const [name, value] of Object.entries(api.errorHeaders?.(error) ?? {})) response.setHeader(name, value);
    sendError(response, error, api.contentType);
  };
  try {
    const url = new URL(request.url ?? '/', 'http://local');
    if (request.method === 'GET') {
      const routes = api.routes ?? {};
      const route = url.pathname === '/health' ? () => ({ status: 'ok' }) : Object.hasOwn(routes, url.pathname) ? routes[url.pathname] : undefined;
      if (route !== undefined) {
        sendJson(response, 200, route(url), 'application/json');
        return;
      }
    }
    if (request.method !== 'POST') {
      throw new ApiError('UnknownOperationException', `${request.method ?? 'UNKNOWN'} ${url.pathname} is not supported`, 404);
    }
    const answer = await call(await api.readBody(request));
    if (!closed()) sendJson(response, 200, answer, api.contentType);
  } catch (error) {
    if (closed()) return;
    if (error instanceof ApiError) {
      fail(error);
      return;
    }
    api.log(`internal error while handling a request: ${error instanceof Error ? error.name : 'unknown'}`);
    fail(new ApiError(api.internalError.code, api.internalError.message, 500));
  }
}
