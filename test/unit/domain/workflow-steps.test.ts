import { beforeEach, describe, expect, it } from 'vitest';
import { hashSecret, linkSecret } from '../../../lambdas/domain/approval-links.ts';
import type { Caller } from '../../../lambdas/domain/caller.ts';
import { ConflictError, RehomeFailed, TransferCancelled } from '../../../lambdas/domain/errors.ts';
import type { Transfer, TransferWithHistory } from '../../../lambdas/domain/transfer.ts';
import { WorkflowSteps } from '../../../lambdas/domain/workflow-steps.ts';
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

describe('WorkflowSteps.requestApproval: one link per step', () => {
  it('a resumed wait keeps its link open and stores only its new token: no new link, nothing superseded', async () => {
    const transfer = await requested();
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    const first = await w.store.getStep(transfer.id, 'release');
    const opened: unknown[] = [];
    const openStep = w.store.openStep.bind(w.store);
    w.store.openStep = (input) => (opened.push(input), openStep(input));

    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-2', approvalWindowSeconds: WINDOW });

    expect(opened).toEqual([expect.objectContaining({ taskToken: 'task-2', newLink: false, supersedes: null, event: null })]);
    expect(w.store.links.get(first?.linkHash ?? '')?.state).toBe('open');
    expect((await w.store.getStep(transfer.id, 'release'))?.linkSentAt).toBe(NOW.toISOString());
  });

  it('a step stored without its link\'s nonce gets a new link, which supersedes the old one', async () => {
    const transfer = await requested();
    w.store.steps.set(`${transfer.id}#release`, {
      transferId: transfer.id,
      step: 'release',
      partnerId: 'P-NORTH',
      taskToken: 'task-old',
      linkHash: 'old-link-hash',
      linkNonce: null,
      linkSentAt: NOW.toISOString(),
      expiresAt: '2026-03-20T15:00:00.000Z',
      decision: null,
      signal: null,
      signalledAt: null,
    });
    w.store.links.set('old-link-hash', { hash: 'old-link-hash', transferId: transfer.id, step: 'release', partnerId: 'P-NORTH', expiresAt: '2026-03-20T15:00:00.000Z', state: 'open' });

    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-new', approvalWindowSeconds: WINDOW });

    const step = await w.store.getStep(transfer.id, 'release');
    expect(step?.linkHash).not.toBe('old-link-hash');
    expect(step?.expiresAt).toBe('2026-03-24T15:00:00.000Z');
    expect(w.store.links.get('old-link-hash')?.state).toBe('superseded');
    expect(w.mailer.sent).toHaveLength(1);
  });

  it('a decision recorded while the wait opened its step is delivered to the wait instead of an email', async () => {
    const transfer = await requested();
    const openStep = w.store.openStep.bind(w.store);
    w.store.openStep = async (input) => {
      await w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith' }, META);
      return openStep(input);
    };

    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });

    expect(w.mailer.sent).toEqual([]);
    expect(w.workflow.signals.map((s) => s.taskToken)).toEqual(['task-1']);
  });

  it('a partner gone from the directory is asked of no one, and the event says so', async () => {
    const transfer = await requested();
    w.directory.partners.delete('P-NORTH');
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    expect(w.mailer.notices).toEqual([expect.objectContaining({ kind: 'approval-request', recipients: [] })]);
    expect(w.store.history(transfer.id).at(-1)).toMatchObject({ type: 'APPROVAL_REQUESTED', actor: { kind: 'system', name: 'workflow' }, detail: { recipients: [] } });
  });

  it('a step the transfer is not at is a NOT_WAITING conflict', async () => {
    const transfer = await requested();
    const error = await failure(w.steps.requestApproval({ transferId: transfer.id, step: 'acceptance', taskToken: 't', approvalWindowSeconds: WINDOW }));
    expect(error).toMatchObject({ code: 'NOT_WAITING' });
  });

  it('the link is the public address without its trailing slashes', async () => {
    const steps = new WorkflowSteps({ ...stepsDeps(), publicBaseUrl: 'https://portal.example.test/transfers//' });
    const transfer = await requested();
    await steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    expect(w.mailer.notices[0]).toMatchObject({ link: expect.stringMatching(/^https:\/\/portal\.example\.test\/transfers\/approvals\/[A-Za-z0-9_-]{43}$/) });
  });
});

