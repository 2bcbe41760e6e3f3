import { describe, expect, it } from 'vitest';
import { consentRecord, recordFingerprint, signedConsents, type ConsentRecordDocument } from '../../../lambdas/domain/consent-record.ts';
import { chainEvents, type ChainHead } from '../../../lambdas/domain/history-chain.ts';
import type { TransferState } from '../../../lambdas/domain/ports.ts';
import type { ConsentRecord, HistoryEvent, TransferSummary } from '../../../lambdas/domain/transfer.ts';

const TIME_ZONE = 'America/New_York';
const NOW = new Date('2026-03-20T12:00:00.000Z');

const TRANSFER: TransferSummary = {
  id: 'TR-20260310-RECORD0001',
  status: 'SCHEDULED',
  customers: [
    { id: 'C-ACME', name: 'Acme Widgets', domainCount: 2 },
    { id: 'C-BRIGHT', name: 'Brightside Dental', domainCount: 1 },
  ],
  fromPartner: { id: 'P-NORTH', name: 'Northwind IT' },
  toPartner: { id: 'P-SOUTH', name: 'Southgate Networks' },
  requestedDate: '2026-04-01',
  transferDate: '2026-04-01',
  immediate: false,
  acceptedDate: '2026-04-01',
  billing: { fromPartnerNextInvoiceDate: '2026-04-01', toPartnerNextInvoiceDate: '2026-03-15', recommendedDate: '2026-04-01', aligned: true, advice: 'aligned' },
  ticketId: null,
  note: null,
  requestedBy: { kind: 'partner', partnerId: 'P-SOUTH', name: 'bob' },
  createdAt: '2026-03-10T15:00:00.000Z',
  updatedAt: '2026-03-12T09:30:00.000Z',
};

function consent(step: ConsentRecord['step'], decision: ConsentRecord['decision'], signedBy: string): ConsentRecord {
  return {
    step,
    decision,
    signedBy,
    statement: `I, ${signedBy}, ${decision} the customers named ...`,
    transferDate: '2026-04-01',
    immediate: false,
    reason: null,
    via: 'link',
    ticketId: null,
    sourceIp: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (test)',
  };
}

const RELEASE = consent('release', 'release', 'Alice Smith');
const ACCEPTANCE = consent('acceptance', 'accept', 'Bob Jones');

const CONTENT: HistoryEvent[] = [
  { at: '2026-03-10T15:00:00.000Z', type: 'REQUESTED', actor: { kind: 'partner', partnerId: 'P-SOUTH', name: 'bob' }, detail: { customerIds: ['C-ACME', 'C-BRIGHT'] } },
  { at: '2026-03-10T15:00:01.000Z', type: 'APPROVAL_REQUESTED', actor: { kind: 'system', name: 'workflow' }, detail: { step: 'release' } },
  { at: '2026-03-11T10:00:00.000Z', type: 'RELEASED', actor: { kind: 'partner', partnerId: 'P-NORTH', name: 'Alice Smith' }, detail: { ...RELEASE } },
  // A statement on an event that is not a decision is not a consent.
  { at: '2026-03-11T10:00:01.000Z', type: 'NOTE', actor: { kind: 'operator', name: 'ops' }, detail: { statement: 'not a consent', decision: 'release' } },
  { at: '2026-03-12T09:30:00.000Z', type: 'ACCEPTED', actor: { kind: 'partner', partnerId: 'P-SOUTH', name: 'Bob Jones' }, detail: { ...ACCEPTANCE } },
];

function chainedState(content: readonly HistoryEvent[] = CONTENT, transfer: TransferSummary = TRANSFER): Pick<TransferState, 'transfer' | 'chainHead'> {
  const { events, head } = chainEvents(transfer.id, null, content);
  return { transfer: { ...transfer, history: events }, chainHead: head };
}

function record(state: Pick<TransferState, 'transfer' | 'chainHead'> = chainedState(), now = NOW): ConsentRecordDocument {
  return consentRecord(state, { now, timeZone: TIME_ZONE });
}

