import { beforeEach, describe, expect, it } from 'vitest';
import type { Caller } from '../../../lambdas/domain/caller.ts';
import { acceptanceStatement, declineStatement, releaseStatement } from '../../../lambdas/domain/consent.ts';
import {
  ConflictError,
  DecisionNotYetDelivered,
  ForbiddenError,
  NotAllowedError,
  NotFoundError,
  TransientError,
  ValidationError,
} from '../../../lambdas/domain/errors.ts';
import type { HistoryEvent, TransferWithHistory } from '../../../lambdas/domain/transfer.ts';
import { failure, META, NOW, TODAY, world, type World } from './in-memory-ports.ts';
import fc from 'fast-check';
import { checkCodesFor, checkCodesOf, type Eligibility } from '../../../lambdas/domain/eligibility.ts';
import { DomainError } from '../../../lambdas/domain/errors.ts';
import { DEFAULT_POLICY } from '../../../lambdas/domain/policy.ts';
import { TransferService } from '../../../lambdas/domain/transfer-service.ts';
import { EAST, FixedClock, InMemoryDirectory, InMemoryTransferStore, NORTH, RecordingMailer, RecordingWorkflow, SOUTH } from './in-memory-ports.ts';

const north: Caller = { kind: 'partner', partnerId: 'P-NORTH', subject: 'alice@northwind.example' };
const south: Caller = { kind: 'partner', partnerId: 'P-SOUTH', subject: 'bob@southgate.example' };
const east: Caller = { kind: 'partner', partnerId: 'P-EAST', subject: 'eve@eastline.example' };
const operator: Caller = { kind: 'operator', subject: 'ops-7' };

const WINDOW = 14 * 86_400;

let w: World;
beforeEach(() => {
  w = world();
});

/** Nothing of a refused request was written and no workflow was started. */
function expectNothingWritten(): void {
  expect(w.store.transfers.size).toBe(0);
  expect(w.store.claims.size).toBe(0);
  expect(w.store.events.size).toBe(0);
  expect(w.workflow.starts).toEqual([]);
}

