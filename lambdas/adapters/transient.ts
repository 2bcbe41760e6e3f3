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

/** Whether an AWS call failed in a way that the same call may succeed later (after the SDK's own retries). */
export function isTransient(error: unknown): boolean {
  if (error instanceof TransientError) return true;
  if (error instanceof TransactionCanceledException) {
    const codes = (error.CancellationReasons ?? []).map((reason) => reason.Code);
    return codes.includes('TransactionConflict') && !codes.includes('ConditionalCheckFailed');
  }
  if (typeof error !== 'object' || error === null) return false;
  const { name, code, $metadata } = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  if (name && TRANSIENT_NAMES.has(name)) return true;
  if (code && TRANSIENT_CODES.has(code)) return true;
  const status = $metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/** Runs an AWS call, turning a transient failure into a TransientError (503 for the API, retried by the workflow). */
export async function asTransient<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof TransientError || !isTransient(error)) throw error;
    throw new TransientError();
  }
}
