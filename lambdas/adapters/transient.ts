import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransientError } from '../domain/errors.ts';

const TRANSIENT_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** Reasons a transaction is cancelled for that say nothing about its conditions: the same transaction may pass later. */
const TRANSIENT_CANCELLATIONS = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'TransactionConflict']);

/** Whether an AWS call failed in a way that the same call may succeed later (after the SDK's own retries). */
export function isTransient(error: unknown): boolean {
  if (error instanceof TransientError) return true;
  if (error instanceof TransactionCanceledException) {
    // A failed condition is an answer (a busy customer, a decision recorded first), whatever else went wrong.
    const codes = (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
    return codes.some((code) => TRANSIENT_CANCELLATIONS.has(code)) && !codes.includes('ConditionalCheckFailed');
  }
  if (typeof error !== 'object' || error === null) return false;
  const { name, code, $metadata } = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  if (name && TRANSIENT_NAMES.has(name)) return true;
  if (code && TRANSIENT_CODES.has(code)) return true;
  const status = $metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/** The error to throw for a failed AWS call: a TransientError when the same call may succeed later, else the error itself. */
export function transientOr(error: unknown): unknown {
  return error instanceof TransientError || !isTransient(error) ? error : new TransientError();
}

/** Runs an AWS call, turning a transient failure into a TransientError (503 for the API, retried by the workflow). */
export async function asTransient<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw transientOr(error);
  }
}
