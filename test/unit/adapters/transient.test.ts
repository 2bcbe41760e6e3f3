import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { asTransient, isTransient, transientOr } from '../../../lambdas/adapters/transient.ts';
import { ConflictError, TransientError } from '../../../lambdas/domain/errors.ts';

function cancelled(...codes: string[]): TransactionCanceledException {
  return new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

function named(name: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode } });
}

describe('isTransient', () => {
  it.each([
    'ProvisionedThroughputExceededException',
    'ThrottlingException',
    'Throttling',
    'TooManyRequestsException',
    'RequestLimitExceeded',
    'InternalServerError',
    'InternalFailure',
    'ServiceUnavailable',
    'TimeoutError',
    'RequestTimeout',
  ])('%s is transient', (name) => {
    expect(isTransient(named(name))).toBe(true);
  });

  it.each(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN'])('a network error %s is transient', (code) => {
    expect(isTransient(Object.assign(new Error('socket'), { code }))).toBe(true);
  });

  it('any 5xx answer is transient; a 4xx is not', () => {
    expect(isTransient(named('SomethingNew', 500))).toBe(true);
    expect(isTransient(named('SomethingNew', 503))).toBe(true);
    expect(isTransient(named('ValidationException', 400))).toBe(false);
    expect(isTransient(named('ConditionalCheckFailedException', 400))).toBe(false);
    expect(isTransient(named('ResourceNotFoundException', 400))).toBe(false);
    expect(isTransient(named('AccessDeniedException', 403))).toBe(false);
  });

  it.each(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded'])(
    'a transaction cancelled for %s is transient, unless a condition failed too',
    (code) => {
      expect(isTransient(cancelled('None', code))).toBe(true);
      expect(isTransient(cancelled(code, code, 'None'))).toBe(true);
      expect(isTransient(cancelled('ConditionalCheckFailed', code))).toBe(false);
      expect(transientOr(cancelled('None', code))).toBeInstanceOf(TransientError);
    },
  );

  it('a transaction cancelled for a failed condition or a validation error alone is not transient', () => {
    expect(isTransient(cancelled('None', 'ConditionalCheckFailed'))).toBe(false);
    expect(isTransient(cancelled('ValidationError'))).toBe(false);
    expect(isTransient(cancelled('ItemCollectionSizeLimitExceeded'))).toBe(false);
    expect(isTransient(cancelled())).toBe(false);
  });

  it('a TransientError is transient; domain errors and non-errors are not', () => {
    expect(isTransient(new TransientError())).toBe(true);
    expect(isTransient(new ConflictError('CUSTOMER_BUSY', 'busy'))).toBe(false);
    expect(isTransient(new Error('boom'))).toBe(false);
    expect(isTransient(null)).toBe(false);
    expect(isTransient(undefined)).toBe(false);
    expect(isTransient('ThrottlingException')).toBe(false);
    expect(isTransient(503)).toBe(false);
  });
});

describe('asTransient', () => {
  it('returns the call\'s result', async () => {
    await expect(asTransient(async () => 42)).resolves.toBe(42);
  });

  it('turns a transient failure into a TransientError with the standard message', async () => {
    const error = await asTransient(() => Promise.reject(named('ThrottlingException'))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ status: 503, message: 'The service is briefly unavailable. Nothing was changed; please try again.' });
  });

  it('turns a transaction throttled inside DynamoDB into a TransientError', async () => {
    const error = await asTransient(() => Promise.reject(cancelled('ThrottlingError', 'None'))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
  });

  it('passes other failures, and a TransientError, on unchanged', async () => {
    const permanent = named('ValidationException');
    await expect(asTransient(() => Promise.reject(permanent))).rejects.toBe(permanent);
    const condition = cancelled('ConditionalCheckFailed');
    await expect(asTransient(() => Promise.reject(condition))).rejects.toBe(condition);
    const transient = new TransientError('custom');
    await expect(asTransient(() => Promise.reject(transient))).rejects.toBe(transient);
  });
});
