import { describe, expect, it } from 'vitest';
import type { Caller } from '../../../lambdas/domain/caller.ts';
import {
  bouncedAddresses,
  CONTACT_BOUNCED,
  MAIL_TAG_TRANSFER,
  MailFeedbackRecorder,
  PARTY_UNREACHABLE,
  type MailFeedback,
} from '../../../lambdas/domain/mail-feedback.ts';
import type { HistoryEvent } from '../../../lambdas/domain/transfer.ts';
import { META, world, type World } from './in-memory-ports.ts';

const north: Caller = { kind: 'partner', partnerId: 'P-NORTH', subject: 'alice@northwind.example' };
const AT = '2026-03-10T16:00:00.000Z';

async function setUp(): Promise<{ w: World; recorder: MailFeedbackRecorder; transferId: string }> {
  const w = world();
  const transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
  return { w, recorder: new MailFeedbackRecorder({ store: w.store, directory: w.directory, alerts: w.alerts }), transferId: transfer.id };
}

const bounce = (transferId: string, addresses: string[], overrides: Partial<MailFeedback> = {}): MailFeedback => ({
  transferId,
  kind: 'bounce',
  permanent: true,
  addresses,
  at: AT,
  ...overrides,
});

async function eventsOf(w: World, transferId: string, type: string) {
  return ((await w.store.get(transferId))?.history ?? []).filter((event) => event.type === type);
}

