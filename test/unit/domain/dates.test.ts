import { describe, expect, it } from 'vitest';
import { addDays, dateAt, daysBetween, daysInMonth, isCalendarDate, isTimeZone, parts, startOfDay } from '../../../lambdas/domain/dates.ts';

function start(date: string, timeZone: string): string {
  return startOfDay(date, timeZone).toISOString();
}

describe('isCalendarDate', () => {
  it.each(['2026-01-01', '2026-02-28', '2028-02-29', '2000-02-29', '2026-12-31', '2026-04-30'])('accepts %s', (value) => {
    expect(isCalendarDate(value)).toBe(true);
  });

  it.each([
    ['2026-02-29', 'February 29 of a common year'],
    ['1900-02-29', 'February 29 of a century that is not a leap year'],
    ['2026-04-31', 'April 31'],
    ['2026-13-01', 'month 13'],
    ['2026-00-10', 'month 0'],
    ['2026-01-00', 'day 0'],
    ['2026-1-01', 'a one-digit month'],
    ['2026-01-01T00:00:00Z', 'a timestamp'],
    [' 2026-01-01', 'leading space'],
    ['20260101', 'no dashes'],
    ['immediate', 'a word'],
    ['', 'nothing'],
  ])('rejects %s (%s)', (value) => {
    expect(isCalendarDate(value)).toBe(false);
  });
});

describe('daysInMonth and parts', () => {
  it('knows the length of February in leap and common years', () => {
    expect(daysInMonth(2026, 2)).toBe(28);
    expect(daysInMonth(2028, 2)).toBe(29);
    expect(daysInMonth(2100, 2)).toBe(28);
    expect(daysInMonth(2000, 2)).toBe(29);
    expect(daysInMonth(2026, 4)).toBe(30);
    expect(daysInMonth(2026, 12)).toBe(31);
  });

  it('splits a date and refuses a non-date', () => {
    expect(parts('2026-03-08')).toEqual({ year: 2026, month: 3, day: 8 });
    expect(() => parts('2026-02-30')).toThrow(RangeError);
    expect(() => parts('2026-02-30')).toThrow('Not a calendar date: 2026-02-30');
  });
});

describe('addDays', () => {
  it.each([
    ['2026-01-31', 1, '2026-02-01'],
    ['2026-02-28', 1, '2026-03-01'],
    ['2028-02-28', 1, '2028-02-29'],
    ['2026-12-31', 1, '2027-01-01'],
    ['2026-03-01', -1, '2026-02-28'],
    ['2026-03-07', 1, '2026-03-08'],
    ['2026-03-08', 1, '2026-03-09'],
    ['2026-11-01', 1, '2026-11-02'],
    ['2026-03-10', 180, '2026-09-06'],
    ['2026-03-10', 0, '2026-03-10'],
  ] as const)('%s + %i days = %s', (date, days, expected) => {
    expect(addDays(date, days)).toBe(expected);
  });
});

describe('daysBetween', () => {
  it.each([
    ['2026-03-01', '2026-03-31', 30],
    ['2024-02-28', '2024-03-01', 2],
    ['2026-02-28', '2026-03-01', 1],
    ['2026-03-07', '2026-03-09', 2],
    ['2026-10-31', '2026-11-02', 2],
    ['2026-03-10', '2026-03-10', 0],
    ['2026-12-31', '2026-01-01', -364],
    ['2026-01-01', '2027-01-01', 365],
    ['2028-01-01', '2029-01-01', 366],
  ] as const)('from %s to %s is %i days', (a, b, expected) => {
    expect(daysBetween(a, b)).toBe(expected);
  });
});

describe('dateAt', () => {
  it('gives the calendar date in the zone, not in UTC', () => {
    expect(dateAt(new Date('2026-03-08T04:59:59.999Z'), 'America/New_York')).toBe('2026-03-07');
    expect(dateAt(new Date('2026-03-08T05:00:00.000Z'), 'America/New_York')).toBe('2026-03-08');
    expect(dateAt(new Date('2026-01-01T03:00:00.000Z'), 'America/New_York')).toBe('2025-12-31');
    expect(dateAt(new Date('2025-12-31T10:00:00.000Z'), 'Pacific/Kiritimati')).toBe('2026-01-01');
    expect(dateAt(new Date('2026-01-01T10:59:59.999Z'), 'Pacific/Pago_Pago')).toBe('2025-12-31');
    expect(dateAt(new Date('2026-01-01T10:59:59.999Z'), 'UTC')).toBe('2026-01-01');
  });
});

describe('isTimeZone', () => {
  it('accepts IANA zones and refuses made-up ones', () => {
    expect(isTimeZone('America/New_York')).toBe(true);
    expect(isTimeZone('Asia/Beirut')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isTimeZone('')).toBe(false);
  });
});

