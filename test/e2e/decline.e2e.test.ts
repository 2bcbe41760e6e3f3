import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dateAt } from '../../lambdas/domain/dates.ts';
import type { StoredEmail, TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { approvalLinkFor, createTransfer, executionArn, expectClaimReleased, getTransfer, ownerOf, poll, sfnClient } from './support.ts';

let t: TestStack;
let sfn: SFNClient;
const today = dateAt(new Date(), 'America/New_York');
const ACME_CONTACTS = ['billing@acme-it.example', 'ops@acme-it.example'];
const BLUE_CONTACTS = ['partners@bluewave.example'];
const CORAL_CONTACTS = ['admin@coralcloud.example'];

beforeAll(async () => {
  t = await startTestStack({ seedFile: TEST_DIRECTORY });
  sfn = sfnClient(t.stack);
});

afterAll(async () => {
  sfn?.destroy();
  await t?.stop();
});

type HistoryEntry = TransferView['history'][number];
type ErrorBody = { error: { code: string } };

const nowSeconds = () => Date.now() / 1000 - 1;

async function declineNotices(transferId: string, since: number): Promise<StoredEmail[]> {
  return poll('the decline notice', async () => {
    const found = (await t.client.emails(since)).filter((e) => e.subject.startsWith('Transfer declined') && e.subject.includes(transferId));
    return found.length > 0 ? found : undefined;
  });
}

function declinedEvent(transfer: TransferView): HistoryEntry {
  const events = transfer.history.filter((e) => e.type === 'DECLINED');
  expect(events).toHaveLength(1);
  return events[0] as HistoryEntry;
}

/** The workflow ended through its decline path, having told both partners. */
async function expectDeclinePathEnded(transferId: string, token: string): Promise<void> {
  const arn = executionArn(t.stack, transferId);
  const status = await poll('the execution to end', async () => {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    return described.status === 'RUNNING' ? undefined : described.status;
  });
  expect(status).toBe('SUCCEEDED');
  const transfer = await getTransfer(t, transferId, token);
  expect(transfer.status).toBe('DECLINED');
  expect(transfer.history.map((e) => e.type)).toContain('DECLINE_NOTICE_SENT');
}

describe('declining a transfer', () => {
  it('records a release declined through the portal API, and refuses the other party', async () => {
    const acme = await t.token({ partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
    const coral = await t.token({ partnerId: 'P-CORAL' });
    const since = nowSeconds();
    const transfer = await createTransfer(t, coral, { customerIds: ['C-A20'], toPartnerId: 'P-CORAL', requestedDate: addDays(today, 9) });
    expect(transfer.status).toBe('AWAITING_RELEASE');
    const releaseLink = await approvalLinkFor(t, 'billing@acme-it.example', transfer.id, since);

    // The new partner cannot decline (or release) in the current partner's place.
    const reason = 'Contract <runs> until "June" & beyond';
    const byOtherParty = await t.client.call('POST', `/transfers/${transfer.id}/release`, coral, { decision: 'decline', reason, signedBy: 'Carl Reef' });
    expect(byOtherParty.status).toBe(403);
    expect((byOtherParty.body as ErrorBody).error.code).toBe('FORBIDDEN');
    const untouched = await getTransfer(t, transfer.id, acme);
    expect(untouched.status).toBe('AWAITING_RELEASE');
    expect(untouched.history.some((e) => e.type === 'DECLINED')).toBe(false);

    const declined = await t.client.call('POST', `/transfers/${transfer.id}/release`, acme, { decision: 'decline', reason, signedBy: '  Alice Smith ' });
    expect(declined.status, JSON.stringify(declined.body)).toBe(200);

    const now = await getTransfer(t, transfer.id, coral);
    expect(now.status).toBe('DECLINED');
    const event = declinedEvent(now);
    expect(event.actor).toMatchObject({ kind: 'partner', partnerId: 'P-ACME' });
    expect(event.detail).toMatchObject({ step: 'release', decision: 'decline', signedBy: 'Alice Smith', reason, via: 'api' });
    expect(String(event.detail.statement)).toContain('Alice Smith');
    expect(String(event.detail.statement)).toContain(reason);

    const notices = await declineNotices(transfer.id, since);
    expect(notices).toHaveLength(1);
    const [notice] = notices;
    expect(notice?.subject).toContain('Acme IT Services');
    expect(notice?.destination.to.sort()).toEqual([...ACME_CONTACTS, ...CORAL_CONTACTS].sort());
    expect(notice?.body.text).toContain(reason);
    expect(notice?.body.text).toContain('Alice Smith');
    expect(notice?.body.html).toContain('Contract &lt;runs&gt; until &quot;June&quot; &amp; beyond');
    expect(notice?.body.html).not.toContain('<runs>');
    await expectDeclinePathEnded(transfer.id, acme);

    // The emailed link no longer decides anything.
    const page = await t.client.openLink(releaseLink);
    expect(page.status).toBe(409);
    expect(page.html).toContain('no longer waiting for this decision');
    expect(await ownerOf(t, 'C-A20')).toBe('P-ACME');
    await expectClaimReleased(t, 'C-A20', coral, 'P-CORAL');
  });

  it('records an acceptance declined through the link page, after rejecting incomplete forms', async () => {
    const acme = await t.token({ partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const since = nowSeconds();
    const transfer = await createTransfer(t, acme, {
      customerIds: ['C-A21'],
      toPartnerId: 'P-BLUE',
      release: { transferDate: addDays(today, 6), signedBy: 'Alice Smith' },
    });
    expect(transfer.status).toBe('AWAITING_ACCEPTANCE');
    const acceptLink = await approvalLinkFor(t, 'partners@bluewave.example', transfer.id, since);

    // The current partner cannot decline the acceptance in the new partner's place.
    const byOtherParty = await t.client.call('POST', `/transfers/${transfer.id}/acceptance`, acme, {
      decision: 'decline',
      reason: 'Changed our mind',
      signedBy: 'Alice Smith',
    });
    expect(byOtherParty.status).toBe(403);

    // Incomplete forms: the page comes back naming the field, and nothing is recorded.
    const noReason = await t.client.postForm(acceptLink, { decision: 'decline', signedBy: 'Dana Lee', acknowledge: 'on' });
    expect(noReason.status).toBe(400);
    expect(noReason.html).toContain('Your decision was not recorded');
    expect(noReason.html).toContain('Reason: say why you decline');
    expect(noReason.html).toContain('id="reason-error"');
    expect(noReason.html).not.toContain('id="acknowledge-error"');
    const noAcknowledgement = await t.client.postForm(acceptLink, { decision: 'decline', reason: 'No capacity for them', signedBy: 'Dana Lee' });
    expect(noAcknowledgement.status).toBe(400);
    expect(noAcknowledgement.html).toContain('Written consent: tick the box');
    expect(noAcknowledgement.html).toContain('id="acknowledge-error"');
    expect(noAcknowledgement.html).not.toContain('id="reason-error"');
    // What was typed is kept for the second try.
    expect(noAcknowledgement.html).toContain('No capacity for them');
    const unchanged = await getTransfer(t, transfer.id, blue);
    expect(unchanged.status).toBe('AWAITING_ACCEPTANCE');
    expect(unchanged.history.some((e) => e.type === 'DECLINED')).toBe(false);
    // The link still works after the rejected attempts.
    expect((await t.client.openLink(acceptLink)).status).toBe(200);

    const reason = 'No capacity to onboard them this quarter';
    const form = { decision: 'decline', reason, signedBy: 'Dana Lee', acknowledge: 'on' };
    const recorded = await t.client.postForm(acceptLink, form);
    expect(recorded.status).toBe(200);
    expect(recorded.html).toContain('Your decision has been recorded');
    expect(recorded.html).toContain(reason);

    const now = await getTransfer(t, transfer.id, acme);
    expect(now.status).toBe('DECLINED');
    const event = declinedEvent(now);
    expect(event.actor).toMatchObject({ kind: 'partner', partnerId: 'P-BLUE', name: 'Dana Lee' });
    expect(event.detail).toMatchObject({ step: 'acceptance', decision: 'decline', signedBy: 'Dana Lee', reason, via: 'link' });
    expect(now.history.some((e) => e.type === 'ACCEPTED')).toBe(false);

    const notices = await declineNotices(transfer.id, since);
    expect(notices).toHaveLength(1);
    expect(notices[0]?.subject).toContain('Bluewave Networks');
    expect(notices[0]?.destination.to.sort()).toEqual([...ACME_CONTACTS, ...BLUE_CONTACTS].sort());
    expect(notices[0]?.body.text).toContain(reason);
    expect(notices[0]?.body.html).toContain(reason);
    await expectDeclinePathEnded(transfer.id, blue);

    // The link used again: opening it or posting the same form says the decision was already recorded.
    const reopened = await t.client.openLink(acceptLink);
    expect(reopened.status).toBe(409);
    expect(reopened.html).toContain('This link has already been used');
    expect(reopened.html).toContain('A decision was already recorded with this link');
    const resubmitted = await t.client.postForm(acceptLink, form);
    expect(resubmitted.status).toBe(200);
    expect(resubmitted.html).toContain('This decision was already recorded');
    expect(resubmitted.html).toContain(reason);
    // Another decision through the used link changes nothing either.
    const turnedAround = await t.client.postForm(acceptLink, { decision: 'accept', signedBy: 'Dana Lee', acknowledge: 'on' });
    expect(turnedAround.status).toBe(409);
    expect(turnedAround.html).toContain('This link has already been used');
    const after = await getTransfer(t, transfer.id, acme);
    expect(after.status).toBe('DECLINED');
    expect(after.history.filter((e) => e.type === 'DECLINED')).toHaveLength(1);
    expect(after.history.some((e) => e.type === 'ACCEPTED')).toBe(false);
    expect((await declineNotices(transfer.id, since)).length).toBe(1);

    expect(await ownerOf(t, 'C-A21')).toBe('P-ACME');
    await expectClaimReleased(t, 'C-A21', acme, 'P-BLUE');
  });
});
