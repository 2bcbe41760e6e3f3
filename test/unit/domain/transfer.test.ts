import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../../lambdas/domain/errors.ts';
import {
  assertTransition,
  canTransition,
  isTerminal,
  statusesBefore,
  SNAPSHOT_MAX_DOMAIN_BYTES,
  SNAPSHOT_MAX_DOMAINS,
  STEP_STATUS,
  summaryOf,
  TRANSFER_STATUSES,
  transferCustomer,
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

describe('a transfer\'s snapshot of a customer\'s domains', () => {
  const customer = { id: 'C-1', name: 'One' };
  const names = (n: number, length = 20) => Array.from({ length: n }, (_, i) => `${String(i).padStart(6, '0')}${'a'.repeat(length - 14)}.example`);

  it('keeps every domain of a customer below the caps, in order', () => {
    expect(transferCustomer(customer, names(400), 400)).toEqual({ ...customer, domainCount: 400, domains: names(400), domainsTruncated: false });
    expect(transferCustomer(customer, [], 0)).toEqual({ ...customer, domainCount: 0, domains: [], domainsTruncated: false });
  });

  it('keeps the first 1,000 names and the count of all, flagged as cut', () => {
    const snapshot = transferCustomer(customer, names(1500), 4000);
    expect(SNAPSHOT_MAX_DOMAINS).toBe(1000);
    expect(snapshot.domains).toEqual(names(1000));
    expect(snapshot).toMatchObject({ domainCount: 4000, domainsTruncated: true });
  });

  it('keeps at most 64 KiB of names (as JSON), so that 50 customers stay far below 6 MB whatever their names', () => {
    const snapshot = transferCustomer(customer, names(1000, 253), 1000);
    const bytes = Buffer.byteLength(JSON.stringify(snapshot.domains));
    expect(SNAPSHOT_MAX_DOMAIN_BYTES).toBe(65_536);
    expect(bytes).toBeLessThanOrEqual(SNAPSHOT_MAX_DOMAIN_BYTES);
    expect(bytes).toBeGreaterThan(SNAPSHOT_MAX_DOMAIN_BYTES - 300);
    expect(snapshot.domains).toEqual(names(snapshot.domains.length, 253));
    expect(snapshot).toMatchObject({ domainCount: 1000, domainsTruncated: true });
    // Multi-byte names count by their UTF-8 bytes.
    const wide = transferCustomer(customer, Array.from({ length: 1000 }, (_, i) => `${i}${'ü'.repeat(100)}.example`), 1000);
    expect(Buffer.byteLength(JSON.stringify(wide.domains))).toBeLessThanOrEqual(SNAPSHOT_MAX_DOMAIN_BYTES);
  });

  it('a summary keeps id, name and count only', () => {
    const snapshot = transferCustomer(customer, names(3), 3);
    expect(summaryOf({ customers: [snapshot] } as never).customers).toEqual([{ id: 'C-1', name: 'One', domainCount: 3 }]);
  });
});
