import { describe, expect, it } from 'vitest';
import type { Caller } from '../../../lambdas/domain/caller.ts';
import { CONTACT_BOUNCED, MailFeedbackRecorder, PARTY_UNREACHABLE, type MailFeedback } from '../../../lambdas/domain/mail-feedback.ts';
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
    expect(w.alerts.published[0]?.message).toContain('Every contact of Northwind IT (P-NORTH) bounced or complained: ops@northwind.example, billing@northwind.example.');

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

  it('records nothing for a transfer that is not there', async () => {
    const { w, recorder } = await setUp();
    expect(await recorder.record(bounce('TR-20990101-NOSUCHONE0', ['ops@northwind.example']))).toEqual({ recorded: [], unreachable: [] });
    expect(w.alerts.published).toEqual([]);
  });
});