describe('TransferService.create', () => {
  it('a current partner\'s plain request waits for the release; customers are claimed and the workflow started', async () => {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME', 'C-BRIGHT'], toPartnerId: 'P-SOUTH' }, META);

    expect(transfer.id).toMatch(/^TR-20260310-[0-9A-HJKMNP-TV-Z]{10}$/);
    expect(transfer.status).toBe('AWAITING_RELEASE');
    expect(transfer.customers).toEqual([
      { id: 'C-ACME', name: 'Acme Widgets', domains: ['acme.example', 'acme-mail.example'], domainCount: 2, domainsTruncated: false },
      { id: 'C-BRIGHT', name: 'Brightside Dental', domains: ['brightside.example'], domainCount: 1, domainsTruncated: false },
    ]);
    expect(transfer.fromPartner).toEqual({ id: 'P-NORTH', name: 'Northwind IT' });
    expect(transfer.toPartner).toEqual({ id: 'P-SOUTH', name: 'Southgate Networks' });
    expect(transfer).toMatchObject({ requestedDate: null, transferDate: null, immediate: false, acceptedDate: null, ticketId: null });
    expect(transfer.billing).toMatchObject({ fromPartnerNextInvoiceDate: '2026-04-01', toPartnerNextInvoiceDate: '2026-03-15', aligned: null });
    expect(transfer.createdAt).toBe(NOW.toISOString());
    expect(transfer.history.map((e) => e.type)).toEqual(['REQUESTED']);
    expect(transfer.history[0]?.detail).toMatchObject({ customerIds: ['C-ACME', 'C-BRIGHT'], toPartnerId: 'P-SOUTH', sourceIp: '203.0.113.7' });

    expect(w.store.claims.get('C-ACME')).toBe(transfer.id);
    expect(w.store.claims.get('C-BRIGHT')).toBe(transfer.id);
    // Each wait lasts until the first reminder (3 days), within the 14-day window.
    const firstWait = { value: { seconds: 3 * 86_400 } };
    expect(w.workflow.starts).toEqual([
      {
        transferId: transfer.id,
        input: {
          transferId: transfer.id,
          policy: { approvalWindowSeconds: WINDOW, reminderIntervalSeconds: 3 * 86_400 },
          releaseWait: firstWait,
          acceptanceWait: firstWait,
        },
      },
    ]);
  });

  it('an up-front release skips to AWAITING_ACCEPTANCE and records the RELEASED consent', async () => {
    const transfer = await w.transfers.create(
      north,
      { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', release: { transferDate: '2026-04-01', signedBy: ' Alice Smith ' } },
      META,
    );

    expect(transfer.status).toBe('AWAITING_ACCEPTANCE');
    expect(transfer).toMatchObject({ transferDate: '2026-04-01', immediate: false, acceptedDate: null });
    expect(transfer.billing.aligned).toBe(true);
    expect(transfer.history.map((e) => e.type)).toEqual(['REQUESTED', 'RELEASED']);
    const released = transfer.history[1];
    expect(released?.actor).toEqual({ kind: 'partner', partnerId: 'P-NORTH', name: 'Alice Smith' });
    expect(released?.detail).toMatchObject({
      step: 'release',
      decision: 'release',
      signedBy: 'Alice Smith',
      transferDate: '2026-04-01',
      via: 'request',
      sourceIp: '203.0.113.7',
      userAgent: 'Mozilla/5.0 (test)',
    });
    expect(String(released?.detail.statement)).toMatch(/^I, Alice Smith, am authorised to act for Northwind IT \(P-NORTH\)\./);
    expect(w.workflow.starts[0]?.input.release).toEqual({ acceptanceNeeded: true, transferDate: '2026-04-01', immediate: false });
  });

  it('an up-front "immediate" release is today, flagged immediate', async () => {
    const transfer = await w.transfers.create(
      north,
      { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', release: { transferDate: 'immediate', signedBy: 'Alice Smith' } },
      META,
    );
    expect(transfer).toMatchObject({ transferDate: TODAY, immediate: true });
    expect(w.workflow.starts[0]?.input.release).toEqual({ acceptanceNeeded: true, transferDate: TODAY, immediate: true });
  });

  it('a new partner\'s request with a date records an ACCEPTED consent and acceptedDate', async () => {
    const transfer = await w.transfers.create(south, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', requestedDate: '2026-04-01' }, META);

    expect(transfer.status).toBe('AWAITING_RELEASE');
    expect(transfer).toMatchObject({ requestedDate: '2026-04-01', transferDate: null, acceptedDate: '2026-04-01' });
    expect(transfer.history.map((e) => e.type)).toEqual(['REQUESTED', 'ACCEPTED']);
    const accepted = transfer.history[1];
    expect(accepted?.detail).toEqual({
      step: 'acceptance',
      decision: 'accept',
      signedBy: 'bob@southgate.example',
      statement: acceptanceStatement({ ...transfer, transferDate: '2026-04-01', immediate: false, signedBy: 'bob@southgate.example' }),
      transferDate: '2026-04-01',
      immediate: false,
      reasonCode: null,
      reason: null,
      billing: transfer.billing,
      via: 'request',
      ticketId: null,
      sourceIp: '203.0.113.7',
      userAgent: 'Mozilla/5.0 (test)',
    });
  });

  it('a new partner\'s request without a date accepts nothing yet', async () => {
    const transfer = await w.transfers.create(south, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    expect(transfer.acceptedDate).toBeNull();
    expect(transfer.history.map((e) => e.type)).toEqual(['REQUESTED']);
  });

  it('an operator\'s request without ticketId is a 400 and writes nothing', async () => {
    const error = await failure(w.transfers.create(operator, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ status: 400, details: { issues: [{ field: 'ticketId', message: 'is required for operators' }] } });
    expectNothingWritten();
  });

  it('an operator with a ticket id files for any partner', async () => {
    const transfer = await w.transfers.create(operator, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', ticketId: 'SUP-9' }, META);
    expect(transfer).toMatchObject({ ticketId: 'SUP-9', requestedBy: { kind: 'operator', name: 'ops-7' }, acceptedDate: null });
  });

  it('an unknown customer is a 422 naming it', async () => {
    const error = await failure(w.transfers.create(north, { customerIds: ['C-ACME', 'C-NOPE'], toPartnerId: 'P-SOUTH' }, META));
    expect(error).toBeInstanceOf(NotAllowedError);
    expect(error).toMatchObject({ status: 422, code: 'UNKNOWN_CUSTOMER', message: 'Unknown customer: C-NOPE.', details: { customerIds: ['C-NOPE'] } });
    expectNothingWritten();
  });

  it('an unknown new partner is a 422', async () => {
    const error = await failure(w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-NOPE' }, META));
    expect(error).toBeInstanceOf(NotAllowedError);
    expect(error).toMatchObject({ status: 422, code: 'UNKNOWN_PARTNER', message: 'Unknown partner: P-NOPE.' });
    expectNothingWritten();
  });

  it('customers of different partners are a 422', async () => {
    const error = await failure(w.transfers.create(operator, { customerIds: ['C-ACME', 'C-CORAL'], toPartnerId: 'P-EAST', ticketId: 'SUP-1' }, META));
    expect(error).toBeInstanceOf(NotAllowedError);
    expect(error).toMatchObject({ status: 422, code: 'MIXED_PARTNERS', details: { partners: ['P-NORTH', 'P-SOUTH'] } });
    expectNothingWritten();
  });

  it('the same partner on both sides is a 422', async () => {
    const error = await failure(w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-NORTH' }, META));
    expect(error).toBeInstanceOf(NotAllowedError);
    expect(error).toMatchObject({ status: 422, code: 'SAME_PARTNER' });
    expectNothingWritten();
  });

  it('a partner that is neither side is a 403', async () => {
    const error = await failure(w.transfers.create(east, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META));
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error).toMatchObject({ status: 403 });
    expectNothingWritten();
  });

  it('the new partner cannot release up front: 403', async () => {
    const error = await failure(
      w.transfers.create(south, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', release: { transferDate: '2026-04-01', signedBy: 'Bob Jones' } }, META),
    );
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error).toMatchObject({ status: 403, message: 'Only the current partner can release its customers.' });
    expectNothingWritten();
  });

  it('a customer locked after a recent transfer is a 409 LOCKED saying from when a request is possible', async () => {
    const acme = w.directory.customers.get('C-ACME');
    if (acme) acme.lockedUntil = '2026-03-20';
    const error = await failure(w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({
      status: 409,
      code: 'LOCKED',
      message: 'C-ACME was transferred recently and is locked until 2026-03-20; a new request is possible from 2026-03-21.',
      details: { customers: [{ id: 'C-ACME', lockedUntil: '2026-03-20', lockEnds: '2026-03-21' }] },
    });
    expectNothingWritten();
  });

  it('only an operator may override the lock, and the override is on record with its reason', async () => {
    const acme = w.directory.customers.get('C-ACME');
    if (acme) acme.lockedUntil = '2026-03-20';
    const lockOverride = { reason: 'Customer bought by another group' };
    const partnerTry = await failure(w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', lockOverride }, META));
    expect(partnerTry).toBeInstanceOf(ForbiddenError);
    expectNothingWritten();

    const transfer = await w.transfers.create(operator, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', ticketId: 'SUP-2', lockOverride }, META);
    expect(transfer.history[0]?.detail.lockOverride).toEqual({
      reason: 'Customer bought by another group',
      customers: [{ id: 'C-ACME', lockedUntil: '2026-03-20', lockEnds: '2026-03-21' }],
    });
  });

  it('a lock that ended yesterday no longer blocks', async () => {
    const acme = w.directory.customers.get('C-ACME');
    if (acme) acme.lockedUntil = '2026-03-09';
    await expect(w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META)).resolves.toMatchObject({ status: 'AWAITING_RELEASE' });
  });

  it('a past requested date and differing dates are 400s', async () => {
    const past = await failure(w.transfers.create(south, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', requestedDate: '2026-03-09' }, META));
    expect(past).toBeInstanceOf(ValidationError);
    expect(past).toMatchObject({ message: 'requestedDate 2026-03-09 is in the past; use 2026-03-10 or later, or "immediate".' });
    const differing = await failure(
      w.transfers.create(
        north,
        { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', requestedDate: '2026-04-01', release: { transferDate: '2026-04-02', signedBy: 'Alice Smith' } },
        META,
      ),
    );
    expect(differing).toBeInstanceOf(ValidationError);
    expectNothingWritten();
  });

  it('when the workflow cannot start, the store discards the transfer and a 503 TransientError is thrown', async () => {
    w.workflow.startError = new Error('ExecutionLimitExceeded');
    const error = await failure(w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META));
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ status: 503, code: 'TRY_AGAIN' });
    expect(w.store.discarded).toHaveLength(1);
    expect(w.store.discarded[0]).toMatchObject({ status: 'AWAITING_RELEASE', customers: [{ id: 'C-ACME' }] });
    expect(w.store.transfers.size).toBe(0);
    expect(w.store.claims.has('C-ACME')).toBe(false);
  });

  it('a TransientError from the workflow is passed on as it is, after the discard', async () => {
    const original = new TransientError('Step Functions is throttling.');
    w.workflow.startError = original;
    expect(await failure(w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META))).toBe(original);
    expect(w.store.discarded).toHaveLength(1);
  });
});

describe('TransferService reads', () => {
  it('a transfer is visible to its parties and operators; anyone else gets 404', async () => {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    await expect(w.transfers.getVisible(north, transfer.id)).resolves.toMatchObject({ id: transfer.id });
    await expect(w.transfers.getVisible(south, transfer.id)).resolves.toMatchObject({ id: transfer.id });
    await expect(w.transfers.getVisible(operator, transfer.id)).resolves.toMatchObject({ id: transfer.id });
    expect(await failure(w.transfers.getVisible(east, transfer.id))).toBeInstanceOf(NotFoundError);
    expect(await failure(w.transfers.getVisible(north, 'TR-NOPE'))).toBeInstanceOf(NotFoundError);
  });

  it('a partner lists only its own transfers; an operator lists all', async () => {
    await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    await w.transfers.create(operator, { customerIds: ['C-CORAL'], toPartnerId: 'P-EAST', ticketId: 'SUP-1' }, META);
    expect((await w.transfers.list(north, {})).items.map((t) => t.customers[0]?.id)).toEqual(['C-ACME']);
    expect((await w.transfers.list(east, {})).items.map((t) => t.customers[0]?.id)).toEqual(['C-CORAL']);
    expect((await w.transfers.list(operator, {})).items).toHaveLength(2);
    expect(await failure(w.transfers.list(north, { limit: '0' }))).toBeInstanceOf(ValidationError);
  });

  it('a customer is visible to its owner and operators only', async () => {
    await expect(w.transfers.getCustomer(north, 'C-ACME')).resolves.toMatchObject({ partnerId: 'P-NORTH', domains: ['acme.example', 'acme-mail.example'] });
    await expect(w.transfers.getCustomer(operator, 'C-ACME')).resolves.toMatchObject({ id: 'C-ACME' });
    expect(await failure(w.transfers.getCustomer(south, 'C-ACME'))).toBeInstanceOf(NotFoundError);
    expect(await failure(w.transfers.getCustomer(north, 'C-NOPE'))).toBeInstanceOf(NotFoundError);
  });

  it('an id that cannot exist is "not found" without asking the store (DynamoDB refuses keys over 2 KB)', async () => {
    const asked: string[] = [];
    const store = w.store as unknown as Record<'get' | 'getState', (id: string) => Promise<unknown>>;
    const directory = w.directory as unknown as Record<'getCustomer', (id: string, page: unknown) => Promise<unknown>>;
    for (const [target, name] of [[store, 'get'], [store, 'getState'], [directory, 'getCustomer']] as const) {
      const original = (target[name as keyof typeof target] as (...args: unknown[]) => Promise<unknown>).bind(target);
      (target as Record<string, unknown>)[name] = (...args: unknown[]) => {
        asked.push(String(args[0]));
        return original(...args);
      };
    }
    await w.transfers.getVisible(operator, 'TR-NOPE').catch(() => undefined);
    expect(asked).toEqual(['TR-NOPE']);
    asked.length = 0;
    for (const id of ['T'.repeat(3000), 'TR 1', '../TR-1', '']) {
      expect(await failure(w.transfers.getVisible(operator, id))).toBeInstanceOf(NotFoundError);
      expect(await failure(w.transfers.getCustomer(operator, id))).toBeInstanceOf(NotFoundError);
    }
    expect(asked).toEqual([]);
  });

  it('a listing holds summaries: each customer\'s id, name and domain count, never a domain, never history', async () => {
    const created = await w.transfers.create(north, { customerIds: ['C-ACME', 'C-BRIGHT'], toPartnerId: 'P-SOUTH' }, META);
    const [listed] = (await w.transfers.list(north, {})).items;
    const { history: _history, ...withoutHistory } = created;
    expect(listed).toEqual({
      ...withoutHistory,
      customers: [
        { id: 'C-ACME', name: 'Acme Widgets', domainCount: 2 },
        { id: 'C-BRIGHT', name: 'Brightside Dental', domainCount: 1 },
      ],
    });
    expect(JSON.stringify(listed)).not.toMatch(/acme\.example|brightside\.example/);
    expect(Object.keys(listed ?? {})).not.toContain('history');
  });

  it('a transfer keeps a snapshot of each customer\'s first 1,000 domains with the count, flagged when cut; its reader gets it whole', async () => {
    const domains = Array.from({ length: 1500 }, (_, i) => `d${String(i).padStart(4, '0')}.huge.example`);
    w.directory.customers.set('C-HUGE', { id: 'C-HUGE', name: 'Huge Co', partnerId: 'P-NORTH', domains, settings: {}, users: [], lockedUntil: null, lastTransferId: null });

    const created = await w.transfers.create(north, { customerIds: ['C-HUGE', 'C-ACME'], toPartnerId: 'P-SOUTH' }, META);

    expect(created.customers).toEqual([
      { id: 'C-HUGE', name: 'Huge Co', domainCount: 1500, domains: domains.slice(0, 1000), domainsTruncated: true },
      { id: 'C-ACME', name: 'Acme Widgets', domainCount: 2, domains: ['acme.example', 'acme-mail.example'], domainsTruncated: false },
    ]);
    expect((await w.transfers.getVisible(south, created.id)).customers).toEqual(created.customers);
  });

  it('a stranger\'s read of a transfer is refused before any domain is read', async () => {
    const created = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    expect(await failure(w.transfers.getVisible(east, created.id))).toBeInstanceOf(NotFoundError);
    expect(w.store.customerReads).toBe(0);
    await w.transfers.getVisible(south, created.id);
    expect(w.store.customerReads).toBe(1);
  });

  it('a customer\'s users come a page at a time (?limit=, default 100), with a nextToken until the last page; a bad token or limit is a 400', async () => {
    const users = Array.from({ length: 250 }, (_, i) => ({ email: `u${String(i).padStart(3, '0')}@acme.example`, settings: { i } }));
    const acme = w.directory.customers.get('C-ACME');
    if (acme) acme.users = users;

    const first = await w.transfers.getCustomer(north, 'C-ACME');
    expect(first).toMatchObject({ id: 'C-ACME', name: 'Acme Widgets', partnerId: 'P-NORTH', domains: ['acme.example', 'acme-mail.example'], settings: { spamThreshold: 5 } });
    expect(first.users).toEqual(users.slice(0, 100));
    expect(first.nextToken).toEqual(expect.any(String));

    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await w.transfers.getCustomer(north, 'C-ACME', { limit: '60', ...(nextToken ? { nextToken } : {}) });
      expect(page.users.length).toBeLessThanOrEqual(60);
      seen.push(...page.users.map((u) => u.email));
      nextToken = page.nextToken;
      pages += 1;
    } while (nextToken && pages < 10);
    expect(seen).toEqual(users.map((u) => u.email));
    expect(pages).toBe(5);

    for (const query of [{ limit: '0' }, { limit: '101' }, { limit: 'ten' }, { nextToken: 'garbage' }, { other: '1' }]) {
      expect(await failure(w.transfers.getCustomer(north, 'C-ACME', query)), JSON.stringify(query)).toBeInstanceOf(ValidationError);
    }
    // Another customer's token is refused, whoever asks.
    expect(await failure(w.transfers.getCustomer(north, 'C-BRIGHT', { nextToken: first.nextToken }))).toBeInstanceOf(ValidationError);
    // A page token does not open another partner's customer.
    expect(await failure(w.transfers.getCustomer(south, 'C-ACME', { nextToken: first.nextToken }))).toBeInstanceOf(NotFoundError);
  });
});

describe('TransferService decisions', () => {
  /** A transfer whose release wait has started (task token stored, link emailed). */
  async function awaitingRelease(caller: Caller = north, body: Record<string, unknown> = {}): Promise<TransferWithHistory> {
    const transfer = await w.transfers.create(caller, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', ...body }, META);
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-release', approvalWindowSeconds: WINDOW });
    return transfer;
  }

  const release = (transferDate: string, signedBy = 'Alice Smith') => ({ decision: 'release', transferDate, signedBy });

  /** The release wait resumed after a reminder: same link, a new task token. */
  const OPEN_AGAIN = {
    step: 'release' as const,
    partnerId: 'P-NORTH',
    taskToken: 'task-release-2',
    linkNonce: 'nonce',
    supersedes: null,
    newLink: false,
    expiresAt: '2026-03-24T15:00:00.000Z',
    at: NOW.toISOString(),
    event: null,
  };

  it('a release on the date the new partner accepted up front → SCHEDULED, no acceptance asked', async () => {
    const transfer = await awaitingRelease(south, { requestedDate: '2026-04-01' });
    const result = await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-01'), META);

    expect(result.repeated).toBe(false);
    expect(result.transfer).toMatchObject({ status: 'SCHEDULED', transferDate: '2026-04-01', immediate: false, acceptedDate: '2026-04-01' });
    expect(result.transfer.billing.aligned).toBe(true);
    expect(w.workflow.signals).toEqual([
      { taskToken: 'task-release', signal: { kind: 'success', output: { acceptanceNeeded: false, transferDate: '2026-04-01', immediate: false } } },
    ]);
    // No bookkeeping write after the signal: a decision costs the partner no round trip more.
    expect((await w.store.getStep(transfer.id, 'release'))?.signalledAt).toBeNull();
  });

  it('a decision recorded but not yet handed to the workflow says so, and the same decision again finishes it', async () => {
    const transfer = await awaitingRelease();
    w.workflow.signalError = new TransientError();

    const error = await failure(w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-15'), META));

    expect(error).toBeInstanceOf(DecisionNotYetDelivered);
    expect(error).toMatchObject({ status: 503, code: 'DECISION_RECORDED' });
    expect((error as Error).message).toMatch(/recorded.*send the same decision again/i);
    expect(w.store.transfers.get(transfer.id)?.status).toBe('AWAITING_ACCEPTANCE');
    expect(w.workflow.signals).toEqual([]);

    const again = await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-15'), META);
    expect(again.repeated).toBe(true);
    expect(w.workflow.signals).toHaveLength(1);
    expect(w.store.history(transfer.id).filter((e) => e.type === 'RELEASED')).toHaveLength(1);
  });

  it('a wait resumed (new task token) between the read and the write: the decision is written against the new token and signalled to it', async () => {
    const transfer = await awaitingRelease();
    const decide = w.store.decide.bind(w.store);
    let writes = 0;
    w.store.decide = async (decision) => {
      writes += 1;
      // The release wait timed out for a reminder and resumed just before this write.
      if (writes === 1) await w.store.openStep({ ...OPEN_AGAIN, transferId: transfer.id, linkHash: (await w.store.getStep(transfer.id, 'release'))?.linkHash ?? '' });
      return decide(decision);
    };

    const result = await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-15'), META);

    expect(result.transfer.status).toBe('AWAITING_ACCEPTANCE');
    expect(writes).toBe(2);
    expect(w.workflow.signals.map((s) => s.taskToken)).toEqual(['task-release-2']);
    expect(w.store.history(transfer.id).filter((e) => e.type === 'RELEASED')).toHaveLength(1);
  });

  it('the answer to a decision is the transfer as it now stands, with its customers\' domains and the new event', async () => {
    const transfer = await awaitingRelease();
    const result = await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-15'), META);
    // The store gives each event its place in the history's hash chain; the answer's new event is the one the service wrote.
    const content = <T extends { history: HistoryEvent[] }>(t: T | undefined) => t && { ...t, history: t.history.map(({ seq: _seq, prevHash: _prev, hash: _hash, ...event }) => event) };
    const stored = await w.store.get(transfer.id);
    expect(content(result.transfer)).toEqual(content(stored));
    expect(stored?.history.at(-1)).toMatchObject({ ...result.transfer.history.at(-1), seq: stored?.history.length });
  });

  it('an immediate release matches an up-front "immediate" acceptance', async () => {
    const transfer = await awaitingRelease(south, { requestedDate: 'immediate' });
    const result = await w.transfers.decideByCaller(north, transfer.id, 'release', release('immediate'), META);
    expect(result.transfer).toMatchObject({ status: 'SCHEDULED', transferDate: TODAY, immediate: true });
  });

  it('a release on another date than the one accepted up front → AWAITING_ACCEPTANCE', async () => {
    const transfer = await awaitingRelease(south, { requestedDate: '2026-04-01' });
    const result = await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-15'), META);

    expect(result.transfer).toMatchObject({ status: 'AWAITING_ACCEPTANCE', transferDate: '2026-04-15' });
    expect(result.transfer.billing.aligned).toBe(false);
    expect(w.workflow.signals[0]?.signal).toEqual({ kind: 'success', output: { acceptanceNeeded: true, transferDate: '2026-04-15', immediate: false } });
  });

  it('the consent record holds signer, statement with the signer\'s name, source IP, user agent and channel', async () => {
    const transfer = await awaitingRelease();
    const result = await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-15', '  Alice Smith  '), META);

    expect(result.consent).toEqual({
      step: 'release',
      decision: 'release',
      signedBy: 'Alice Smith',
      statement: releaseStatement({ ...transfer, transferDate: '2026-04-15', immediate: false, signedBy: 'Alice Smith' }),
      transferDate: '2026-04-15',
      immediate: false,
      reasonCode: null,
      reason: null,
      // The advice for the date signed: what the signer was shown.
      billing: result.transfer.billing,
      via: 'api',
      ticketId: null,
      sourceIp: '203.0.113.7',
      userAgent: 'Mozilla/5.0 (test)',
    });
    expect(result.consent.billing?.advice).toContain('2026-04-15');
    expect(result.consent.statement).toContain('I, Alice Smith, am authorised to act for Northwind IT (P-NORTH).');
    const event = (await w.store.get(transfer.id))?.history.find((e) => e.type === 'RELEASED');
    expect(event?.actor).toEqual({ kind: 'partner', partnerId: 'P-NORTH', name: 'alice@northwind.example' });
    expect(event?.detail).toEqual({ ...result.consent });
  });

  it('a decline on a listed ground needs no words; OTHER (or no code) needs them; the ground is in the statement, the consent and the transfer', async () => {
    const first = await awaitingRelease();
    const wordless = await w.transfers
      .decideByCaller(north, first.id, 'release', { decision: 'decline', reasonCode: 'OTHER', signedBy: 'Alice Smith' }, META)
      .catch((error: unknown) => error);
    expect(wordless).toBeInstanceOf(ValidationError);
    expect((wordless as ValidationError).details).toEqual({ issues: [{ field: 'reason', message: 'is required when reasonCode is OTHER or not given' }] });
    const noCode = await w.transfers.decideByCaller(north, first.id, 'release', { decision: 'decline', signedBy: 'Alice Smith' }, META).catch((error: unknown) => error);
    expect(noCode).toBeInstanceOf(ValidationError);
    expect((await w.store.get(first.id))?.status).toBe('AWAITING_RELEASE');

    const result = await w.transfers.decideByCaller(north, first.id, 'release', { decision: 'decline', reasonCode: 'CONTRACT_IN_FORCE', signedBy: 'Alice Smith' }, META);
    expect(result.consent).toMatchObject({ reasonCode: 'CONTRACT_IN_FORCE', reason: null });
    expect(result.consent.statement).toContain('Reason: A contract with the customer is still in force');
    expect(result.transfer.decline).toEqual({ step: 'release', reasonCode: 'CONTRACT_IN_FORCE', reason: null, signedBy: 'Alice Smith', at: result.at });
    expect((await w.store.get(first.id))?.decline).toEqual(result.transfer.decline);
  });

  it('a decline → DECLINED, a TransferDeclined failure signal, claims released', async () => {
    const transfer = await awaitingRelease();
    expect(w.store.claims.get('C-ACME')).toBe(transfer.id);
    const result = await w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'decline', reason: 'Contract runs until June', signedBy: 'Alice Smith' }, META);

    expect(result.transfer.status).toBe('DECLINED');
    expect(result.consent).toMatchObject({ decision: 'decline', reason: 'Contract runs until June', signedBy: 'Alice Smith' });
    expect(result.consent.statement).toBe(
      declineStatement('release', { ...transfer, transferDate: TODAY, immediate: false, signedBy: 'Alice Smith', reason: 'Contract runs until June' }),
    );
    expect(w.workflow.signals).toEqual([
      { taskToken: 'task-release', signal: { kind: 'failure', error: 'TransferDeclined', cause: 'The release was declined.' } },
    ]);
    expect(w.store.decisions[0]?.releaseClaims).toBe(true);
    expect(w.store.claims.has('C-ACME')).toBe(false);
  });

  it('the new partner accepts → SCHEDULED with acceptedDate, an { accepted: true } signal to the acceptance wait', async () => {
    const transfer = await w.transfers.create(
      north,
      { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', release: { transferDate: '2026-04-01', signedBy: 'Alice Smith' } },
      META,
    );
    await w.steps.requestApproval({ transferId: transfer.id, step: 'acceptance', taskToken: 'task-acceptance', approvalWindowSeconds: WINDOW });
    const result = await w.transfers.decideByCaller(south, transfer.id, 'acceptance', { decision: 'accept', signedBy: 'Bob Jones' }, META);

    expect(result.transfer).toMatchObject({ status: 'SCHEDULED', acceptedDate: '2026-04-01', transferDate: '2026-04-01' });
    expect(result.consent.statement).toBe(acceptanceStatement({ ...transfer, signedBy: 'Bob Jones' }));
    expect(w.workflow.signals).toEqual([{ taskToken: 'task-acceptance', signal: { kind: 'success', output: { accepted: true } } }]);
  });

  it('the wrong party is a 403 and nothing is recorded; a stranger gets 404', async () => {
    const transfer = await awaitingRelease();
    const wrong = await failure(w.transfers.decideByCaller(south, transfer.id, 'release', release('2026-04-01', 'Bob Jones'), META));
    expect(wrong).toBeInstanceOf(ForbiddenError);
    expect(wrong).toMatchObject({ status: 403, message: 'Only the current partner can release or decline here.' });
    const stranger = await failure(w.transfers.decideByCaller(east, transfer.id, 'release', release('2026-04-01', 'Eve Doe'), META));
    expect(stranger).toBeInstanceOf(NotFoundError);
    expect(w.store.decisions).toEqual([]);
    expect(w.workflow.signals).toEqual([]);
  });

  it('an operator decides only citing a ticket', async () => {
    const transfer = await awaitingRelease();
    expect(await failure(w.transfers.decideByCaller(operator, transfer.id, 'release', release('2026-04-01', 'Ops Person'), META))).toBeInstanceOf(
      ValidationError,
    );
    const result = await w.transfers.decideByCaller(operator, transfer.id, 'release', { ...release('2026-04-01', 'Ops Person'), ticketId: 'SUP-9' }, META);
    expect(result.consent.ticketId).toBe('SUP-9');
    const event = (await w.store.get(transfer.id))?.history.find((e) => e.type === 'RELEASED');
    expect(event?.actor).toEqual({ kind: 'operator', name: 'ops-7' });
  });

  it('the same decision again answers repeated: true and records nothing new', async () => {
    const transfer = await awaitingRelease();
    const first = await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-15'), META);
    const again = await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-15', ' Alice Smith'), META);

    expect(again.repeated).toBe(true);
    expect(again.consent).toEqual(first.consent);
    expect(again.at).toBe(first.at);
    expect(w.store.decisions).toHaveLength(1);
    // Delivered once; the repeat's answer with the spent token is refused by the workflow.
    expect(w.workflow.signals).toHaveLength(1);
    expect(w.workflow.refused).toHaveLength(1);
  });

  it('a different second decision is a 409 ALREADY_DECIDED naming the first', async () => {
    const transfer = await awaitingRelease();
    await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-15'), META);
    const error = await failure(
      w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'decline', reason: 'Changed our mind', signedBy: 'Alice Smith' }, META),
    );
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'ALREADY_DECIDED', details: { decision: 'release', signedBy: 'Alice Smith' } });
    expect((await w.store.get(transfer.id))?.status).toBe('AWAITING_ACCEPTANCE');
  });

  it('a decision for a step the transfer is not at is a 409 NOT_WAITING', async () => {
    const transfer = await awaitingRelease();
    const error = await failure(w.transfers.decideByCaller(south, transfer.id, 'acceptance', { decision: 'accept', signedBy: 'Bob Jones' }, META));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'NOT_WAITING', details: { status: 'AWAITING_RELEASE' } });
    expect(w.store.decisions).toEqual([]);
  });

  it('a decision after the step\'s approval window closed is a 409 EXPIRED', async () => {
    const transfer = await awaitingRelease();
    w.clock.current = new Date(NOW.getTime() + WINDOW * 1000);
    const error = await failure(w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-01'), META));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ code: 'EXPIRED', details: { expiresAt: '2026-03-24T15:00:00.000Z' } });
    expect(w.store.decisions).toEqual([]);
  });

  it('a release date in the past is a 400 and nothing is recorded', async () => {
    const transfer = await awaitingRelease();
    const error = await failure(w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-03-01'), META));
    expect(error).toBeInstanceOf(ValidationError);
    expect(w.store.decisions).toEqual([]);
  });
});

describe('TransferService.cancel', () => {
  it('a party cancels before re-homing: CANCELLED, claims released, execution stopped, both partners told', async () => {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    const cancelled = await w.transfers.cancel(south, transfer.id, { reason: 'Customer changed its mind' }, META);

    expect(cancelled.status).toBe('CANCELLED');
    expect(w.store.claims.has('C-ACME')).toBe(false);
    expect(w.workflow.stops).toEqual([{ transferId: transfer.id, cause: 'Cancelled on request' }]);
    expect(cancelled.history.at(-1)).toMatchObject({
      type: 'CANCELLED',
      actor: { kind: 'partner', partnerId: 'P-SOUTH' },
      detail: { reason: 'Customer changed its mind', sourceIp: '203.0.113.7' },
    });
    expect(w.mailer.sent.map((m) => m.to)).toEqual([['ops@northwind.example', 'billing@northwind.example', 'partners@southgate.example']]);
  });

  it('once re-homing has begun a cancel is a 409 and changes nothing', async () => {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    const stored = w.store.transfers.get(transfer.id);
    if (stored) stored.status = 'IN_PROGRESS';
    const error = await failure(w.transfers.cancel(north, transfer.id, { reason: 'Too late now' }, META));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'REHOMING_BEGAN' });
    expect(w.store.transfers.get(transfer.id)?.status).toBe('IN_PROGRESS');
    expect(w.workflow.stops).toEqual([]);
  });

  it('a stranger gets 404; an operator needs a ticket id', async () => {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    expect(await failure(w.transfers.cancel(east, transfer.id, { reason: 'Not mine' }, META))).toBeInstanceOf(NotFoundError);
    expect(await failure(w.transfers.cancel(operator, transfer.id, { reason: 'On request' }, META))).toBeInstanceOf(ValidationError);
    expect(w.store.transfers.get(transfer.id)?.status).toBe('AWAITING_RELEASE');
  });
});

describe('TransferService.check', () => {
  /** Everything the store and the workflow hold, to show a check changed nothing. */
  function written(): string {
    return JSON.stringify([[...w.store.transfers], [...w.store.claims], [...w.store.events], [...w.store.steps], w.workflow.starts, w.mailer.sent]);
  }

  it('answers each code through the service and writes nothing', async () => {
    const busy = await w.transfers.create(north, { customerIds: ['C-BRIGHT'], toPartnerId: 'P-EAST' }, META);
    const acme = w.directory.customers.get('C-ACME');
    if (acme) acme.lockedUntil = TODAY;
    const before = written();

    const answer = await w.transfers.check(north, { customerIds: ['C-ACME', 'C-BRIGHT', 'C-NOPE', 'C-CORAL'], toPartnerId: 'P-NOPE', lockOverride: { reason: 'Customer insists' } });
    expect(answer.customers).toEqual([
      {
        id: 'C-ACME',
        eligible: false,
        reasons: [{ code: 'LOCKED', message: `C-ACME was transferred recently and is locked until ${TODAY}; a new request is possible from 2026-03-11.`, until: TODAY }],
      },
      { id: 'C-BRIGHT', eligible: false, reasons: [{ code: 'BUSY', message: 'C-BRIGHT is already in another active transfer.' }] },
      { id: 'C-NOPE', eligible: false, reasons: [{ code: 'UNKNOWN_CUSTOMER', message: 'Unknown customer: C-NOPE.' }] },
      { id: 'C-CORAL', eligible: false, reasons: [{ code: 'NOT_TRANSFERABLE_BY_CALLER', message: 'A partner may request a transfer only of its own customers, or to itself.' }] },
    ]);
    expect(answer.problems.map((p) => p.code)).toEqual(['MIXED_PARTNERS', 'UNKNOWN_PARTNER', 'FORBIDDEN']);
    expect(answer).toMatchObject({ eligible: false });
    expect(answer.billing).toBeUndefined();
    expect(JSON.stringify(answer)).not.toContain(busy.id);

    const same = await w.transfers.check(operator, { customerIds: ['C-CORAL'], toPartnerId: 'P-SOUTH', ticketId: 'SUP-1' });
    expect(same).toMatchObject({ eligible: false, problems: [{ code: 'SAME_PARTNER' }] });

    const eligible = await w.transfers.check(south, { customerIds: ['C-CORAL'], toPartnerId: 'P-EAST', requestedDate: '2026-03-15' });
    expect(eligible).toEqual({
      eligible: true,
      customers: [{ id: 'C-CORAL', eligible: true, reasons: [] }],
      problems: [],
      billing: {
        fromPartnerNextInvoiceDate: '2026-03-15',
        toPartnerNextInvoiceDate: '2026-03-31',
        recommendedDate: '2026-03-15',
        aligned: true,
        advice: '2026-03-15 is an invoice date of Southgate Networks: the customer is billed once.',
      },
    });
    expect(written()).toBe(before);
    // The request the check found eligible is filed, with the advice the check gave.
    const filed = await w.transfers.create(south, { customerIds: ['C-CORAL'], toPartnerId: 'P-EAST', requestedDate: '2026-03-15' }, META);
    expect(filed.billing).toEqual(eligible.billing);
  });

  it('answers the same 400 as POST /transfers for a body it cannot judge', async () => {
    const bodies: Array<[Caller, unknown]> = [
      [north, { customerIds: [], toPartnerId: 'P-SOUTH' }],
      [north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', extra: true }],
      [operator, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }],
      [north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', requestedDate: '2026-03-09' }],
      [north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', requestedDate: '2026-04-01', release: { transferDate: '2026-04-02', signedBy: 'Alice Smith' } }],
    ];
    for (const [caller, body] of bodies) {
      const checked = await failure(w.transfers.check(caller, body));
      const created = await failure(w.transfers.create(caller, body, META));
      expect(checked).toBeInstanceOf(ValidationError);
      expect({ ...(checked as ValidationError), message: (checked as Error).message }).toEqual({ ...(created as ValidationError), message: (created as Error).message });
    }
    expectNothingWritten();
  });

  it('a new partner asking for a customer in a transfer between two other partners learns only BUSY', async () => {
    const other = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-EAST' }, META);
    const answer = await w.transfers.check(south, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' });
    expect(answer.customers).toEqual([{ id: 'C-ACME', eligible: false, reasons: [{ code: 'BUSY', message: 'C-ACME is already in another active transfer.' }] }]);
    expect(answer.problems).toEqual([]);
    const text = JSON.stringify(answer);
    for (const secret of [other.id, 'P-EAST', 'Eastline']) expect(text).not.toContain(secret);
    // POST /transfers says no more.
    const refused = await failure(w.transfers.create(south, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META));
    expect(refused).toMatchObject({ status: 409, code: 'CUSTOMER_BUSY' });
    expect(JSON.stringify({ ...(refused as ConflictError), message: (refused as Error).message })).not.toMatch(new RegExp(`${other.id}|P-EAST|Eastline`));
  });

  it('takes one round of reads for the current partner\'s own check, two when the current partner is learnt from the owners; never a domain', async () => {
    const log: { settled: number; calls: string[][] } = { settled: 0, calls: [] };
    /** Each call with the number of calls settled before it started: calls of one round start together. */
    function traced<T extends object>(target: T): T {
      return new Proxy(target, {
        get(object, property) {
          const value: unknown = Reflect.get(object, property);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            log.calls.push([String(log.settled), String(property), ...args.filter((a): a is string => typeof a === 'string')]);
            return Promise.resolve(value.apply(object, args)).finally(() => {
              log.settled += 1;
            });
          };
        },
      });
    }
    const service = new TransferService({ store: traced(w.store), directory: traced(w.directory), workflow: w.workflow, mailer: w.mailer, clock: w.clock, policy: w.policy });
    const rounds = async (caller: Caller, body: Record<string, unknown>) => {
      Object.assign(log, { settled: 0, calls: [] });
      await service.check(caller, body);
      return log.calls;
    };

    expect(await rounds(north, { customerIds: ['C-ACME', 'C-BRIGHT'], toPartnerId: 'P-SOUTH' })).toEqual([
      ['0', 'getOwnerships'],
      ['0', 'getPartner', 'P-SOUTH'],
      ['0', 'activeClaims'],
      ['0', 'getPartner', 'P-NORTH'],
    ]);
    expect(await rounds(south, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' })).toEqual([
      ['0', 'getOwnerships'],
      ['0', 'getPartner', 'P-SOUTH'],
      ['0', 'activeClaims'],
      ['3', 'getPartner', 'P-NORTH'],
    ]);
    expect(await rounds(operator, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', ticketId: 'SUP-1' })).toEqual([
      ['0', 'getOwnerships'],
      ['0', 'getPartner', 'P-SOUTH'],
      ['0', 'activeClaims'],
      ['3', 'getPartner', 'P-NORTH'],
    ]);
  });

  describe('says eligible exactly when POST /transfers would accept the same body in the same state', () => {
    const OWNERS = ['P-NORTH', 'P-SOUTH', 'P-EAST', 'P-GONE'] as const;
    const CUSTOMER_IDS = ['C-1', 'C-2', 'C-3'] as const;
    const PARTNERS = [NORTH, SOUTH, EAST];
    const CALLERS: Caller[] = [operator, ...OWNERS.map((partnerId): Caller => ({ kind: 'partner', partnerId, subject: `someone@${partnerId}` }))];

    const state = fc.record({
      partners: fc.oneof(fc.constant(PARTNERS), fc.subarray(PARTNERS)),
      customers: fc.tuple(
        ...CUSTOMER_IDS.map(() =>
          fc.record({
            owner: fc.constantFrom(...OWNERS, 'P-NORTH', 'P-SOUTH'),
            lockedUntil: fc.constantFrom(null, null, '2026-03-09', TODAY, '2026-03-20'),
            claimed: fc.constantFrom(false, false, false, true),
          }),
        ),
      ),
    });
    const signedBy = 'Pat Doe';
    // Each optional field is left out more often than not, so that most bodies are valid.
    const body = fc
      .record({
        customerIds: fc.uniqueArray(fc.constantFrom(...CUSTOMER_IDS, ...CUSTOMER_IDS, 'C-NOPE'), { minLength: 1, maxLength: 3 }),
        toPartnerId: fc.constantFrom(...OWNERS, 'P-NOPE'),
        requestedDate: fc.constantFrom(undefined, undefined, undefined, 'immediate', '2026-04-01', '2026-03-09'),
        release: fc.constantFrom(undefined, undefined, undefined, undefined, { transferDate: '2026-04-01', signedBy }, { transferDate: 'immediate', signedBy }, { transferDate: '2026-03-09', signedBy }),
        ticketId: fc.constantFrom(undefined, 'SUP-1', 'SUP-1', 'SUP-1'),
        lockOverride: fc.constantFrom(undefined, undefined, undefined, { reason: 'Merger of the two partners' }),
      })
      .map((b) => Object.fromEntries(Object.entries(b).filter(([, value]) => value !== undefined)) as { customerIds: string[]; toPartnerId: string });


    it('for random directories, claims, locks, callers and bodies', async () => {
      const seen = new Map<string, number>();
      const count = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1);
      await fc.assert(
        fc.asyncProperty(state, body, fc.constantFrom(...CALLERS), async (s, b, caller) => {
          const directory = new InMemoryDirectory(
            s.partners,
            CUSTOMER_IDS.map((id, i) => ({ id, name: `Customer ${id}`, partnerId: s.customers[i]?.owner ?? 'P-NORTH', domains: [`${id}.example`], settings: {}, users: [] })),
          );
          const store = new InMemoryTransferStore(directory);
          CUSTOMER_IDS.forEach((id, i) => {
            const customer = directory.customers.get(id);
            if (customer) customer.lockedUntil = s.customers[i]?.lockedUntil ?? null;
            if (s.customers[i]?.claimed) store.claims.set(id, `TR-20260301-OTHER${i}`);
          });
          const workflow = new RecordingWorkflow();
          const service = new TransferService({ store, directory, workflow, mailer: new RecordingMailer(), clock: new FixedClock(NOW), policy: DEFAULT_POLICY });

          const before = JSON.stringify([[...store.transfers], [...store.claims], [...store.events]]);
          const checked: Eligibility | Error = await service.check(caller, b).catch((error: Error) => error);
          expect(JSON.stringify([[...store.transfers], [...store.claims], [...store.events]])).toBe(before);
          const created = await service.create(caller, b, META).catch((error: Error) => error);

          if (checked instanceof Error) {
            // A body it cannot judge: the very 400 of POST /transfers.
            count('400');
            expect(checked).toBeInstanceOf(ValidationError);
            expect(created).toBeInstanceOf(ValidationError);
            expect((created as Error).message).toBe(checked.message);
            return;
          }
          expect(checked.eligible).toBe(checked.problems.length === 0 && checked.customers.every((c) => c.reasons.length === 0));
          expect(checked.customers.map((c) => c.id)).toEqual(b.customerIds);
          if (checked.eligible) {
            count('eligible');
            expect(created).not.toBeInstanceOf(Error);
            expect((created as TransferWithHistory).billing).toEqual(checked.billing);
          } else {
            expect(created).toBeInstanceOf(DomainError);
            const error = created as DomainError;
            count(error.code);
            expect(checkCodesFor(error).some((code) => checkCodesOf(checked).includes(code)), `${error.code}: ${error.message} vs ${checkCodesOf(checked).join(', ')}`).toBe(true);
          }
          for (const code of checkCodesOf(checked)) count(`check:${code}`);

          // Never a claim's transfer; and a partner that is not the new partner hears of no partner but itself and the one named.
          const text = JSON.stringify(checked);
          expect(text).not.toContain('TR-');
          if (caller.kind === 'partner' && caller.partnerId !== b.toPartnerId) {
            const others = [...OWNERS, ...PARTNERS.map((p) => p.name)].filter(
              (word) => ![caller.partnerId, b.toPartnerId].includes(word) && ![caller.partnerId, b.toPartnerId].includes(PARTNERS.find((p) => p.name === word)?.id ?? ''),
            );
            for (const word of others) expect(text, `${word} in ${text}`).not.toContain(word);
          }
        }),
        { numRuns: 10_000 },
      );
      // The property saw every outcome, so it could have failed on each.
      for (const key of ['400', 'eligible', 'UNKNOWN_CUSTOMER', 'MIXED_PARTNERS', 'SAME_PARTNER', 'FORBIDDEN', 'UNKNOWN_PARTNER', 'LOCKED', 'CUSTOMER_BUSY']) {
        expect(seen.get(key) ?? 0, key).toBeGreaterThan(0);
      }
      for (const code of ['UNKNOWN_CUSTOMER', 'BUSY', 'LOCKED', 'NOT_TRANSFERABLE_BY_CALLER', 'UNKNOWN_PARTNER', 'SAME_PARTNER', 'MIXED_PARTNERS', 'FORBIDDEN']) {
        expect(seen.get(`check:${code}`) ?? 0, code).toBeGreaterThan(0);
      }
    });
  });
});

describe('TransferService.create: what a request records', () => {
  it('only the new partner\'s own dated request is its acceptance: a date asked by the current partner or an operator accepts nothing', async () => {
    const byCurrent = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', requestedDate: '2026-04-01' }, META);
    expect(byCurrent.acceptedDate).toBeNull();
    expect(byCurrent.history[0]?.detail.requestedDate).toBe('2026-04-01');
    expect(byCurrent.history.map((e) => e.type)).toEqual(['REQUESTED']);

    const byOperator = await w.transfers.create(
      operator,
      { customerIds: ['C-BRIGHT'], toPartnerId: 'P-SOUTH', requestedDate: '2026-04-01', ticketId: 'SUP-3' },
      META,
    );
    expect(byOperator.acceptedDate).toBeNull();
    expect(byOperator.history.map((e) => e.type)).toEqual(['REQUESTED']);
  });

  it('the note is kept with the request', async () => {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', note: 'At the customer\'s request' }, META);
    expect(transfer.note).toBe('At the customer\'s request');
    expect(transfer.history[0]?.detail.note).toBe('At the customer\'s request');
    expect(w.store.transfers.get(transfer.id)?.note).toBe('At the customer\'s request');
  });

  it('an operator\'s lock override is recorded only when it lifted a lock', async () => {
    const transfer = await w.transfers.create(
      operator,
      { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', ticketId: 'SUP-4', lockOverride: { reason: 'Partner went out of business' } },
      META,
    );
    expect(transfer.history[0]?.detail).not.toHaveProperty('lockOverride');
  });

  it('a refused request reads neither domains nor the current partner', async () => {
    const reads: string[] = [];
    const firstDomains = w.directory.firstDomains.bind(w.directory);
    const getPartner = w.directory.getPartner.bind(w.directory);
    w.directory.firstDomains = (ids, limit) => (reads.push(`firstDomains ${ids.join(',')}`), firstDomains(ids, limit));
    w.directory.getPartner = (id) => (reads.push(`getPartner ${id}`), getPartner(id));

    await failure(w.transfers.create(north, { customerIds: ['C-ACME', 'C-NOPE'], toPartnerId: 'P-SOUTH' }, META));
    expect(reads).toEqual(['getPartner P-SOUTH']);
  });

  it('the new partner\'s up-front acceptance is signed by its token\'s subject, trimmed', async () => {
    const southSpaced: Caller = { kind: 'partner', partnerId: 'P-SOUTH', subject: '  bob@southgate.example ' };
    const transfer = await w.transfers.create(southSpaced, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', requestedDate: '2026-04-01' }, META);
    const accepted = transfer.history[1]?.detail;
    expect(accepted?.signedBy).toBe('bob@southgate.example');
    expect(String(accepted?.statement)).toContain('I, bob@southgate.example, am authorised');
  });

  it('a filed request counts its status on the dashboard', async () => {
    await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    await w.transfers.create(north, { customerIds: ['C-BRIGHT'], toPartnerId: 'P-SOUTH', release: { transferDate: '2026-04-01', signedBy: 'Alice Smith' } }, META);
    expect(w.metrics.published).toEqual([
      ['transferStatus', 'AWAITING_RELEASE'],
      ['transferStatus', 'AWAITING_ACCEPTANCE'],
    ]);
  });
});

describe('TransferService reads: answers and round trips', () => {
  it('an unknown transfer or customer is "not found" by its id', async () => {
    const transfer = await failure(w.transfers.getVisible(north, 'TR-20260310-NOPE'));
    expect(transfer).toMatchObject({ status: 404, code: 'NOT_FOUND', message: 'Transfer TR-20260310-NOPE was not found.' });
    const customer = await failure(w.transfers.getCustomer(north, 'C-NOPE'));
    expect(customer).toMatchObject({ status: 404, code: 'NOT_FOUND', message: 'Customer C-NOPE was not found.' });
  });

  it('an unknown query field is a 400 naming it', async () => {
    const listing = await failure(w.transfers.list(north, { sort: 'asc' }));
    expect(listing).toMatchObject({ status: 400, message: 'The query is not valid. query: unknown field: sort.', details: { issues: [{ field: 'query', message: 'unknown field: sort' }] } });
    const customer = await failure(w.transfers.getCustomer(north, 'C-ACME', { page: '2' }));
    expect(customer).toMatchObject({ status: 400, message: 'The query is not valid. query: unknown field: page.' });
  });

  it('a partner\'s listing asks the store for its own transfers only, an operator\'s for all; status, limit and nextToken are passed on', async () => {
    const queries: unknown[] = [];
    const list = w.store.list.bind(w.store);
    w.store.list = (query) => (queries.push(query), list(query));

    await w.transfers.list(north, {});
    await w.transfers.list(operator, {});
    await w.transfers.list(operator, { status: 'SCHEDULED', limit: '5', nextToken: '10' });
    expect(queries).toStrictEqual([{ partnerId: 'P-NORTH', limit: 25 }, { limit: 25 }, { status: 'SCHEDULED', limit: 5, nextToken: '10' }]);
  });

  it('a transfer whose customers carry their domains is answered without reading them again; summaries are completed from the store', async () => {
    const filed = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    expect(await w.transfers.withCustomers(filed)).toEqual(filed);
    expect(w.store.customerReads).toBe(0);

    const { transfer: summary } = await w.transfers.visibleState(north, filed.id);
    expect((await w.transfers.withCustomers(summary)).customers).toEqual(filed.customers);
    expect(w.store.customerReads).toBe(1);
  });

  it('the consent record is the parties\' and operators\' to read, with the chain verified', async () => {
    const filed = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    const record = await w.transfers.record(south, filed.id);
    expect(record).toMatchObject({ transfer: { id: filed.id }, chain: { state: 'intact', events: 1 }, timeZone: 'America/New_York', generatedAt: NOW.toISOString() });
    expect(await failure(w.transfers.record(east, filed.id))).toBeInstanceOf(NotFoundError);
  });

  it('a chain read while an event was being written is read once more before it is shown broken', async () => {
    const filed = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    const getState = w.store.getState.bind(w.store);
    let reads = 0;
    // The first read sees the head move without the event it names.
    w.store.getState = async (id) => {
      reads += 1;
      const state = await getState(id);
      return state && reads === 1 ? { ...state, chainHead: { seq: 2, hash: 'f'.repeat(64) } } : state;
    };
    expect((await w.transfers.record(north, filed.id)).chain.state).toBe('intact');
    expect(reads).toBe(2);
    // An intact chain is read once.
    expect((await w.transfers.record(north, filed.id)).chain.state).toBe('intact');
    expect(reads).toBe(3);

    reads = 0;
    w.store.getState = async (id) => {
      reads += 1;
      const state = await getState(id);
      return state && { ...state, chainHead: { seq: 2, hash: 'f'.repeat(64) } };
    };
    expect((await w.transfers.record(north, filed.id)).chain.state).toBe('broken');
    expect(reads).toBe(2);
  });
});

describe('TransferService decisions: the rules of a written decision', () => {
  const release = (transferDate: string, signedBy = 'Alice Smith') => ({ decision: 'release', transferDate, signedBy });
  const HOUR = 3_600_000;

  async function waitingRelease(body: Record<string, unknown> = {}): Promise<TransferWithHistory> {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', ...body }, META);
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-release', approvalWindowSeconds: WINDOW });
    return transfer;
  }

  async function waitingAcceptance(transferDate = '2026-04-01'): Promise<TransferWithHistory> {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', release: { transferDate, signedBy: 'Alice Smith' } }, META);
    await w.steps.requestApproval({ transferId: transfer.id, step: 'acceptance', taskToken: 'task-acceptance', approvalWindowSeconds: WINDOW });
    return transfer;
  }

  it('the current partner cannot take the new partner\'s step: 403 saying only the new partner accepts or declines', async () => {
    const transfer = await waitingAcceptance();
    const error = await failure(w.transfers.decideByCaller(north, transfer.id, 'acceptance', { decision: 'accept', signedBy: 'Alice Smith' }, META));
    expect(error).toMatchObject({ status: 403, message: 'Only the new partner can accept or decline here.' });
  });

  it('an operator\'s decision without a ticket is a 400 naming ticketId', async () => {
    const transfer = await waitingRelease();
    const error = await failure(w.transfers.decideByCaller(operator, transfer.id, 'release', release('2026-04-01', 'Ops Person'), META));
    expect(error).toMatchObject({
      status: 400,
      message: 'An operator decides on a partner\'s behalf only citing a support ticket: ticketId is required.',
      details: { issues: [{ field: 'ticketId', message: 'is required for operators' }] },
    });
  });

  it('a decision body that is not valid is a 400 about "the decision"; a past release date names transferDate', async () => {
    const transfer = await waitingRelease();
    const body = await failure(w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'release', signedBy: 'Alice Smith' }, META));
    expect(body).toMatchObject({ status: 400, message: 'The decision is not valid. transferDate: must be a date written YYYY-MM-DD or "immediate".' });
    const acceptance = await failure(w.transfers.decideByCaller(north, transfer.id, 'acceptance', { decision: 'accept' }, META));
    expect(acceptance).toMatchObject({ status: 400, message: 'The decision is not valid. signedBy: is required.' });
    const past = await failure(w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-03-09'), META));
    expect(past).toMatchObject({ status: 400, details: { field: 'transferDate', earliest: TODAY } });
  });

  it('a decline for another reason without words is a 400 saying why it is needed', async () => {
    const transfer = await waitingRelease();
    const error = await failure(w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'decline', signedBy: 'Alice Smith' }, META));
    expect(error).toMatchObject({
      status: 400,
      message: 'The decision is not valid. reason: is required when reasonCode is OTHER or not given; say why you decline, in a few words.',
    });
  });

  it('the 409s say what stands: the decision already recorded, the step not waited for, the window closed', async () => {
    const transfer = await waitingRelease();
    const early = await failure(w.transfers.decideByCaller(south, transfer.id, 'acceptance', { decision: 'accept', signedBy: 'Bob Jones' }, META));
    expect(early).toMatchObject({ message: 'The transfer is AWAITING_RELEASE; it is not waiting for the acceptance.' });
    w.clock.current = new Date(NOW.getTime() + WINDOW * 1000);
    const late = await failure(w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-01'), META));
    expect(late).toMatchObject({ message: 'The approval window for the release closed at 2026-03-24T15:00:00.000Z.' });
    w.clock.current = NOW;
    await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-01'), META);
    const again = await failure(w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'decline', reason: 'Changed our mind', signedBy: 'Alice Smith' }, META));
    expect(again).toMatchObject({ message: 'A release decision was already recorded for the release.' });
  });

  it('the same decision signed by another person is a 409 ALREADY_DECIDED, not a repeat', async () => {
    const transfer = await waitingRelease();
    await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-15', 'Alice Smith'), META);
    const error = await failure(w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-15', 'Carol White'), META));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'ALREADY_DECIDED', details: { decision: 'release', signedBy: 'Alice Smith' } });
    expect(w.store.decisions).toHaveLength(1);
  });

  it('a repeat is answered with the time of the decision it repeats, not of the transfer\'s last change', async () => {
    w.clock.current = new Date(NOW.getTime() - HOUR);
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    w.clock.current = NOW;
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-release', approvalWindowSeconds: WINDOW });
    w.clock.current = new Date(NOW.getTime() + HOUR);
    const first = await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-01'), META);
    w.clock.current = new Date(NOW.getTime() + 2 * HOUR);
    await w.steps.requestApproval({ transferId: transfer.id, step: 'acceptance', taskToken: 'task-acceptance', approvalWindowSeconds: WINDOW });
    w.clock.current = new Date(NOW.getTime() + 3 * HOUR);
    await w.transfers.decideByCaller(south, transfer.id, 'acceptance', { decision: 'accept', signedBy: 'Bob Jones' }, META);
    w.clock.current = new Date(NOW.getTime() + 4 * HOUR);

    const again = await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-01'), META);
    expect(again).toMatchObject({ repeated: true, at: first.at });
    expect(first.at).toBe(new Date(NOW.getTime() + HOUR).toISOString());
  });

  it('a decision through the API reads the transfer with its steps once, and the step no more', async () => {
    const transfer = await waitingRelease();
    let stepReads = 0;
    const getStep = w.store.getStep.bind(w.store);
    w.store.getStep = (id, step) => ((stepReads += 1), getStep(id, step));
    await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-15'), META);
    expect(stepReads).toBe(0);
  });

  it('decide reads the step itself when it is not given, and answers a repeat as such', async () => {
    const transfer = await waitingRelease();
    await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-15'), META);
    const { transfer: now } = await w.transfers.visibleState(north, transfer.id);
    const again = await w.transfers.decide({
      transfer: now,
      withDomains: false,
      step: 'release',
      body: { decision: 'release', transferDate: '2026-04-15', signedBy: 'Alice Smith' },
      actor: { kind: 'partner', partnerId: 'P-NORTH', name: 'alice@northwind.example' },
      via: 'api',
      linkHash: null,
      meta: META,
    });
    expect(again.repeated).toBe(true);
  });

  it('a release takes its billing advice from the invoice days kept with the request, not from today\'s directory', async () => {
    const transfer = await waitingRelease();
    const partner = w.directory.partners.get('P-NORTH');
    if (partner) partner.invoiceDay = 15;
    const result = await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-01'), META);
    expect(result.transfer.billing).toMatchObject({ fromPartnerNextInvoiceDate: '2026-04-01', aligned: true });
  });

  it('a transfer kept without invoice days takes them from the directory; with a partner gone from it, the advice stays as it was', async () => {
    const first = await waitingRelease();
    w.store.invoiceDays.delete(first.id);
    const partner = w.directory.partners.get('P-NORTH');
    if (partner) partner.invoiceDay = 15;
    const advised = await w.transfers.decideByCaller(north, first.id, 'release', release('2026-04-15'), META);
    expect(advised.transfer.billing).toMatchObject({ fromPartnerNextInvoiceDate: '2026-03-15', aligned: true });
    expect(w.store.decisions[0]?.changes).toHaveProperty('billing', advised.transfer.billing);

    const second = await w.transfers.create(north, { customerIds: ['C-BRIGHT'], toPartnerId: 'P-SOUTH' }, META);
    await w.steps.requestApproval({ transferId: second.id, step: 'release', taskToken: 'task-2', approvalWindowSeconds: WINDOW });
    w.store.invoiceDays.delete(second.id);
    w.directory.partners.delete('P-SOUTH');
    const kept = await w.transfers.decideByCaller(north, second.id, 'release', release('2026-04-01'), META);
    expect(kept.transfer.billing).toEqual(second.billing);
    expect(w.store.decisions[1]?.changes).toEqual({ transferDate: '2026-04-01', immediate: false });

  });

  it('a decline of the acceptance is signed for the agreed date', async () => {
    const transfer = await waitingAcceptance('2026-04-01');
    const result = await w.transfers.decideByCaller(south, transfer.id, 'acceptance', { decision: 'decline', reasonCode: 'DISPUTE', signedBy: 'Bob Jones' }, META);
    expect(result.consent).toMatchObject({ step: 'acceptance', decision: 'decline', transferDate: '2026-04-01', immediate: false, reasonCode: 'DISPUTE' });
  });

  it('an acceptance is recorded as an "accept" consent in an ACCEPTED event; of an immediate transfer, acceptedDate is "immediate"', async () => {
    const transfer = await waitingAcceptance('immediate');
    const result = await w.transfers.decideByCaller(south, transfer.id, 'acceptance', { decision: 'accept', signedBy: 'Bob Jones' }, META);
    expect(result.consent).toMatchObject({ step: 'acceptance', decision: 'accept', transferDate: TODAY, immediate: true });
    expect(result.transfer.acceptedDate).toBe('immediate');
    expect(result.transfer.history.at(-1)).toMatchObject({ type: 'ACCEPTED', detail: { decision: 'accept' } });
  });

  it('only a decline gives up the customers\' claims: a release and an acceptance keep them', async () => {
    const transfer = await waitingRelease();
    await w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-01'), META);
    expect(w.store.claims.get('C-ACME')).toBe(transfer.id);
    await w.steps.requestApproval({ transferId: transfer.id, step: 'acceptance', taskToken: 'task-acceptance', approvalWindowSeconds: WINDOW });
    await w.transfers.decideByCaller(south, transfer.id, 'acceptance', { decision: 'accept', signedBy: 'Bob Jones' }, META);
    expect(w.store.claims.get('C-ACME')).toBe(transfer.id);
    expect(w.store.decisions.map((d) => d.releaseClaims)).toEqual([false, false]);
  });

  it('a wait that resumes again and again is chased three times at most, then the conflict stands', async () => {
    const transfer = await waitingRelease();
    let writes = 0;
    w.store.decide = async () => {
      writes += 1;
      throw new ConflictError('STEP_CHANGED', 'The step was opened again since it was read; nothing was recorded.');
    };
    const error = await failure(w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-01'), META));
    expect(error).toMatchObject({ code: 'STEP_CHANGED' });
    expect(writes).toBe(3);
  });

  it('a decision that lost its write to another one is not tried again', async () => {
    const transfer = await waitingRelease();
    let writes = 0;
    w.store.decide = async () => {
      writes += 1;
      throw new ConflictError('ALREADY_DECIDED', 'Another decision was recorded first; this one was not recorded.');
    };
    const error = await failure(w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-01'), META));
    expect(error).toMatchObject({ code: 'ALREADY_DECIDED' });
    expect(writes).toBe(1);
  });

  it('a failed write leaves no unhandled read behind', async () => {
    const transfer = await waitingRelease();
    w.store.getCustomers = () => Promise.reject(new Error('domains unreadable'));
    w.store.decide = () => Promise.reject(new Error('write failed'));
    await expect(w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-01'), META)).rejects.toThrow('write failed');
    await new Promise((resolve) => setTimeout(resolve, 0));
  });

  it('a workflow error that is not transient is passed on as it is, not as "recorded, send again"', async () => {
    const transfer = await waitingRelease();
    w.workflow.signalError = new Error('AccessDenied');
    const error = await failure(w.transfers.decideByCaller(north, transfer.id, 'release', release('2026-04-01'), META));
    expect(error).not.toBeInstanceOf(DecisionNotYetDelivered);
    expect(error).toMatchObject({ message: 'AccessDenied' });
  });

  it('the dashboard gets the new status, a decline\'s ground and the time from the latest ask to the decision', async () => {
    const transfer = await waitingRelease();
    // The step was asked again an hour later, and reminded an hour after that.
    await w.store.appendEvent(transfer.id, {
      at: new Date(NOW.getTime() + HOUR).toISOString(),
      type: 'APPROVAL_REQUESTED',
      actor: { kind: 'system', name: 'workflow' },
      detail: { step: 'release', partnerId: 'P-NORTH', recipients: [] },
    });
    w.clock.current = new Date(NOW.getTime() + 2 * HOUR);
    await w.steps.remindOrExpire({ transferId: transfer.id, step: 'release', reminderIntervalSeconds: 3 * 86_400 });
    w.clock.current = new Date(NOW.getTime() + 3 * HOUR);
    w.metrics.published.length = 0;
    await w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'decline', reasonCode: 'CONTRACT_IN_FORCE', signedBy: 'Alice Smith' }, META);
    expect(w.metrics.published).toEqual([
      ['transferStatus', 'DECLINED'],
      ['decline', 'CONTRACT_IN_FORCE'],
      ['approvalLatency', 'release', 2 * 3600],
    ]);

    const other = await waitingAcceptance();
    w.metrics.published.length = 0;
    await w.transfers.decideByCaller(south, other.id, 'acceptance', { decision: 'accept', signedBy: 'Bob Jones' }, META);
    expect(w.metrics.published).toEqual([
      ['transferStatus', 'SCHEDULED'],
      ['approvalLatency', 'acceptance', 0],
    ]);
  });
});

