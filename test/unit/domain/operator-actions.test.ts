import { beforeEach, describe, expect, it } from 'vitest';
import { linkSecret } from '../../../lambdas/domain/approval-links.ts';
import type { Caller } from '../../../lambdas/domain/caller.ts';
import { OperatorActions } from '../../../lambdas/domain/operator-actions.ts';
import type { TransferWithHistory } from '../../../lambdas/domain/transfer.ts';
import { failure, LINK_KEY, META, world, type World } from './in-memory-ports.ts';

const north: Caller = { kind: 'partner', partnerId: 'P-NORTH', subject: 'alice@northwind.example' };
const operator: Caller = { kind: 'operator', subject: 'sam@provider.example' };
const WINDOW = 14 * 86_400;
const DEADLINE = '2026-03-24T15:00:00.000Z';

let w: World;
let operators: OperatorActions;

beforeEach(() => {
  w = world();
  operators = new OperatorActions({ store: w.store, steps: w.steps, transfers: w.transfers, clock: w.clock });
});

async function waiting(): Promise<TransferWithHistory> {
  const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
  await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
  return transfer;
}

describe('operators on a stuck approval', () => {
  it('remind: the silent party gets the same link again, recorded with the operator and the ticket', async () => {
    const transfer = await waiting();
    const nonce = (await w.store.getStep(transfer.id, 'release'))?.linkNonce ?? '';

    const after = await operators.remind(operator, transfer.id, { ticketId: 'SUP-7' });

    const reminder = w.mailer.sent.at(-1);
    expect(reminder?.subject).toMatch(/^Reminder: /);
    expect(reminder?.text).toContain(`/approvals/${linkSecret(LINK_KEY, transfer.id, 'release', nonce)}`);
    expect(after.history.at(-1)).toMatchObject({
      type: 'REMINDER_SENT',
      actor: { kind: 'operator', name: 'sam@provider.example' },
      detail: { step: 'release', ticketId: 'SUP-7', expiresAt: DEADLINE },
    });
  });

  it('remind: timed before it reads the step, so an extension stamped during the read comes after it', async () => {
    const transfer = await waiting();
    const before = w.clock.now();
    const read = w.store.getState.bind(w.store);
    w.store.getState = async (id) => {
      const state = await read(id);
      w.clock.current = new Date(before.getTime() + 1000);
      return state;
    };
    const after = await operators.remind(operator, transfer.id, { ticketId: 'SUP-9' });
    expect(after.history.at(-1)).toMatchObject({ type: 'REMINDER_SENT', at: before.toISOString(), detail: { ticketId: 'SUP-9' } });
  });

  it('extend: the step and its link get the later deadline, recorded', async () => {
    const transfer = await waiting();
    const before = await w.store.getStep(transfer.id, 'release');

    const after = await operators.extend(operator, transfer.id, { ticketId: 'SUP-8', days: 7 });

    const step = await w.store.getStep(transfer.id, 'release');
    expect(step?.expiresAt).toBe('2026-03-31T15:00:00.000Z');
    expect((await w.store.getLink(before?.linkHash ?? ''))?.expiresAt).toBe('2026-03-31T15:00:00.000Z');
    expect(after.history.at(-1)).toMatchObject({
      type: 'WINDOW_EXTENDED',
      detail: { step: 'release', from: DEADLINE, to: '2026-03-31T15:00:00.000Z', days: 7, ticketId: 'SUP-8' },
    });
    // The workflow's next timeout then reminds instead of expiring at the old deadline.
    w.clock.current = new Date(DEADLINE);
    await expect(w.steps.remindOrExpire({ transferId: transfer.id, step: 'release', reminderIntervalSeconds: 3 * 86_400 })).resolves.toEqual({
      expired: false,
      seconds: 3 * 86_400,
    });
  });

  it('only operators, only with a ticket, only while a step waits and its window is open', async () => {
    const transfer = await waiting();
    expect(await failure(operators.remind(north, transfer.id, { ticketId: 'SUP-1' }))).toMatchObject({ status: 403 });
    expect(await failure(operators.extend(operator, transfer.id, { days: 3 }))).toMatchObject({ status: 400 });
    expect(await failure(operators.extend(operator, transfer.id, { ticketId: 'SUP-1', days: 31 }))).toMatchObject({ status: 400 });
    w.clock.current = new Date(Date.parse(DEADLINE) + 1);
    expect(await failure(operators.remind(operator, transfer.id, { ticketId: 'SUP-1' }))).toMatchObject({ status: 409, code: 'EXPIRED' });
  });
});

