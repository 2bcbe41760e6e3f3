import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../../lambdas/domain/errors.ts';
import {
  assertTransition,
  canTransition,
  isTerminal,
  statusesBefore,
  STEP_STATUS,
  TRANSFER_STATUSES,
  type TransferStatus,
} from '../../../lambdas/domain/transfer.ts';

const TERMINAL: TransferStatus[] = ['COMPLETED', 'DECLINED', 'EXPIRED', 'CANCELLED', 'FAILED'];
const ACTIVE: TransferStatus[] = ['AWAITING_RELEASE', 'AWAITING_ACCEPTANCE', 'SCHEDULED', 'IN_PROGRESS'];

describe('transfer statuses', () => {
  it('are the nine of the design, in order', () => {
    expect(TRANSFER_STATUSES).toEqual([...ACTIVE, ...TERMINAL]);
  });

  it('terminal ones are exactly COMPLETED, DECLINED, EXPIRED, CANCELLED, FAILED', () => {
    expect(TRANSFER_STATUSES.filter((s) => isTerminal(s))).toEqual(TERMINAL);
  });

  it.each(TERMINAL)('%s never changes again', (from) => {
    for (const to of TRANSFER_STATUSES) expect(canTransition(from, to)).toBe(false);
    expect(() => assertTransition(from, 'AWAITING_RELEASE')).toThrow(ConflictError);
  });

  it('allows exactly the transitions of the design', () => {
    const allowed = TRANSFER_STATUSES.flatMap((from) =>
      TRANSFER_STATUSES.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`),
    );
    expect(allowed.sort()).toEqual(
      [
        'AWAITING_RELEASE->AWAITING_ACCEPTANCE',
        'AWAITING_RELEASE->SCHEDULED',
        'AWAITING_RELEASE->DECLINED',
        'AWAITING_RELEASE->EXPIRED',
        'AWAITING_RELEASE->CANCELLED',
        'AWAITING_ACCEPTANCE->SCHEDULED',
        'AWAITING_ACCEPTANCE->DECLINED',
        'AWAITING_ACCEPTANCE->EXPIRED',
        'AWAITING_ACCEPTANCE->CANCELLED',
        'SCHEDULED->IN_PROGRESS',
        'SCHEDULED->CANCELLED',
        'SCHEDULED->FAILED',
        'IN_PROGRESS->COMPLETED',
        'IN_PROGRESS->FAILED',
      ].sort(),
    );
  });

  it('re-homing that has begun cannot be cancelled, and nothing goes backwards', () => {
    expect(canTransition('IN_PROGRESS', 'CANCELLED')).toBe(false);
    expect(canTransition('SCHEDULED', 'AWAITING_ACCEPTANCE')).toBe(false);
    expect(canTransition('AWAITING_ACCEPTANCE', 'AWAITING_RELEASE')).toBe(false);
    expect(canTransition('AWAITING_RELEASE', 'AWAITING_RELEASE')).toBe(false);
    expect(canTransition('AWAITING_RELEASE', 'COMPLETED')).toBe(false);
  });

  it('statusesBefore lists where a status can be reached from', () => {
    expect(statusesBefore('SCHEDULED')).toEqual(['AWAITING_RELEASE', 'AWAITING_ACCEPTANCE']);
    expect(statusesBefore('COMPLETED')).toEqual(['IN_PROGRESS']);
    expect(statusesBefore('CANCELLED')).toEqual(['AWAITING_RELEASE', 'AWAITING_ACCEPTANCE', 'SCHEDULED']);
    expect(statusesBefore('AWAITING_RELEASE')).toEqual([]);
  });

  it('assertTransition throws a 409 INVALID_STATE naming both statuses', () => {
    expect(() => assertTransition('AWAITING_RELEASE', 'SCHEDULED')).not.toThrow();
    let caught: unknown;
    try {
      assertTransition('COMPLETED', 'CANCELLED');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConflictError);
    expect(caught).toMatchObject({ status: 409, code: 'INVALID_STATE', message: 'The transfer is COMPLETED; it cannot become CANCELLED.' });
  });

  it('each waiting step has its status', () => {
    expect(STEP_STATUS).toEqual({ release: 'AWAITING_RELEASE', acceptance: 'AWAITING_ACCEPTANCE' });
  });
});
