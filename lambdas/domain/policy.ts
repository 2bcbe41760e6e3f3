import { addDays, daysBetween, type CalendarDate } from './dates.ts';
import { ValidationError } from './errors.ts';

/** Deployment policy; every value is configurable per deployment and per local run. */
export interface Policy {
  timeZone: string;
  approvalWindowSeconds: number;
  reminderIntervalSeconds: number;
  lockDays: number;
  maxDaysAhead: number;
  maxCustomersPerRequest: number;
}

export const DEFAULT_POLICY: Policy = {
  timeZone: 'America/New_York',
  approvalWindowSeconds: 14 * 86_400,
  reminderIntervalSeconds: 3 * 86_400,
  lockDays: 30,
  maxDaysAhead: 180,
  maxCustomersPerRequest: 50,
};

export interface ChosenDate {
  transferDate: CalendarDate;
  immediate: boolean;
}

/** "immediate" means today in the provider's time zone; a date must be today or later, within the horizon. */
export function chooseDate(value: CalendarDate | 'immediate', today: CalendarDate, policy: Policy, field: string): ChosenDate {
  if (value === 'immediate') return { transferDate: today, immediate: true };
  const ahead = daysBetween(today, value);
  if (ahead < 0) {
    throw new ValidationError(`${field} ${value} is in the past; use ${today} or later, or "immediate".`, {
      field,
      earliest: today,
    });
  }
  if (ahead > policy.maxDaysAhead) {
    const latest = addDays(today, policy.maxDaysAhead);
    throw new ValidationError(`${field} ${value} is more than ${policy.maxDaysAhead} days ahead; the latest is ${latest}.`, {
      field,
      latest,
    });
  }
  return { transferDate: value, immediate: false };
}
