import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

// The EventBridge API speaks AWS JSON 1.1: a POST with `X-Amz-Target: AWSEvents.<Operation>`.
export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
export const TARGET_PREFIX = 'AWSEvents.';

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

/** A member of the wrong JSON type is refused before validation, as the service's deserializer does. */
export function serialization(field: string, expected: string): ApiError {
  return new ApiError('SerializationException', `${field} must be ${expected}`);
}

export function optionalString(body: RequestBody, field: string, maxLength = Number.MAX_SAFE_INTEGER): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw serialization(field, 'a string');
  if (value.length > maxLength) throw validation(field, `Member must have length less than or equal to ${maxLength}`);
  return value;
}

export function optionalInteger(body: RequestBody, field: string, min: number, max: number): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw serialization(field, 'an integer');
  if (value < min) throw validation(field, `Member must have value greater than or equal to ${min}`);
  if (value > max) throw validation(field, `Member must have value less than or equal to ${max}`);
  return value;
}

/** Far above any request the service takes (its entries may total 256 KB); anything larger is not even read. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export async function readJsonBody(request: IncomingMessage): Promise<RequestBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new ApiError('ValidationException', 'Total size of the entries in the request is over the limit.', 413);
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

export function sendJson(response: ServerResponse, statusCode: number, body: unknown, contentType = JSON_CONTENT_TYPE): void {
  const payload = JSON.stringify(body);
  response.writeHead(statusCode, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(payload),
    'x-amzn-RequestId': randomUUID(),
  });
  response.end(payload);
}

export function sendError(response: ServerResponse, error: ApiError): void {
  response.setHeader('x-amzn-ErrorType', error.code);
  sendJson(response, error.statusCode, { __type: error.code, message: error.message });
}
