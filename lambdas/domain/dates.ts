/**
 * Calendar dates ("YYYY-MM-DD") in the provider's time zone. Only the date matters:
 * a date starts at 00:00 in that zone, whatever the offset or daylight-saving rule that day.
 */
export type CalendarDate = string;

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

export function isCalendarDate(value: string): value is CalendarDate {
  const match = DATE_PATTERN.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/** Midnight UTC of a date, in ms. Unlike Date.UTC, it does not read years 0–99 as 1900–1999. */
function utcMidnightOf(year: number, month: number, day: number): number {
  return new Date(0).setUTCFullYear(year, month - 1, day);
}

export function daysInMonth(year: number, month: number): number {
  return new Date(utcMidnightOf(year, month + 1, 0)).getUTCDate();
}

export function parts(date: CalendarDate): { year: number; month: number; day: number } {
  const match = DATE_PATTERN.exec(date);
  if (!match || !isCalendarDate(date)) throw new RangeError(`Not a calendar date: ${date}`);
  return { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) };
}

export function formatDate(year: number, month: number, day: number): CalendarDate {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

export function addDays(date: CalendarDate, days: number): CalendarDate {
  const { year, month, day } = parts(date);
  const shifted = new Date(utcMidnightOf(year, month, day) + days * DAY_MS);
  return formatDate(shifted.getUTCFullYear(), shifted.getUTCMonth() + 1, shifted.getUTCDate());
}

/** Whole days from a to b (positive when b is later). */
export function daysBetween(a: CalendarDate, b: CalendarDate): number {
  const pa = parts(a);
  const pb = parts(b);
  return Math.round((utcMidnightOf(pb.year, pb.month, pb.day) - utcMidnightOf(pa.year, pa.month, pa.day)) / DAY_MS);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function isTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The calendar date an instant falls on in a time zone. */
export function dateAt(instant: Date, timeZone: string): CalendarDate {
  const fields = Object.fromEntries(formatterFor(timeZone).formatToParts(instant).map((p) => [p.type, p.value]));
  return `${fields.year}-${fields.month}-${fields.day}`;
}

/**
 * The first instant of a date in a time zone, as UTC. Found by search rather than offset
 * arithmetic so that days starting inside a daylight-saving gap (some zones skip 00:00) are right.
 */
export function startOfDay(date: CalendarDate, timeZone: string): Date {
  const { year, month, day } = parts(date);
  const utcMidnight = utcMidnightOf(year, month, day);
  // Every zone's offset lies within ±14 h, so the start lies in this window.
  let low = utcMidnight - 15 * 3_600_000;
  let high = utcMidnight + 15 * 3_600_000;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (dateAt(new Date(middle), timeZone) >= date) high = middle;
    else low = middle;
  }
  return new Date(high);
}
