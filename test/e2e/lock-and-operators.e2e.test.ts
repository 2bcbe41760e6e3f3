import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ApiAnswer, TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { daysAfter, ownerOf, todayInNewYork } from './support.ts';

/**
 * The post-transfer lock (and the operator's override of it), and operators acting on a support
 * ticket's behalf for either partner.
 */

type ErrorBody = { error: { code: string; message: string; details?: unknown } };
type HistoryEntry = TransferView['history'][number];

const OPERATOR = 'operator@provider.example';

function errorOf(answer: ApiAnswer): ErrorBody['error'] {
  return (answer.body as ErrorBody).error;
}

function only(transfer: TransferView, type: string): HistoryEntry {
  const events = transfer.history.filter((event) => event.type === type);
  expect(events, `one ${type} event`).toHaveLength(1);
  const [event] = events;
  if (!event) throw new Error(`No ${type} event`);
  return event;
}

/** Acme releases a customer up front for today and the new partner accepts: the move runs at once. */
async function completeTransfer(t: TestStack, customerId: string, toPartnerId: string): Promise<TransferView> {
  const acme = await t.token({ partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
  const created = await t.client.call('POST', '/transfers', acme, {
    customerIds: [customerId],
    toPartnerId,
    release: { transferDate: 'immediate', signedBy: 'Alice Smith' },
  });
  expect(created.status).toBe(201);
  const { id } = created.body as TransferView;
  const receiver = await t.token({ partnerId: toPartnerId });
  expect((await t.client.call('POST', `/transfers/${id}/acceptance`, receiver, { decision: 'accept', signedBy: 'Bob Jones' })).status).toBe(200);
  const done = await t.client.waitForStatus(id, receiver, ['COMPLETED', 'FAILED'], 20_000);
  expect(done.status).toBe('COMPLETED');
  return done;
}

describe('with the default lock of 30 days', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack({ seedFile: TEST_DIRECTORY, maxWaitSeconds: 1 });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('refuses a new request for a customer just transferred, naming its dates; only an operator may override, with a reason', async () => {
    const today = todayInNewYork();
    const lastLockedDay = daysAfter(today, 29);
    const firstFreeDay = daysAfter(today, 30);
    const moved = await completeTransfer(t, 'C-A10', 'P-BLUE');
    expect(only(moved, 'COMPLETED').detail.lockedUntil).toBe(lastLockedDay);

    const blue = await t.token({ partnerId: 'P-BLUE' });
    const coral = await t.token({ partnerId: 'P-CORAL' });
    const request = { customerIds: ['C-A10'], toPartnerId: 'P-CORAL' };
    const lockedDetails = { customers: [{ id: 'C-A10', lockedUntil: lastLockedDay, lockEnds: firstFreeDay }] };
    for (const token of [blue, coral]) {
      const locked = await t.client.call('POST', '/transfers', token, request);
      expect(locked.status).toBe(409);
      expect(errorOf(locked)).toEqual({
        code: 'LOCKED',
        message: `C-A10 was transferred recently and is locked until ${lastLockedDay}; a new request is possible from ${firstFreeDay}.`,
        details: lockedDetails,
      });
    }

    // A partner cannot lift the lock, whatever reason it gives.
    const byPartner = await t.client.call('POST', '/transfers', blue, { ...request, lockOverride: { reason: 'Customer insists' } });
    expect(byPartner.status).toBe(403);
    expect(errorOf(byPartner).code).toBe('FORBIDDEN');

    const operator = await t.token('operator');
    const noTicket = await t.client.call('POST', '/transfers', operator, { ...request, lockOverride: { reason: 'Merger of the two partners' } });
    expect(noTicket.status).toBe(400);
    expect(errorOf(noTicket).details).toEqual({ issues: [{ field: 'ticketId', message: 'is required for operators' }] });

    // Nothing was written by the refusals: the operator's override is the only request for C-A10.
    const overridden = await t.client.call('POST', '/transfers', operator, {
      ...request,
      ticketId: 'SUP-1001',
      lockOverride: { reason: 'Merger of the two partners' },
    });
    expect(overridden.status).toBe(201);
    const transfer = overridden.body as TransferView;
    expect(transfer.status).toBe('AWAITING_RELEASE');
    const requested = only(transfer, 'REQUESTED');
    expect(requested.actor).toEqual({ kind: 'operator', name: OPERATOR });
    expect(requested.detail).toMatchObject({
      customerIds: ['C-A10'],
      toPartnerId: 'P-CORAL',
      ticketId: 'SUP-1001',
      lockOverride: { reason: 'Merger of the two partners', ...lockedDetails },
    });
    const stored = await t.client.call('GET', `/transfers/${transfer.id}`, blue);
    expect(only(stored.body as TransferView, 'REQUESTED').detail.lockOverride).toEqual({ reason: 'Merger of the two partners', ...lockedDetails });
    // The refused requests wrote nothing: the stack holds the completed transfer and the override, newest first.
    const all = await t.client.call('GET', '/transfers', operator);
    expect((all.body as { items: TransferView[] }).items.map((item) => item.id)).toEqual([transfer.id, moved.id]);
  });

  it('lets an operator file, release and accept on a ticket, each recorded as the operator with the ticket; the other party gets 403', async () => {
    const operator = await t.token('operator');
    const acme = await t.token({ partnerId: 'P-ACME' });
    const coral = await t.token({ partnerId: 'P-CORAL' });
    const dune = await t.token({ partnerId: 'P-DUNE' });
    const ticketId = 'SUP-2002';

    const withoutTicket = await t.client.call('POST', '/transfers', operator, { customerIds: ['C-A11'], toPartnerId: 'P-CORAL' });
    expect(withoutTicket.status).toBe(400);
    expect(errorOf(withoutTicket).code).toBe('INVALID_REQUEST');
    expect(errorOf(withoutTicket).details).toEqual({ issues: [{ field: 'ticketId', message: 'is required for operators' }] });

    const created = await t.client.call('POST', '/transfers', operator, { customerIds: ['C-A11'], toPartnerId: 'P-CORAL', ticketId });
    expect(created.status).toBe(201);
    const { id } = created.body as TransferView;
    expect((created.body as TransferView).status).toBe('AWAITING_RELEASE');

    const release = { decision: 'release', transferDate: 'immediate', signedBy: 'Alice Smith' };
    // The new partner cannot release for the current one; a partner not party to it does not see it at all.
    const byNewPartner = await t.client.call('POST', `/transfers/${id}/release`, coral, release);
    expect(byNewPartner.status).toBe(403);
    expect(errorOf(byNewPartner).code).toBe('FORBIDDEN');
    expect((await t.client.call('POST', `/transfers/${id}/release`, dune, release)).status).toBe(404);
    const releaseWithoutTicket = await t.client.call('POST', `/transfers/${id}/release`, operator, release);
    expect(releaseWithoutTicket.status).toBe(400);
    expect(errorOf(releaseWithoutTicket).details).toEqual({ issues: [{ field: 'ticketId', message: 'is required for operators' }] });
    const released = await t.client.call('POST', `/transfers/${id}/release`, operator, { ...release, ticketId });
    expect(released.status).toBe(200);
    expect((released.body as TransferView).status).toBe('AWAITING_ACCEPTANCE');

    const accept = { decision: 'accept', signedBy: 'Carl Reef' };
    const byCurrentPartner = await t.client.call('POST', `/transfers/${id}/acceptance`, acme, accept);
    expect(byCurrentPartner.status).toBe(403);
    expect(errorOf(byCurrentPartner).code).toBe('FORBIDDEN');
    expect((await t.client.call('POST', `/transfers/${id}/acceptance`, operator, accept)).status).toBe(400);
    const accepted = await t.client.call('POST', `/transfers/${id}/acceptance`, operator, { ...accept, ticketId });
    expect(accepted.status).toBe(200);

    const done = await t.client.waitForStatus(id, coral, ['COMPLETED', 'FAILED'], 20_000);
    expect(done.status).toBe('COMPLETED');
    expect(await ownerOf(t, 'C-A11')).toBe('P-CORAL');

    const asOperator = { kind: 'operator', name: OPERATOR };
    const requested = only(done, 'REQUESTED');
    expect(requested.actor).toEqual(asOperator);
    expect(requested.detail).toMatchObject({ customerIds: ['C-A11'], toPartnerId: 'P-CORAL', ticketId });
    const releasedEvent = only(done, 'RELEASED');
    expect(releasedEvent.actor).toEqual(asOperator);
    expect(releasedEvent.detail).toMatchObject({ step: 'release', decision: 'release', signedBy: 'Alice Smith', immediate: true, via: 'api', ticketId });
    const acceptedEvent = only(done, 'ACCEPTED');
    expect(acceptedEvent.actor).toEqual(asOperator);
    expect(acceptedEvent.detail).toMatchObject({ step: 'acceptance', decision: 'accept', signedBy: 'Carl Reef', via: 'api', ticketId });
    // The refused attempts left no trace.
    expect(done.history.filter((event) => event.actor.kind === 'partner')).toEqual([]);
    expect(done.history.map((event) => event.type).filter((type) => ['RELEASED', 'ACCEPTED', 'DECLINED'].includes(type))).toEqual(['RELEASED', 'ACCEPTED']);
  });
});

describe('with TRANSFER_LOCK_DAYS=0', () => {
  let t: TestStack;

  beforeAll(async () => {
    // The handlers compose their services once per process, from the environment of their first call:
    // load them afresh for a stack with other settings.
    vi.resetModules();
    t = await startTestStack({ seedFile: TEST_DIRECTORY, maxWaitSeconds: 1, env: { TRANSFER_LOCK_DAYS: '0' } });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('accepts a new request for a customer right after its transfer', async () => {
    const moved = await completeTransfer(t, 'C-A12', 'P-BLUE');
    expect(only(moved, 'COMPLETED').detail.lockedUntil).toBe(daysAfter(todayInNewYork(), -1));
    const again = await t.client.call('POST', '/transfers', await t.token({ partnerId: 'P-BLUE' }), { customerIds: ['C-A12'], toPartnerId: 'P-DUNE' });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ status: 'AWAITING_RELEASE', fromPartner: { id: 'P-BLUE' }, toPartner: { id: 'P-DUNE' } });
  });
});