describe('startOfDay', () => {
  describe('America/New_York (the default zone)', () => {
    it('an ordinary winter and summer day', () => {
      expect(start('2026-01-15', 'America/New_York')).toBe('2026-01-15T05:00:00.000Z');
      expect(start('2026-07-04', 'America/New_York')).toBe('2026-07-04T04:00:00.000Z');
    });

    it('spring-forward day 2026-03-08 still starts at 00:00 EST, the day after at 00:00 EDT', () => {
      expect(start('2026-03-08', 'America/New_York')).toBe('2026-03-08T05:00:00.000Z');
      expect(start('2026-03-09', 'America/New_York')).toBe('2026-03-09T04:00:00.000Z');
    });

    it('fall-back day 2026-11-01 starts at 00:00 EDT, the day after at 00:00 EST', () => {
      expect(start('2026-10-31', 'America/New_York')).toBe('2026-10-31T04:00:00.000Z');
      expect(start('2026-11-01', 'America/New_York')).toBe('2026-11-01T04:00:00.000Z');
      expect(start('2026-11-02', 'America/New_York')).toBe('2026-11-02T05:00:00.000Z');
    });
  });

  describe('zones whose daylight-saving gap skips midnight', () => {
    it('America/Santiago 2026-09-06: 00:00 does not exist, the day starts at 01:00 -03', () => {
      expect(start('2026-09-05', 'America/Santiago')).toBe('2026-09-05T04:00:00.000Z');
      expect(start('2026-09-06', 'America/Santiago')).toBe('2026-09-06T04:00:00.000Z');
      expect(start('2026-09-07', 'America/Santiago')).toBe('2026-09-07T03:00:00.000Z');
    });

    it('America/Santiago fall-back 2026-04-05 (clocks go from 24:00 back to 23:00 of the day before)', () => {
      expect(start('2026-04-04', 'America/Santiago')).toBe('2026-04-04T03:00:00.000Z');
      expect(start('2026-04-05', 'America/Santiago')).toBe('2026-04-05T04:00:00.000Z');
    });

    it('America/Havana 2026-03-08 starts at 01:00 CDT (05:00Z), not at 00:00 CDT (04:00Z)', () => {
      expect(start('2026-03-07', 'America/Havana')).toBe('2026-03-07T05:00:00.000Z');
      expect(start('2026-03-08', 'America/Havana')).toBe('2026-03-08T05:00:00.000Z');
      expect(start('2026-03-09', 'America/Havana')).toBe('2026-03-09T04:00:00.000Z');
      expect(start('2026-11-01', 'America/Havana')).toBe('2026-11-01T04:00:00.000Z');
    });

    it('Asia/Beirut 2026-03-29 starts at 01:00 +03, the next day at 00:00 +03', () => {
      expect(start('2026-03-29', 'Asia/Beirut')).toBe('2026-03-28T22:00:00.000Z');
      expect(start('2026-03-30', 'Asia/Beirut')).toBe('2026-03-29T21:00:00.000Z');
      expect(start('2026-10-25', 'Asia/Beirut')).toBe('2026-10-24T22:00:00.000Z');
    });
  });

  describe('the extremes of the offset range and odd offsets', () => {
    it('Pacific/Kiritimati (+14) starts the day on the previous UTC date', () => {
      expect(start('2026-01-01', 'Pacific/Kiritimati')).toBe('2025-12-31T10:00:00.000Z');
    });

    it('Pacific/Pago_Pago (-11) starts the day at 11:00 UTC', () => {
      expect(start('2026-01-01', 'Pacific/Pago_Pago')).toBe('2026-01-01T11:00:00.000Z');
    });

    it('Asia/Kathmandu (+05:45) and UTC', () => {
      expect(start('2026-01-01', 'Asia/Kathmandu')).toBe('2025-12-31T18:15:00.000Z');
      expect(start('2026-07-01', 'UTC')).toBe('2026-07-01T00:00:00.000Z');
    });
  });

  it.each(['America/New_York', 'America/Santiago', 'America/Havana', 'Asia/Beirut', 'Pacific/Kiritimati', 'Pacific/Pago_Pago'])(
    'every day of 2026 in %s starts on that date, and one millisecond earlier is the day before',
    (timeZone) => {
      const wrong: string[] = [];
      for (let date = '2026-01-01'; date <= '2026-12-31'; date = addDays(date, 1)) {
        const instant = startOfDay(date, timeZone).getTime();
        if (dateAt(new Date(instant), timeZone) !== date || dateAt(new Date(instant - 1), timeZone) !== addDays(date, -1)) {
          wrong.push(date);
        }
      }
      expect(wrong).toEqual([]);
    },
  );

  it('refuses a non-date', () => {
    expect(() => startOfDay('2026-02-30', 'America/New_York')).toThrow(RangeError);
  });
});