describe('operators act only on a step that waits, until its deadline', () => {
  const south: Caller = { kind: 'partner', partnerId: 'P-SOUTH', subject: 'bob@southgate.example' };

  it('a partner is told that only operators remind or extend', async () => {
    const transfer = await waiting();
    expect(await failure(operators.extend(north, transfer.id, { ticketId: 'SUP-1', days: 3 }))).toMatchObject({
      status: 403,
      message: 'Only provider operators can remind or extend a waiting step.',
    });
  });

  it('a body that is not valid is a 400 about the reminder or the extension', async () => {
    const transfer = await waiting();
    expect(await failure(operators.remind(operator, transfer.id, {}))).toMatchObject({ status: 400, message: 'The reminder is not valid. ticketId: is required.' });
    expect(await failure(operators.extend(operator, transfer.id, { ticketId: 'SUP-1' }))).toMatchObject({
      status: 400,
      message: 'The extension is not valid. days: must be a whole number of days.',
    });
  });

  it('the acceptance step is reminded to the new partner, and extended', async () => {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', release: { transferDate: '2026-04-01', signedBy: 'Alice Smith' } }, META);
    await w.steps.requestApproval({ transferId: transfer.id, step: 'acceptance', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    const reminded = await operators.remind(operator, transfer.id, { ticketId: 'SUP-2' });
    expect(reminded.history.at(-1)).toMatchObject({ type: 'REMINDER_SENT', detail: { step: 'acceptance', partnerId: 'P-SOUTH' } });
    expect(w.mailer.sent.at(-1)?.to).toEqual(['partners@southgate.example']);
    const extended = await operators.extend(operator, transfer.id, { ticketId: 'SUP-2', days: 1 });
    expect(extended.history.at(-1)).toMatchObject({ type: 'WINDOW_EXTENDED', detail: { step: 'acceptance', to: '2026-03-25T15:00:00.000Z' } });
    expect(extended.customers).toEqual([{ id: 'C-ACME', name: 'Acme Widgets', domains: ['acme.example', 'acme-mail.example'], domainCount: 2, domainsTruncated: false }]);
  });

  it('a transfer whose link was not sent yet, or that waits for no one, is a 409 NOT_WAITING naming its status', async () => {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    expect(await failure(operators.remind(operator, transfer.id, { ticketId: 'SUP-1' }))).toMatchObject({
      status: 409,
      code: 'NOT_WAITING',
      message: 'The transfer is AWAITING_RELEASE; no approval link is waiting for an answer.',
      details: { status: 'AWAITING_RELEASE' },
    });

    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    await w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith' }, META);
    expect(await failure(operators.extend(operator, transfer.id, { ticketId: 'SUP-1', days: 2 }))).toMatchObject({ code: 'NOT_WAITING', details: { status: 'AWAITING_ACCEPTANCE' } });
    await w.steps.requestApproval({ transferId: transfer.id, step: 'acceptance', taskToken: 'task-2', approvalWindowSeconds: WINDOW });
    await w.transfers.decideByCaller(south, transfer.id, 'acceptance', { decision: 'accept', signedBy: 'Bob Jones' }, META);
    expect(await failure(operators.remind(operator, transfer.id, { ticketId: 'SUP-1' }))).toMatchObject({ code: 'NOT_WAITING', details: { status: 'SCHEDULED' } });
  });

  it('a transfer cancelled while its acceptance was asked waits for no one', async () => {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', release: { transferDate: '2026-04-01', signedBy: 'Alice Smith' } }, META);
    await w.steps.requestApproval({ transferId: transfer.id, step: 'acceptance', taskToken: 'task-1', approvalWindowSeconds: WINDOW });
    await w.transfers.cancel(north, transfer.id, { reason: 'Customer stays' }, META);
    const sent = w.mailer.sent.length;
    expect(await failure(operators.remind(operator, transfer.id, { ticketId: 'SUP-1' }))).toMatchObject({ code: 'NOT_WAITING', details: { status: 'CANCELLED' } });
    expect(w.mailer.sent).toHaveLength(sent);
  });

  it('a step without its whole link (nonce, hash and deadline), or already decided, waits for no one', async () => {
    const transfer = await waiting();
    const key = `${transfer.id}#release`;
    const step = w.store.steps.get(key);
    if (!step) throw new Error('no step');
    for (const missing of [{ linkNonce: null }, { linkHash: null }, { expiresAt: null }]) {
      w.store.steps.set(key, { ...step, ...missing });
      expect(await failure(operators.remind(operator, transfer.id, { ticketId: 'SUP-1' }))).toMatchObject({ code: 'NOT_WAITING' });
    }
    w.store.steps.set(key, { ...step, decision: { step: 'release', decision: 'decline' } as NonNullable<typeof step.decision> });
    expect(await failure(operators.remind(operator, transfer.id, { ticketId: 'SUP-1' }))).toMatchObject({ code: 'NOT_WAITING' });
  });

  it('the window is closed from its deadline\'s very instant: 409 EXPIRED naming it', async () => {
    const transfer = await waiting();
    w.clock.current = new Date(DEADLINE);
    expect(await failure(operators.extend(operator, transfer.id, { ticketId: 'SUP-1', days: 3 }))).toMatchObject({
      status: 409,
      code: 'EXPIRED',
      message: `The approval window closed at ${DEADLINE}.`,
      details: { expiresAt: DEADLINE },
    });
    w.clock.current = new Date(Date.parse(DEADLINE) - 1);
    expect((await operators.extend(operator, transfer.id, { ticketId: 'SUP-1', days: 3 })).history.at(-1)?.type).toBe('WINDOW_EXTENDED');
  });
});