describe('TransferService.cancel: who may, when, and what follows', () => {
  async function inStatus(status: 'AWAITING_RELEASE' | 'AWAITING_ACCEPTANCE' | 'SCHEDULED', customerId: string): Promise<TransferWithHistory> {
    const release = status === 'AWAITING_RELEASE' ? {} : { release: { transferDate: '2026-04-01', signedBy: 'Alice Smith' } };
    const transfer = await w.transfers.create(north, { customerIds: [customerId], toPartnerId: 'P-SOUTH', ...release }, META);
    if (status === 'SCHEDULED') {
      await w.steps.requestApproval({ transferId: transfer.id, step: 'acceptance', taskToken: `task-${customerId}`, approvalWindowSeconds: WINDOW });
      await w.transfers.decideByCaller(south, transfer.id, 'acceptance', { decision: 'accept', signedBy: 'Bob Jones' }, META);
    }
    expect(w.store.transfers.get(transfer.id)?.status).toBe(status);
    return transfer;
  }

  function setStatus(id: string, status: TransferWithHistory['status']): void {
    const stored = w.store.transfers.get(id);
    if (stored) stored.status = status;
  }

  it('a transfer awaiting its release, awaiting its acceptance or scheduled can be cancelled', async () => {
    for (const [status, customerId] of [['AWAITING_RELEASE', 'C-ACME'], ['AWAITING_ACCEPTANCE', 'C-BRIGHT']] as const) {
      const transfer = await inStatus(status, customerId);
      expect((await w.transfers.cancel(north, transfer.id, { reason: 'No longer wanted' }, META)).status).toBe('CANCELLED');
      expect(w.store.claims.has(customerId)).toBe(false);
    }
    const scheduled = await inStatus('SCHEDULED', 'C-ACME');
    expect((await w.transfers.cancel(north, scheduled.id, { reason: 'No longer wanted' }, META)).status).toBe('CANCELLED');
  });

  it('once re-homing began, completed or failed: 409 REHOMING_BEGAN naming the status, and no write is tried', async () => {
    const transfer = await inStatus('AWAITING_RELEASE', 'C-ACME');
    let writes = 0;
    const changeStatus = w.store.changeStatus.bind(w.store);
    w.store.changeStatus = (change) => ((writes += 1), changeStatus(change));
    for (const status of ['IN_PROGRESS', 'COMPLETED', 'FAILED'] as const) {
      setStatus(transfer.id, status);
      const error = await failure(w.transfers.cancel(north, transfer.id, { reason: 'Too late now' }, META));
      expect(error).toMatchObject({
        status: 409,
        code: 'REHOMING_BEGAN',
        message: `The transfer is ${status}: re-homing has begun, so it can no longer be cancelled.`,
        details: { status },
      });
    }
    expect(writes).toBe(0);
  });

  it('a transfer that already ended otherwise: 409 ALREADY_ENDED naming the status', async () => {
    const transfer = await inStatus('AWAITING_RELEASE', 'C-ACME');
    setStatus(transfer.id, 'DECLINED');
    const error = await failure(w.transfers.cancel(south, transfer.id, { reason: 'Never mind' }, META));
    expect(error).toMatchObject({ status: 409, code: 'ALREADY_ENDED', message: 'The transfer is already DECLINED.', details: { status: 'DECLINED' } });
  });

  it('a cancel that loses the race to re-homing is a 409 naming the status re-homing set, and stops and tells nothing', async () => {
    const transfer = await inStatus('SCHEDULED', 'C-ACME');
    const changeStatus = w.store.changeStatus.bind(w.store);
    w.store.changeStatus = (change) => {
      setStatus(transfer.id, 'IN_PROGRESS');
      return changeStatus(change);
    };
    const sent = w.mailer.sent.length;
    const error = await failure(w.transfers.cancel(north, transfer.id, { reason: 'Just in time?' }, META));
    expect(error).toMatchObject({ status: 409, code: 'REHOMING_BEGAN', details: { status: 'IN_PROGRESS' } });
    expect(w.workflow.stops).toEqual([]);
    expect(w.mailer.sent).toHaveLength(sent);
  });

  it('a cancel whose write fails for another reason than a conflict passes that failure on', async () => {
    const transfer = await inStatus('AWAITING_RELEASE', 'C-ACME');
    w.store.changeStatus = () => Promise.reject(new TransientError());
    expect(await failure(w.transfers.cancel(north, transfer.id, { reason: 'Customer stays' }, META))).toBeInstanceOf(TransientError);
  });

  it('an operator cancels only citing a ticket: 400 naming ticketId', async () => {
    const transfer = await inStatus('AWAITING_RELEASE', 'C-ACME');
    const error = await failure(w.transfers.cancel(operator, transfer.id, { reason: 'On request' }, META));
    expect(error).toMatchObject({
      status: 400,
      message: 'An operator cancels on a partner\'s behalf only citing a support ticket: ticketId is required.',
      details: { issues: [{ field: 'ticketId', message: 'is required for operators' }] },
    });
    const body = await failure(w.transfers.cancel(north, transfer.id, { reason: 'no' }, META));
    expect(body).toMatchObject({ status: 400, message: 'The cancellation is not valid. reason: must say why, in a few words.' });
  });

  it('the notice names who cancelled: the current partner, the new partner, or provider support with the ticket; the event keeps the ticket', async () => {
    const first = await inStatus('AWAITING_RELEASE', 'C-ACME');
    const byCurrent = await w.transfers.cancel(north, first.id, { reason: 'Customer stays' }, META);
    const second = await inStatus('AWAITING_RELEASE', 'C-ACME');
    await w.transfers.cancel(south, second.id, { reason: 'We cannot take it' }, META);
    const third = await inStatus('AWAITING_RELEASE', 'C-ACME');
    const byOperator = await w.transfers.cancel(operator, third.id, { reason: 'Duplicate request', ticketId: 'SUP-12' }, META);

    expect(w.mailer.notices.filter((n) => n.kind === 'cancellation').map((n) => n.kind === 'cancellation' && n.cancelledBy)).toEqual([
      'Northwind IT',
      'Southgate Networks',
      'Provider support (ticket SUP-12)',
    ]);
    expect(byCurrent.history.at(-1)?.detail.ticketId).toBeNull();
    expect(byOperator.history.at(-1)).toMatchObject({ type: 'CANCELLED', actor: { kind: 'operator', name: 'ops-7' }, detail: { ticketId: 'SUP-12' } });
  });

  it('a partner gone from the directory is not told; the other partner is', async () => {
    const transfer = await inStatus('AWAITING_RELEASE', 'C-ACME');
    const other = await inStatus('AWAITING_RELEASE', 'C-BRIGHT');
    w.directory.partners.delete('P-SOUTH');
    await w.transfers.cancel(north, transfer.id, { reason: 'Customer stays' }, META);
    expect(w.mailer.notices.at(-1)?.recipients).toEqual(['ops@northwind.example', 'billing@northwind.example']);
    w.directory.partners.delete('P-NORTH');
    await w.transfers.cancel(north, other.id, { reason: 'Customer stays' }, META);
    expect(w.mailer.notices.at(-1)?.recipients).toEqual([]);
  });

  it('a cancellation notice that cannot be sent leaves the cancel standing and puts NOTICE_FAILED on record', async () => {
    const transfer = await inStatus('AWAITING_RELEASE', 'C-ACME');
    w.mailer.failNext = new Error('SES unavailable');
    const cancelled = await w.transfers.cancel(south, transfer.id, { reason: 'Customer stays' }, META);
    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.history.at(-1)).toMatchObject({ type: 'NOTICE_FAILED', actor: { kind: 'system', name: 'api' }, detail: { notice: 'cancellation' } });
    expect(cancelled.history.at(-1)?.at).toBe(NOW.toISOString());
  });

  it('when even that record cannot be written for a moment the cancel still answers; any other failure is passed on', async () => {
    const transfer = await inStatus('AWAITING_RELEASE', 'C-ACME');
    w.mailer.failNext = new Error('SES unavailable');
    w.store.appendEvent = () => Promise.reject(new TransientError());
    expect((await w.transfers.cancel(south, transfer.id, { reason: 'Customer stays' }, META)).status).toBe('CANCELLED');

    const other = await inStatus('AWAITING_RELEASE', 'C-BRIGHT');
    w.mailer.failNext = new Error('SES unavailable');
    w.store.appendEvent = () => Promise.reject(new Error('table gone'));
    await expect(w.transfers.cancel(south, other.id, { reason: 'Customer stays' }, META)).rejects.toThrow('table gone');
  });

  it('when the cancelled transfer cannot be read back for a moment, the answer is the transfer as read, cancelled', async () => {
    const transfer = await inStatus('AWAITING_RELEASE', 'C-ACME');
    w.clock.current = new Date(NOW.getTime() + 60_000);
    w.store.get = () => Promise.reject(new TransientError());
    const cancelled = await w.transfers.cancel(south, transfer.id, { reason: 'Customer stays' }, META);
    expect(cancelled).toMatchObject({ id: transfer.id, status: 'CANCELLED', updatedAt: new Date(NOW.getTime() + 60_000).toISOString() });
    expect(cancelled.customers).toEqual(transfer.customers);
  });

  it('a stop that fails leaves the cancel standing, and the dashboard counts it', async () => {
    const transfer = await inStatus('AWAITING_RELEASE', 'C-ACME');
    w.workflow.stop = () => Promise.reject(new Error('ExecutionDoesNotExist'));
    w.metrics.published.length = 0;
    expect((await w.transfers.cancel(north, transfer.id, { reason: 'Customer stays' }, META)).status).toBe('CANCELLED');
    expect(w.metrics.published).toEqual([['transferStatus', 'CANCELLED']]);
  });
});

