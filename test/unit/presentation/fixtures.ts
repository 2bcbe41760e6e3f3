import { releaseStatement } from '../../../lambdas/domain/consent.ts';
import type { ConsentRecord, Transfer } from '../../../lambdas/domain/transfer.ts';

export const LINK = 'https://approve.example.test/approval/Zx9-secret-link-value';

/** A transfer waiting for its release, with ordinary names. */
export function sampleTransfer(overrides: Partial<Transfer> = {}): Transfer {
  return {
    id: 'tr-20250301-0001',
    status: 'AWAITING_RELEASE',
    customers: [
      { id: 'cust-acme', name: 'Acme Widgets Ltd', domains: ['acme.example', 'acme-mail.example'], domainCount: 2, domainsTruncated: false },
      { id: 'cust-brightside', name: 'Brightside Dental', domains: ['brightside.example'], domainCount: 1, domainsTruncated: false },
    ],
    fromPartner: { id: 'partner-north', name: 'Northwind IT' },
    toPartner: { id: 'partner-south', name: 'Southgate Networks' },
    requestedDate: null,
    transferDate: null,
    immediate: false,
    acceptedDate: null,
    billing: {
      fromPartnerNextInvoiceDate: '2025-04-01',
      toPartnerNextInvoiceDate: '2025-03-15',
      recommendedDate: '2025-04-01',
      aligned: null,
      advice:
        'Recommended transfer date: 2025-04-01, the next invoice date of Northwind IT. ' +
        'Billing has no proration, so a transfer on that date avoids billing the customer twice.',
    },
    ticketId: 'SUP-4411',
    note: 'Customer asked for the move.',
    requestedBy: { kind: 'operator', name: 'ops@mailshield.example' },
    createdAt: '2025-03-01T09:00:00.000Z',
    updatedAt: '2025-03-01T09:00:00.000Z',
    ...overrides,
  };
}

export const HOSTILE = '<script>alert("x")</script> & \'Co\'';
export const ESCAPED_HOSTILE = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39;';

/** Every free-text field holds markup, quotes, an ampersand and line breaks. */
export function hostileTransfer(overrides: Partial<Transfer> = {}): Transfer {
  return sampleTransfer({
    customers: [{ id: 'cust-evil', name: `${HOSTILE}\r\nBcc: victim@example.test`, domains: ['evil.example'], domainCount: 1, domainsTruncated: false }],
    fromPartner: { id: 'partner-from', name: `From ${HOSTILE}\nX-Injected: 1` },
    toPartner: { id: 'partner-to', name: `To ${HOSTILE}\r\n` },
    note: `Note ${HOSTILE}`,
    ticketId: `T-${HOSTILE}`,
    ...overrides,
  });
}

export function releaseConsent(transfer: Transfer, overrides: Partial<ConsentRecord> = {}): ConsentRecord {
  const signedBy = overrides.signedBy ?? 'Jane Q. Public';
  return {
    step: 'release',
    decision: 'release',
    signedBy,
    statement: releaseStatement({ ...transfer, transferDate: '2025-04-01', signedBy }),
    transferDate: '2025-04-01',
    immediate: false,
    reason: null,
    via: 'link',
    ticketId: null,
    sourceIp: '203.0.113.7',
    userAgent: 'Mozilla/5.0',
    ...overrides,
  };
}
