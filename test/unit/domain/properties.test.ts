import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { billingAdvice, isInvoiceDate, nextInvoiceDate } from '../../../lambdas/domain/billing.ts';
import { addDays, dateAt, daysBetween, isCalendarDate, startOfDay, type CalendarDate } from '../../../lambdas/domain/dates.ts';
import { canTransition, isTerminal, statusesBefore, TRANSFER_STATUSES, type TransferStatus } from '../../../lambdas/domain/transfer.ts';

/**
 * Properties of the pure domain: the status diagram, calendar dates in every time zone, and the
 * billing advice. Each property checks the product against an oracle written independently here.
 *
 * A failure prints its seed and path. Replay it with `FC_SEED=<seed> FC_PATH=<path> npx vitest run
 * test/unit/domain/properties.test.ts -t '<name>'`; FC_SEED alone fixes the seed of every property.
 */

const SEED = process.env.FC_SEED === undefined || process.env.FC_SEED === '' ? undefined : Number(process.env.FC_SEED);
const PATH = process.env.FC_PATH === undefined || process.env.FC_PATH === '' ? undefined : process.env.FC_PATH;

function runs<T>(numRuns: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  return { numRuns, ...(SEED === undefined ? {} : { seed: SEED }), ...(PATH === undefined ? {} : { path: PATH }), ...extra };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------------------------------------
// Oracles, independent of lambdas/domain/dates.ts.

/** The calendar date `n` days after 1970-01-01 (proleptic Gregorian, any year 0000–9999). */
function epochDate(n: number): CalendarDate {
  const date = new Date(0);
  date.setUTCDate(1 + n);
  return `${String(date.getUTCFullYear()).padStart(4, '0')}-${String(date.getUTCMonth() + 1).padStart(2, '0')}-${String(date.getUTCDate()).padStart(2, '0')}`;
}

/** Days from 1970-01-01 to a calendar date, by counting, not by Date arithmetic. */
function epochDay(date: CalendarDate): number {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

const shift = (date: CalendarDate, days: number): CalendarDate => epochDate(epochDay(date) + days);

const isLeapYear = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

function naiveDaysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function naiveIsCalendarDate(value: string): boolean {
  if (value.length !== 10 || value[4] !== '-' || value[7] !== '-') return false;
  const digits = value.slice(0, 4) + value.slice(5, 7) + value.slice(8, 10);
  if (![...digits].every((c) => c >= '0' && c <= '9')) return false;
  const [year, month, day] = [Number(value.slice(0, 4)), Number(value.slice(5, 7)), Number(value.slice(8, 10))];
  return month >= 1 && month <= 12 && day >= 1 && day <= naiveDaysInMonth(year, month);
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's UTC offset at an instant, in ms, read from Intl's "GMT+05:45" rendering (not from the date parts). */
function offsetAt(instant: number, timeZone: string): number {
  let formatter = offsetFormatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
    offsetFormatters.set(timeZone, formatter);
  }
  const name = formatter.formatToParts(new Date(instant)).find((part) => part.type === 'timeZoneName')?.value ?? '';
  if (name === 'GMT') return 0;
  const match = /^GMT([+-])(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(name);
  if (!match) throw new Error(`Unexpected offset rendering "${name}" for ${timeZone}`);
  const magnitude = Number(match[2]) * HOUR + Number(match[3]) * 60_000 + Number(match[4] ?? 0) * 1000;
  return match[1] === '-' ? -magnitude : magnitude;
}

/** The wall clock at an instant in a zone: its date, and the ms since that date's midnight. */
function wallClock(instant: number, timeZone: string): { date: CalendarDate; timeOfDay: number } {
  const local = instant + offsetAt(instant, timeZone);
  const day = Math.floor(local / DAY);
  return { date: epochDate(day), timeOfDay: local - day * DAY };
}

/** Whether a date happens at all in a zone (Samoa skipped 2011-12-30, Kwajalein 1993-08-21, ...). */
function dateExists(date: CalendarDate, timeZone: string): boolean {
  const utcMidnight = epochDay(date) * DAY;
  // Every local day starts within ±15 h of UTC midnight and lasts far longer than the 30-minute probe step.
  for (let at = utcMidnight - 15 * HOUR; at <= utcMidnight + 16 * HOUR; at += HOUR / 2) {
    if (wallClock(at, timeZone).date === date) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries.

const FIRST_DAY = epochDay('1970-01-01');
const LAST_DAY = epochDay('2100-12-31');
const dateArb = fc.integer({ min: FIRST_DAY, max: LAST_DAY }).map(epochDate);
const ZONES = [...new Set([...Intl.supportedValuesOf('timeZone'), 'UTC', 'America/New_York'])];
const zoneArb = fc.constantFrom(...ZONES);

/** Dates a day either side of the zone's offset changes in a year, so daylight-saving days are well covered. */
function datesAroundOffsetChanges(timeZone: string, year: number): CalendarDate[] {
  const found: CalendarDate[] = [];
  const first = epochDay(`${year}-01-01`);
  let previous = offsetAt(first * DAY + 12 * HOUR, timeZone);
  for (let day = first + 1; day <= first + 366; day += 1) {
    const offset = offsetAt(day * DAY + 12 * HOUR, timeZone);
    if (offset !== previous) found.push(epochDate(day - 1), epochDate(day), epochDate(day + 1));
    previous = offset;
  }
  return found;
}

/** Zones with daylight-saving time today (January and July offsets differ), favoured so that most runs meet a change. */
const DST_ZONES = ZONES.filter((zone) => offsetAt(Date.UTC(2026, 0, 1), zone) !== offsetAt(Date.UTC(2026, 6, 1), zone));

const dateNearOffsetChangeArb = fc
  .tuple(fc.oneof(zoneArb, fc.constantFrom(...DST_ZONES)), fc.integer({ min: 1970, max: 2099 }), fc.nat(), dateArb)
  .map(([timeZone, year, pick, fallback]) => {
    const candidates = datesAroundOffsetChanges(timeZone, year);
    return { date: candidates.length > 0 ? (candidates[pick % candidates.length] ?? fallback) : fallback, timeZone };
  });

/** Zones and days whose midnight or whole day is special; each kept only if this runtime knows the zone. */
const NOTABLE_DAYS: { date: CalendarDate; timeZone: string }[] = [
  { date: '2026-03-08', timeZone: 'America/New_York' },
  { date: '2026-11-01', timeZone: 'America/New_York' },
  { date: '2018-11-04', timeZone: 'America/Sao_Paulo' }, // DST began at 00:00: the day starts at 01:00
  { date: '2026-10-04', timeZone: 'Australia/Lord_Howe' }, // a 30-minute shift
  { date: '2014-10-26', timeZone: 'Asia/Magadan' }, // a 26-hour day
  { date: '2011-12-29', timeZone: 'Pacific/Apia' },
  { date: '2011-12-30', timeZone: 'Pacific/Apia' }, // skipped
  { date: '2011-12-31', timeZone: 'Pacific/Apia' },
  { date: '1993-08-21', timeZone: 'Pacific/Kwajalein' }, // skipped
  { date: '1994-12-31', timeZone: 'Pacific/Kiritimati' }, // skipped
  { date: '2016-05-01', timeZone: 'America/Caracas' },
  { date: '1972-01-07', timeZone: 'Africa/Monrovia' }, // leaves an offset of -0:44:30
].filter(({ timeZone }) => ZONES.includes(timeZone));
const notableExamples = NOTABLE_DAYS.map(({ date, timeZone }): [CalendarDate, string] => [date, timeZone]);

// ---------------------------------------------------------------------------------------------
// Transitions.

const START_STATUSES: TransferStatus[] = ['AWAITING_RELEASE', 'AWAITING_ACCEPTANCE'];
const statusArb = fc.constantFrom(...TRANSFER_STATUSES);
const optionsArb = fc.constantFrom<{ redrive?: boolean } | undefined>(undefined, {}, { redrive: false }, { redrive: true });

function next(from: TransferStatus, options?: { redrive?: boolean }): TransferStatus[] {
  return TRANSFER_STATUSES.filter((to) => canTransition(from, to, options));
}

/** A walk of allowed transitions from a start status, choosing with `choices`, until a terminal status or the choices run out. */
function walk(start: TransferStatus, choices: number[], options?: { redrive?: boolean }): TransferStatus[] {
  const path: TransferStatus[] = [start];
  for (const choice of choices) {
    const current = path[path.length - 1] ?? start;
    const ways = next(current, options);
    if (ways.length === 0) break;
    path.push(ways[choice % ways.length] ?? current);
  }
  return path;
}

describe('transfer status diagram (properties)', () => {
  it('terminal statuses have no way out, but for the operator\'s redrive FAILED → IN_PROGRESS', () => {
    fc.assert(
      fc.property(statusArb, statusArb, optionsArb, (from, to, options) => {
        const allowed = canTransition(from, to, options);
        if (isTerminal(from)) {
          expect(allowed).toBe(from === 'FAILED' && to === 'IN_PROGRESS' && options?.redrive === true);
        }
        // The redrive flag opens that one edge and nothing else.
        const plain = canTransition(from, to);
        expect(allowed).toBe(plain || (options?.redrive === true && from === 'FAILED' && to === 'IN_PROGRESS'));
        // Terminal means exactly "no ordinary transition out".
        expect(isTerminal(from)).toBe(next(from).length === 0);
        // Nothing leads back to the first status, and no transition stays where it is.
        expect(canTransition(from, 'AWAITING_RELEASE', options)).toBe(false);
        expect(canTransition(from, from, options)).toBe(false);
      }),
      runs(300),
    );
  });

  it('every status is reachable from AWAITING_RELEASE or AWAITING_ACCEPTANCE, along a path of allowed transitions', () => {
    fc.assert(
      fc.property(statusArb, fc.array(fc.nat(), { minLength: 12, maxLength: 12 }), (target, order) => {
        // Breadth-first search, visiting neighbours in a random order; the path found must be made of allowed steps.
        const previous = new Map<TransferStatus, TransferStatus | null>(START_STATUSES.map((s) => [s, null]));
        const queue = [...START_STATUSES];
        let round = 0;
        while (queue.length > 0) {
          const current = queue.shift() ?? 'AWAITING_RELEASE';
          const neighbours = next(current);
          const rotation = (order[round++ % order.length] ?? 0) % Math.max(1, neighbours.length);
          for (const to of [...neighbours.slice(rotation), ...neighbours.slice(0, rotation)]) {
            if (previous.has(to)) continue;
            previous.set(to, current);
            queue.push(to);
          }
        }
        expect(previous.has(target), `${target} is reachable`).toBe(true);
        const path: TransferStatus[] = [target];
        for (let at = previous.get(target); at !== null && at !== undefined; at = previous.get(at)) path.unshift(at);
        expect(START_STATUSES).toContain(path[0]);
        for (let i = 1; i < path.length; i += 1) expect(canTransition(path[i - 1] as TransferStatus, path[i] as TransferStatus)).toBe(true);
      }),
      runs(200),
    );
  });

  it('any random walk of allowed transitions ends in a terminal status within a bounded number of steps', () => {
    const bound = TRANSFER_STATUSES.length - 1;
    fc.assert(
      fc.property(
        fc.constantFrom(...START_STATUSES, ...TRANSFER_STATUSES),
        fc.array(fc.nat(), { minLength: bound + 1, maxLength: bound + 1 }),
        (start, choices) => {
          const path = walk(start, choices);
          const last = path[path.length - 1] ?? start;
          expect(isTerminal(last), path.join(' → ')).toBe(true);
          expect(path.length - 1).toBeLessThanOrEqual(bound);
          // The longest real path is AWAITING_RELEASE → AWAITING_ACCEPTANCE → SCHEDULED → IN_PROGRESS → COMPLETED/FAILED.
          expect(path.length - 1).toBeLessThanOrEqual(4);
          expect(new Set(path).size, 'no status is visited twice').toBe(path.length);
        },
      ),
      runs(500),
    );
  });

  it('with redrives, a walk still ends in a terminal status: each redrive adds at most two steps', () => {
    fc.assert(
      fc.property(fc.constantFrom(...START_STATUSES), fc.array(fc.nat(), { minLength: 40, maxLength: 40 }), fc.nat({ max: 5 }), (start, choices, redrives) => {
        let left = redrives;
        const path: TransferStatus[] = [start];
        for (const choice of choices) {
          const current = path[path.length - 1] ?? start;
          const useRedrive = current === 'FAILED' && left > 0;
          const options = next(current, { redrive: useRedrive });
          if (options.length === 0) break;
          const to = options[choice % options.length] ?? current;
          if (current === 'FAILED') left -= 1;
          path.push(to);
        }
        const last = path[path.length - 1] ?? start;
        expect(isTerminal(last), path.join(' → ')).toBe(true);
        expect(path.length - 1).toBeLessThanOrEqual(4 + 2 * redrives);
      }),
      runs(300),
    );
  });

  it('COMPLETED is only reachable through IN_PROGRESS', () => {
    fc.assert(
      fc.property(statusArb, optionsArb, fc.constantFrom(...START_STATUSES), fc.array(fc.nat(), { minLength: 8, maxLength: 8 }), (from, options, start, choices) => {
        if (canTransition(from, 'COMPLETED', options)) expect(from).toBe('IN_PROGRESS');
        const path = walk(start, choices, options);
        const at = path.indexOf('COMPLETED');
        if (at !== -1) {
          expect(path[at - 1]).toBe('IN_PROGRESS');
          // And re-homing only begins on a scheduled (or redriven failed) transfer.
          expect(path.slice(0, at)).toContain('SCHEDULED');
        }
      }),
      runs(300),
    );
  });

  it('statusesBefore(to) is exactly the set of statuses that may become `to`', () => {
    fc.assert(
      fc.property(statusArb, (to) => {
        const expected = TRANSFER_STATUSES.filter((from) => canTransition(from, to));
        expect(new Set(statusesBefore(to))).toEqual(new Set(expected));
        expect(statusesBefore(to)).toHaveLength(new Set(statusesBefore(to)).size);
      }),
      runs(100, { examples: TRANSFER_STATUSES.map((s): [TransferStatus] => [s]) }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Dates.

describe('calendar dates in every time zone (properties)', () => {
  it('a date starts at an instant that falls on that date (or, for a date the zone skipped, on the next one)', () => {
    fc.assert(
      fc.property(dateArb, zoneArb, (date, timeZone) => {
        const start = startOfDay(date, timeZone).getTime();
        if (dateExists(date, timeZone)) {
          expect(dateAt(new Date(start), timeZone)).toBe(date);
          expect(wallClock(start, timeZone).date).toBe(date);
        } else {
          // No instant has that date: the start is the next date's, and the instant before is still an earlier date.
          expect(dateAt(new Date(start), timeZone)).toBe(shift(date, 1));
          expect(dateAt(new Date(start - 1), timeZone) < date).toBe(true);
        }
      }),
      runs(400, { examples: notableExamples }),
    );
  });

  it('one millisecond before a date starts is the previous date', () => {
    fc.assert(
      fc.property(dateArb, zoneArb, (date, timeZone) => {
        fc.pre(dateExists(date, timeZone));
        const before = dateAt(new Date(startOfDay(date, timeZone).getTime() - 1), timeZone);
        // The previous date is addDays(d, -1), unless the zone skipped that day altogether.
        const previous = dateExists(addDays(date, -1), timeZone) ? addDays(date, -1) : addDays(date, -2);
        expect(before).toBe(previous);
        expect(wallClock(startOfDay(date, timeZone).getTime() - 1, timeZone).date).toBe(previous);
      }),
      runs(400, { examples: notableExamples }),
    );
  });

  it('startOfDay is strictly increasing in the date (non-decreasing only across a skipped date)', () => {
    fc.assert(
      fc.property(dateArb, dateArb, zoneArb, (a, b, timeZone) => {
        fc.pre(a !== b);
        const [early, late] = a < b ? [a, b] : [b, a];
        const [s1, s2] = [startOfDay(early, timeZone).getTime(), startOfDay(late, timeZone).getTime()];
        if (dateExists(early, timeZone)) expect(s1).toBeLessThan(s2);
        else expect(s1).toBeLessThanOrEqual(s2);
        const next = startOfDay(shift(early, 1), timeZone).getTime();
        if (dateExists(early, timeZone)) expect(s1).toBeLessThan(next);
      }),
      runs(400, { examples: notableExamples.map(([date, zone]): [CalendarDate, CalendarDate, string] => [date, shift(date, 1), zone]) }),
    );
  });

  it('consecutive starts are 23 to 25 hours apart, or exactly 24 h minus the zone\'s real jump', () => {
    fc.assert(
      fc.property(dateNearOffsetChangeArb, ({ date, timeZone }) => {
        const following = shift(date, 1);
        fc.pre(dateExists(date, timeZone) && dateExists(following, timeZone));
        const s0 = startOfDay(date, timeZone).getTime();
        const s1 = startOfDay(following, timeZone).getTime();
        const length = s1 - s0;
        // The offset change the zone makes during the day, measured from the last instants of the two days before.
        const jump = offsetAt(s1 - 1, timeZone) - offsetAt(s0 - 1, timeZone);
        const endsDay = (instant: number, day: CalendarDate) => {
          const wall = wallClock(instant, timeZone);
          return wall.date === day && wall.timeOfDay === DAY - 1;
        };
        if (endsDay(s0 - 1, shift(date, -1)) && endsDay(s1 - 1, date)) {
          // The day and the one before end at 23:59:59.999 on the wall clock: it lasts 24 h minus the jump, to the millisecond.
          expect(length, `${date} in ${timeZone}`).toBe(DAY - jump);
        }
        if (Math.abs(jump) <= HOUR) {
          expect(length, `${date} in ${timeZone}`).toBeGreaterThanOrEqual(23 * HOUR);
          expect(length, `${date} in ${timeZone}`).toBeLessThanOrEqual(25 * HOUR);
        } else {
          expect(length, `${date} in ${timeZone}`).toBeGreaterThan(0);
        }
      }),
      runs(300, { examples: NOTABLE_DAYS.map((day): [{ date: CalendarDate; timeZone: string }] => [day]) }),
    );
  });

  it('addDays and daysBetween round-trip', () => {
    fc.assert(
      fc.property(dateArb, fc.integer({ min: -40_000, max: 40_000 }), fc.integer({ min: -400, max: 400 }), (date, n, m) => {
        const later = addDays(date, n);
        expect(isCalendarDate(later)).toBe(true);
        expect(later).toBe(shift(date, n));
        expect(daysBetween(date, later)).toBe(n);
        expect(daysBetween(later, date)).toBe(0 - n);
        expect(addDays(later, -n)).toBe(date);
        expect(addDays(addDays(date, n), m)).toBe(addDays(date, n + m));
      }),
      runs(500),
    );
  });

  it('addDays(d, 1) is the next calendar date for every four-digit year', () => {
    const anyYearDate = fc.integer({ min: epochDay('0000-01-01'), max: epochDay('9999-12-30') }).map(epochDate);
    fc.assert(
      fc.property(anyYearDate, (date) => {
        expect(addDays(date, 1)).toBe(shift(date, 1));
        expect(daysBetween(date, shift(date, 1))).toBe(1);
      }),
      runs(300, { examples: [['0000-02-28'], ['0050-06-30'], ['0099-12-31'], ['0100-02-28'], ['1900-02-28'], ['2000-02-28']] }),
    );
  });

  it('isCalendarDate agrees with a naive check', () => {
    const twoDigits = fc.integer({ min: 0, max: 39 }).map((n) => String(n).padStart(2, '0'));
    const dateLike = fc
      .tuple(fc.integer({ min: 0, max: 9999 }), twoDigits, twoDigits)
      .map(([y, m, d]) => `${String(y).padStart(4, '0')}-${m}-${d}`);
    const nearMiss = fc
      .tuple(dateLike, fc.nat(), fc.constantFrom(' ', '/', 'T', '0', '-', '\u0661', 'x', ''))
      .map(([s, at, c]) => s.slice(0, at % 11) + c + s.slice((at % 11) + (c === '' ? 1 : 0)));
    fc.assert(
      fc.property(fc.oneof(dateLike, nearMiss, fc.string({ maxLength: 12 }), dateArb), (value) => {
        expect(isCalendarDate(value), JSON.stringify(value)).toBe(naiveIsCalendarDate(value));
      }),
      runs(2000, { examples: [['0000-02-29'], ['2000-02-29'], ['1900-02-29'], ['2100-02-29'], ['2024-02-29'], ['2023-02-29'], ['0400-02-29']] }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Billing.

const invoiceDayArb = fc.integer({ min: 1, max: 31 });

/** The naive invoice date test: the invoice day, or the month's last day when the month is shorter. */
function naiveIsInvoiceDate(date: CalendarDate, invoiceDay: number): boolean {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  return day === Math.min(invoiceDay, naiveDaysInMonth(year, month));
}

describe('billing (properties)', () => {
  it('nextInvoiceDate is the first invoice date on or after the date', () => {
    fc.assert(
      fc.property(invoiceDayArb, dateArb, (invoiceDay, date) => {
        const next = nextInvoiceDate(invoiceDay, date);
        expect(isCalendarDate(next)).toBe(true);
        expect(next >= date).toBe(true);
        expect(isInvoiceDate(next, invoiceDay)).toBe(true);
        expect(naiveIsInvoiceDate(next, invoiceDay)).toBe(true);
        // Nothing in between is one.
        for (let day = date; day < next; day = shift(day, 1)) {
          expect(naiveIsInvoiceDate(day, invoiceDay), `${day} lies between ${date} and ${next}`).toBe(false);
          expect(isInvoiceDate(day, invoiceDay)).toBe(false);
        }
        // Within 31 days; at most 30 in fact, as the day after an invoice date is the furthest from the next one.
        expect(epochDay(next) - epochDay(date)).toBeLessThanOrEqual(30);
        // A date that is an invoice date is its own next one.
        expect(nextInvoiceDate(invoiceDay, next)).toBe(next);
      }),
      runs(500, { examples: [[31, '2026-02-01'], [29, '2027-02-01'], [29, '2028-02-01'], [30, '2026-02-28'], [31, '2026-04-30'], [1, '2026-12-02'], [31, '2026-12-31']] }),
    );
  });

  it('in a month shorter than the invoice day, the invoice date is the month\'s last day', () => {
    fc.assert(
      fc.property(fc.integer({ min: 29, max: 31 }), fc.integer({ min: 1970, max: 2100 }), fc.integer({ min: 1, max: 12 }), (invoiceDay, year, month) => {
        const length = naiveDaysInMonth(year, month);
        const first = `${year}-${String(month).padStart(2, '0')}-01`;
        const expected = `${year}-${String(month).padStart(2, '0')}-${String(Math.min(invoiceDay, length)).padStart(2, '0')}`;
        expect(nextInvoiceDate(invoiceDay, first)).toBe(expected);
        expect(isInvoiceDate(expected, invoiceDay)).toBe(true);
        if (invoiceDay > length) {
          // No invoice date of that month is lost: the month's last day stands in for it.
          expect(isInvoiceDate(shift(expected, -1), invoiceDay)).toBe(false);
        }
      }),
      runs(300),
    );
  });

  it('rejects invoice days outside 1 to 31', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 32 }), fc.double({ noInteger: true }), fc.constantFrom(Number.NaN, Infinity, -Infinity)),
        dateArb,
        (invoiceDay, date) => {
          expect(() => nextInvoiceDate(invoiceDay, date)).toThrow(RangeError);
        },
      ),
      runs(200),
    );
  });

  it('billingAdvice recommends the current partner\'s next invoice date and warns exactly when the chosen date is not one', () => {
    const inputArb = fc
      .record({
        today: dateArb,
        fromInvoiceDay: invoiceDayArb,
        toInvoiceDay: invoiceDayArb,
        fromPartnerName: fc.oneof(fc.constantFrom('Acme IT Services', 'Warning Systems Ltd', 'Billing & Co'), fc.string({ minLength: 1, maxLength: 40 })),
        choice: fc.oneof(
          fc.constant<null>(null),
          fc.integer({ min: 0, max: 180 }),
          fc.integer({ min: 0, max: 6 }).map((months) => ({ invoiceMonthsAhead: months })),
        ),
      })
      .map(({ choice, ...rest }) => {
        let chosenDate: CalendarDate | null = null;
        if (typeof choice === 'number') chosenDate = shift(rest.today, choice);
        else if (choice !== null) {
          // An invoice date of the current partner, some months ahead, so that aligned dates are common.
          let date = nextInvoiceDate(rest.fromInvoiceDay, rest.today);
          for (let i = 0; i < choice.invoiceMonthsAhead; i += 1) date = nextInvoiceDate(rest.fromInvoiceDay, shift(date, 1));
          chosenDate = date;
        }
        return { ...rest, chosenDate };
      });
    fc.assert(
      fc.property(inputArb, (input) => {
        const advice = billingAdvice(input);
        const fromNext = nextInvoiceDate(input.fromInvoiceDay, input.today);
        expect(advice.recommendedDate).toBe(fromNext);
        expect(advice.fromPartnerNextInvoiceDate).toBe(fromNext);
        expect(advice.toPartnerNextInvoiceDate).toBe(nextInvoiceDate(input.toInvoiceDay, input.today));
        if (input.chosenDate === null) expect(advice.aligned).toBeNull();
        else expect(advice.aligned).toBe(naiveIsInvoiceDate(input.chosenDate, input.fromInvoiceDay));
        // The advice is a text about the partner, who is named verbatim; the warning is in its own words, whatever the partner is called.
        const template = billingAdvice({ ...input, fromPartnerName: '\u0001' }).advice;
        expect(advice.advice).toBe(template.replaceAll('\u0001', () => input.fromPartnerName));
        expect(template).toContain('\u0001');
        expect(/warning/i.test(template), template).toBe(advice.aligned === false);
        expect(advice.advice.startsWith('Warning:')).toBe(advice.aligned === false);
        if (advice.aligned === false && input.chosenDate !== null) {
          // The warning names the chosen date and suggests the invoice dates that avoid double billing.
          expect(advice.advice).toContain(input.chosenDate);
          expect(advice.advice).toContain(fromNext);
          expect(advice.advice).toContain(nextInvoiceDate(input.fromInvoiceDay, input.chosenDate));
        }
      }),
      runs(500),
    );
  });
});