describe('mail feedback', () => {
  it('records a hard bounce of a contact once, naming whose contact it is, whatever the case of the address', async () => {
    const { w, recorder, transferId } = await setUp();
    expect(await recorder.record(bounce(transferId, ['OPS@Northwind.example']))).toEqual({ recorded: ['ops@northwind.example'], unreachable: [] });
    expect(await recorder.record(bounce(transferId, ['ops@northwind.example']))).toEqual({ recorded: [], unreachable: [] });
    const events = await eventsOf(w, transferId, CONTACT_BOUNCED);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ at: AT, actor: { kind: 'system', name: 'ses' }, detail: { address: 'ops@northwind.example', partnerId: 'P-NORTH', feedback: 'bounce' } });
    expect(w.alerts.published).toEqual([]);
  });

  it('records nothing for a transient bounce, and an address of no party with no party', async () => {
    const { w, recorder, transferId } = await setUp();
    expect(await recorder.record(bounce(transferId, ['ops@northwind.example'], { permanent: false }))).toEqual({ recorded: [], unreachable: [] });
    expect(await eventsOf(w, transferId, CONTACT_BOUNCED)).toEqual([]);
    await recorder.record(bounce(transferId, ['devops@provider.example']));
    expect((await eventsOf(w, transferId, CONTACT_BOUNCED))[0]?.detail).toEqual({ address: 'devops@provider.example', partnerId: null, feedback: 'bounce' });
  });

  it('flags a party unreachable once every one of its contacts bounced or complained, and alerts operators once', async () => {
    const { w, recorder, transferId } = await setUp();
    // North has two contacts: one bounce is not enough.
    expect((await recorder.record(bounce(transferId, ['ops@northwind.example']))).unreachable).toEqual([]);
    const second = await recorder.record(bounce(transferId, ['billing@northwind.example'], { kind: 'complaint' }));
    expect(second).toEqual({ recorded: ['billing@northwind.example'], unreachable: ['P-NORTH'] });
    expect((await eventsOf(w, transferId, PARTY_UNREACHABLE)).map((event) => event.detail)).toEqual([{ partnerId: 'P-NORTH' }]);
    expect(w.alerts.published).toHaveLength(1);
    expect(w.alerts.published[0]?.subject).toBe(`Transfer ${transferId}: P-NORTH cannot be reached by email`);
    expect(w.alerts.published[0]?.message).toBe(
      'Every contact of Northwind IT (P-NORTH) bounced or complained: ops@northwind.example, billing@northwind.example. ' +
        `Transfer ${transferId} (AWAITING_RELEASE) cannot reach it with approval links, reminders or notices. ` +
        'Have the partner correct its contacts in the directory, then remind or extend the step if one waits.',
    );

    // Again: nothing new, no second flag or alert. South's one contact makes South unreachable too.
    expect(await recorder.record(bounce(transferId, ['billing@northwind.example']))).toEqual({ recorded: [], unreachable: [] });
    expect(await recorder.record(bounce(transferId, ['partners@southgate.example']))).toEqual({ recorded: ['partners@southgate.example'], unreachable: ['P-SOUTH'] });
    expect(w.alerts.published).toHaveLength(2);
  });

  it('flags the party when the last of its bounces is recorded while another message records the one before', async () => {
    const { w, recorder, transferId } = await setUp();
    // Message A read the transfer before message B recorded ops@; A then records billing@.
    const before = await w.store.getState(transferId);
    await recorder.record(bounce(transferId, ['ops@northwind.example']));
    let reads = 0;
    const stale = new MailFeedbackRecorder({
      store: { getState: async (id) => (reads++ === 0 ? before : w.store.getState(id)), appendEvent: (id, event) => w.store.appendEvent(id, event) },
      directory: w.directory,
      alerts: w.alerts,
    });
    expect(await stale.record(bounce(transferId, ['billing@northwind.example']))).toEqual({ recorded: ['billing@northwind.example'], unreachable: ['P-NORTH'] });
    expect(await eventsOf(w, transferId, PARTY_UNREACHABLE)).toHaveLength(1);
  });

  it('records a complaint whatever SES says of its permanence: only a bounce can be transient', async () => {
    const { w, recorder, transferId } = await setUp();
    expect(await recorder.record(bounce(transferId, ['ops@northwind.example'], { kind: 'complaint', permanent: false }))).toEqual({
      recorded: ['ops@northwind.example'],
      unreachable: [],
    });
    expect((await eventsOf(w, transferId, 'CONTACT_BOUNCED')).map((event) => event.detail)).toEqual([
      { address: 'ops@northwind.example', partnerId: 'P-NORTH', feedback: 'complaint' },
    ]);
  });

  it('matches an address to a contact the directory lists with stray spaces or capitals, and names the party as the directory does now', async () => {
    const { w, recorder, transferId } = await setUp();
    w.directory.partners.set('P-SOUTH', { id: 'P-SOUTH', name: 'Southgate Networks Ltd', invoiceDay: 15, contacts: ['  Partners@Southgate.example '] });
    expect(await recorder.record(bounce(transferId, [' partners@southgate.EXAMPLE']))).toEqual({ recorded: ['partners@southgate.example'], unreachable: ['P-SOUTH'] });
    expect(w.alerts.published[0]?.message).toMatch(/^Every contact of Southgate Networks Ltd \(P-SOUTH\) bounced or complained: partners@southgate\.example\. /);
  });

  it('never flags a party gone from the directory: it has no contacts to bounce', async () => {
    const { w, recorder, transferId } = await setUp();
    w.directory.partners.delete('P-SOUTH');
    expect(await recorder.record(bounce(transferId, ['ops@northwind.example', 'billing@northwind.example']))).toEqual({
      recorded: ['ops@northwind.example', 'billing@northwind.example'],
      unreachable: ['P-NORTH'],
    });
    expect((await eventsOf(w, transferId, 'PARTY_UNREACHABLE')).map((event) => event.detail)).toEqual([{ partnerId: 'P-NORTH' }]);
  });

  it('reads the transfer once when nothing new is recorded, and flags nothing on a transfer removed after the bounce was recorded', async () => {
    const { w, transferId } = await setUp();
    let reads = 0;
    const counting = new MailFeedbackRecorder({
      store: { getState: (id) => ((reads += 1), w.store.getState(id)), appendEvent: (id, event) => w.store.appendEvent(id, event) },
      directory: w.directory,
      alerts: w.alerts,
    });
    await counting.record(bounce(transferId, ['ops@northwind.example']));
    expect(reads).toBe(2);
    reads = 0;
    await counting.record(bounce(transferId, ['ops@northwind.example']));
    expect(reads).toBe(1);

    let removed = false;
    const retiring = new MailFeedbackRecorder({
      store: {
        getState: async (id) => (removed ? undefined : w.store.getState(id)),
        appendEvent: async (id, event) => {
          await w.store.appendEvent(id, event);
          removed = true;
        },
      },
      directory: w.directory,
      alerts: w.alerts,
    });
    expect(await retiring.record(bounce(transferId, ['billing@northwind.example']))).toEqual({ recorded: ['billing@northwind.example'], unreachable: [] });
    expect(w.alerts.published).toEqual([]);
  });

  it('counts as bounced only the addresses of CONTACT_BOUNCED events', () => {
    const event = (type: string, address: string): HistoryEvent => ({ at: AT, type, actor: { kind: 'system', name: 'ses' }, detail: { address } });
    expect(bouncedAddresses([event('CONTACT_BOUNCED', 'Ops@Northwind.example'), event('REMINDER_SENT', 'billing@northwind.example')])).toEqual(
      new Set(['ops@northwind.example']),
    );
  });

  it('tags emails with a name SES accepts for a message tag', () => {
    expect(MAIL_TAG_TRANSFER).toMatch(/^[A-Za-z0-9_-]{1,256}$/);
  });

  it('records nothing for a transfer that is not there', async () => {
    const { w, recorder } = await setUp();
    expect(await recorder.record(bounce('TR-20990101-NOSUCHONE0', ['ops@northwind.example']))).toEqual({ recorded: [], unreachable: [] });
    expect(w.alerts.published).toEqual([]);
  });
});
