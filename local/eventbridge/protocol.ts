import type { IncomingMessage, ServerResponse } from 'node:http';
import * as awsJson from '../aws-json.ts';
import { ApiError, validation, type RequestBody } from '../aws-json.ts';

export { ApiError, validation, type RequestBody } from '../aws-json.ts';

// The EventBridge API speaks AWS JSON 1.1: a POST with `X-Amz-Target: AWSEvents.<Operation>`.
export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
export const TARGET_PREFIX = 'AWSEvents.';

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

export function readJsonBody(request: IncomingMessage): Promise<RequestBody> {
  return awsJson.readJsonBody(request, { maxBytes: MAX_BODY_BYTES, tooLarge: 'Total size of the entries in the request is over the limit.' });
}

export function sendJson(response: ServerResponse, statusCode: number, body: unknown, contentType = JSON_CONTENT_TYPE): void {
  awsJson.sendJson(response, statusCode, body, contentType);
}

export function sendError(response: ServerResponse, error: ApiError): void {
  awsJson.sendError(response, error, JSON_CONTENT_TYPE);
}
