import type { IncomingMessage } from 'node:http';
import * as awsJson from '../aws-json.ts';
import { ApiError, optionalIntegerMember, optionalString, serialization, type RequestBody } from '../aws-json.ts';

export { ApiError, optionalString, type RequestBody } from '../aws-json.ts';

// SQS speaks AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Operation>`), query-compatible: each error also
// carries its old query code in `x-amzn-query-error`, which the SDK reads first to pick its exception.
export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
export const TARGET_PREFIX = 'AmazonSQS.';
const NAMESPACE = 'com.amazonaws.sqs';

/** An SQS error: `shape` is the SDK's exception name, `queryCode` the code SQS's query API used for it. */
export class SqsError extends ApiError {
  readonly shape: string;
  readonly queryCode: string;

  constructor(shape: string, message: string, options: { queryCode?: string; statusCode?: number } = {}) {
    super(`${NAMESPACE}#${shape}`, message, options.statusCode ?? 400);
    this.name = shape;
    this.shape = shape;
    this.queryCode = options.queryCode ?? shape;
  }
}

/** The queue a request names is not one of the stack's. */
export const queueDoesNotExist = () =>
  new SqsError('QueueDoesNotExist', 'The specified queue does not exist.', { queryCode: 'AWS.SimpleQueueService.NonExistentQueue' });

/** SQS's common error for a parameter it does not accept; the SDK has no class for it (its name is the code). */
export const invalidParameterValue = (message: string) => new SqsError('InvalidParameterValue', message);

/** A value out of its documented range, in SQS's words. */
export const outOfRange = (field: string, value: unknown, reason: string) =>
  invalidParameterValue(`Value ${String(value)} for parameter ${field} is invalid. Reason: ${reason}`);

/** A required parameter is absent. */
export const missingParameter = (field: string) => new SqsError('MissingParameter', `The request must contain the parameter ${field}.`);

/** A name after `AmazonSQS.` that this local API does not serve. */
export const unsupportedOperation = (name: string) =>
  new SqsError('UnsupportedOperation', `${name} is not available on the local SQS API.`, { queryCode: 'AWS.SimpleQueueService.UnsupportedOperation' });

/** A batch error modelled by the SDK: all but InvalidMessageContents have an `AWS.SimpleQueueService.` query code. */
export const batchError = (shape: string, message: string) => new SqsError(shape, message, { queryCode: `AWS.SimpleQueueService.${shape}` });

/** A string member that must be there (MissingParameter otherwise). */
export function requiredString(body: RequestBody, field: string): string {
  const value = optionalString(body, field);
  if (value === undefined) throw missingParameter(field);
  return value;
}

/** An integer member, checked against its range with SQS's `Value … is invalid. Reason: …` wording. */
export function optionalInteger(body: RequestBody, field: string, min: number, max: number, reason: string): number | undefined {
  const value = optionalIntegerMember(body, field);
  if (value === undefined) return undefined;
  if (value < min || value > max) throw outOfRange(field, value, reason);
  return value;
}

/** A list of strings, if present. */
export function optionalStringList(body: RequestBody, field: string): string[] | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw serialization(field, 'a list of strings');
  return value as string[];
}

/** A batch request's entries, as objects; their number and Ids are checked by the caller. */
export function entryList(body: RequestBody, field: string): RequestBody[] {
  const value = body[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw serialization(field, 'a list');
  return value.map((entry, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw serialization(`${field}.${index + 1}`, 'an object');
    return entry as RequestBody;
  });
}

/** Far above any request the service takes (a batch may carry 256 KiB of bodies, escaped); anything larger is not even read. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** The request's JSON object. */
export function readJsonBody(request: IncomingMessage): Promise<RequestBody> {
  return awsJson.readJsonBody(request, { maxBytes: MAX_BODY_BYTES, tooLarge: 'The request is larger than the service accepts.' });
}

/** What an SQS error carries besides its `__type`: the query code and fault the SDK reads first. */
export function queryErrorHeaders(error: ApiError): Record<string, string> {
  const queryCode = error instanceof SqsError ? error.queryCode : error.code;
  return { 'x-amzn-query-error': `${queryCode};${error.statusCode < 500 ? 'Sender' : 'Receiver'}` };
}
