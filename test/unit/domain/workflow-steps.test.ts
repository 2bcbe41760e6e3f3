import { beforeEach, describe, expect, it } from 'vitest';
import { hashSecret, linkSecret } from '../../../lambdas/domain/approval-links.ts';
import type { Caller } from '../../../lambdas/domain/caller.ts';
import { ConflictError, RehomeFailed, TransferCancelled } from '../../../lambdas/domain/errors.ts';
import type { Transfer, TransferWithHistory } from '../../../lambdas/domain/transfer.ts';
import { failure, LINK_KEY, META, NOW, world, type World } from './in-memory-ports.ts';

const north: Caller = { kind: 'partner', partnerId: 'P-NORTH', subject: 'alice@northwind.example' };
const WINDOW = 14 * 86_400;

let w: World;
beforeEach(() => {
  w = world();
});

async function requested(): Promise<TransferWithHistory> {
  return w.transfers.create(north, { customerIds: ['C-ACME', 'C-BRIGHT'], toPartnerId: 'P-SOUTH' }, META);
}

/** A transfer both partners agreed to, scheduled for a date, its customers claimed. */
function scheduled(overrides: Partial<Transfer> = {}): Transfer {
  const transfer: Transfer = {
    id: 'TR-20260310-SCHEDULED0',
    status: 'SCHEDULED',
    customers: [
      { id: 'C-ACME', name: 'Acme Widgets', domains: ['acme.example', 'acme-mail.example'], domainCount: 2, domainsTruncated: false },
      { id: 'C-BRIGHT', name: 'Brightside Dental', domains: ['brightside.example'], domainCount: 1, domainsTruncated: false },
    ],
    fromPartner: { id: 'P-NORTH', name: 'Northwind IT' },
    toPartner: { id: 'P-SOUTH', name: 'Southgate Networks' },
    requestedDate: null,
    transferDate: '2026-04-01',
    immediate: false,
    acceptedDate: '2026-04-01',
    billing: {
      fromPartnerNextInvoiceDate: '2026-04-01',
      toPartnerNextInvoiceDate: '2026-03-15',
      recommendedDate: '2026-04-01',
      aligned: true,
      advice: '2026-04-01 is an invoice date of Northwind IT: the customer is billed once.',
    },
    ticketId: null,
    note: null,
    requestedBy: { kind: 'partner', partnerId: 'P-NORTH', name: 'alice@northwind.example' },
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    ...overrides,
  };
  w.store.seed(transfer);
  return transfer;
}

