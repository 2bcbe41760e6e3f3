import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
export const TARGET_PREFIX = 'AWSStepFunctions.';

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

function validation(field: string, constraint: string): ApiError {
  return new ApiError('ValidationException', `1 validation error detected: Value at '${field}' failed to satisfy constraint: ${constraint}`);
}

export function optionalString(body: RequestBody, field: string, maxLength = Number.MAX_SAFE_INTEGER): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw validation(field, 'Member must be a string');
  if (value.length > maxLength) throw validation(field, `Member must have length less than or equal to ${maxLength}`);
  return value;
}

export function requiredString(body: RequestBody, field: string, maxLength?: number): string {
  const value = optionalString(body, field, maxLength);
  if (value === undefined) throw validation(field, 'Member must not be null');
  return value;
}

/** A JSON payload (an execution's input, a task's output): Step Functions counts its quota in UTF-8 bytes, not characters. */
export function requiredPayload(body: RequestBody, field: string, maxBytes: number): string {
  const value = requiredString(body, field);
  if (Buffer.byteLength(value, 'utf8') > maxBytes) throw validation(field, `Member must have length less than or equal to ${maxBytes}`);
  return value;
}

export function optionalInteger(body: RequestBody, field: string, min: number, max: number): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw validation(field, 'Member must be an integer');
  if (value < min) throw validation(field, `Member must have value greater than or equal to ${min}`);
  if (value > max) throw validation(field, `Member must have value less than or equal to ${max}`);
  return value;
}

export function optionalBoolean(body: RequestBody, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw validation(field, 'Member must be a boolean');
  return value;
}

/** Page cursors are opaque to clients; a cursor that was not issued here answers InvalidToken. */
export function encodePageToken(position: number): string {
  return Buffer.from(JSON.stringify({ p: position })).toString('base64url');
}

export function decodePageToken(token: string | undefined): number | undefined {
  if (token === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'p' in parsed && Number.isInteger(parsed.p)) {
      return parsed.p as number;
    }
  } catch {
    // falls through to InvalidToken
  }
  throw new ApiError('InvalidToken', 'Invalid Token');
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function readJsonBody(request: IncomingMessage): Promise<RequestBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new ApiError('ValidationException', 'Request body is too large', 413);
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

export function sendJson(response: ServerResponse, statusCode: number, body: unknown): void {
  const payload = JSON.stringify(body);
  response.writeHead(statusCode, {
    'Content-Type': JSON_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(payload),
    'x-amzn-RequestId': randomUUID(),
  });
  response.end(payload);
}

export function sendError(response: ServerResponse, error: ApiError): void {
  response.setHeader('x-amzn-ErrorType', error.code);
  sendJson(response, error.statusCode, { __type: error.code, message: error.message });
}

/** The real service reports timestamps as epoch seconds (with fractions). */
export function epochSeconds(epochMs: number): number {
  return epochMs / 1000;
}
