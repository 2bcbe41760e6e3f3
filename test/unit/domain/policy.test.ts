import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lambdas/domain/errors.ts';
import { chooseDate, DEFAULT_POLICY } from '../../../lambdas/domain/policy.ts';

const TODAY = '2026-03-10';

function rejection(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('DEFAULT_POLICY', () => {
  it('holds the design\'s defaults', () => {
    expect(DEFAULT_POLICY).toEqual({
      timeZone: 'America/New_York',
      approvalWindowSeconds: 1_209_600,
      reminderIntervalSeconds: 259_200,
      lockDays: 30,
      maxDaysAhead: 180,
      maxCustomersPerRequest: 50,
    });
  });
});

describe('chooseDate', () => {
  it('"immediate" means today, flagged immediate', () => {
    expect(chooseDate('immediate', TODAY, DEFAULT_POLICY, 'transferDate')).toEqual({ transferDate: TODAY, immediate: true });
  });

  it('today and the 180th day ahead are allowed, not immediate', () => {
    expect(chooseDate(TODAY, TODAY, DEFAULT_POLICY, 'transferDate')).toEqual({ transferDate: TODAY, immediate: false });
    expect(chooseDate('2026-09-06', TODAY, DEFAULT_POLICY, 'transferDate')).toEqual({ transferDate: '2026-09-06', immediate: false });
  });

  it('a past date is refused with a message naming the earliest date', () => {
    const error = rejection(() => chooseDate('2026-03-09', TODAY, DEFAULT_POLICY, 'requestedDate'));
    expect(error.status).toBe(400);
    expect(error.message).toBe('requestedDate 2026-03-09 is in the past; use 2026-03-10 or later, or "immediate".');
    expect(error.details).toEqual({ field: 'requestedDate', earliest: TODAY });
  });

  it('a date more than 180 days ahead is refused with a message naming the latest date', () => {
    const error = rejection(() => chooseDate('2026-09-07', TODAY, DEFAULT_POLICY, 'transferDate'));
    expect(error.status).toBe(400);
    expect(error.message).toBe('transferDate 2026-09-07 is more than 180 days ahead; the latest is 2026-09-06.');
    expect(error.details).toEqual({ field: 'transferDate', latest: '2026-09-06' });
  });

  it('follows a deployment\'s own horizon', () => {
    const policy = { ...DEFAULT_POLICY, maxDaysAhead: 10 };
    expect(chooseDate('2026-03-20', TODAY, policy, 'transferDate').transferDate).toBe('2026-03-20');
    expect(rejection(() => chooseDate('2026-03-21', TODAY, policy, 'transferDate')).message).toBe(
      'transferDate 2026-03-21 is more than 10 days ahead; the latest is 2026-03-20.',
    );
  });
});
