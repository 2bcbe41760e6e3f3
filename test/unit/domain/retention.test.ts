import { describe, expect, it } from 'vitest';
import type { TransferEvent } from '../../../lambdas/domain/events.ts';
import { CLOSED_STATUSES, closedBy, DEFAULT_RETENTION_DAYS, isClosed, retentionExpiry, retireClosed, type RetentionPort } from '../../../lambdas/domain/retention.ts';
import { summaryOf, type TransferStatus, type TransferSummary } from '../../../lambdas/domain/transfer.ts';
import { sampleTransfer } from '../adapters/support.ts';

const SUMMARY: TransferSummary = summaryOf(sampleTransfer());

function eventOf(transferId: string, status: TransferStatus, occurredAt: string): TransferEvent {
  return { id: `evt_${transferId}_${occurredAt}`, type: 'transfer.cancelled', occurredAt, transferId, transfer: { ...SUMMARY, id: transferId, status } };
}

const epoch = (iso: string) => Date.parse(iso) / 1000;

describe('retention', () => {
  it('keeps a closed transfer seven years by default: 2,557 days', () => {
    expect(DEFAULT_RETENTION_DAYS).toBe(2557);
  });

  it('counts completed, declined, expired and cancelled transfers as closed, and never a failed one (it may be redriven) or one under way', () => {
    expect([...CLOSED_STATUSES].sort()).toEqual(['CANCELLED', 'COMPLETED', 'DECLINED', 'EXPIRED']);
    for (const status of ['AWAITING_RELEASE', 'AWAITING_ACCEPTANCE', 'SCHEDULED', 'IN_PROGRESS', 'FAILED'] as const) expect(isClosed(status), status).toBe(false);
    for (const status of CLOSED_STATUSES) expect(isClosed(status), status).toBe(true);
  });

  it('expires a transfer exactly the retention days after it closed, in whole epoch seconds', () => {
    expect(retentionExpiry('2026-03-10T17:00:00.000Z', 1)).toBe(epoch('2026-03-11T17:00:00.000Z'));
    expect(retentionExpiry('2026-03-10T17:00:00.999Z', 2557)).toBe(epoch('2026-03-10T17:00:00.000Z') + 2557 * 86_400);
    expect(() => retentionExpiry('yesterday', 1)).toThrow('"yesterday" is not an instant.');
  });

  it('takes each closed transfer once, by its earliest closing event, and leaves open transfers out', () => {
    const closed = closedBy(
      [
        eventOf('TR-A', 'CANCELLED', '2026-03-10T18:00:00.000Z'),
        eventOf('TR-A', 'CANCELLED', '2026-03-10T17:00:00.000Z'),
        eventOf('TR-A', 'CANCELLED', '2026-03-10T19:00:00.000Z'),
        eventOf('TR-B', 'SCHEDULED', '2026-03-10T17:00:00.000Z'),
        eventOf('TR-C', 'FAILED', '2026-03-10T17:00:00.000Z'),
        eventOf('TR-D', 'COMPLETED', '2026-03-12T00:00:00.000Z'),
      ],
      10,
    );
    expect(closed).toEqual(
      new Map([
        ['TR-A', epoch('2026-03-20T17:00:00.000Z')],
        ['TR-D', epoch('2026-03-22T00:00:00.000Z')],
      ]),
    );
  });

  it('retires each closed transfer through the port and answers how many items were stamped in all', async () => {
    const calls: [string, number][] = [];
    const port: RetentionPort = {
      retire: (transferId, expiresAtEpoch) => {
        calls.push([transferId, expiresAtEpoch]);
        return Promise.resolve(transferId === 'TR-A' ? 7 : 4);
      },
    };
    const events = [eventOf('TR-A', 'DECLINED', '2026-03-10T17:00:00.000Z'), eventOf('TR-B', 'AWAITING_ACCEPTANCE', '2026-03-10T17:00:00.000Z'), eventOf('TR-D', 'EXPIRED', '2026-03-10T17:00:00.000Z')];
    expect(await retireClosed(events, 1, port)).toBe(11);
    expect(calls).toEqual([
      ['TR-A', epoch('2026-03-11T17:00:00.000Z')],
      ['TR-D', epoch('2026-03-11T17:00:00.000Z')],
    ]);
    expect(await retireClosed([], 1, port)).toBe(0);
  });
});