describe('TransferService.deliver', () => {
  it('hands a decision recorded before the wait began to the wait\'s token, once', async () => {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    await w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith' }, META);
    expect(w.workflow.signals).toEqual([]);

    await w.transfers.deliver(transfer.id, 'release');
    expect(w.workflow.signals).toEqual([]);
    await w.transfers.deliver(transfer.id, 'release', 'task-late');
    expect(w.workflow.signals.map((s) => s.taskToken)).toEqual(['task-late']);
    expect((await w.store.getStep(transfer.id, 'release'))?.signalledAt).toBe(NOW.toISOString());
    await w.transfers.deliver(transfer.id, 'release', 'task-later');
    expect(w.workflow.signals).toHaveLength(1);
    expect(w.workflow.refused).toEqual([]);
  });

  it('a step not opened or not decided has nothing to deliver', async () => {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    await w.transfers.deliver(transfer.id, 'acceptance', 'task-1');
    await w.transfers.deliver(transfer.id, 'acceptance');
    await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-release', approvalWindowSeconds: WINDOW });
    await w.transfers.deliver(transfer.id, 'release');
    await w.transfers.deliver(transfer.id, 'release', 'task-2');
    expect(w.workflow.signals).toEqual([]);
  });

  it('a delivery whose bookkeeping fails for a moment still counts as delivered; any other failure is passed on', async () => {
    const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
    await w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith' }, META);
    w.store.markSignalled = () => Promise.reject(new TransientError());
    await w.transfers.deliver(transfer.id, 'release', 'task-1');
    expect(w.workflow.signals.map((s) => s.taskToken)).toEqual(['task-1']);
    w.store.markSignalled = () => Promise.reject(new Error('table gone'));
    await expect(w.transfers.deliver(transfer.id, 'release', 'task-2')).rejects.toThrow('table gone');
  });
});
