import type { IncomingMessage } from 'node:http';
import * as awsJson from '../aws-json.ts';
import { optionalIntegerMember, validation, type RequestBody } from '../aws-json.ts';

export { ApiError, optionalString, serialization, validation, type RequestBody } from '../aws-json.ts';

// The EventBridge API speaks AWS JSON 1.1: a POST with `X-Amz-Target: AWSEvents.<Operation>`.
export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
export const TARGET_PREFIX = 'AWSEvents.';

/** An integer member, if present, within `min` and `max` (ValidationException otherwise). */
export function optionalInteger(body: RequestBody, field: string, min: number, max: number): number | undefined {
  const value = optionalIntegerMember(body, field);
  if (value === undefined) return undefined;
  if (value < min) throw validation(field, `Member must have value greater than or equal to ${min}`);
  if (value > max) throw validation(field, `Member must have value less than or equal to ${max}`);
  return value;
}

/** Far above any request the service takes (its entries may total 256 KB); anything larger is not even read. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export function readJsonBody(request: IncomingMessage): Promise<RequestBody> {
  return awsJson.readJsonBody(request, { maxBytes: MAX_BODY_BYTES, tooLarge: 'Total size of the entries in the request is over the limit.' });
}