describe('WorkflowSteps.requestApproval', () => {
  it('a wait resumed after the deadline keeps the one link and deadline of the step, and sends nothing', async () => {
    const transfer = await requested();
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    const first = await w.store.getStep(transfer.id, 'release');
    w.clock.current = new Date(Date.parse(first?.expiresAt ?? '') + 5_000);

    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-2', approvalWindowSeconds: WINDOW });

    const resumed = await w.store.getStep(transfer.id, 'release');
    expect(resumed).toMatchObject({ taskToken: 'task-2', linkHash: first?.linkHash, expiresAt: first?.expiresAt });
    expect(w.mailer.sent).toHaveLength(1);
    expect(w.store.history(transfer.id).filter((e) => e.type === 'APPROVAL_REQUESTED')).toHaveLength(1);
  });

  it('stores the task token, emails the partner a link whose secret\'s hash is stored, and never stores the secret', async () => {
    const transfer = await requested();
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-token-abc', approvalWindowSeconds: WINDOW });

    const step = await w.store.getStep(transfer.id, 'release');
    expect(step).toMatchObject({ taskToken: 'task-token-abc', partnerId: 'P-NORTH', decision: null, expiresAt: '2026-03-24T15:00:00.000Z' });

    expect(w.mailer.sent).toHaveLength(1);
    const email = w.mailer.sent[0];
    expect(email?.to).toEqual(['ops@northwind.example', 'billing@northwind.example']);
    const match = /https:\/\/transfers\.example\.test\/approvals\/([A-Za-z0-9_-]{43})/.exec(email?.text ?? '');
    const secret = match?.[1] ?? '';
    expect(secret).toHaveLength(43);
    expect(email?.html).toContain(`https://transfers.example.test/approvals/${secret}`);
    expect(step?.linkHash).toBe(hashSecret(secret));
    expect(secret).toBe(linkSecret(LINK_KEY, transfer.id, 'release', step?.linkNonce ?? ''));
    expect(step?.linkSentAt).toBe(NOW.toISOString());
    expect(w.store.links.get(hashSecret(secret))).toMatchObject({ transferId: transfer.id, step: 'release', partnerId: 'P-NORTH', state: 'open' });

    const everythingStored = JSON.stringify({
      transfers: [...w.store.transfers.values()],
      events: [...w.store.events.values()],
      steps: [...w.store.steps.values()],
      links: [...w.store.links.entries()],
    });
    expect(everythingStored).not.toContain(secret);
    expect(email?.text).not.toContain('task-token-abc');
    expect(w.store.history(transfer.id).at(-1)).toMatchObject({
      type: 'APPROVAL_REQUESTED',
      actor: { kind: 'system' },
      detail: { step: 'release', partnerId: 'P-NORTH', recipients: ['ops@northwind.example', 'billing@northwind.example'] },
    });
  });

  it('a wait resumed after a reminder (or retried) keeps its link and deadline: new token, no second email', async () => {
    const transfer = await requested();
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    const first = await w.store.getStep(transfer.id, 'release');
    w.clock.current = new Date(NOW.getTime() + 3 * 86_400_000);

    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-2', approvalWindowSeconds: WINDOW });

    const second = await w.store.getStep(transfer.id, 'release');
    expect(second).toMatchObject({ taskToken: 'task-2', linkHash: first?.linkHash, linkNonce: first?.linkNonce, expiresAt: '2026-03-24T15:00:00.000Z' });
    expect(w.mailer.sent).toHaveLength(1);
    expect(w.store.links.size).toBe(1);
    expect(w.store.history(transfer.id).filter((e) => e.type === 'APPROVAL_REQUESTED')).toHaveLength(1);
  });

  it('a link whose email failed is sent again, the same link, by the retried wait', async () => {
    const transfer = await requested();
    w.mailer.failNext = new Error('SES throttled');
    await expect(w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW })).rejects.toThrow(
      'SES throttled',
    );
    expect((await w.store.getStep(transfer.id, 'release'))?.linkSentAt).toBeNull();

    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-2', approvalWindowSeconds: WINDOW });

    const step = await w.store.getStep(transfer.id, 'release');
    expect(w.mailer.sent).toHaveLength(1);
    expect(w.mailer.sent[0]?.text).toContain(`/approvals/${linkSecret(LINK_KEY, transfer.id, 'release', step?.linkNonce ?? '')}`);
    expect(step?.linkSentAt).toBe(NOW.toISOString());
    expect(w.store.links.size).toBe(1);
  });

  it('asks the new partner for the acceptance', async () => {
    const transfer = await w.transfers.create(
      north,
      { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', release: { transferDate: '2026-04-01', signedBy: 'Alice Smith' } },
      META,
    );
    await w.steps.requestApproval({ transferId: transfer.id, step: 'acceptance', taskToken: 'task-acc', approvalWindowSeconds: WINDOW });
    expect(w.mailer.sent[0]?.to).toEqual(['partners@southgate.example']);
    expect((await w.store.getStep(transfer.id, 'acceptance'))?.partnerId).toBe('P-SOUTH');
  });

  it('when the step was already decided, delivers the recorded signal to the given token instead of emailing', async () => {
    const transfer = await requested();
    // Decided through the API before the wait stored any token: nothing could be delivered yet.
    await w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith' }, META);
    expect(w.workflow.signals).toEqual([]);

    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-late', approvalWindowSeconds: WINDOW });

    expect(w.mailer.sent).toEqual([]);
    expect(w.workflow.signals).toEqual([
      { taskToken: 'task-late', signal: { kind: 'success', output: { acceptanceNeeded: true, transferDate: '2026-04-01', immediate: false } } },
    ]);
    expect((await w.store.getStep(transfer.id, 'release'))?.signalledAt).toBe(NOW.toISOString());
  });

  it('a decision that reached only a dead task token is delivered to the retried wait\'s new token', async () => {
    const transfer = await requested();
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-attempt-1', approvalWindowSeconds: WINDOW });
    // The first attempt's task is gone (its Lambda timed out after storing the token; Step Functions retries with a new token).
    w.workflow.goneTokens.add('task-attempt-1');
    await w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith' }, META);
    expect(w.workflow.refused.map((s) => s.taskToken)).toEqual(['task-attempt-1']);
    expect(w.workflow.signals).toEqual([]);

    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-attempt-2', approvalWindowSeconds: WINDOW });

    expect(w.workflow.signals.map((s) => s.taskToken)).toEqual(['task-attempt-2']);
    expect(w.workflow.signals[0]?.signal).toEqual({
      kind: 'success',
      output: { acceptanceNeeded: true, transferDate: '2026-04-01', immediate: false },
    });
  });

  it('a cancelled transfer is not asked about', async () => {
    const transfer = await requested();
    const stored = w.store.transfers.get(transfer.id);
    if (stored) stored.status = 'CANCELLED';
    const error = await failure(w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 't', approvalWindowSeconds: WINDOW }));
    expect(error).toBeInstanceOf(TransferCancelled);
    expect(w.mailer.sent).toEqual([]);
  });

  it('a step the transfer is not at is a conflict, with no email', async () => {
    const transfer = await requested();
    const error = await failure(w.steps.requestApproval({ transferId: transfer.id, step: 'acceptance', taskToken: 't', approvalWindowSeconds: WINDOW }));
    expect(error).toBeInstanceOf(ConflictError);
    expect(w.mailer.sent).toEqual([]);
  });
});

