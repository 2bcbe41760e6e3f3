import { describe, expect, it } from 'vitest';
import {
  acceptanceStatement,
  declineStatement,
  releaseStatement,
  SIGNER_PLACEHOLDER,
  statementFor,
  type StatementInput,
} from '../../../lambdas/domain/consent.ts';

const ACME = { id: 'C-ACME', name: 'Acme Widgets', domains: ['acme.example'], domainCount: 1, domainsTruncated: false };
const BRIGHT = { id: 'C-BRIGHT', name: 'Brightside Dental', domains: ['brightside.example'], domainCount: 1, domainsTruncated: false };
const ONE: StatementInput = {
  customers: [ACME],
  fromPartner: { id: 'P-NORTH', name: 'Northwind IT' },
  toPartner: { id: 'P-SOUTH', name: 'Southgate Networks' },
  transferDate: '2026-04-01',
  immediate: false,
};

describe('releaseStatement', () => {
  it('one customer, a date, a signer', () => {
    expect(releaseStatement({ ...ONE, signedBy: 'Alice Smith' })).toBe(
      'I, Alice Smith, am authorised to act for Northwind IT (P-NORTH). Northwind IT releases the customer Acme Widgets (C-ACME) ' +
        'to Southgate Networks (P-SOUTH), to be transferred on 2026-04-01. From that date Northwind IT no longer manages or bills it. ' +
        'Mail flow, domains, settings and users stay unchanged.',
    );
  });

  it('several customers, immediately, before anyone signs', () => {
    expect(releaseStatement({ ...ONE, customers: [ACME, BRIGHT], immediate: true })).toBe(
      'I, [the full name typed below], am authorised to act for Northwind IT (P-NORTH). Northwind IT releases the customers ' +
        'Acme Widgets (C-ACME), Brightside Dental (C-BRIGHT) to Southgate Networks (P-SOUTH), to be transferred immediately. ' +
        'From that date Northwind IT no longer manages or bills them. Mail flow, domains, settings and users stay unchanged.',
    );
  });

  it('no date yet: "on the date given below"', () => {
    expect(releaseStatement({ ...ONE, transferDate: null })).toContain('to be transferred on the date given below.');
  });
});

describe('acceptanceStatement', () => {
  it('one customer: "the customer", "bill it"; before anyone signs, the placeholder', () => {
    expect(acceptanceStatement(ONE)).toBe(
      `I, ${SIGNER_PLACEHOLDER}, am authorised to act for Southgate Networks (P-SOUTH). Southgate Networks agrees to accept the customer ` +
        'Acme Widgets (C-ACME) from Northwind IT (P-NORTH) on 2026-04-01, and to manage and bill it from that date.',
    );
  });

  it('names the new partner as the one that agrees', () => {
    expect(acceptanceStatement({ ...ONE, customers: [ACME, BRIGHT], signedBy: 'Bob Jones' })).toBe(
      'I, Bob Jones, am authorised to act for Southgate Networks (P-SOUTH). Southgate Networks agrees to accept the customers ' +
        'Acme Widgets (C-ACME), Brightside Dental (C-BRIGHT) from Northwind IT (P-NORTH) on 2026-04-01, and to manage and bill them from that date.',
    );
  });
});

describe('declineStatement', () => {
  it('names the declining party and the reason', () => {
    expect(declineStatement('acceptance', { ...ONE, signedBy: 'Bob Jones', reason: 'No capacity' })).toBe(
      'I, Bob Jones, am authorised to act for Southgate Networks (P-SOUTH). Southgate Networks declines the transfer of ' +
        'Acme Widgets (C-ACME) from Northwind IT to Southgate Networks. Reason: No capacity',
    );
    expect(declineStatement('release', { ...ONE, signedBy: 'Alice Smith', reason: 'Contract runs on' })).toMatch(
      /^I, Alice Smith, am authorised to act for Northwind IT \(P-NORTH\)\. Northwind IT declines the transfer of .* Reason: Contract runs on$/,
    );
  });
});

describe('statementFor', () => {
  it('picks the step\'s statement', () => {
    expect(statementFor('release', ONE)).toBe(releaseStatement(ONE));
    expect(statementFor('acceptance', ONE)).toBe(acceptanceStatement(ONE));
  });
});
