/**
 * The OpenAPI document's examples: one transfer's life told through the requests and answers of
 * each route. The contract test validates every one against its schema, so they cannot drift either.
 */

const TRANSFER_ID = 'TR-20270210-7K2M9QH4XB3D5FZW';
const REQUESTED_AT = '2027-02-10T14:03:27.412Z';
const RELEASED_AT = '2027-02-11T09:15:02.004Z';

const acme = { id: 'P-ACME', name: 'Acme IT' };
const blue = { id: 'P-BLUE', name: 'Blue Harbor Networks' };
const requester = { kind: 'partner', partnerId: 'P-ACME', name: 'alice@acme-it.example' } as const;

const billing = {
  fromPartnerNextInvoiceDate: '2027-03-01',
  toPartnerNextInvoiceDate: '2027-02-15',
  recommendedDate: '2027-03-01',
  aligned: true,
  advice: '2027-03-01 is an invoice date of Acme IT: the customer is billed once.',
};

export const createTransferRequest = {
  customerIds: ['C-1001'],
  toPartnerId: 'P-BLUE',
  requestedDate: '2027-03-01',
  ticketId: 'SUP-4711',
  note: 'Customer asked to move to Blue Harbor from March.',
};

const requested = {
  at: REQUESTED_AT,
  type: 'REQUESTED',
  actor: requester,
  detail: {
    customerIds: ['C-1001'],
    toPartnerId: 'P-BLUE',
    requestedDate: '2027-03-01',
    ticketId: 'SUP-4711',
    note: 'Customer asked to move to Blue Harbor from March.',
    sourceIp: '203.0.113.24',
    userAgent: 'acme-portal/3.2',
  },
  seq: 1,
  prevHash: '5d41402abc4b2a76b9719d911017c592ae1e4f1f6a5a8c1d0e3b9f2c7d6e5a41',
  hash: '9f2c1a7b3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b',
};

const customer = {
  id: 'C-1001',
  name: 'Northwind Traders',
  domainCount: 2,
  domains: ['northwind.example', 'northwind-mail.example'],
  domainsTruncated: false,
};

export const filedTransfer = {
  id: TRANSFER_ID,
  status: 'AWAITING_RELEASE',
  customers: [customer],
  fromPartner: acme,
  toPartner: blue,
  requestedDate: '2027-03-01',
  transferDate: null,
  immediate: false,
  acceptedDate: null,
  billing,
  ticketId: 'SUP-4711',
  note: 'Customer asked to move to Blue Harbor from March.',
  requestedBy: requester,
  createdAt: REQUESTED_AT,
  updatedAt: REQUESTED_AT,
  history: [requested],
};

export const releaseRequest = { decision: 'release', transferDate: '2027-03-01', signedBy: 'Alice Smith' };

export const releasedTransfer = {
  ...filedTransfer,
  status: 'AWAITING_ACCEPTANCE',
  transferDate: '2027-03-01',
  updatedAt: RELEASED_AT,
  history: [
    requested,
    {
      at: RELEASED_AT,
      type: 'RELEASED',
      actor: { kind: 'partner', partnerId: 'P-ACME', name: 'alice@acme-it.example' },
      detail: {
        step: 'release',
        decision: 'release',
        signedBy: 'Alice Smith',
        statement: 'I, Alice Smith, on behalf of Acme IT, release Northwind Traders (C-1001) to Blue Harbor Networks on 2027-03-01.',
        transferDate: '2027-03-01',
        immediate: false,
        reasonCode: null,
        reason: null,
        via: 'api',
        ticketId: null,
        sourceIp: '203.0.113.24',
        userAgent: 'acme-portal/3.2',
      },
      seq: 2,
      prevHash: '9f2c1a7b3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b',
      hash: '0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d',
    },
  ],
};

export const declineRequest = {
  decision: 'decline',
  reasonCode: 'CONTRACT_IN_FORCE',
  reason: 'The customer is under contract with us until June.',
  signedBy: 'Bob Jones',
};

export const acceptRequest = { decision: 'accept', signedBy: 'Bob Jones' };

export const scheduledTransfer = {
  ...releasedTransfer,
  status: 'SCHEDULED',
  acceptedDate: '2027-03-01',
  updatedAt: '2027-02-11T16:40:55.120Z',
  history: [
    ...releasedTransfer.history,
    {
      at: '2027-02-11T16:40:55.120Z',
      type: 'ACCEPTED',
      actor: { kind: 'partner', partnerId: 'P-BLUE', name: 'bob@blueharbor.example' },
      detail: { step: 'acceptance', decision: 'accept', signedBy: 'Bob Jones', via: 'api' },
      seq: 3,
      prevHash: '0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d',
      hash: '7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b',
    },
  ],
};