describe('WorkflowSteps.scheduleTransfer', () => {
  it('returns wakeAt = the start of the transfer date in the provider\'s zone, and escalates to DevOps', async () => {
    const transfer = scheduled({ transferDate: '2026-11-01' });
    const result = await w.steps.scheduleTransfer({ transferId: transfer.id });

    expect(result).toEqual({ wakeAt: '2026-11-01T04:00:00.000Z', transferDate: '2026-11-01' });
    expect(w.mailer.sent.map((m) => m.to)).toEqual([
      ['devops@provider.example'],
      ['ops@northwind.example', 'billing@northwind.example', 'partners@southgate.example'],
    ]);
    expect(w.store.history(transfer.id).at(-1)).toMatchObject({
      type: 'SCHEDULED',
      detail: { transferDate: '2026-11-01', wakeAt: '2026-11-01T04:00:00.000Z', timeZone: 'America/New_York', escalatedTo: 'devops@provider.example' },
    });
  });

  it('uses the configured zone, right on a day whose midnight does not exist', async () => {
    w = world({ policy: { timeZone: 'America/Santiago' } });
    const transfer = scheduled({ transferDate: '2026-09-06' });
    expect((await w.steps.scheduleTransfer({ transferId: transfer.id })).wakeAt).toBe('2026-09-06T04:00:00.000Z');
  });

  it('a cancelled transfer is not scheduled; a transfer not yet agreed is a conflict', async () => {
    const cancelled = scheduled({ status: 'CANCELLED' });
    expect(await failure(w.steps.scheduleTransfer({ transferId: cancelled.id }))).toBeInstanceOf(TransferCancelled);
    const waiting = scheduled({ id: 'TR-20260310-WAITING000', status: 'AWAITING_ACCEPTANCE', customers: [] });
    expect(await failure(w.steps.scheduleTransfer({ transferId: waiting.id }))).toMatchObject({ code: 'NOT_SCHEDULED' });
    expect(w.mailer.sent).toEqual([]);
  });
});

