import { describe, expect, it } from 'vitest';
import { feedbackOf } from '../../../lambdas/adapters/ses-feedback.ts';

const TRANSFER = 'TR-20260310-BOUNCE0001';

/** An SES event as a configuration set publishes it (the fields SES documents; headers left out). */
function sesEvent(eventType: string, extra: Record<string, unknown>, tags: Record<string, string[]> = { transferId: [TRANSFER] }): string {
  return JSON.stringify({
    eventType,
    mail: {
      timestamp: '2026-03-10T16:00:00.000Z',
      source: 'transfers@provider.example',
      sendingAccountId: '123456789012',
      messageId: '010001-example',
      destination: ['ops@northwind.example', 'billing@northwind.example'],
      headersTruncated: false,
      tags: { 'ses:configuration-set': ['CustomerTransfer-prod-mail'], 'ses:from-domain': ['provider.example'], ...tags },
    },
    ...extra,
  });
}

describe('feedbackOf', () => {
  it('reads a permanent bounce: its transfer from the email tag, its bounced recipients and when', () => {
    const body = sesEvent('Bounce', {
      bounce: {
        bounceType: 'Permanent',
        bounceSubType: 'General',
        bouncedRecipients: [{ emailAddress: 'ops@northwind.example', action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }],
        timestamp: '2026-03-10T16:00:02.000Z',
        feedbackId: 'fb-1',
      },
    });
    expect(feedbackOf(body)).toEqual({ transferId: TRANSFER, kind: 'bounce', permanent: true, addresses: ['ops@northwind.example'], at: '2026-03-10T16:00:02.000Z' });
  });

  it('reads a transient bounce as not permanent, and a complaint as permanent', () => {
    expect(feedbackOf(sesEvent('Bounce', { bounce: { bounceType: 'Transient', bouncedRecipients: [{ emailAddress: 'ops@northwind.example' }], timestamp: 'x' } }))).toMatchObject({
      kind: 'bounce',
      permanent: false,
    });
    expect(
      feedbackOf(sesEvent('Complaint', { complaint: { complainedRecipients: [{ emailAddress: 'billing@northwind.example' }], timestamp: '2026-03-10T17:00:00.000Z' } })),
    ).toEqual({ transferId: TRANSFER, kind: 'complaint', permanent: true, addresses: ['billing@northwind.example'], at: '2026-03-10T17:00:00.000Z' });
  });

  it('answers nothing for another event type, an email without the transfer tag, or a body that is no SES event', () => {
    expect(feedbackOf(sesEvent('Delivery', { delivery: { recipients: ['ops@northwind.example'] } }))).toBeUndefined();
    expect(feedbackOf(sesEvent('Bounce', { bounce: { bounceType: 'Permanent', bouncedRecipients: [] } }, {}))).toBeUndefined();
    expect(feedbackOf('{"AlarmName":"TransferTest-errors","NewStateValue":"ALARM"}')).toBeUndefined();
    expect(feedbackOf('not json')).toBeUndefined();
  });
});
