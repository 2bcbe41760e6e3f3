import { createHash } from 'node:crypto';
import type { BillingAdvice } from '../../../lambdas/domain/billing.ts';
import { acceptanceStatement, releaseStatement } from '../../../lambdas/domain/consent.ts';
import type { ChainVerdict, ConsentRecordDocument, SignedConsent } from '../../../lambdas/domain/consent-record.ts';
import type { Actor, HistoryEvent, TransferSummary } from '../../../lambdas/domain/transfer.ts';

export const TIME_ZONE = 'America/New_York';
export const FINGERPRINT = '9f2c4e1ab37d0856c1e4f7a2b9d03e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3';

const RELEASE_SIGNER = 'Dana Whitfield';
const ACCEPTANCE_SIGNER = 'Priya Raman';
const RELEASE_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const PORTAL_UA = 'southgate-portal/4.2.1 (+https://portal.southgate.example)';

const SYSTEM: Actor = { kind: 'system', name: 'workflow' };

/** The billing advice on the day both partners signed: 2027-01-01 is Northwind's invoice date. */
export const ALIGNED_BILLING: BillingAdvice = {
  fromPartnerNextInvoiceDate: '2027-01-01',
  toPartnerNextInvoiceDate: '2026-12-15',
  recommendedDate: '2027-01-01',
  aligned: true,
  advice: '2027-01-01 is an invoice date of Northwind IT: the customer is billed once.',
};

/** A completed transfer of two customers from Northwind IT to Southgate Networks. */
export function recordTransfer(overrides: Partial<TransferSummary> = {}): TransferSummary {
  return {
    id: 'tr-20261201-7f3a',
    status: 'COMPLETED',
    customers: [
      { id: 'cust-acme', name: 'Acme Widgets Ltd', domainCount: 3 },
      { id: 'cust-brightside', name: 'Brightside Dental', domainCount: 1 },
    ],
    fromPartner: { id: 'partner-north', name: 'Northwind IT' },
    toPartner: { id: 'partner-south', name: 'Southgate Networks' },
    requestedDate: '2027-01-01',
    transferDate: '2027-01-01',
    immediate: false,
    acceptedDate: '2027-01-01',
    outcomes: [
      { customerId: 'cust-acme', outcome: 'moved' },
      { customerId: 'cust-brightside', outcome: 'moved' },
    ],
    billing: ALIGNED_BILLING,
    ticketId: null,
    note: 'Customer asked to move at the start of the year.',
    requestedBy: { kind: 'partner', partnerId: 'partner-south', name: 'priya.raman@southgate.example' },
    createdAt: '2026-12-01T14:02:11.000Z',
    updatedAt: '2027-01-01T05:00:41.000Z',
    ...overrides,
  };
}

/** The release, signed through the emailed link on the approval page. */
export function releaseConsent(transfer: TransferSummary, overrides: Partial<SignedConsent> = {}): SignedConsent {
  const signedBy = overrides.signedBy ?? RELEASE_SIGNER;
  return {
    step: 'release',
    decision: 'release',
    signedBy,
    statement: releaseStatement({ ...transfer, transferDate: '2027-01-01', immediate: false, signedBy }),
    transferDate: '2027-01-01',
    immediate: false,
    reasonCode: null,
    reason: null,
    billing: ALIGNED_BILLING,
    via: 'link',
    ticketId: null,
    sourceIp: '203.0.113.24',
    userAgent: RELEASE_UA,
    at: '2026-12-02T22:05:37.000Z',
    eventSeq: 3,
    ...overrides,
  };
}

