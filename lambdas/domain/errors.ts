/**
 * Errors the domain raises; each maps to one HTTP status in the API layer, and nowhere else.
 * Every class names itself with a string literal: bundles are minified, so a name taken from the
 * class would be a one-letter word in the error type Lambda reports, and no Retry or Catch would match.
 */
export abstract class DomainError extends Error {
  abstract readonly status: number;
  abstract override readonly name: string;
  readonly code: string;
  readonly details?: unknown;

  constructor(code: string, message: string, details?: unknown) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

export class ValidationError extends DomainError {
  override readonly name: string = 'ValidationError';
  readonly status = 400;
  constructor(message: string, details?: unknown) {
    super('INVALID_REQUEST', message, details);
  }
}

export class NotFoundError extends DomainError {
  override readonly name: string = 'NotFoundError';
  readonly status = 404;
  constructor(message = 'Not found.') {
    super('NOT_FOUND', message);
  }
}

export class ForbiddenError extends DomainError {
  override readonly name: string = 'ForbiddenError';
  readonly status = 403;
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

export class ConflictError extends DomainError {
  override readonly name: string = 'ConflictError';
  readonly status = 409;
  constructor(code: string, message: string, details?: unknown) {
    super(code, message, details);
  }
}

export class NotAllowedError extends DomainError {
  override readonly name: string = 'NotAllowedError';
  readonly status = 422;
  constructor(code: string, message: string, details?: unknown) {
    super(code, message, details);
  }
}

/**
 * A dependency was briefly unavailable; nothing was written and the same request may be sent again.
 * Its name is the error the state machine retries with backoff.
 */
export class TransientError extends DomainError {
  /** The error the state machine retries (WORKFLOW_ERRORS.transient). */
  override readonly name: string = 'TransientError';
  readonly status = 503;
  constructor(message = 'The service is briefly unavailable. Nothing was changed; please try again.') {
    super('TRY_AGAIN', message);
  }
}

/**
 * A decision was recorded, but handing it to the workflow failed for a transient reason. Sending the
 * same decision again finishes the job (it is not recorded twice).
 */
export class DecisionNotYetDelivered extends TransientError {
  override readonly name: string = 'DecisionNotYetDelivered';
  override readonly code = 'DECISION_RECORDED';
  constructor() {
    super('Your decision is recorded, but it could not be passed on to the workflow yet. Send the same decision again in a moment to finish; it will not be recorded twice.');
  }
}

/** Raised by a workflow step when the transfer was cancelled; the state machine ends quietly on it. */
export class TransferCancelled extends Error {
  override readonly name = 'TransferCancelled';
}

/** Raised when re-homing ended with customers that could not be moved; leads to the failure path. */
export class RehomeFailed extends Error {
  override readonly name = 'RehomeFailed';
}
