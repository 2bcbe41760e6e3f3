import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dateAt } from '../../lambdas/domain/dates.ts';
import type { StoredEmail } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { createTransfer, emailsAbout, eventsOf, expectClaimReleased, getTransfer, linkIn, ownerOf, poll } from './support.ts';

// Each waiting step waits 6 s, with a reminder every 2 s; the sleep until the date is capped at 1 s.
const WINDOW_MS = 6_000;
const INTERVAL_MS = 2_000;

let t: TestStack;
const today = dateAt(new Date(), 'America/New_York');
const ACME_CONTACTS = ['billing@acme-it.example', 'ops@acme-it.example'];
const BLUE_CONTACTS = ['partners@bluewave.example'];
const CORAL_CONTACTS = ['admin@coralcloud.example'];

beforeAll(async () => {
  t = await startTestStack({
    seedFile: TEST_DIRECTORY,
    env: { TRANSFER_APPROVAL_WINDOW_SECONDS: String(WINDOW_MS / 1000), TRANSFER_REMINDER_INTERVAL_SECONDS: String(INTERVAL_MS / 1000) },
  });
});

afterAll(async () => {
  await t?.stop();
});

const nowSeconds = () => Date.now() / 1000 - 1;

async function waitForEmails(transferId: string, since: number, subjectStart: string, count: number): Promise<StoredEmail[]> {
  return poll(`${count} "${subjectStart}" email(s) for ${transferId}`, async () => {
    const found = await emailsAbout(t, transferId, since, subjectStart);
    return found.length >= count ? found : undefined;
  });
}

/**
 * Reminders follow each other (and the first request) about one interval apart. The wait starts with
 * the request's task, and the request's event is written once its handler ran, later on a loaded
 * machine: so the first gap may be shorter by that start-up, the others by little.
 */
function expectSpacedByInterval(instants: string[]): void {
  const times = instants.map((at) => Date.parse(at));
  for (let i = 1; i < times.length; i++) {
    const gap = (times[i] ?? 0) - (times[i - 1] ?? 0);
    expect(gap).toBeGreaterThanOrEqual(INTERVAL_MS - (i === 1 ? 1_000 : 250));
    expect(gap).toBeLessThan(INTERVAL_MS + 1_500);
  }
}

async function expectExpiredLink(link: string): Promise<void> {
  const page = await t.client.openLink(link);
  expect(page.status).toBe(410);
  expect(page.html).toContain('This link has expired');
  expect(page.html).not.toContain('name="signedBy"');
  const posted = await t.client.postForm(link, { decision: 'decline', reason: 'Too late', signedBy: 'Late Person', acknowledge: 'on' });
  expect(posted.status).toBe(410);
}

