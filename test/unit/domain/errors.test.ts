import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  DecisionNotYetDelivered,
  ForbiddenError,
  NotAllowedError,
  NotFoundError,
  RehomeFailed,
  TransferCancelled,
  TransientError,
  ValidationError,
} from '../../../lambdas/domain/errors.ts';

describe('domain errors', () => {
  it('each names itself with a literal (the error type Lambda reports and the state machine matches), with its status and code', () => {
    expect(
      [
        new ValidationError('bad'),
        new NotFoundError(),
        new ForbiddenError('no'),
        new ConflictError('LOCKED', 'locked'),
        new NotAllowedError('SAME_PARTNER', 'same'),
        new TransientError(),
        new DecisionNotYetDelivered(),
      ].map((error) => [error.name, error.status, error.code]),
    ).toEqual([
      ['ValidationError', 400, 'INVALID_REQUEST'],
      ['NotFoundError', 404, 'NOT_FOUND'],
      ['ForbiddenError', 403, 'FORBIDDEN'],
      ['ConflictError', 409, 'LOCKED'],
      ['NotAllowedError', 422, 'SAME_PARTNER'],
      ['TransientError', 503, 'TRY_AGAIN'],
      ['DecisionNotYetDelivered', 503, 'DECISION_RECORDED'],
    ]);
    expect([new TransferCancelled('x').name, new RehomeFailed('x').name]).toEqual(['TransferCancelled', 'RehomeFailed']);
  });

  it('the default messages say what happened and what to do', () => {
    expect(new NotFoundError().message).toBe('Not found.');
    expect(new TransientError().message).toBe('The service is briefly unavailable. Nothing was changed; please try again.');
    expect(new DecisionNotYetDelivered()).toBeInstanceOf(TransientError);
  });
});
