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
