import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, eventsOf } from '../../../lambdas/domain/events.ts';
import { TRANSFER_STATUSES, type HistoryEvent, type TransferStatus, type TransferSummaryWithHistory } from '../../../lambdas/domain/transfer.ts';

const AT = '2026-03-10T16:00:00.000Z';

const TRANSFER: TransferSummaryWithHistory = {
  id: 'TR-20260310-EVENTS0001',
  status: 'AWAITING_RELEASE',
  customers: [{ id: 'C-ACME', name: 'Acme Widgets', domainCount: 3 }],
  fromPartner: { id: 'P-NORTH', name: 'Northwind IT' },
  toPartner: { id: 'P-SOUTH', name: 'Southgate Networks' },
  requestedDate: null,
  transferDate: null,
  immediate: false,
  acceptedDate: null,
  billing: { fromPartnerNextInvoiceDate: '2026-04-01', toPartnerNextInvoiceDate: '2026-03-15', recommendedDate: '2026-04-01', aligned: null, advice: 'a' },
  ticketId: null,
  note: null,
  requestedBy: { kind: 'partner', partnerId: 'P-SOUTH', name: 'bob@southgate.example' },
  createdAt: AT,
  updatedAt: AT,
  history: [{ at: AT, type: 'REQUESTED', actor: { kind: 'system' }, detail: { sourceIp: '203.0.113.7' } }],
};

const event = (type: string): HistoryEvent => ({ at: AT, type, actor: { kind: 'partner', partnerId: 'P-NORTH' }, detail: {} });

describe('the events a change emits', () => {
  it('a request with both consents up front: requested, released, accepted, in the order written', () => {
    const events = eventsOf({ history: [event('REQUESTED'), event('RELEASED'), event('ACCEPTED')], transfer: TRANSFER, at: AT });
    expect(events.map((e) => e.type)).toEqual(['transfer.requested', 'transfer.released', 'transfer.accepted']);
  });

  it('an acceptance that schedules the transfer: accepted, then scheduled', () => {
    const events = eventsOf({ history: [event('ACCEPTED')], enteredStatus: 'SCHEDULED', transfer: { ...TRANSFER, status: 'SCHEDULED' }, at: AT });
    expect(events.map((e) => e.type)).toEqual(['transfer.accepted', 'transfer.scheduled']);
  });

  it('a decline is told once, though it is both a consent refused and a status entered', () => {
    const events = eventsOf({ history: [event('DECLINED')], enteredStatus: 'DECLINED', transfer: TRANSFER, at: AT });
    expect(events.map((e) => e.type)).toEqual(['transfer.declined']);
  });

  it('each status entered is told by its own type; waiting for the acceptance and re-homing under way are not', () => {
    const told = Object.fromEntries(
      TRANSFER_STATUSES.map((status: TransferStatus) => [status, eventsOf({ history: [event('NOTE')], enteredStatus: status, transfer: TRANSFER, at: AT }).map((e) => e.type)]),
    );
    expect(told).toEqual({
      AWAITING_RELEASE: [],
      AWAITING_ACCEPTANCE: [],
      SCHEDULED: ['transfer.scheduled'],
      IN_PROGRESS: [],
      COMPLETED: ['transfer.completed'],
      DECLINED: ['transfer.declined'],
      EXPIRED: ['transfer.expired'],
      CANCELLED: ['transfer.cancelled'],
      FAILED: ['transfer.failed'],
    });
    // Every type is emitted by some change.
    const emitted = new Set([...Object.values(told).flat(), 'transfer.requested', 'transfer.released', 'transfer.accepted']);
    expect([...emitted].sort()).toEqual([...EVENT_TYPES].sort());
  });

  it('reminders, extensions and other bookkeeping emit nothing', () => {
    for (const type of ['APPROVAL_REQUESTED', 'REMINDER_SENT', 'EXTENDED', 'CUSTOMER_MOVED', 'NOTICE_FAILED']) {
      expect(eventsOf({ history: [event(type)], transfer: TRANSFER, at: AT })).toEqual([]);
    }
  });

  it('carries a unique id, the change\'s time and the transfer\'s summary: never its history', () => {
    const [first, second] = eventsOf({ history: [event('REQUESTED'), event('RELEASED')], transfer: TRANSFER, at: AT });
    expect(first?.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(first?.id).not.toBe(second?.id);
    expect(first).toMatchObject({ occurredAt: AT, transferId: TRANSFER.id });
    expect(first?.transfer).not.toHaveProperty('history');
    expect(JSON.stringify(first)).not.toContain('203.0.113.7');
    expect(first?.transfer.customers).toEqual([{ id: 'C-ACME', name: 'Acme Widgets', domainCount: 3 }]);
  });
});