/** The same value with the keys of every object in reverse order. */
function reversedKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reversedKeys) as T;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([key, member]) => [key, reversedKeys(member)])) as T;
}

describe('consentRecord', () => {
  it('picks the written consents (decision events with a statement), each with its time and the seq of its event', () => {
    const doc = record();
    expect(doc.consents).toEqual([
      { ...RELEASE, at: '2026-03-11T10:00:00.000Z', eventSeq: 3 },
      { ...ACCEPTANCE, at: '2026-03-12T09:30:00.000Z', eventSeq: 5 },
    ]);
    expect(doc.transfer).toEqual(TRANSFER);
    expect(doc.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(doc.chain).toEqual({ state: 'intact', events: 5, head: chainedState().chainHead?.hash });
    expect(doc).toMatchObject({ generatedAt: NOW.toISOString(), timeZone: TIME_ZONE });
  });

  it('a refusal is a consent record too; a decision event without a statement (or decision) is not', () => {
    const decline = { ...consent('release', 'decline', 'Alice Smith'), reasonCode: 'DISPUTE' as const, reason: 'Open dispute' };
    const events: HistoryEvent[] = [
      CONTENT[0] as HistoryEvent,
      { at: '2026-03-11T08:00:00.000Z', type: 'RELEASED', actor: { kind: 'operator' }, detail: { note: 'no statement' } },
      { at: '2026-03-11T09:00:00.000Z', type: 'ACCEPTED', actor: { kind: 'operator' }, detail: { statement: 'no decision' } },
      { at: '2026-03-11T10:00:00.000Z', type: 'DECLINED', actor: { kind: 'partner', partnerId: 'P-NORTH' }, detail: { ...decline } },
    ];
    expect(record(chainedState(events)).consents).toEqual([{ ...decline, at: '2026-03-11T10:00:00.000Z', eventSeq: 4 }]);
  });

  it('consents of events recorded before history was chained have no seq; the record is then unchained', () => {
    const doc = record({ transfer: { ...TRANSFER, history: CONTENT }, chainHead: null });
    expect(doc.consents.map((c) => [c.decision, c.eventSeq])).toEqual([
      ['release', null],
      ['accept', null],
    ]);
    expect(doc.chain).toEqual({ state: 'unchained', events: 5 });
    // A store that keeps no head (undefined) is read as none.
    expect(record({ transfer: { ...TRANSFER, history: CONTENT } }).chain).toEqual({ state: 'unchained', events: 5 });
  });

  it('shows the events in chain order however they were read, with the same fingerprint', () => {
    const state = chainedState();
    const shuffled = { ...state, transfer: { ...state.transfer, history: [...state.transfer.history].reverse() } };
    expect(record(shuffled).events).toEqual(state.transfer.history);
    expect(record(shuffled).fingerprint).toBe(record(state).fingerprint);
  });

  it('reports a broken chain in the record', () => {
    const state = chainedState();
    const history = state.transfer.history.map((e) => (e.seq === 3 ? { ...e, detail: { ...e.detail, signedBy: 'Mallory' } } : e));
    expect(record({ ...state, transfer: { ...state.transfer, history } }).chain).toMatchObject({ state: 'broken', at: { seq: 3, type: 'RELEASED' } });
  });
});

describe('the record\'s fingerprint', () => {
  const base = record();

  it('is the SHA-256 (hex) of the transfer, its consents and its events', () => {
    expect(base.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(recordFingerprint({ transfer: base.transfer, consents: base.consents, events: base.events })).toBe(base.fingerprint);
  });

  it('does not depend on when the copy was made', () => {
    const later = record(chainedState(), new Date('2027-01-01T00:00:00.000Z'));
    expect(later.generatedAt).toBe('2027-01-01T00:00:00.000Z');
    expect(later.fingerprint).toBe(base.fingerprint);
  });

  it('does not depend on the order of keys, in the transfer, the events or the consents', () => {
    const state = chainedState();
    const reordered = { transfer: reversedKeys(state.transfer), chainHead: state.chainHead };
    expect(Object.keys(reordered.transfer)).not.toEqual(Object.keys(state.transfer));
    expect(record(reordered).fingerprint).toBe(base.fingerprint);
    expect(recordFingerprint(reversedKeys({ transfer: base.transfer, consents: base.consents, events: base.events }))).toBe(base.fingerprint);
  });

  it.each<[string, (events: HistoryEvent[]) => HistoryEvent[]]>([
    ['an event\'s time', (events) => events.map((e, i) => (i === 1 ? { ...e, at: '2026-03-10T15:00:02.000Z' } : e))],
    ['an event\'s type', (events) => events.map((e, i) => (i === 3 ? { ...e, type: 'NOTE_EDITED' } : e))],
    ['an event\'s actor', (events) => events.map((e, i) => (i === 0 ? { ...e, actor: { ...e.actor, name: 'mallory' } } : e))],
    ['an event\'s detail', (events) => events.map((e, i) => (i === 1 ? { ...e, detail: { step: 'acceptance' } } : e))],
    ['an event\'s chain fields', (events) => events.map((e, i) => (i === 4 ? { ...e, hash: 'f'.repeat(64) } : e))],
    ['an event more', (events) => [...events, { at: '2026-03-13T00:00:00.000Z', type: 'NOTE', actor: { kind: 'operator' }, detail: {} }]],
    ['an event less', (events) => events.slice(0, 4)],
  ])('changes with %s', (_, change) => {
    const state = chainedState();
    const changed = record({ ...state, transfer: { ...state.transfer, history: change(state.transfer.history) } });
    expect(changed.fingerprint).not.toBe(base.fingerprint);
  });

  it.each<[string, Partial<ConsentRecord>]>([
    ['signer', { signedBy: 'Alice Smyth' }],
    ['statement', { statement: 'I, Alice Smith, release nothing.' }],
    ['date', { transferDate: '2026-05-01' }],
    ['IP address', { sourceIp: '198.51.100.9' }],
    ['user agent', { userAgent: 'curl/8.0' }],
  ])('changes with a consent\'s %s, even re-chained (a record rewritten whole)', (_, change) => {
    const content = CONTENT.map((e) => (e.type === 'RELEASED' ? { ...e, detail: { ...e.detail, ...change } } : e));
    const changed = record(chainedState(content));
    expect(changed.chain.state).toBe('intact');
    expect(changed.consents[0]).toMatchObject(change);
    expect(changed.fingerprint).not.toBe(base.fingerprint);
  });

  it('changes with a consent as given, even over the same events', () => {
    const consents = signedConsents(base.events).map((c, i) => (i === 0 ? { ...c, at: '2026-03-11T10:00:05.000Z' } : c));
    expect(recordFingerprint({ transfer: base.transfer, consents, events: base.events })).not.toBe(base.fingerprint);
  });

  it.each<[string, Partial<TransferSummary>]>([
    ['status', { status: 'COMPLETED' }],
    ['transfer date', { transferDate: '2026-05-01' }],
    ['customer', { customers: [{ id: 'C-ACME', name: 'Acme Widgets', domainCount: 2 }] }],
    ['customer name', { customers: [{ id: 'C-ACME', name: 'Acme Widgets Ltd', domainCount: 2 }, { id: 'C-BRIGHT', name: 'Brightside Dental', domainCount: 1 }] }],
    ['partner', { toPartner: { id: 'P-EAST', name: 'Eastline Cloud' } }],
    ['note', { note: 'changed' }],
    ['updatedAt', { updatedAt: '2026-03-12T09:30:01.000Z' }],
  ])('changes with the transfer\'s %s', (_, change) => {
    const state = chainedState();
    const changed = record({ ...state, transfer: { ...state.transfer, ...change } });
    expect(changed.fingerprint).not.toBe(base.fingerprint);
  });

  it('is the same for the same transfer read twice (it names the chain\'s head through the events)', () => {
    const again = record(chainedState());
    expect(again).toEqual(base);
    const head: ChainHead | null | undefined = chainedState().chainHead;
    expect(again.events.at(-1)?.hash).toBe(head?.hash);
  });
});