/** The dependencies of the world's steps, to build them with another setting. */
function stepsDeps() {
  return {
    store: w.store,
    directory: w.directory,
    mailer: w.mailer,
    alerts: w.alerts,
    linkKey: { key: () => Promise.resolve(LINK_KEY) },
    transfers: w.transfers,
    clock: w.clock,
    policy: w.policy,
    publicBaseUrl: 'https://transfers.example.test/',
    devopsEmail: 'devops@provider.example',
  };
}

describe('WorkflowSteps.remindOrExpire: the step as it stands', () => {
  const REMINDER = 3 * 86_400;

  it('a reminder for the acceptance goes to the new partner', async () => {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', release: { transferDate: '2026-04-01', signedBy: 'Alice Smith' } }, META);
    await w.steps.requestApproval({ transferId: transfer.id, step: 'acceptance', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    w.clock.current = new Date(NOW.getTime() + REMINDER * 1000);
    await w.steps.remindOrExpire({ transferId: transfer.id, step: 'acceptance', reminderIntervalSeconds: REMINDER });
    expect(w.mailer.notices.at(-1)).toMatchObject({ kind: 'approval-request', step: 'acceptance', reminder: true, recipients: ['partners@southgate.example'] });
    expect(w.store.history(transfer.id).at(-1)).toMatchObject({
      type: 'REMINDER_SENT',
      actor: { kind: 'system', name: 'workflow' },
      detail: { step: 'acceptance', partnerId: 'P-SOUTH', recipients: ['partners@southgate.example'] },
    });
  });

  it('a reminder is timed before it reads the step: an extension that lands during the read is recorded after the reminder that missed it', async () => {
    const transfer = await requested();
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    const before = new Date(NOW.getTime() + REMINDER * 1000);
    w.clock.current = before;
    // The read takes a second; an extension stamped inside it is one the reminder may not have seen.
    const read = w.store.getState.bind(w.store);
    w.store.getState = async (id) => {
      const state = await read(id);
      w.clock.current = new Date(before.getTime() + 1000);
      return state;
    };
    await w.steps.remindOrExpire({ transferId: transfer.id, step: 'release', reminderIntervalSeconds: REMINDER });
    expect(w.store.history(transfer.id).at(-1)).toMatchObject({ type: 'REMINDER_SENT', at: before.toISOString() });
  });

  it('a partner gone from the directory is reminded of nothing, on record', async () => {
    const transfer = await requested();
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    w.directory.partners.delete('P-NORTH');
    w.clock.current = new Date(NOW.getTime() + REMINDER * 1000);
    await w.steps.remindOrExpire({ transferId: transfer.id, step: 'release', reminderIntervalSeconds: REMINDER });
    expect(w.mailer.notices.at(-1)).toMatchObject({ reminder: true, recipients: [] });
    expect(w.store.history(transfer.id).at(-1)).toMatchObject({ type: 'REMINDER_SENT', detail: { recipients: [] } });
  });

  it('a timeout of a step that never opened expires the transfer', async () => {
    const transfer = await requested();
    await expect(w.steps.remindOrExpire({ transferId: transfer.id, step: 'release', reminderIntervalSeconds: REMINDER })).resolves.toEqual({ expired: true, seconds: 0 });
    expect(w.store.transfers.get(transfer.id)?.status).toBe('EXPIRED');
    expect(w.store.history(transfer.id).at(-1)).toMatchObject({ type: 'EXPIRED', actor: { kind: 'system', name: 'workflow' }, detail: { step: 'release' } });
    expect(w.metrics.published.at(-1)).toEqual(['transferStatus', 'EXPIRED']);
    expect(w.mailer.notices.at(-1)).toMatchObject({ kind: 'expiry', step: 'release' });
  });

  it('a timeout on a cancelled transfer ends quietly; on a step the transfer is not at, it is a NOT_WAITING conflict', async () => {
    const cancelled = scheduled({ id: 'TR-20260310-CANCELLED0', status: 'CANCELLED', customers: [] });
    expect(await failure(w.steps.remindOrExpire({ transferId: cancelled.id, step: 'release', reminderIntervalSeconds: REMINDER }))).toBeInstanceOf(TransferCancelled);
    const transfer = await requested();
    expect(await failure(w.steps.remindOrExpire({ transferId: transfer.id, step: 'acceptance', reminderIntervalSeconds: REMINDER }))).toMatchObject({ code: 'NOT_WAITING' });
    expect(w.store.transfers.get(transfer.id)?.status).toBe('AWAITING_RELEASE');
  });

  it('a decision that wins the race with the expiry stands: the wait resumes at once to deliver it', async () => {
    const transfer = await requested();
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    w.clock.current = new Date('2026-03-24T15:00:00.000Z');
    const changeStatus = w.store.changeStatus.bind(w.store);
    w.store.changeStatus = async (change) => {
      const stored = w.store.transfers.get(transfer.id);
      if (stored) stored.status = 'AWAITING_ACCEPTANCE';
      return changeStatus(change);
    };
    await expect(w.steps.remindOrExpire({ transferId: transfer.id, step: 'release', reminderIntervalSeconds: REMINDER })).resolves.toEqual({ expired: false, seconds: 1 });
    expect(w.mailer.notices.filter((n) => n.kind === 'expiry')).toEqual([]);
  });

  it('an expiry written meanwhile by another run is a conflict for the retry to settle', async () => {
    const transfer = await requested();
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    w.clock.current = new Date('2026-03-24T15:00:00.000Z');
    const changeStatus = w.store.changeStatus.bind(w.store);
    w.store.changeStatus = async (change) => {
      const stored = w.store.transfers.get(transfer.id);
      if (stored) stored.status = 'EXPIRED';
      return changeStatus(change);
    };
    expect(await failure(w.steps.remindOrExpire({ transferId: transfer.id, step: 'release', reminderIntervalSeconds: REMINDER }))).toBeInstanceOf(ConflictError);
  });
});

describe('WorkflowSteps: schedule, re-home and confirm, as recorded', () => {
  it('the schedule notices go to DevOps as such and to both partners as such', async () => {
    const transfer = scheduled();
    await w.steps.scheduleTransfer({ transferId: transfer.id });
    expect(w.mailer.notices.map((n) => n.kind === 'schedule' && [n.audience, n.recipients])).toEqual([
      ['devops', ['devops@provider.example']],
      ['partner', ['ops@northwind.example', 'billing@northwind.example', 'partners@southgate.example']],
    ]);
    expect(w.store.history(transfer.id).at(-1)).toMatchObject({ type: 'SCHEDULED', actor: { kind: 'system', name: 'workflow' } });
  });

  it('a partner gone from the directory is left out of the schedule notice', async () => {
    const transfer = scheduled();
    w.directory.partners.delete('P-SOUTH');
    await w.steps.scheduleTransfer({ transferId: transfer.id });
    expect(w.mailer.notices.at(-1)?.recipients).toEqual(['ops@northwind.example', 'billing@northwind.example']);
    w.directory.partners.delete('P-NORTH');
    await w.steps.scheduleTransfer({ transferId: transfer.id });
    expect(w.mailer.notices.at(-1)?.recipients).toEqual([]);
  });

  it('a step for a transfer that does not exist fails naming it', async () => {
    await expect(w.steps.sendConfirmations({ transferId: 'TR-NOPE' })).rejects.toThrow('Transfer TR-NOPE does not exist');
    await expect(w.steps.rehomeCustomers({ transferId: 'TR-NOPE' })).rejects.toThrow('Transfer TR-NOPE does not exist');
  });

  it('each move is recorded with its customer, both partners and the lock; the completion with the outcomes and the lock; the dashboard counts it', async () => {
    const transfer = scheduled();
    const reclaims: unknown[] = [];
    const reclaim = w.store.reclaim.bind(w.store);
    w.store.reclaim = (...args) => (reclaims.push(args), reclaim(...args));
    await w.steps.rehomeCustomers({ transferId: transfer.id });

    const history = w.store.history(transfer.id);
    expect(history[1]).toMatchObject({
      type: 'CUSTOMER_MOVED',
      actor: { kind: 'system', name: 'workflow' },
      detail: { customerId: 'C-ACME', fromPartnerId: 'P-NORTH', toPartnerId: 'P-SOUTH', lockedUntil: '2026-04-08' },
    });
    expect(history.at(-1)?.detail).toEqual({
      outcomes: [
        { customerId: 'C-ACME', outcome: 'moved' },
        { customerId: 'C-BRIGHT', outcome: 'moved' },
      ],
      lockedUntil: '2026-04-08',
    });
    expect(w.metrics.published).toEqual([['transferStatus', 'COMPLETED']]);
    // Nothing to take back on a first run: the request's claims still hold.
    expect(reclaims).toEqual([]);
  });

  it('a completed transfer re-homed again answers its outcomes, none when it has none on record', async () => {
    const transfer = scheduled({ status: 'COMPLETED' });
    await expect(w.steps.rehomeCustomers({ transferId: transfer.id })).resolves.toEqual({ outcomes: [] });
  });

  it('a failure names every customer left behind; the dashboard counts the FAILED status and the customers not moved', async () => {
    const transfer = scheduled();
    for (const id of ['C-ACME', 'C-BRIGHT']) {
      const customer = w.directory.customers.get(id);
      if (customer) customer.partnerId = 'P-EAST';
    }
    const error = await failure(w.steps.rehomeCustomers({ transferId: transfer.id }));
    expect(error).toMatchObject({ name: 'RehomeFailed', message: '2 of 2 customers could not be moved: C-ACME, C-BRIGHT' });
    expect(w.metrics.published).toEqual([
      ['transferStatus', 'FAILED'],
      ['rehomeErrors', 2],
    ]);
  });

  it('a redrive of a FAILED transfer takes back only the claims of the customers left behind, moves them and completes', async () => {
    const transfer = scheduled();
    const bright = w.directory.customers.get('C-BRIGHT');
    if (bright) bright.partnerId = 'P-EAST';
    await failure(w.steps.rehomeCustomers({ transferId: transfer.id }));
    expect(w.store.claims.has('C-BRIGHT')).toBe(false);
    // The operator fixes the cause, then redrives the execution.
    if (bright) bright.partnerId = 'P-NORTH';
    const reclaims: unknown[] = [];
    const reclaim = w.store.reclaim.bind(w.store);
    w.store.reclaim = (transferId, customerIds, ...rest) => (reclaims.push([transferId, customerIds]), reclaim(transferId, customerIds, ...rest));

    const result = await w.steps.rehomeCustomers({ transferId: transfer.id });

    expect(reclaims).toEqual([[transfer.id, ['C-BRIGHT']]]);
    expect(result.outcomes).toEqual([
      { customerId: 'C-ACME', outcome: 'already-moved' },
      { customerId: 'C-BRIGHT', outcome: 'moved' },
    ]);
    expect(w.directory.owner('C-BRIGHT')).toBe('P-SOUTH');
    expect(w.store.transfers.get(transfer.id)?.status).toBe('COMPLETED');
    const types = w.store.history(transfer.id).map((e) => e.type);
    expect(types.slice(types.indexOf('FAILED') + 1)).toEqual(['REHOME_REDRIVEN', 'CUSTOMER_MOVED', 'COMPLETED']);
  });

  it('a cancel that wins the race with the start of re-homing stands: nothing moves', async () => {
    const transfer = scheduled();
    const changeStatus = w.store.changeStatus.bind(w.store);
    w.store.changeStatus = async (change) => {
      const stored = w.store.transfers.get(transfer.id);
      if (stored) stored.status = 'CANCELLED';
      return changeStatus(change);
    };
    const error = await failure(w.steps.rehomeCustomers({ transferId: transfer.id }));
    expect(error).toBeInstanceOf(TransferCancelled);
    expect(error).toMatchObject({ message: `Transfer ${transfer.id} was cancelled.` });
    expect(w.store.moves).toEqual([]);
  });

  it('a start of re-homing refused for any other reason is passed on, and nothing moves', async () => {
    const transfer = scheduled();
    const changeStatus = w.store.changeStatus.bind(w.store);
    w.store.changeStatus = async (change) => {
      const stored = w.store.transfers.get(transfer.id);
      if (stored) stored.status = 'EXPIRED';
      return changeStatus(change);
    };
    expect(await failure(w.steps.rehomeCustomers({ transferId: transfer.id }))).toMatchObject({ code: 'INVALID_STATE' });
    w.store.changeStatus = () => Promise.reject(new Error('table unreachable'));
    const stored = w.store.transfers.get(transfer.id);
    if (stored) stored.status = 'SCHEDULED';
    await expect(w.steps.rehomeCustomers({ transferId: transfer.id })).rejects.toThrow('table unreachable');
    expect(w.store.moves).toEqual([]);
  });

  it('confirmations tell the previous and the new partner, each as such, and are recorded', async () => {
    const transfer = scheduled({ status: 'COMPLETED' });
    await w.steps.sendConfirmations({ transferId: transfer.id });
    expect(w.mailer.notices.map((n) => n.kind === 'confirmation' && [n.recipientRole, n.recipients])).toEqual([
      ['previous', ['ops@northwind.example', 'billing@northwind.example']],
      ['new', ['partners@southgate.example']],
    ]);
    expect(w.store.history(transfer.id).at(-1)).toEqual(
      expect.objectContaining({
        type: 'CONFIRMATIONS_SENT',
        at: NOW.toISOString(),
        actor: { kind: 'system', name: 'workflow' },
        detail: { previousPartner: ['ops@northwind.example', 'billing@northwind.example'], newPartner: ['partners@southgate.example'] },
      }),
    );
  });

  it('confirmations are sent only for a completed transfer', async () => {
    const transfer = scheduled({ status: 'IN_PROGRESS' });
    const error = await failure(w.steps.sendConfirmations({ transferId: transfer.id }));
    expect(error).toMatchObject({ code: 'NOT_COMPLETED' });
    expect(w.mailer.notices).toEqual([]);
    expect(w.store.history(transfer.id)).toEqual([]);
  });
});

describe('WorkflowSteps: operators are alerted when an alert reaches someone', () => {
  async function failedRehome(): Promise<unknown> {
    const transfer = scheduled();
    const bright = w.directory.customers.get('C-BRIGHT');
    if (bright) bright.partnerId = 'P-EAST';
    return failure(w.steps.rehomeCustomers({ transferId: transfer.id }));
  }

  it('the email alone reaching DevOps is enough (no topic, as locally)', async () => {
    w.alerts.topic = false;
    expect(await failedRehome()).toBeInstanceOf(RehomeFailed);
    expect(w.mailer.notices).toHaveLength(1);
  });

  it('the topic alone is enough when the email fails', async () => {
    w.mailer.failNext = new Error('SES down');
    expect(await failedRehome()).toBeInstanceOf(RehomeFailed);
    expect(w.alerts.published).toHaveLength(1);
  });

  it('with no email and no topic the step fails with the email\'s error, to be retried', async () => {
    w.mailer.failNext = new Error('SES down');
    w.alerts.topic = false;
    expect(await failedRehome()).toMatchObject({ message: 'SES down' });
  });

  it('with both failing the step fails with the email\'s error', async () => {
    w.mailer.failNext = new Error('SES down');
    w.alerts.failNext = new Error('SNS down');
    expect(await failedRehome()).toMatchObject({ message: 'SES down' });
  });
});

describe('WorkflowSteps.recordOutcome: what it tells and keeps', () => {
  async function declined(detail: Record<string, unknown> | null): Promise<Transfer> {
    const transfer = scheduled({ id: 'TR-20260310-DECLINED00', status: 'DECLINED', transferDate: null, acceptedDate: null });
    if (detail) {
      await w.store.appendEvent(transfer.id, { at: NOW.toISOString(), type: 'DECLINED', actor: { kind: 'partner', partnerId: 'P-NORTH', name: 'Alice Smith' }, detail });
    }
    return transfer;
  }

  it('the decline notice tells the latest decline, whatever was recorded after it', async () => {
    const transfer = await declined({ step: 'acceptance', decision: 'decline', signedBy: 'Bob Jones', reasonCode: 'DISPUTE', reason: 'Unpaid invoices' });
    await w.store.appendEvent(transfer.id, { at: NOW.toISOString(), type: 'DECLINE_NOTICE_SENT', actor: { kind: 'system', name: 'workflow' }, detail: { step: 'acceptance' } });
    await w.steps.recordOutcome({ transferId: transfer.id, outcome: 'DECLINED' });
    expect(w.mailer.notices).toEqual([
      expect.objectContaining({ kind: 'decline', step: 'acceptance', signedBy: 'Bob Jones', reasonCode: 'DISPUTE', reason: 'Unpaid invoices' }),
    ]);
  });

  it('a decline with blank or no words tells none', async () => {
    const transfer = await declined({ step: 'release', decision: 'decline', signedBy: 'Alice Smith', reasonCode: 'DISPUTE', reason: '   ' });
    await w.steps.recordOutcome({ transferId: transfer.id, outcome: 'DECLINED' });
    expect(w.mailer.notices.at(-1)).toMatchObject({ reasonCode: 'DISPUTE', reason: null });
  });

  it('a decline with no decline on record is told as a release refused, by no one named', async () => {
    const transfer = await declined(null);
    await w.steps.recordOutcome({ transferId: transfer.id, outcome: 'DECLINED' });
    expect(w.mailer.notices).toEqual([expect.objectContaining({ kind: 'decline', step: 'release', signedBy: '', reasonCode: 'OTHER', reason: null })]);
    expect(w.store.history(transfer.id).at(-1)).toMatchObject({ type: 'DECLINE_NOTICE_SENT', detail: { step: 'release' } });
  });

  it('a confirmation failure is recorded once however often the step is retried, and alerted each time', async () => {
    const transfer = scheduled({ status: 'COMPLETED' });
    await w.store.appendEvent(transfer.id, { at: NOW.toISOString(), type: 'COMPLETED', actor: { kind: 'system', name: 'workflow' }, detail: {} });
    const input = { transferId: transfer.id, outcome: 'CONFIRMATION_FAILED' as const, error: 'TransientError', cause: '{"errorMessage":"SES throttled"}' };
    await w.steps.recordOutcome(input);
    await w.steps.recordOutcome(input);
    expect(w.store.history(transfer.id).filter((e) => e.type === 'CONFIRMATION_FAILED')).toHaveLength(1);
    expect(w.mailer.notices).toEqual([
      expect.objectContaining({ kind: 'failure-alert', problem: 'confirmations', error: 'Confirmations not sent: TransientError: SES throttled', outcomes: [] }),
      expect.objectContaining({ kind: 'failure-alert', problem: 'confirmations' }),
    ]);
    expect(w.alerts.published[0]?.subject).toMatch(/^Action needed: confirmations not sent for transfer /);
  });

  it('the failure recorded is the error and the cause\'s message, the cause kept whole when it is not Lambda\'s JSON, at most 1000 characters', async () => {
    const errorOf = async (input: { error?: string; cause?: string }) => {
      const transfer = scheduled({ id: `TR-20260310-${String(w.store.transfers.size).padStart(10, '0')}`, status: 'COMPLETED', customers: [] });
      await w.steps.recordOutcome({ transferId: transfer.id, outcome: 'CONFIRMATION_FAILED', ...input });
      return w.store.history(transfer.id).find((e) => e.type === 'CONFIRMATION_FAILED')?.detail.error;
    };
    expect(await errorOf({ error: 'TransientError' })).toBe('TransientError');
    expect(await errorOf({ cause: 'SES throttled' })).toBe('SES throttled');
    expect(await errorOf({ error: 'Lambda.Unknown', cause: '{"errorType":"Error"}' })).toBe('Lambda.Unknown: {"errorType":"Error"}');
    expect(await errorOf({})).toBe('unknown error');
    expect(await errorOf({ error: 'E', cause: 'x'.repeat(2000) })).toBe(`E: ${'x'.repeat(997)}`);
  });
});
