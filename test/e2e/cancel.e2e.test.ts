import { DescribeExecutionCommand, type HistoryEvent, type SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dateAt } from '../../lambdas/domain/dates.ts';
import type { ApiAnswer, StoredEmail, TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { approvalLinkFor, createTransfer, documentClient, executionArn, executionHistory, getTransfer, ownerOf, poll, sfnClient, transferItems } from './support.ts';

// A long cap on the sleep, so that a transfer for a future date stays SCHEDULED while the test cancels
// it; an "immediate" transfer wakes at 00:00 today, in the past, so it does not sleep at all.
let t: TestStack;
let sfn: SFNClient;
const today = dateAt(new Date(), 'America/New_York');
const ACME_CONTACTS = ['billing@acme-it.example', 'ops@acme-it.example'];
const BLUE_CONTACTS = ['partners@bluewave.example'];

beforeAll(async () => {
  t = await startTestStack({ seedFile: TEST_DIRECTORY, maxWaitSeconds: 30 });
  sfn = sfnClient(t.stack);
});

afterAll(async () => {
  sfn?.destroy();
  await t?.stop();
});

type ErrorBody = { error: { code: string; message: string } };

const nowSeconds = () => Date.now() / 1000 - 1;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function errorCode(answer: ApiAnswer): string {
  return (answer.body as ErrorBody).error.code;
}

/** The execution has ended: stopped (ABORTED), or ended on its own through the "Transfer cancelled" state. */
async function expectExecutionStopped(transferId: string, expected?: 'ABORTED'): Promise<void> {
  const arn = executionArn(t.stack, transferId);
  const status = await poll('the execution to end', async () => {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    return described.status === 'RUNNING' ? undefined : described.status;
  });
  if (expected) expect(status).toBe(expected);
  expect(['ABORTED', 'SUCCEEDED']).toContain(status);
  const events: HistoryEvent[] = await executionHistory(sfn, arn);
  const entered = events.map((e) => e.stateEnteredEventDetails?.name).filter((name): name is string => name !== undefined);
  if (status === 'SUCCEEDED') expect(entered).toContain('Transfer cancelled');
}

async function cancellationEmails(transferId: string, since: number): Promise<StoredEmail[]> {
  return poll('the cancellation notice', async () => {
    const found = (await t.client.emails(since)).filter((e) => e.subject.startsWith('Transfer cancelled') && e.subject.includes(transferId));
    return found.length > 0 ? found : undefined;
  });
}

/** The notice reaches both partners and carries the reason: as is in the text, escaped in the HTML. */
function expectNotice(emails: StoredEmail[], reason: string, escapedReason: string): void {
  expect(emails).toHaveLength(1);
  const [email] = emails;
  expect(email?.destination.to.sort()).toEqual([...ACME_CONTACTS, ...BLUE_CONTACTS].sort());
  expect(email?.body.text).toContain(reason);
  expect(email?.body.html).toContain(escapedReason);
  if (escapedReason !== reason) expect(email?.body.html).not.toContain(reason);
}

/** The claim is gone: the same customer can be requested again at once (and that request is withdrawn again). */
async function expectClaimReleased(customerId: string): Promise<void> {
  const acme = await t.token({ partnerId: 'P-ACME' });
  const again = await t.client.call('POST', '/transfers', acme, { customerIds: [customerId], toPartnerId: 'P-BLUE' });
  expect(again.status, JSON.stringify(again.body)).toBe(201);
  const id = (again.body as TransferView).id;
  expect((await t.client.call('POST', `/transfers/${id}/cancel`, acme, { reason: 'test clean-up' })).status).toBe(200);
}

function cancelledEvent(transfer: TransferView): TransferView['history'][number] {
  const events = transfer.history.filter((e) => e.type === 'CANCELLED');
  expect(events).toHaveLength(1);
  return events[0] as TransferView['history'][number];
}

describe('cancelling a transfer before re-homing', () => {
  it('lets the current partner cancel while the release is awaited', async () => {
    const acme = await t.token({ partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const since = nowSeconds();
    const transfer = await createTransfer(t, blue, { customerIds: ['C-A01'], toPartnerId: 'P-BLUE', requestedDate: addDays(today, 10) });
    expect(transfer.status).toBe('AWAITING_RELEASE');
    const releaseLink = await approvalLinkFor(t, 'billing@acme-it.example', transfer.id, since);

    const reason = 'Customer <b>asked</b> to stay & "keep" us';
    const cancelled = await t.client.call('POST', `/transfers/${transfer.id}/cancel`, acme, { reason });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    expect((cancelled.body as TransferView).status).toBe('CANCELLED');

    const now = await getTransfer(t, transfer.id, blue);
    expect(now.status).toBe('CANCELLED');
    expect(cancelledEvent(now)).toMatchObject({ actor: { kind: 'partner', partnerId: 'P-ACME' }, detail: { reason, ticketId: null } });
    await expectExecutionStopped(transfer.id);
    expectNotice(await cancellationEmails(transfer.id, since), reason, 'Customer &lt;b&gt;asked&lt;/b&gt; to stay &amp; &quot;keep&quot; us');

    const page = await t.client.openLink(releaseLink);
    expect(page.status).toBe(409);
    expect(page.html).toContain('no longer waiting for this decision');
    // Posting the form of the stale page records nothing either.
    const posted = await t.client.postForm(releaseLink, { decision: 'release', transferDate: addDays(today, 10), signedBy: 'Alice Smith', acknowledge: 'on' });
    expect(posted.status).toBe(409);
    expect((await getTransfer(t, transfer.id, blue)).history.some((e) => e.type === 'RELEASED')).toBe(false);

    expect(await ownerOf(t, 'C-A01')).toBe('P-ACME');
    await expectClaimReleased('C-A01');

    // Closed, the transfer expires with its history, party views, steps and snapshots seven years (the
    // default retentionDays) after the cancellation: the relay stamps each item for the table's TTL.
    const expiry = Math.floor(Date.parse(cancelledEvent(now).at) / 1000) + 2557 * 86_400;
    const db = documentClient(t.stack);
    const own = await poll('the retention expiry on every item of the transfer', async () => {
      const items = (await transferItems(db, t.stack.tableName, transfer.id)).filter((item) => !String(item.sk).startsWith('#'));
      return items.every((item) => item.expiresAtEpoch === expiry) ? items : undefined;
    });
    expect(new Set(own.map((item) => item.kind))).toEqual(new Set(['transfer', 'party', 'transfer-customer', 'event', 'step']));
  });

  it('lets the new partner cancel while its acceptance is awaited, after a release through the link', async () => {
    const acme = await t.token({ partnerId: 'P-ACME' });
    const blue = await t.token({ partnerId: 'P-BLUE', subject: 'dana@bluewave.example' });
    const since = nowSeconds();
    const transfer = await createTransfer(t, acme, { customerIds: ['C-A02'], toPartnerId: 'P-BLUE' });
    const releaseLink = await approvalLinkFor(t, 'billing@acme-it.example', transfer.id, since);
    const released = await t.client.postForm(releaseLink, { decision: 'release', transferDate: addDays(today, 12), signedBy: 'Alice Smith', acknowledge: 'on' });
    expect(released.status).toBe(200);
    const acceptLink = await approvalLinkFor(t, 'partners@bluewave.example', transfer.id, since);
    expect((await getTransfer(t, transfer.id, blue)).status).toBe('AWAITING_ACCEPTANCE');

    const reason = 'We cannot onboard them this quarter';
    const cancelled = await t.client.call('POST', `/transfers/${transfer.id}/cancel`, blue, { reason });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);

    const now = await getTransfer(t, transfer.id, acme);
    expect(now.status).toBe('CANCELLED');
    expect(cancelledEvent(now)).toMatchObject({ actor: { kind: 'partner', partnerId: 'P-BLUE', name: 'dana@bluewave.example' }, detail: { reason } });
    expect(now.history.some((e) => e.type === 'ACCEPTED')).toBe(false);
    await expectExecutionStopped(transfer.id);
    expectNotice(await cancellationEmails(transfer.id, since), reason, reason);

    const page = await t.client.openLink(acceptLink);
    expect(page.status).toBe(409);
    expect(page.html).toContain('no longer waiting for this decision');
    expect(page.html).toContain('Cancelled');
    const posted = await t.client.postForm(acceptLink, { decision: 'accept', signedBy: 'Dana Lee', acknowledge: 'on' });
    expect(posted.status).toBe(409);
    expect((await getTransfer(t, transfer.id, acme)).status).toBe('CANCELLED');

    expect(await ownerOf(t, 'C-A02')).toBe('P-ACME');
    await expectClaimReleased('C-A02');
  });

  it('lets an operator cancel a scheduled, sleeping transfer only citing a ticket', async () => {
    const acme = await t.token({ partnerId: 'P-ACME' });
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const operator = await t.token('operator');
    const since = nowSeconds();
    const date = addDays(today, 14);
    const transfer = await createTransfer(t, blue, { customerIds: ['C-A03'], toPartnerId: 'P-BLUE', requestedDate: date });
    const released = await t.client.call('POST', `/transfers/${transfer.id}/release`, acme, { decision: 'release', transferDate: date, signedBy: 'Alice Smith' });
    expect(released.status, JSON.stringify(released.body)).toBe(200);
    // Scheduled and escalated: the execution now sleeps (up to the 30 s cap) until the date.
    await poll('the schedule to be recorded', async () => ((await getTransfer(t, transfer.id, blue)).history.some((e) => e.type === 'SCHEDULED') ? true : undefined));
    expect((await getTransfer(t, transfer.id, blue)).status).toBe('SCHEDULED');

    const withoutTicket = await t.client.call('POST', `/transfers/${transfer.id}/cancel`, operator, { reason: 'Partner phoned support' });
    expect(withoutTicket.status).toBe(400);
    expect(errorCode(withoutTicket)).toBe('INVALID_REQUEST');
    expect(JSON.stringify(withoutTicket.body)).toContain('ticketId');
    const untouched = await getTransfer(t, transfer.id, blue);
    expect(untouched.status).toBe('SCHEDULED');
    expect(untouched.history.some((e) => e.type === 'CANCELLED')).toBe(false);

    const reason = 'Partner phoned support to withdraw';
    const cancelled = await t.client.call('POST', `/transfers/${transfer.id}/cancel`, operator, { reason, ticketId: 'SUP-4711' });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    const now = await getTransfer(t, transfer.id, acme);
    expect(now.status).toBe('CANCELLED');
    expect(cancelledEvent(now)).toMatchObject({ actor: { kind: 'operator' }, detail: { reason, ticketId: 'SUP-4711' } });
    // Asleep in the Wait state, the workflow cannot notice by itself: the cancel stopped it.
    await expectExecutionStopped(transfer.id, 'ABORTED');
    const notice = await cancellationEmails(transfer.id, since);
    expectNotice(notice, reason, reason);
    expect(notice[0]?.body.text).toContain('SUP-4711');

    expect(await ownerOf(t, 'C-A03')).toBe('P-ACME');
    await expectClaimReleased('C-A03');
  });

  it('refuses once re-homing began, for an ended transfer, and for a partner that is not a party', async () => {
    const acme = await t.token({ partnerId: 'P-ACME' });
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const coral = await t.token({ partnerId: 'P-CORAL' });
    const operator = await t.token('operator');

    // Completed: an immediate transfer agreed up front by both sides does not sleep.
    const completed = await createTransfer(t, acme, { customerIds: ['C-A04'], toPartnerId: 'P-BLUE', release: { transferDate: 'immediate', signedBy: 'Alice Smith' } });
    const accepted = await t.client.call('POST', `/transfers/${completed.id}/acceptance`, blue, { decision: 'accept', signedBy: 'Dana Lee' });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect((await t.client.waitForStatus(completed.id, blue, ['COMPLETED', 'FAILED'], 20_000)).status).toBe('COMPLETED');
    for (const token of [blue, operator]) {
      const late = await t.client.call('POST', `/transfers/${completed.id}/cancel`, token, { reason: 'Too late now', ticketId: 'SUP-1' });
      expect(late.status).toBe(409);
      expect(errorCode(late)).toBe('REHOMING_BEGAN');
    }
    const stillDone = await getTransfer(t, completed.id, blue);
    expect(stillDone.status).toBe('COMPLETED');
    expect(stillDone.history.some((e) => e.type === 'CANCELLED')).toBe(false);
    expect(await ownerOf(t, 'C-A04')).toBe('P-BLUE');

    // Not a party: 404, exactly as for an id that does not exist, and nothing changes.
    const transfer = await createTransfer(t, acme, { customerIds: ['C-A05'], toPartnerId: 'P-BLUE' });
    const stranger = await t.client.call('POST', `/transfers/${transfer.id}/cancel`, coral, { reason: 'Not mine to cancel' });
    expect(stranger.status).toBe(404);
    const unknown = await t.client.call('POST', '/transfers/TR-20000101-AAAAAAAAAAAAAAAA/cancel', coral, { reason: 'Not mine to cancel' });
    expect(unknown.status).toBe(404);
    expect(errorCode(stranger)).toBe(errorCode(unknown));
    expect((await getTransfer(t, transfer.id, acme)).status).toBe('AWAITING_RELEASE');

    // Already cancelled: the second cancel is refused and the first one stands.
    expect((await t.client.call('POST', `/transfers/${transfer.id}/cancel`, acme, { reason: 'First reason' })).status).toBe(200);
    const again = await t.client.call('POST', `/transfers/${transfer.id}/cancel`, blue, { reason: 'Second reason' });
    expect(again.status).toBe(409);
    expect(errorCode(again)).toBe('ALREADY_ENDED');
    const ended = await getTransfer(t, transfer.id, acme);
    expect(ended.status).toBe('CANCELLED');
    expect(cancelledEvent(ended).detail.reason).toBe('First reason');
  });

  it('never both cancels and re-homes when a cancel races the end of the sleep', async () => {
    const acme = await t.token({ partnerId: 'P-ACME' });
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const customers = ['C-A10', 'C-A11', 'C-A12', 'C-A13', 'C-A14', 'C-A15', 'C-A16', 'C-A17'];
    const delaysMs = [0, 150, 300, 400, 500, 600, 750, 1000];
    const transfers = await Promise.all(
      customers.map((customerId) =>
        createTransfer(t, acme, { customerIds: [customerId], toPartnerId: 'P-BLUE', release: { transferDate: 'immediate', signedBy: 'Alice Smith' } }),
      ),
    );
    await Promise.all(transfers.map((transfer) => approvalLinkFor(t, 'partners@bluewave.example', transfer.id, 0)));
    // The acceptance ends the last wait; an immediate transfer's sleep then ends at once (it wakes at
    // 00:00 today) and re-homing starts. Each cancel follows its acceptance by a different delay, so
    // that some land before re-homing begins and some after (the split varies from run to run).
    const answers = await Promise.all(
      transfers.map(async (transfer, index) => {
        const accepting = t.client.call('POST', `/transfers/${transfer.id}/acceptance`, blue, { decision: 'accept', signedBy: 'Dana Lee' });
        await sleep(delaysMs[index] ?? 0);
        const cancelling = t.client.call('POST', `/transfers/${transfer.id}/cancel`, acme, { reason: 'Racing the re-homing' });
        return { accepted: await accepting, cancelled: await cancelling };
      }),
    );

    const outcomes: string[] = [];
    for (const [index, transfer] of transfers.entries()) {
      const customerId = customers[index] ?? '';
      const answer = answers[index]?.cancelled;
      const accepted = answers[index]?.accepted;
      const done = await t.client.waitForStatus(transfer.id, acme, ['CANCELLED', 'COMPLETED', 'FAILED'], 20_000);
      // Ownership is read once the execution has ended, so a late re-homing could not hide.
      const execution = await poll('the execution to end', async () => {
        const described = await sfn.send(new DescribeExecutionCommand({ executionArn: executionArn(t.stack, transfer.id) }));
        return described.status === 'RUNNING' ? undefined : described.status;
      });
      const owner = await ownerOf(t, customerId);
      outcomes.push(`${customerId}: accept ${accepted?.status ?? '?'}, cancel ${answer?.status ?? '?'}, ${done.status}, owner ${owner}`);
      if (done.status === 'CANCELLED') {
        expect(answer?.status).toBe(200);
        expect([200, 409]).toContain(accepted?.status);
        expect(owner).toBe('P-ACME');
        expect(done.history.some((e) => e.type === 'CUSTOMER_MOVED' || e.type === 'REHOME_STARTED')).toBe(false);
        await expectExecutionStopped(transfer.id);
        expect((await getTransfer(t, transfer.id, acme)).status).toBe('CANCELLED');
      } else {
        expect(done.status).toBe('COMPLETED');
        expect(accepted?.status).toBe(200);
        expect(answer?.status).toBe(409);
        expect(answer && errorCode(answer)).toBe('REHOMING_BEGAN');
        expect(owner).toBe('P-BLUE');
        expect(execution).toBe('SUCCEEDED');
        expect(done.history.some((e) => e.type === 'CANCELLED')).toBe(false);
      }
    }
    console.info(`cancel race outcomes:\n  ${outcomes.join('\n  ')}`);
  });
});
