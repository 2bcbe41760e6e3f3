import { addDays, daysInMonth, formatDate, parts, type CalendarDate } from './dates.ts';

/**
 * Billing is per partner invoice date with no proration. A transfer on the current partner's
 * invoice date closes its period exactly, so the customer is billed once; any other date is
 * billed by both partners for part of a period. Advice never blocks.
 */
export interface BillingAdvice {
  fromPartnerNextInvoiceDate: CalendarDate;
  toPartnerNextInvoiceDate: CalendarDate;
  recommendedDate: CalendarDate;
  /** Whether the chosen date is the current partner's invoice date; null while no date is chosen. */
  aligned: boolean | null;
  advice: string;
}

/** The invoice date of a month: the invoice day, or the month's last day when the month is shorter. */
export function invoiceDateIn(year: number, month: number, invoiceDay: number): CalendarDate {
  return formatDate(year, month, Math.min(invoiceDay, daysInMonth(year, month)));
}

export function isInvoiceDate(date: CalendarDate, invoiceDay: number): boolean {
  const { year, month } = parts(date);
  return invoiceDateIn(year, month, invoiceDay) === date;
}

/** The first invoice date on or after a date. */
export function nextInvoiceDate(invoiceDay: number, onOrAfter: CalendarDate): CalendarDate {
  if (!Number.isInteger(invoiceDay) || invoiceDay < 1 || invoiceDay > 31) {
    throw new RangeError(`Invoice day must be 1 to 31, got ${invoiceDay}`);
  }
  const { year, month } = parts(onOrAfter);
  const thisMonth = invoiceDateIn(year, month, invoiceDay);
  if (thisMonth >= onOrAfter) return thisMonth;
  const next = parts(addDays(formatDate(year, month, 1), 31));
  return invoiceDateIn(next.year, next.month, invoiceDay);
}

export function billingAdvice(input: {
  today: CalendarDate;
  fromInvoiceDay: number;
  toInvoiceDay: number;
  fromPartnerName: string;
  chosenDate: CalendarDate | null;
}): BillingAdvice {
  const fromNext = nextInvoiceDate(input.fromInvoiceDay, input.today);
  const toNext = nextInvoiceDate(input.toInvoiceDay, input.today);
  const base = {
    fromPartnerNextInvoiceDate: fromNext,
    toPartnerNextInvoiceDate: toNext,
    recommendedDate: fromNext,
  };
  if (input.chosenDate === null) {
    return {
      ...base,
      aligned: null,
      advice:
        `Recommended transfer date: ${fromNext}, the next invoice date of ${input.fromPartnerName}. ` +
        'Billing has no proration, so a transfer on that date avoids billing the customer twice.',
    };
  }
  if (isInvoiceDate(input.chosenDate, input.fromInvoiceDay)) {
    return {
      ...base,
      aligned: true,
      advice: `${input.chosenDate} is an invoice date of ${input.fromPartnerName}: the customer is billed once.`,
    };
  }
  const nextAfterChosen = nextInvoiceDate(input.fromInvoiceDay, input.chosenDate);
  return {
    ...base,
    aligned: false,
    advice:
      `Warning: ${input.chosenDate} is not an invoice date of ${input.fromPartnerName} ` +
      `(next ones: ${fromNext}` +
      (nextAfterChosen !== fromNext ? `, ${nextAfterChosen}` : '') +
      '). Billing has no proration, so both partners may bill the customer for the same period. ' +
      `Choose ${nextAfterChosen === fromNext ? fromNext : `${fromNext} or ${nextAfterChosen}`} to avoid that.`,
  };
}
