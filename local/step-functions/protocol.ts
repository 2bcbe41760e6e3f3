import type { IncomingMessage, ServerResponse } from 'node:http';
import * as awsJson from '../aws-json.ts';
import { ApiError, validation, type RequestBody } from '../aws-json.ts';

export { ApiError, type RequestBody } from '../aws-json.ts';

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
export const TARGET_PREFIX = 'AWSStepFunctions.';

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

export function readJsonBody(request: IncomingMessage): Promise<RequestBody> {
  return awsJson.readJsonBody(request, { maxBytes: MAX_BODY_BYTES, tooLarge: 'Request body is too large' });
}

export function sendJson(response: ServerResponse, statusCode: number, body: unknown): void {
  awsJson.sendJson(response, statusCode, body, JSON_CONTENT_TYPE);
}

export function sendError(response: ServerResponse, error: ApiError): void {
  awsJson.sendError(response, error, JSON_CONTENT_TYPE);
}

/** The real service reports timestamps as epoch seconds (with fractions). */
export function epochSeconds(epochMs: number): number {
  return epochMs / 1000;
}