/** The acceptance, given by the new partner's portal through the API. */
export function acceptanceConsent(transfer: TransferSummary, overrides: Partial<SignedConsent> = {}): SignedConsent {
  const signedBy = overrides.signedBy ?? ACCEPTANCE_SIGNER;
  return {
    step: 'acceptance',
    decision: 'accept',
    signedBy,
    statement: acceptanceStatement({ ...transfer, transferDate: '2027-01-01', immediate: false, signedBy }),
    transferDate: '2027-01-01',
    immediate: false,
    reasonCode: null,
    reason: null,
    billing: ALIGNED_BILLING,
    via: 'api',
    ticketId: null,
    sourceIp: '2001:db8:4f::17',
    userAgent: PORTAL_UA,
    at: '2026-12-03T15:41:09.000Z',
    eventSeq: 5,
    ...overrides,
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Chains events as the store does in spirit: each names the hash of the one before (64 hex each). */
export function chained(events: readonly HistoryEvent[]): HistoryEvent[] {
  let prevHash = '0'.repeat(64);
  return events.map((event, index) => {
    const seq = index + 1;
    const { seq: _seq, prevHash: _prev, hash: _hash, ...body } = event;
    const hash = sha256(JSON.stringify({ seq, prevHash, ...body }));
    const linked = { ...body, seq, prevHash, hash };
    prevHash = hash;
    return linked;
  });
}

function consentDetail(consent: SignedConsent): Record<string, unknown> {
  const { at: _at, eventSeq: _seq, ...detail } = consent;
  return { ...detail };
}

/** The history of the completed transfer: eleven events, hash-chained. */
export function recordHistory(transfer: TransferSummary, release: SignedConsent, acceptance: SignedConsent): HistoryEvent[] {
  const recipientsNorth = ['transfers@northwind.example'];
  const recipientsSouth = ['ops@southgate.example', 'priya.raman@southgate.example'];
  return chained([
    {
      at: transfer.createdAt,
      type: 'REQUESTED',
      actor: transfer.requestedBy,
      detail: {
        customerIds: transfer.customers.map((c) => c.id),
        toPartnerId: transfer.toPartner.id,
        requestedDate: transfer.requestedDate,
        ticketId: null,
        note: transfer.note,
        sourceIp: '2001:db8:4f::17',
        userAgent: PORTAL_UA,
      },
    },
    {
      at: '2026-12-01T14:02:13.000Z',
      type: 'APPROVAL_REQUESTED',
      actor: SYSTEM,
      detail: { step: 'release', partnerId: 'partner-north', recipients: recipientsNorth, expiresAt: '2026-12-08T14:02:13.000Z' },
    },
    { at: release.at, type: 'RELEASED', actor: { kind: 'partner', partnerId: 'partner-north', name: release.signedBy }, detail: consentDetail(release) },
    {
      at: '2026-12-02T22:05:38.000Z',
      type: 'APPROVAL_REQUESTED',
      actor: SYSTEM,
      detail: { step: 'acceptance', partnerId: 'partner-south', recipients: recipientsSouth, expiresAt: '2026-12-09T22:05:38.000Z' },
    },
    {
      at: acceptance.at,
      type: 'ACCEPTED',
      actor: { kind: 'partner', partnerId: 'partner-south', name: 'priya.raman@southgate.example' },
      detail: consentDetail(acceptance),
    },
    {
      at: '2026-12-03T15:41:11.000Z',
      type: 'SCHEDULED',
      actor: SYSTEM,
      detail: {
        transferDate: '2027-01-01',
        immediate: false,
        wakeAt: '2027-01-01T05:00:00.000Z',
        timeZone: TIME_ZONE,
        escalatedTo: 'devops@mailshield.example',
      },
    },
    { at: '2027-01-01T05:00:02.000Z', type: 'REHOME_STARTED', actor: SYSTEM, detail: {} },
    {
      at: '2027-01-01T05:00:03.000Z',
      type: 'CUSTOMER_MOVED',
      actor: SYSTEM,
      detail: { customerId: 'cust-acme', fromPartnerId: 'partner-north', toPartnerId: 'partner-south', lockedUntil: '2027-03-31' },
    },
    {
      at: '2027-01-01T05:00:04.000Z',
      type: 'CUSTOMER_MOVED',
      actor: SYSTEM,
      detail: { customerId: 'cust-brightside', fromPartnerId: 'partner-north', toPartnerId: 'partner-south', lockedUntil: '2027-03-31' },
    },
    {
      at: '2027-01-01T05:00:05.000Z',
      type: 'COMPLETED',
      actor: SYSTEM,
      detail: { outcomes: transfer.outcomes, lockedUntil: '2027-03-31' },
    },
    {
      at: '2027-01-01T05:00:41.000Z',
      type: 'CONFIRMATIONS_SENT',
      actor: SYSTEM,
      detail: { previousPartner: recipientsNorth, newPartner: recipientsSouth },
    },
  ]);
}

function intact(events: readonly HistoryEvent[]): ChainVerdict {
  return { state: 'intact', events: events.length, head: events.at(-1)?.hash ?? '' };
}

/**
 * The consent record of a completed transfer: release by link (with billing advice), acceptance by
 * API, eleven chained events, an intact chain.
 */
export function recordDocument(overrides: Partial<ConsentRecordDocument> = {}): ConsentRecordDocument {
  const transfer = overrides.transfer ?? recordTransfer();
  const release = releaseConsent(transfer);
  const acceptance = acceptanceConsent(transfer);
  const events = overrides.events ?? recordHistory(transfer, release, acceptance);
  return {
    transfer,
    consents: [release, acceptance],
    events,
    chain: intact(events),
    fingerprint: FINGERPRINT,
    generatedAt: '2027-01-04T16:20:00.000Z',
    timeZone: TIME_ZONE,
    ...overrides,
  };
}

/** A long history: the record's eleven events, then reminders and extensions up to `count` events. */
export function longHistory(count: number): HistoryEvent[] {
  const document = recordDocument();
  const events: HistoryEvent[] = [...document.events];
  for (let index = events.length; index < count; index += 1) {
    const at = new Date(Date.parse('2027-01-02T00:00:00.000Z') + index * 3_600_000).toISOString();
    events.push(
      index % 2 === 0
        ? {
            at,
            type: 'REMINDER_SENT',
            actor: { kind: 'operator', name: 'ops@mailshield.example' },
            detail: { step: 'acceptance', partnerId: 'partner-south', recipients: ['ops@southgate.example'], expiresAt: at, ticketId: `SUP-${index}` },
          }
        : {
            at,
            type: 'WINDOW_EXTENDED',
            actor: { kind: 'operator', name: 'ops@mailshield.example' },
            detail: { step: 'acceptance', from: at, to: at, days: 2, ticketId: `SUP-${index}` },
          },
    );
  }
  return chained(events);
}
