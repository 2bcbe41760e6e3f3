import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DECLINE_REASON_CODES } from '../../../lambdas/domain/decline-reasons.ts';
import { alertMessage, alertSubject, recordedReasonCode, type FailureAlertNotice } from '../../../lambdas/domain/notices.ts';
import { sampleTransfer } from '../presentation/fixtures.ts';

const DOMAIN = fileURLToPath(new URL('../../../lambdas/domain/', import.meta.url));

describe('the domain hands over notices and renders nothing', () => {
  it.each(readdirSync(DOMAIN).filter((file) => file.endsWith('.ts')))('%s imports nothing of presentation/', (file) => {
    const imports = [...readFileSync(`${DOMAIN}${file}`, 'utf8').matchAll(/^\s*(?:import|export)\b[^;]*?from\s+'([^']+)'/gm)].map((match) => match[1]);
    expect(imports.filter((path) => path?.includes('presentation/'))).toEqual([]);
  });
});

describe('recordedReasonCode', () => {
  it.each(DECLINE_REASON_CODES)('keeps %s', (code) => {
    expect(recordedReasonCode(code)).toBe(code);
  });

  it.each([undefined, null, '', 'NOT_A_CODE', 42])('reads %s (a decline recorded before codes) as OTHER', (value) => {
    expect(recordedReasonCode(value)).toBe('OTHER');
  });
});

describe('the operators’ alert in plain text', () => {
  const notice: FailureAlertNotice = {
    kind: 'failure-alert',
    transfer: sampleTransfer({ status: 'FAILED' }),
    outcomes: [
      { customerId: 'cust-acme', outcome: 'moved' },
      { customerId: 'cust-other', outcome: 'failed', reason: 'not in this transfer' },
    ],
    error: '1 of 2 customers could not be moved: cust-brightside',
    problem: 'rehome',
    recipients: ['devops@provider.example'],
  };

  it('names the problem, the transfer and both partners in its subject', () => {
    expect(alertSubject(notice)).toBe('Action needed: re-homing failed for transfer tr-20250301-0001 (Northwind IT to Southgate Networks)');
    expect(alertSubject({ ...notice, problem: 'confirmations' })).toBe(
      'Action needed: confirmations not sent for transfer tr-20250301-0001 (Northwind IT to Southgate Networks)',
    );
  });

  it('lists every customer of the transfer with its outcome, and any outcome about another customer', () => {
    const message = alertMessage(notice);
    expect(message).toContain('Error: 1 of 2 customers could not be moved: cust-brightside');
    expect(message).toContain('  - Acme Widgets Ltd (cust-acme): moved\n');
    expect(message).toContain('  - Brightside Dental (cust-brightside): not attempted\n');
    expect(message).toContain('  - cust-other: failed (not in this transfer)\n');
  });

  it('is the subject, the error, the transfer and one line per customer, each customer once', () => {
    const withOther = { ...notice, outcomes: [...notice.outcomes, { customerId: 'cust-late', outcome: 'already-moved' as const }] };
    expect(alertMessage(withOther)).toBe(
      [
        'Action needed: re-homing failed for transfer tr-20250301-0001 (Northwind IT to Southgate Networks)',
        '',
        'Error: 1 of 2 customers could not be moved: cust-brightside',
        '',
        'Transfer tr-20250301-0001 from Northwind IT (partner-north) to Southgate Networks (partner-south), status FAILED.',
        'Outcome per customer:',
        '  - Acme Widgets Ltd (cust-acme): moved',
        '  - Brightside Dental (cust-brightside): not attempted',
        '  - cust-other: failed (not in this transfer)',
        '  - cust-late: already-moved',
        '',
      ].join('\n'),
    );
  });
});