export const cancelRequest = { reason: 'The customer changed its mind.' };

export const cancelledTransfer = {
  ...filedTransfer,
  status: 'CANCELLED',
  updatedAt: '2027-02-12T08:00:00.000Z',
  history: [
    requested,
    {
      at: '2027-02-12T08:00:00.000Z',
      type: 'CANCELLED',
      actor: requester,
      detail: { reason: 'The customer changed its mind.', ticketId: null, sourceIp: '203.0.113.24', userAgent: 'acme-portal/3.2' },
      seq: 2,
      prevHash: '9f2c1a7b3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b',
      hash: '3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a',
    },
  ],
};

export const remindRequest = { ticketId: 'SUP-4720' };
export const extendRequest = { ticketId: 'SUP-4720', days: 7 };

export const transferPage = {
  // A listing's item: the transfer without its history, each customer as a summary.
  items: [{ ...withoutHistory(filedTransfer), customers: [{ id: 'C-1001', name: 'Northwind Traders', domainCount: 2 }] }],
  nextToken: 'eyJwayI6IlRSQU5TRkVSIn0',
};

export const customerPage = {
  id: 'C-1001',
  name: 'Northwind Traders',
  partnerId: 'P-ACME',
  domains: ['northwind.example', 'northwind-mail.example'],
  settings: { spamThreshold: 5, quarantineDays: 30 },
  users: [{ email: 'it@northwind.example', settings: { digest: 'daily' } }],
};

export const eligibilityAnswer = {
  eligible: false,
  customers: [
    { id: 'C-1001', eligible: true, reasons: [] },
    {
      id: 'C-1002',
      eligible: false,
      reasons: [{ code: 'LOCKED', message: 'C-1002 was transferred recently and is locked until 2027-02-20.', until: '2027-02-20' }],
    },
  ],
  problems: [],
  billing,
};

export const approvalForm = { decision: 'release', transferDate: '2027-03-01', signedBy: 'Alice Smith', acknowledge: 'on' };

export const approvalPageHtml =
  '<!doctype html><html lang="en"><head><title>Release Northwind Traders to Blue Harbor Networks</title></head><body><form method="post">…</form></body></html>';

export const decisionRecordedHtml =
  '<!doctype html><html lang="en"><head><title>Your decision is recorded</title></head><body>…</body></html>';

export const consentRecordHtml =
  '<!doctype html><html lang="en"><head><title>Consent record TR-20270210-7K2M9QH4XB3D5FZW</title></head><body>…</body></html>';

export const invalidRequest = {
  error: {
    code: 'INVALID_REQUEST',
    message: 'The request is not valid. toPartnerId: is required.',
    details: { issues: [{ field: 'toPartnerId', message: 'is required' }] },
  },
};

export const unauthorized = { message: 'Unauthorized' };

function withoutHistory<T extends { history: unknown }>(transfer: T): Omit<T, 'history'> {
  const { history: _history, ...summary } = transfer;
  return summary;
}

const WEBHOOK_ID = 'wh_4f9c2b7e1a0d46c8b3e5f1a2c7d9e0b4';

export const createWebhookRequest = {
  url: 'https://psa.acme-it.example/hooks/customer-transfers',
  events: ['transfer.scheduled', 'transfer.completed', 'transfer.cancelled'],
};

const registeredWebhook = {
  id: WEBHOOK_ID,
  partnerId: 'P-ACME',
  url: createWebhookRequest.url,
  events: createWebhookRequest.events,
  createdAt: '2027-02-01T10:00:00.000Z',
  createdBy: { kind: 'partner', name: 'alice@acme-it.example', ticketId: null },
};

export const newWebhook = { ...registeredWebhook, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' };

export const newWebhookTestEventId = 'evt_0c1d2e3f405162738495a6b7c8d9e0f1';

export const webhookList = {
  webhooks: [registeredWebhook],
  failures: [
    {
      webhookId: WEBHOOK_ID,
      eventId: 'evt_9a8b7c6d5e4f30211203948576a6b5c4',
      transferId: TRANSFER_ID,
      partnerId: 'P-ACME',
      url: createWebhookRequest.url,
      eventType: 'transfer.scheduled',
      order: '2027-02-11T09:15:02.004Z#03',
      status: 'failed',
      attempts: 8,
      createdAt: '2027-02-11T09:15:03.120Z',
      triedAt: '2027-02-12T15:47:10.002Z',
      nextAttemptAt: null,
      lastAttempt: {
        at: '2027-02-12T15:47:10.002Z',
        ok: false,
        status: 503,
        error: 'The endpoint answered 503.',
        excerpt: '<html><body>Service Unavailable</body></html>',
        durationMs: 84,
      },
      settledAt: '2027-02-12T15:47:10.090Z',
    },
  ],
};