describe('WorkflowSteps.rehomeCustomers', () => {
  it('moves each customer to the new partner, with a 30-day lock, and completes the transfer', async () => {
    const transfer = scheduled();
    const result = await w.steps.rehomeCustomers({ transferId: transfer.id });

    expect(result.outcomes).toEqual([
      { customerId: 'C-ACME', outcome: 'moved' },
      { customerId: 'C-BRIGHT', outcome: 'moved' },
    ]);
    expect(w.directory.owner('C-ACME')).toBe('P-SOUTH');
    expect(w.directory.owner('C-BRIGHT')).toBe('P-SOUTH');
    expect(w.directory.customers.get('C-ACME')?.lockedUntil).toBe('2026-04-08');
    expect(w.store.transfers.get(transfer.id)).toMatchObject({ status: 'COMPLETED', outcomes: result.outcomes });
    expect(w.store.history(transfer.id).map((e) => e.type)).toEqual(['REHOME_STARTED', 'CUSTOMER_MOVED', 'CUSTOMER_MOVED', 'COMPLETED']);
  });

  it('is idempotent: a retry after a lost write reports already-moved and moves nobody twice', async () => {
    const transfer = scheduled();
    w.store.failNextChangeTo = 'COMPLETED';
    await expect(w.steps.rehomeCustomers({ transferId: transfer.id })).rejects.toThrow('write lost');
    expect(w.store.transfers.get(transfer.id)?.status).toBe('IN_PROGRESS');
    expect(w.store.moves).toHaveLength(2);

    const retry = await w.steps.rehomeCustomers({ transferId: transfer.id });
    expect(retry.outcomes).toEqual([
      { customerId: 'C-ACME', outcome: 'already-moved' },
      { customerId: 'C-BRIGHT', outcome: 'already-moved' },
    ]);
    expect(w.store.moves.map((m) => m.customerId)).toEqual(['C-ACME', 'C-BRIGHT']);
    expect(w.store.transfers.get(transfer.id)?.status).toBe('COMPLETED');

    const third = await w.steps.rehomeCustomers({ transferId: transfer.id });
    expect(third.outcomes).toEqual(retry.outcomes);
    expect(w.store.moves).toHaveLength(2);
    expect(w.store.history(transfer.id).filter((e) => e.type === 'CUSTOMER_MOVED')).toHaveLength(2);
  });

  it('a customer no longer owned by the current partner fails the transfer (RehomeFailed), stays untouched, operators are alerted', async () => {
    const transfer = scheduled();
    const bright = w.directory.customers.get('C-BRIGHT');
    if (bright) bright.partnerId = 'P-EAST';
    const before = structuredClone(w.directory.customers.get('C-BRIGHT'));

    const error = await failure(w.steps.rehomeCustomers({ transferId: transfer.id }));
    expect(error).toBeInstanceOf(RehomeFailed);
    expect(error).toMatchObject({ name: 'RehomeFailed', message: '1 of 2 customers could not be moved: C-BRIGHT' });

    expect(w.directory.customers.get('C-BRIGHT')).toEqual(before);
    expect(w.directory.owner('C-ACME')).toBe('P-SOUTH');
    const outcomes = [
      { customerId: 'C-ACME', outcome: 'moved' },
      { customerId: 'C-BRIGHT', outcome: 'failed', reason: 'no longer owned by P-NORTH or no longer claimed by this transfer; left unchanged' },
    ];
    expect(w.store.transfers.get(transfer.id)).toMatchObject({ status: 'FAILED', outcomes });
    expect(w.store.claims.has('C-BRIGHT')).toBe(false);
    expect(w.store.history(transfer.id).find((e) => e.type === 'FAILED')?.detail).toEqual({
      error: '1 of 2 customers could not be moved: C-BRIGHT',
      outcomes,
    });
    expect(w.mailer.sent.map((m) => m.to)).toEqual([['devops@provider.example']]);
    expect(w.alerts.published).toHaveLength(1);
    expect(w.alerts.published[0]?.subject).toBe(w.mailer.sent[0]?.subject);
  });

  it('a cancelled transfer is never re-homed (TransferCancelled)', async () => {
    const transfer = scheduled({ status: 'CANCELLED' });
    const error = await failure(w.steps.rehomeCustomers({ transferId: transfer.id }));
    expect(error).toBeInstanceOf(TransferCancelled);
    expect(error).toMatchObject({ name: 'TransferCancelled' });
    expect(w.directory.owner('C-ACME')).toBe('P-NORTH');
    expect(w.store.moves).toEqual([]);
  });

  it('a transfer that is not scheduled is a conflict and nothing moves', async () => {
    const transfer = scheduled({ status: 'AWAITING_ACCEPTANCE' });
    expect(await failure(w.steps.rehomeCustomers({ transferId: transfer.id }))).toMatchObject({ code: 'NOT_SCHEDULED' });
    expect(w.store.moves).toEqual([]);
  });
});

