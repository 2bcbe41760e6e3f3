/**
 * Decline reasons end to end: a decline through the link form with a reason code reaches both
 * partners' notices, the transfer's JSON and the declines metric the dashboard graphs (the
 * functions' embedded-metric lines, read from their log streams as CloudWatch would).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLINE_REASON_LABELS } from '../../lambdas/domain/decline-reasons.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { approvalLinkFor, createTransfer, daysAfter, emailsAbout, getTransfer, poll, todayInNewYork } from './support.ts';

let t: TestStack;
const logLines: { functionName: string; line: string }[] = [];

type Emf = { _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] } } & Record<string, unknown>;

/** The Declines data points the functions emitted, with their dimensions. */
function declineMetrics(): Emf[] {
  return logLines
    .filter(({ line }) => line.includes('"CloudWatchMetrics"') && line.includes('"Declines"'))
    .map(({ line }) => JSON.parse(line) as Emf)
    .filter((emf) => emf._aws.CloudWatchMetrics.some((directive) => directive.Metrics.some((metric) => metric.Name === 'Declines')));
}

const nowSeconds = () => Date.now() / 1000 - 1;

beforeAll(async () => {
  t = await startTestStack({
    seedFile: TEST_DIRECTORY,
    env: { POWERTOOLS_METRICS_DISABLED: 'false' },
    functionLog: (functionName, _stream, line) => {
      logLines.push({ functionName, line });
    },
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('a decline with a reason code', () => {
  it('through the link form reaches both partners, the transfer JSON and the declines metric', async () => {
    const acme = await t.token({ partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
    const since = nowSeconds();
    const transfer = await createTransfer(t, acme, { customerIds: ['C-A33'], toPartnerId: 'P-BLUE', requestedDate: daysAfter(todayInNewYork(), 5) });
    const link = await approvalLinkFor(t, 'billing@acme-it.example', transfer.id, since);

    const page = await t.client.openLink(link);
    expect(page.html).toContain('name="reasonCode"');
    expect(page.html).toContain(DECLINE_REASON_LABELS.OUTSTANDING_BALANCE);

    const reason = 'Invoice 2026-118 <unpaid> since October';
    const answer = await t.client.postForm(link, {
      decision: 'decline',
      reasonCode: 'OUTSTANDING_BALANCE',
      reason,
      signedBy: 'Alice Smith',
      acknowledge: 'on',
    });
    expect(answer.status).toBe(200);

    const declined = await getTransfer(t, transfer.id, acme);
    expect(declined.status).toBe('DECLINED');
    expect((declined as unknown as { decline: unknown }).decline).toMatchObject({
      step: 'release',
      reasonCode: 'OUTSTANDING_BALANCE',
      reason,
      signedBy: 'Alice Smith',
    });
    const event = declined.history.find((e) => e.type === 'DECLINED');
    expect(event?.detail).toMatchObject({ reasonCode: 'OUTSTANDING_BALANCE', reason, via: 'link' });
    expect(String(event?.detail.statement)).toContain(`${DECLINE_REASON_LABELS.OUTSTANDING_BALANCE}: ${reason}`);

    const notices = await poll('both decline notices', async () => {
      const found = await emailsAbout(t, transfer.id, since, 'Transfer declined');
      const to = found.flatMap((e) => e.destination.to);
      return to.includes('billing@acme-it.example') && to.includes('partners@bluewave.example') ? found : undefined;
    });
    for (const notice of notices) {
      expect(notice.body.text).toContain(DECLINE_REASON_LABELS.OUTSTANDING_BALANCE);
      expect(notice.body.text).toContain(reason);
      expect(notice.body.html).toContain(DECLINE_REASON_LABELS.OUTSTANDING_BALANCE);
      expect(notice.body.html).toContain('Invoice 2026-118 &lt;unpaid&gt; since October');
    }

    const metric = await poll('the declines metric', async () => {
      const found = declineMetrics().find((emf) => emf.ReasonCode === 'OUTSTANDING_BALANCE');
      return found;
    });
    expect(metric._aws.CloudWatchMetrics[0]?.Namespace).toBe('CustomerTransfer');
    expect(metric.Declines).toBe(1);
    expect(metric.service).toBe('customer-transfer');
  });

  it('through the portal API: a listed ground may stand alone; OTHER needs the words; an unknown code is refused', async () => {
    const acme = await t.token({ partnerId: 'P-ACME' });
    const blue = await t.token({ partnerId: 'P-BLUE', subject: 'bob@bluewave.example' });
    const first = await createTransfer(t, acme, { customerIds: ['C-A34'], toPartnerId: 'P-BLUE', release: { transferDate: daysAfter(todayInNewYork(), 4), signedBy: 'Alice Smith' } });
    expect(first.status).toBe('AWAITING_ACCEPTANCE');

    const unknown = await t.client.call('POST', `/transfers/${first.id}/acceptance`, blue, { decision: 'decline', reasonCode: 'NO_REASON', signedBy: 'Bob Wave' });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toContain('reasonCode');
    const wordless = await t.client.call('POST', `/transfers/${first.id}/acceptance`, blue, { decision: 'decline', reasonCode: 'OTHER', signedBy: 'Bob Wave' });
    expect(wordless.status).toBe(400);
    expect((wordless.body as { error: { details: { issues: { field: string }[] } } }).error.details.issues).toEqual([expect.objectContaining({ field: 'reason' })]);
    expect((await getTransfer(t, first.id, blue)).status).toBe('AWAITING_ACCEPTANCE');

    const declined = await t.client.call('POST', `/transfers/${first.id}/acceptance`, blue, { decision: 'decline', reasonCode: 'DISPUTE', signedBy: 'Bob Wave' });
    expect(declined.status, JSON.stringify(declined.body)).toBe(200);
    expect((declined.body as { decline: unknown }).decline).toMatchObject({ step: 'acceptance', reasonCode: 'DISPUTE', reason: null, signedBy: 'Bob Wave' });
    await poll('the DISPUTE decline metric', async () => declineMetrics().find((emf) => emf.ReasonCode === 'DISPUTE'));

    // A decline without a code, as before codes existed, is OTHER with its words.
    const second = await createTransfer(t, acme, { customerIds: ['C-A35'], toPartnerId: 'P-BLUE' });
    const plain = await t.client.call('POST', `/transfers/${second.id}/release`, acme, { decision: 'decline', reason: 'Not this one', signedBy: 'Alice Smith' });
    expect(plain.status, JSON.stringify(plain.body)).toBe(200);
    expect((plain.body as { decline: unknown }).decline).toMatchObject({ reasonCode: 'OTHER', reason: 'Not this one' });
  });
});
