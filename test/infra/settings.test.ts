import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { readTransferSettings } from '../../lib/transfer-stack.ts';

const read = (context: Record<string, unknown> = {}) => readTransferSettings(new App({ context }));

describe('deployment settings from context', () => {
  it('default to the documented values', () => {
    expect(read()).toEqual({
      stage: undefined,
      jwtIssuer: 'https://issuer.example.com/',
      jwtAudience: 'transfer-portal',
      jwtPartnerClaim: 'partner_id',
      jwtRolesClaim: 'roles',
      senderEmail: 'transfers@example.com',
      devopsEmail: 'devops@example.com',
      alarmEmail: 'devops@example.com',
      logRetentionDays: 30,
      publicBaseUrl: undefined,
      transferTimezone: 'America/New_York',
      approvalWindowSeconds: 1_209_600,
      reminderIntervalSeconds: 259_200,
      lockDays: 30,
      retentionDays: 2557,
      webhookRetrySchedule: [5, 30, 120, 600, 3600, 21_600, 86_400],
    });
  });

  it('accept numbers given as strings on the command line', () => {
    expect(read({ approvalWindowSeconds: '600', reminderIntervalSeconds: 60, lockDays: ' 1 ' })).toMatchObject({
      approvalWindowSeconds: 600,
      reminderIntervalSeconds: 60,
      lockDays: 1,
    });
  });

  it('drop a trailing slash from the public base URL, since handlers append paths', () => {
    expect(read({ publicBaseUrl: 'https://transfers.example.com/' }).publicBaseUrl).toBe('https://transfers.example.com');
  });

  it.each([
    [{ approvalWindowSeconds: 'two weeks' }, /approvalWindowSeconds/],
    [{ approvalWindowSeconds: 0 }, /approvalWindowSeconds/],
    [{ lockDays: 1.5 }, /lockDays/],
    [{ retentionDays: 0 }, /retentionDays/],
    [{ retentionDays: 'seven years' }, /retentionDays/],
    [{ reminderIntervalSeconds: -3 }, /reminderIntervalSeconds/],
    [{ jwtIssuer: 'http://issuer.example.com/' }, /jwtIssuer/],
    [{ jwtAudience: '' }, /jwtAudience/],
    [{ senderEmail: 'transfers' }, /senderEmail/],
    [{ devopsEmail: 'devops@' }, /devopsEmail/],
    [{ publicBaseUrl: 'transfers.example.com' }, /publicBaseUrl/],
    [{ transferTimezone: 'Mars/Olympus_Mons' }, /transferTimezone/],
    [{ runbookUrl: 'README.md#runbook' }, /runbookUrl/],
    [{ alarmEmail: 'alarms' }, /alarmEmail/],
    [{ logRetentionDays: 10 }, /logRetentionDays must be one of 1, 3, 5, 7, 14, 30/],
  ])('reject %o', (context, message) => {
    expect(() => read(context)).toThrow(message);
  });
});
