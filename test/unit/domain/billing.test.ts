import { describe, expect, it } from 'vitest';
import { billingAdvice, invoiceDateIn, isInvoiceDate, nextInvoiceDate } from '../../../lambdas/domain/billing.ts';

describe('invoiceDateIn', () => {
  it.each([
    [2026, 2, 31, '2026-02-28'],
    [2028, 2, 31, '2028-02-29'],
    [2026, 2, 30, '2026-02-28'],
    [2028, 2, 30, '2028-02-29'],
    [2026, 2, 29, '2026-02-28'],
    [2028, 2, 29, '2028-02-29'],
    [2026, 2, 28, '2026-02-28'],
    [2026, 4, 31, '2026-04-30'],
    [2026, 4, 30, '2026-04-30'],
    [2026, 1, 31, '2026-01-31'],
    [2026, 6, 1, '2026-06-01'],
  ] as const)('%i-%i with invoice day %i is %s', (year, month, day, expected) => {
    expect(invoiceDateIn(year, month, day)).toBe(expected);
  });
});

describe('isInvoiceDate', () => {
  it('short months use their last day', () => {
    expect(isInvoiceDate('2026-02-28', 31)).toBe(true);
    expect(isInvoiceDate('2026-02-28', 30)).toBe(true);
    expect(isInvoiceDate('2026-02-28', 29)).toBe(true);
    expect(isInvoiceDate('2026-02-28', 28)).toBe(true);
    expect(isInvoiceDate('2026-04-30', 31)).toBe(true);
    expect(isInvoiceDate('2028-02-29', 30)).toBe(true);
  });

  it('other days are not invoice dates', () => {
    expect(isInvoiceDate('2026-02-28', 27)).toBe(false);
    expect(isInvoiceDate('2028-02-28', 31)).toBe(false);
    expect(isInvoiceDate('2026-05-30', 31)).toBe(false);
    expect(isInvoiceDate('2026-03-02', 1)).toBe(false);
    expect(isInvoiceDate('2026-03-01', 1)).toBe(true);
  });
});

describe('nextInvoiceDate', () => {
  it.each([
    [31, '2026-02-01', '2026-02-28'],
    [31, '2028-02-01', '2028-02-29'],
    [30, '2026-02-10', '2026-02-28'],
    [29, '2026-02-10', '2026-02-28'],
    [29, '2028-02-10', '2028-02-29'],
    [31, '2026-04-15', '2026-04-30'],
    [31, '2026-01-31', '2026-01-31'],
    [31, '2026-02-28', '2026-02-28'],
    [31, '2026-03-01', '2026-03-31'],
    [1, '2026-01-01', '2026-01-01'],
    [1, '2026-01-02', '2026-02-01'],
    [15, '2026-12-16', '2027-01-15'],
    [31, '2026-12-31', '2026-12-31'],
    [30, '2026-01-31', '2026-02-28'],
  ] as const)('invoice day %i, on or after %s: %s', (day, onOrAfter, expected) => {
    expect(nextInvoiceDate(day, onOrAfter)).toBe(expected);
  });

  it.each([0, 32, 1.5, -1, Number.NaN])('refuses invoice day %s', (day) => {
    expect(() => nextInvoiceDate(day, '2026-01-01')).toThrow(RangeError);
    expect(() => nextInvoiceDate(day, '2026-01-01')).toThrow(`Invoice day must be 1 to 31, got ${day}`);
  });
});

describe('billingAdvice', () => {
  const base = { today: '2026-01-20', fromInvoiceDay: 1, toInvoiceDay: 15, fromPartnerName: 'Northwind IT' };

  it('with no date chosen: recommends the current partner\'s next invoice date, aligned is null', () => {
    const advice = billingAdvice({ ...base, chosenDate: null });
    expect(advice).toEqual({
      fromPartnerNextInvoiceDate: '2026-02-01',
      toPartnerNextInvoiceDate: '2026-02-15',
      recommendedDate: '2026-02-01',
      aligned: null,
      advice:
        'Recommended transfer date: 2026-02-01, the next invoice date of Northwind IT. ' +
        'Billing has no proration, so a transfer on that date avoids billing the customer twice.',
    });
  });

  it('a chosen invoice date of the current partner is aligned', () => {
    const advice = billingAdvice({ ...base, chosenDate: '2026-03-01' });
    expect(advice.aligned).toBe(true);
    expect(advice.recommendedDate).toBe('2026-02-01');
    expect(advice.advice).toBe('2026-03-01 is an invoice date of Northwind IT: the customer is billed once.');
  });

  it('the new partner\'s invoice date does not count as aligned', () => {
    const advice = billingAdvice({ ...base, chosenDate: '2026-02-15' });
    expect(advice.aligned).toBe(false);
  });

  it('a date before the next invoice date warns and names that one date', () => {
    const advice = billingAdvice({ ...base, chosenDate: '2026-01-25' });
    expect(advice.aligned).toBe(false);
    expect(advice.advice).toBe(
      'Warning: 2026-01-25 is not an invoice date of Northwind IT (next ones: 2026-02-01). ' +
        'Billing has no proration, so both partners may bill the customer for the same period. Choose 2026-02-01 to avoid that.',
    );
  });

  it('a later unaligned date warns and names the next invoice date and the one after the chosen date', () => {
    const advice = billingAdvice({ ...base, chosenDate: '2026-02-10' });
    expect(advice.aligned).toBe(false);
    expect(advice.advice).toBe(
      'Warning: 2026-02-10 is not an invoice date of Northwind IT (next ones: 2026-02-01, 2026-03-01). ' +
        'Billing has no proration, so both partners may bill the customer for the same period. ' +
        'Choose 2026-02-01 or 2026-03-01 to avoid that.',
    );
  });

  it('invoice day 31 in February is aligned on the 28th (29th in a leap year)', () => {
    const common = billingAdvice({ today: '2026-02-03', fromInvoiceDay: 31, toInvoiceDay: 31, fromPartnerName: 'Coral', chosenDate: '2026-02-28' });
    expect(common.fromPartnerNextInvoiceDate).toBe('2026-02-28');
    expect(common.aligned).toBe(true);
    const leap = billingAdvice({ today: '2028-02-03', fromInvoiceDay: 31, toInvoiceDay: 30, fromPartnerName: 'Coral', chosenDate: '2028-02-28' });
    expect(leap.fromPartnerNextInvoiceDate).toBe('2028-02-29');
    expect(leap.toPartnerNextInvoiceDate).toBe('2028-02-29');
    expect(leap.aligned).toBe(false);
  });
});