describe('WorkflowSteps.remindOrExpire', () => {
  const REMINDER = 3 * 86_400;

  async function waiting(): Promise<{ transfer: TransferWithHistory; secret: string }> {
    const transfer = await requested();
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    const step = await w.store.getStep(transfer.id, 'release');
    return { transfer, secret: linkSecret(LINK_KEY, transfer.id, 'release', step?.linkNonce ?? '') };
  }

  it('before the window closes: reminds the silent party with the same link and waits one interval more', async () => {
    const { transfer, secret } = await waiting();
    w.clock.current = new Date(NOW.getTime() + REMINDER * 1000);

    const result = await w.steps.remindOrExpire({ transferId: transfer.id, step: 'release', reminderIntervalSeconds: REMINDER });

    expect(result).toEqual({ expired: false, seconds: REMINDER });
    const reminder = w.mailer.sent[1];
    expect(reminder?.to).toEqual(['ops@northwind.example', 'billing@northwind.example']);
    expect(reminder?.subject).toMatch(/^Reminder: Release needed: /);
    expect(reminder?.text).toContain(`https://transfers.example.test/approvals/${secret}`);
    expect(w.store.history(transfer.id).at(-1)).toMatchObject({ type: 'REMINDER_SENT', detail: { step: 'release', expiresAt: '2026-03-24T15:00:00.000Z' } });
    expect(w.store.transfers.get(transfer.id)?.status).toBe('AWAITING_RELEASE');
  });

  it('the last wait is cut to what is left of the window', async () => {
    const { transfer } = await waiting();
    w.clock.current = new Date(Date.parse('2026-03-24T15:00:00.000Z') - 3_600_000);
    await expect(w.steps.remindOrExpire({ transferId: transfer.id, step: 'release', reminderIntervalSeconds: REMINDER })).resolves.toEqual({
      expired: false,
      seconds: 3600,
    });
  });

  it('once the window has closed: EXPIRED, claims released, both partners told', async () => {
    const { transfer } = await waiting();
    w.clock.current = new Date('2026-03-24T15:00:00.000Z');

    await expect(w.steps.remindOrExpire({ transferId: transfer.id, step: 'release', reminderIntervalSeconds: REMINDER })).resolves.toEqual({
      expired: true,
      seconds: 0,
    });

    expect(w.store.transfers.get(transfer.id)?.status).toBe('EXPIRED');
    expect(w.store.claims.size).toBe(0);
    expect(w.mailer.sent.at(-1)?.to).toEqual(['ops@northwind.example', 'billing@northwind.example', 'partners@southgate.example']);
  });

  it('a decision that beat the timeout resumes the wait at once and expires nothing', async () => {
    const { transfer } = await waiting();
    await w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith' }, META);
    w.clock.current = new Date('2026-03-25T00:00:00.000Z');
    await expect(w.steps.remindOrExpire({ transferId: transfer.id, step: 'release', reminderIntervalSeconds: REMINDER })).resolves.toEqual({
      expired: false,
      seconds: 1,
    });
    expect(w.store.transfers.get(transfer.id)?.status).toBe('AWAITING_ACCEPTANCE');
  });
});

describe('WorkflowSteps.recordOutcome', () => {
  it('CONFIRMATION_FAILED keeps the transfer COMPLETED, records the error message (not the stack) and alerts operators', async () => {
    const transfer = scheduled({ status: 'COMPLETED' });
    await w.steps.recordOutcome({
      transferId: transfer.id,
      outcome: 'CONFIRMATION_FAILED',
      error: 'TransientError',
      cause: JSON.stringify({ errorType: 'TransientError', errorMessage: 'SES throttled', trace: ['at send (ses-mailer.ts:12)'] }),
    });
    expect(w.store.transfers.get(transfer.id)?.status).toBe('COMPLETED');
    expect(w.store.history(transfer.id).at(-1)).toMatchObject({ type: 'CONFIRMATION_FAILED', detail: { error: 'TransientError: SES throttled' } });
    expect(w.mailer.sent.map((m) => m.to)).toEqual([['devops@provider.example']]);
    expect(w.alerts.published).toHaveLength(1);
  });
});