// The three transfers wait side by side, so the file takes about as long as its longest test.
describe.concurrent('approval windows: reminders and expiry', () => {
  it('reminds the silent current partner with the same link, then expires the transfer', async () => {
    const acme = await t.token({ partnerId: 'P-ACME' });
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const since = nowSeconds();
    const transfer = await createTransfer(t, blue, { customerIds: ['C-A30'], toPartnerId: 'P-BLUE', requestedDate: addDays(today, 8) });

    const expired = await t.client.waitForStatus(transfer.id, blue, ['EXPIRED'], WINDOW_MS + 10_000);
    const requested = eventsOf(expired, 'APPROVAL_REQUESTED', 'release');
    expect(requested).toHaveLength(1);
    const expiresAt = String(requested[0]?.detail.expiresAt);
    const expiry = eventsOf(expired, 'EXPIRED', 'release');
    expect(expiry).toHaveLength(1);
    expect(expiry[0]?.actor.kind).toBe('system');
    // Not before the window closed, and not long after.
    const expiredAt = Date.parse(expiry[0]?.at ?? '');
    expect(expiredAt).toBeGreaterThanOrEqual(Date.parse(expiresAt));
    expect(expiredAt - Date.parse(requested[0]?.at ?? '')).toBeLessThan(WINDOW_MS + 2_000);

    const reminders = eventsOf(expired, 'REMINDER_SENT', 'release');
    expect(reminders.length).toBeGreaterThanOrEqual(2);
    expect(reminders.length).toBeLessThanOrEqual(3);
    expectSpacedByInterval([requested[0]?.at ?? '', ...reminders.map((r) => r.at)]);
    expect(reminders.every((r) => r.detail.partnerId === 'P-ACME' && r.detail.expiresAt === expiresAt)).toBe(true);

    // The emails: the first request, then reminders to the same people, each with the very same link.
    const [first, ...others] = await emailsAbout(t, transfer.id, since, 'Release needed');
    expect(others).toHaveLength(0);
    expect(first?.destination.to).toEqual(ACME_CONTACTS);
    const link = linkIn(first);
    const reminderEmails = await waitForEmails(transfer.id, since, 'Reminder:', reminders.length);
    expect(reminderEmails).toHaveLength(reminders.length);
    for (const reminder of reminderEmails) {
      expect(reminder.subject).toMatch(/^Reminder: Release needed/);
      expect(reminder.destination.to).toEqual(ACME_CONTACTS);
      expect(linkIn(reminder)).toBe(link);
    }

    const notices = await waitForEmails(transfer.id, since, 'Transfer expired', 1);
    expect(notices).toHaveLength(1);
    expect(notices[0]?.subject).toContain('no release from Acme IT Services');
    expect(notices[0]?.destination.to.sort()).toEqual([...ACME_CONTACTS, ...BLUE_CONTACTS].sort());
    // Nobody was asked anything else, and nothing more is sent once the transfer expired.
    const all = await t.client.emails(since);
    expect(all.filter((e) => e.subject.includes(transfer.id) && e.destination.to.includes('partners@bluewave.example'))).toHaveLength(1);

    await expectExpiredLink(link);
    expect((await getTransfer(t, transfer.id, acme)).status).toBe('EXPIRED');
    expect(await ownerOf(t, 'C-A30')).toBe('P-ACME');
    await expectClaimReleased(t, 'C-A30', blue, 'P-BLUE');
  });

  it('gives the acceptance its own window and reminders to the new partner only, then expires it', async () => {
    const acme = await t.token({ partnerId: 'P-ACME' });
    const coral = await t.token({ partnerId: 'P-CORAL' });
    const since = nowSeconds();
    const transfer = await createTransfer(t, acme, { customerIds: ['C-A31'], toPartnerId: 'P-CORAL' });

    // The current partner releases within its window, after its first reminder.
    const [firstReminder] = await waitForEmails(transfer.id, since, 'Reminder: Release needed', 1);
    const releaseLink = linkIn(firstReminder);
    const released = await t.client.postForm(releaseLink, { decision: 'release', transferDate: addDays(today, 5), signedBy: 'Alice Smith', acknowledge: 'on' });
    expect(released.status).toBe(200);

    const expired = await t.client.waitForStatus(transfer.id, coral, ['EXPIRED'], WINDOW_MS + 12_000);
    const history = expired.history;
    expect(eventsOf(expired, 'RELEASED', 'release')).toHaveLength(1);
    expect(eventsOf(expired, 'EXPIRED', 'release')).toHaveLength(0);
    const expiry = eventsOf(expired, 'EXPIRED', 'acceptance');
    expect(expiry).toHaveLength(1);
    const [acceptanceRequested] = eventsOf(expired, 'APPROVAL_REQUESTED', 'acceptance');
    expect(acceptanceRequested?.detail.partnerId).toBe('P-CORAL');
    // Its own window: it began when the release was given, not when the transfer was requested.
    const windowStart = Date.parse(acceptanceRequested?.at ?? '');
    expect(windowStart).toBeGreaterThan(Date.parse(String(expired.createdAt)) + INTERVAL_MS - 250);
    expect(Date.parse(String(acceptanceRequested?.detail.expiresAt)) - windowStart).toBe(WINDOW_MS);
    expect(Date.parse(expiry[0]?.at ?? '')).toBeGreaterThanOrEqual(Date.parse(String(acceptanceRequested?.detail.expiresAt)));

    const acceptanceReminders = eventsOf(expired, 'REMINDER_SENT', 'acceptance');
    expect(acceptanceReminders.length).toBeGreaterThanOrEqual(2);
    expect(acceptanceReminders.every((r) => r.detail.partnerId === 'P-CORAL')).toBe(true);
    expectSpacedByInterval([acceptanceRequested?.at ?? '', ...acceptanceReminders.map((r) => r.at)]);
    // The release reminders stopped with the release.
    const releaseReminders = eventsOf(expired, 'REMINDER_SENT', 'release');
    expect(releaseReminders.length).toBeGreaterThanOrEqual(1);
    const releaseIndex = history.findIndex((e) => e.type === 'RELEASED');
    expect(history.slice(releaseIndex).some((e) => e.type === 'REMINDER_SENT' && e.detail.step === 'release')).toBe(false);

    const acceptLink = linkIn((await emailsAbout(t, transfer.id, since, 'Acceptance needed'))[0]);
    const acceptanceReminderEmails = await waitForEmails(transfer.id, since, 'Reminder: Acceptance needed', acceptanceReminders.length);
    for (const reminder of acceptanceReminderEmails) {
      expect(reminder.destination.to).toEqual(CORAL_CONTACTS);
      expect(linkIn(reminder)).toBe(acceptLink);
    }
    // Nothing more was asked of the current partner once it released: one request, and one email per
    // release reminder recorded before the release.
    const toAcme = (await t.client.emails(since)).filter((e) => e.subject.includes(transfer.id) && e.destination.to.includes('billing@acme-it.example'));
    expect(toAcme.filter((e) => e.subject.startsWith('Release needed'))).toHaveLength(1);
    expect(toAcme.filter((e) => e.subject.startsWith('Reminder:'))).toHaveLength(releaseReminders.length);
    expect(toAcme.some((e) => e.subject.includes('Acceptance needed'))).toBe(false);

    const notices = await waitForEmails(transfer.id, since, 'Transfer expired', 1);
    expect(notices).toHaveLength(1);
    expect(notices[0]?.subject).toContain('no acceptance from Coral Cloud Partners');
    expect(notices[0]?.destination.to.sort()).toEqual([...ACME_CONTACTS, ...CORAL_CONTACTS].sort());

    await expectExpiredLink(acceptLink);
    const usedRelease = await t.client.openLink(releaseLink);
    expect(usedRelease.status).toBe(409);
    expect(usedRelease.html).toContain('This link has already been used');
    expect(await ownerOf(t, 'C-A31')).toBe('P-ACME');
    await expectClaimReleased(t, 'C-A31', acme, 'P-CORAL');
  });

  it('still takes an answer given through a reminder before the window closes, and the transfer completes', async () => {
    const acme = await t.token({ partnerId: 'P-ACME' });
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const since = nowSeconds();
    const date = addDays(today, 4);
    const transfer = await createTransfer(t, blue, { customerIds: ['C-A32'], toPartnerId: 'P-BLUE', requestedDate: date });

    const [first] = await waitForEmails(transfer.id, since, 'Release needed', 1);
    const [reminder] = await waitForEmails(transfer.id, since, 'Reminder: Release needed', 1);
    const link = linkIn(reminder);
    expect(link).toBe(linkIn(first));
    expect((await getTransfer(t, transfer.id, blue)).status).toBe('AWAITING_RELEASE');

    // The new partner asked for this date, so the release for it completes the consent.
    const released = await t.client.postForm(link, { decision: 'release', transferDate: date, signedBy: 'Alice Smith', acknowledge: 'on' });
    expect(released.status).toBe(200);
    expect(released.html).toContain('Your decision has been recorded');

    const done = await t.client.waitForStatus(transfer.id, acme, ['COMPLETED', 'FAILED', 'EXPIRED'], 15_000);
    expect(done.status).toBe('COMPLETED');
    expect(done.transferDate).toBe(date);
    expect(eventsOf(done, 'RELEASED', 'release')[0]?.detail).toMatchObject({ via: 'link', signedBy: 'Alice Smith', transferDate: date });
    expect(eventsOf(done, 'REMINDER_SENT', 'release').length).toBeGreaterThanOrEqual(1);
    expect(done.history.some((e) => e.type === 'EXPIRED')).toBe(false);
    expect(await ownerOf(t, 'C-A32')).toBe('P-BLUE');

    // Past the end of the original window: the completed transfer stayed completed, no expiry notice went out.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(String(eventsOf(done, 'APPROVAL_REQUESTED', 'release')[0]?.detail.expiresAt)) + 1_000 - Date.now())));
    expect((await getTransfer(t, transfer.id, acme)).status).toBe('COMPLETED');
    expect(await emailsAbout(t, transfer.id, since, 'Transfer expired')).toHaveLength(0);
    expect(await emailsAbout(t, transfer.id, since, 'Transfer completed')).toHaveLength(2);
  });
});
