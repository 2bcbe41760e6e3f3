import { describe, expect, it } from 'vitest';
import { DECLINE_REASON_LABELS, declineGround, declineReasonLabel } from '../../../lambdas/domain/decline-reasons.ts';

describe('decline grounds', () => {
  it('each code has the plain label the page, the statement and the notices show', () => {
    expect(DECLINE_REASON_LABELS).toEqual({
      OUTSTANDING_BALANCE: 'The customer has an outstanding balance',
      CONTRACT_IN_FORCE: 'A contract with the customer is still in force',
      CUSTOMER_NOT_CONSENTED: 'The customer has not agreed to the transfer',
      DISPUTE: 'There is a dispute about the customer',
      WRONG_CUSTOMER_OR_PARTNER: 'Wrong customer or partner',
      OTHER: 'Another reason',
    });
    expect(declineReasonLabel('DISPUTE')).toBe('There is a dispute about the customer');
  });

  it('a listed ground is its label, followed by the partner\'s own words when there are any', () => {
    expect(declineGround('DISPUTE', '  Invoices unpaid  ')).toBe('There is a dispute about the customer: Invoices unpaid');
    expect(declineGround('DISPUTE', '   ')).toBe('There is a dispute about the customer');
    expect(declineGround('DISPUTE', null)).toBe('There is a dispute about the customer');
  });

  it('another reason is the partner\'s own words, or its label without any', () => {
    expect(declineGround('OTHER', ' We do not serve dentists ')).toBe('We do not serve dentists');
    expect(declineGround('OTHER', null)).toBe('Another reason');
  });
});