describe('WorkflowSteps: notices, not emails', () => {
  const PARTNERS = ['ops@northwind.example', 'billing@northwind.example', 'partners@southgate.example'];

  it('DECLINED tells both partners the ground of the consent: its code, and the words when given', async () => {
    const transfer = await requested();
    await w.transfers.decideByCaller(
      north,
      transfer.id,
      'release',
      { decision: 'decline', reasonCode: 'CONTRACT_IN_FORCE', reason: 'Contract runs until June', signedBy: 'Alice Smith' },
      META,
    );

    await w.steps.recordOutcome({ transferId: transfer.id, outcome: 'DECLINED' });

    expect(w.mailer.notices.at(-1)).toMatchObject({
      kind: 'decline',
      step: 'release',
      signedBy: 'Alice Smith',
      reasonCode: 'CONTRACT_IN_FORCE',
      reason: 'Contract runs until June',
      recipients: PARTNERS,
    });
    const email = w.mailer.sent.at(-1);
    expect(email?.text).toContain('Reason: A contract with the customer is still in force');
    expect(email?.text).toContain('In their words:\n> Contract runs until June');
    expect(w.store.history(transfer.id).at(-1)).toMatchObject({ type: 'DECLINE_NOTICE_SENT', detail: { step: 'release' } });
  });

  it('a decline recorded before reason codes (no reasonCode) is told as another reason, with its words', async () => {
    const transfer = scheduled({ id: 'TR-20260310-OLDDECLINE', status: 'DECLINED', transferDate: null, acceptedDate: null });
    await w.store.appendEvent(transfer.id, {
      at: NOW.toISOString(),
      type: 'DECLINED',
      actor: { kind: 'partner', partnerId: 'P-SOUTH', name: 'Bob Jones' },
      detail: { step: 'acceptance', decision: 'decline', signedBy: 'Bob Jones', reason: 'We do not serve dentists' },
    });

    await w.steps.recordOutcome({ transferId: transfer.id, outcome: 'DECLINED' });

    expect(w.mailer.notices).toEqual([expect.objectContaining({ kind: 'decline', step: 'acceptance', reasonCode: 'OTHER', reason: 'We do not serve dentists' })]);
    expect(w.mailer.sent[0]?.text).toContain('Reason: Another reason');
    expect(w.mailer.sent[0]?.text).toContain('> We do not serve dentists');
  });

  it('a failed re-homing alerts the topic in plain text with every outcome, under the subject of the email', async () => {
    const transfer = scheduled();
    const bright = w.directory.customers.get('C-BRIGHT');
    if (bright) bright.partnerId = 'P-EAST';
    await failure(w.steps.rehomeCustomers({ transferId: transfer.id }));

    expect(w.mailer.notices).toEqual([expect.objectContaining({ kind: 'failure-alert', problem: 'rehome', recipients: ['devops@provider.example'] })]);
    const [alert] = w.alerts.published;
    expect(alert?.subject).toBe(`Action needed: re-homing failed for transfer ${transfer.id} (Northwind IT to Southgate Networks)`);
    expect(alert?.message).toContain('Error: 1 of 2 customers could not be moved: C-BRIGHT');
    expect(alert?.message).toContain('  - Acme Widgets (C-ACME): moved\n');
    expect(alert?.message).toContain('  - Brightside Dental (C-BRIGHT): failed (no longer owned by P-NORTH');
    expect(alert?.message).not.toMatch(/<[a-z]/i);
  });

  it('emails render in the policy time zone, named', async () => {
    w = world({ policy: { timeZone: 'Europe/Berlin' } });
    const transfer = await requested();
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    // Two weeks after 2026-03-10 15:00 UTC: 16:00 in Berlin, still on winter time.
    expect(w.mailer.sent[0]?.text).toContain('Please decide by 2026-03-24 16:00 (Europe/Berlin, UTC+01:00).');
  });
});
