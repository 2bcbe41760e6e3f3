import { DescribeStateMachineCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderWorkflowDefinition } from '../../lib/render-definition.ts';
import { addDays, dateAt } from '../../lambdas/domain/dates.ts';
import type { TransferView } from '../../local/local-client.ts';
import { startTestStack, type TestStack } from './local-stack.ts';
import { poll, sfnClient } from './support.ts';

let t: TestStack;
const today = dateAt(new Date(), 'America/New_York');

beforeAll(async () => {
  t = await startTestStack();
});

afterAll(async () => {
  await t?.stop();
});

type Customer = { id: string; name: string; partnerId: string; domains: string[]; settings: unknown; users: unknown };

function consent(transfer: TransferView, type: string) {
  const event = transfer.history.find((e) => e.type === type);
  expect(event, `${type} in the history`).toBeDefined();
  return event as TransferView['history'][number];
}

describe('one transfer, end to end on the local stack', () => {
  it('runs the definition the CDK builder renders', async () => {
    const sfn = sfnClient(t.stack);
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: t.stack.stateMachineArn }));
    sfn.destroy();
    expect(described.type).toBe('STANDARD');
    expect(JSON.parse(described.definition ?? '{}')).toEqual(
      renderWorkflowDefinition((name) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`),
    );
  });

  it('moves two customers after a release and an acceptance given through the emailed links', async () => {
    const acme = await t.token({ partnerId: 'P-ACME' });
    const blue = await t.token({ partnerId: 'P-BLUE', subject: 'dana@bluewave.example' });
    const before = await Promise.all(
      ['C-1001', 'C-1002'].map(async (id) => (await t.client.call('GET', `/customers/${id}`, acme)).body as Customer),
    );
    expect(before.map((c) => c.partnerId)).toEqual(['P-ACME', 'P-ACME']);

    const since = Date.now() / 1000 - 1;
    const requestedDate = addDays(today, 3);
    const created = await t.client.call('POST', '/transfers', blue, { customerIds: ['C-1001', 'C-1002'], toPartnerId: 'P-BLUE', requestedDate });
    expect(created.status).toBe(201);
    const transfer = created.body as TransferView & { billing: { recommendedDate: string } };
    expect(created.headers.get('location')).toBe(`/transfers/${transfer.id}`);
    expect(transfer.status).toBe('AWAITING_RELEASE');

    // The current partner's link: opening it (as a mail scanner would) changes nothing.
    const releaseLink = await t.client.waitForLink('billing@acme-it.example', since);
    const page = await t.client.openLink(releaseLink);
    expect(page.status).toBe(200);
    expect(page.html).toContain('name="signedBy"');
    expect((await fetch(releaseLink, { method: 'HEAD' })).status).toBe(200);
    const unchanged = await t.client.call('GET', `/transfers/${transfer.id}`, blue);
    expect((unchanged.body as TransferView).status).toBe('AWAITING_RELEASE');

    // Releasing for another date than the one asked means the new partner must accept that date.
    const releaseDate = addDays(today, 5);
    const released = await t.client.postForm(releaseLink, {
      decision: 'release',
      transferDate: releaseDate,
      signedBy: 'Alice Smith',
      acknowledge: 'on',
    });
    expect(released.status).toBe(200);
    expect(released.html).toContain('Alice Smith');

    const acceptLink = await t.client.waitForLink('partners@bluewave.example', since);
    const accepted = await t.client.postForm(acceptLink, { decision: 'accept', signedBy: 'Dana Lee', acknowledge: 'on' });
    expect(accepted.status).toBe(200);

    const done = await t.client.waitForStatus(transfer.id, blue, ['COMPLETED', 'FAILED'], 60_000);
    expect(done.status).toBe('COMPLETED');
    expect(done.transferDate).toBe(releaseDate);

    const release = consent(done, 'RELEASED');
    expect(release.detail).toMatchObject({ signedBy: 'Alice Smith', via: 'link', transferDate: releaseDate, decision: 'release' });
    expect(String(release.detail.statement)).toContain('I, Alice Smith,');
    expect(Date.parse(release.at)).toBeGreaterThan(since * 1000);
    const acceptance = [...done.history].reverse().find((e) => e.type === 'ACCEPTED');
    expect(acceptance?.detail).toMatchObject({ signedBy: 'Dana Lee', via: 'link', decision: 'accept', transferDate: releaseDate });
    expect(done.history.filter((e) => e.type === 'CUSTOMER_MOVED').map((e) => e.detail.customerId)).toEqual(['C-1001', 'C-1002']);

    // Ownership moved; mail flow data did not change by a byte.
    for (const original of before) {
      const now = await t.client.call('GET', `/customers/${original.id}`, blue);
      expect(now.status).toBe(200);
      expect(now.body).toEqual({ ...original, partnerId: 'P-BLUE' });
      expect((await t.client.call('GET', `/customers/${original.id}`, acme)).status).toBe(404);
    }

    // The confirmations follow the move: COMPLETED is recorded by re-homing, before "Send confirmations" runs.
    const confirmations = await poll('both confirmations', async () => {
      const sent = (await t.client.emails(since)).filter((e) => e.subject.startsWith('Transfer completed') && e.subject.includes(transfer.id));
      return sent.length >= 2 ? sent : undefined;
    });
    const emails = await t.client.emails(since);
    expect(confirmations.map((e) => e.destination.to).sort()).toEqual([
      ['billing@acme-it.example', 'ops@acme-it.example'],
      ['partners@bluewave.example'],
    ]);
    expect(emails.some((e) => e.destination.to.includes('devops@example.com') && e.subject.includes(transfer.id))).toBe(true);
  });

  it('asks only the new partner when the current partner releases up front, and completes', async () => {
    const acme = await t.token({ partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
    const since = Date.now() / 1000 - 1;
    const created = await t.client.call('POST', '/transfers', acme, {
      customerIds: ['C-1003'],
      toPartnerId: 'P-CORAL',
      release: { transferDate: 'immediate', signedBy: 'Alice Smith' },
    });
    expect(created.status).toBe(201);
    const transfer = created.body as TransferView;
    expect(transfer.status).toBe('AWAITING_ACCEPTANCE');
    expect(consent(transfer, 'RELEASED').detail).toMatchObject({ signedBy: 'Alice Smith', via: 'request', immediate: true });

    const acceptLink = await t.client.waitForLink('admin@coralcloud.example', since);
    expect(await t.client.submitLink(acceptLink, { decision: 'accept', signedBy: 'Carl Reef', acknowledge: 'on' })).toBe(200);
    const done = await t.client.waitForStatus(transfer.id, acme, ['COMPLETED', 'FAILED'], 60_000);
    expect(done.status).toBe('COMPLETED');
    expect(done.immediate).toBe(true);

    const emails = await t.client.emails(since);
    const approvalRequests = emails.filter((e) => e.subject.includes(transfer.id) && /\/approvals\//.test(e.body.text ?? ''));
    expect(approvalRequests.map((e) => e.destination.to)).toEqual([['admin@coralcloud.example']]);
    const coral = await t.token({ partnerId: 'P-CORAL' });
    expect(((await t.client.call('GET', '/customers/C-1003', coral)).body as Customer).partnerId).toBe('P-CORAL');
  });
});
