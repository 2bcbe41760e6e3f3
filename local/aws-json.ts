import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

/**
 * What the local AWS APIs (Step Functions, EventBridge) share of the AWS JSON protocols: a POST of a JSON
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
