import { createHash } from 'node:crypto';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dateAt } from '../../lambdas/domain/dates.ts';
import type { ApiAnswer, StoredEmail, TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { createTransfer, documentClient, emailsAbout, eventsOf, linkIn, poller } from './support.ts';

/**
 * Operators on a stuck approval, on the local stack: `POST /transfers/{id}/remind` emails the silent
 * party the link it already has, now; `POST /transfers/{id}/extend` moves the waiting step's deadline
 * (and its link's) later, so that the workflow neither expires the transfer at the old deadline nor
 * stops reminding. Both are for operators only, cite a ticket, and act only while a step waits and
 * its window is open.
 */

// Each waiting step waits 15 s (long enough for a loaded machine to answer a link in time), with a
// reminder every 2 s. The sleep until the transfer date is capped at 60 s, longer than a test of this
// file runs, so an agreed transfer stays SCHEDULED.
const WINDOW_MS = 15_000;
const INTERVAL_MS = 2_000;
const DAY_MS = 86_400_000;
const OPERATOR = 'operator@provider.example';
const ACME_CONTACTS = ['billing@acme-it.example', 'ops@acme-it.example'];
const CORAL_CONTACTS = ['admin@coralcloud.example'];
const today = dateAt(new Date(), 'America/New_York');
const transferDate = addDays(today, 8);

let t: TestStack;
let db: DynamoDBDocumentClient;

beforeAll(async () => {
  t = await startTestStack({
    seedFile: TEST_DIRECTORY,
    maxWaitSeconds: 60,
    env: { TRANSFER_APPROVAL_WINDOW_SECONDS: String(WINDOW_MS / 1000), TRANSFER_REMINDER_INTERVAL_SECONDS: String(INTERVAL_MS / 1000) },
  });
  db = documentClient(t.stack);
});

afterAll(async () => {
  db?.destroy();
  await t?.stop();
});

type HistoryEntry = TransferView['history'][number];
type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nowSeconds = () => Date.now() / 1000 - 1;

const poll = poller(15_000, 100);

async function view(id: string): Promise<TransferView> {
  const answer = await t.client.call('GET', `/transfers/${id}`, await t.token('operator'));
  expect(answer.status).toBe(200);
  return answer.body as TransferView;
}

async function firstEmail(transferId: string, since: number, subjectStart: string): Promise<StoredEmail> {
  return poll(`a "${subjectStart}" email for ${transferId}`, async () => (await emailsAbout(t, transferId, since, subjectStart))[0]);
}

function only(events: HistoryEntry[], what: string): HistoryEntry {
  expect(events, `one ${what}`).toHaveLength(1);
  const [event] = events;
  if (!event) throw new Error(`No ${what}`);
  return event;
}

/** The deadline of a step as first requested. */
function requestedDeadline(transfer: TransferView, step: 'release' | 'acceptance'): string {
  const requested = only(
    eventsOf(transfer, 'APPROVAL_REQUESTED').filter((e) => e.detail.step === step),
    `${step} request`,
  );
  return String(requested.detail.expiresAt);
}

/** Events recorded by anyone but the workflow itself. */
const byPeople = (transfer: TransferView, type: string) => eventsOf(transfer, type).filter((e) => e.actor.kind !== 'system');

async function remind(id: string, token: string, body: unknown = { ticketId: 'SUP-1001' }): Promise<ApiAnswer> {
  return t.client.call('POST', `/transfers/${id}/remind`, token, body);
}

async function extend(id: string, token: string, body: unknown = { ticketId: 'SUP-1002', days: 1 }): Promise<ApiAnswer> {
  return t.client.call('POST', `/transfers/${id}/extend`, token, body);
}

function expectError(answer: ApiAnswer, status: number, code: string): ErrorBody['error'] {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  const { error } = answer.body as ErrorBody;
  expect(error.code).toBe(code);
  expect(error.message.length).toBeGreaterThan(10);
  return error;
}

async function expectOpenLink(link: string): Promise<void> {
  const page = await t.client.openLink(link);
  expect(page.status).toBe(200);
  expect(page.html).toContain('name="signedBy"');
}

const RELEASE_FORM = { decision: 'release', transferDate, signedBy: 'Alice Smith', acknowledge: 'on' };

/**
 * The workflow expires a transfer within moments of its deadline, so the moment between (the window
 * closed, the workflow not yet woken) is made directly in the table: right after the link went out,
 * about 2 s before the workflow's first wake-up, the step's and the link's deadline are set to a
 * second ago, and the operator at once tries to remind and to extend.
 */
async function closedWindowAttempt(customerId: string) {
  const operator = await t.token('operator');
  const since = nowSeconds();
  const blue = await t.token({ partnerId: 'P-BLUE' });
  const transfer = await createTransfer(t, blue, { customerIds: [customerId], toPartnerId: 'P-BLUE', requestedDate: transferDate });
  const link = linkIn(await firstEmail(transfer.id, since, 'Release needed'));
  const closedAt = new Date(Date.now() - 1_000).toISOString();
  const linkHash = createHash('sha256').update(link.slice(link.lastIndexOf('/') + 1), 'utf8').digest('hex');
  const writes = [
    {
      Key: { pk: `TRANSFER#${transfer.id}`, sk: 'STEP#release' },
      ConditionExpression: 'attribute_exists(expiresAt) AND attribute_not_exists(decision)',
    },
    { Key: { pk: `LINK#${linkHash}`, sk: 'LINK' }, ConditionExpression: 'attribute_exists(expiresAt)' },
  ];
  for (const write of writes) {
    await db.send(
      new UpdateCommand({ TableName: t.stack.tableName, ...write, UpdateExpression: 'SET expiresAt = :to', ExpressionAttributeValues: { ':to': closedAt } }),
    );
  }
  const reminded = await remind(transfer.id, operator);
  const extended = await extend(transfer.id, operator);
  return { transfer, link, since, closedAt, reminded, extended };
}

function wokeFirst(attempt: { reminded: ApiAnswer; extended: ApiAnswer }): boolean {
  return [attempt.reminded, attempt.extended].some((a) => a.status === 409 && (a.body as ErrorBody).error.code === 'NOT_WAITING');
}

// The transfers wait side by side, so the file takes about as long as its longest test (~10 s).
describe.concurrent('operators on a stuck approval', () => {
  it('reminds the current partner now with the very link of its request, which still works; a scheduled transfer has nothing to remind', async () => {
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const operator = await t.token('operator');
    const since = nowSeconds();
    const transfer = await createTransfer(t, blue, { customerIds: ['C-A01'], toPartnerId: 'P-BLUE', requestedDate: transferDate });
    const request = await firstEmail(transfer.id, since, 'Release needed');
    const link = linkIn(request);
    const deadline = requestedDeadline(await view(transfer.id), 'release');

    const remindersBefore = (await emailsAbout(t, transfer.id, since, 'Reminder:')).length;
    const answer = await remind(transfer.id, operator, { ticketId: 'SUP-1001' });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const reminded = answer.body as TransferView;
    expect(reminded.id).toBe(transfer.id);
    expect(reminded.status).toBe('AWAITING_RELEASE');
    const event = only(byPeople(reminded, 'REMINDER_SENT'), "operator's reminder");
    expect(event.actor).toEqual({ kind: 'operator', name: OPERATOR });
    expect(event.detail).toMatchObject({ step: 'release', partnerId: 'P-ACME', ticketId: 'SUP-1001', expiresAt: deadline });
    expect(event.detail.recipients).toEqual(ACME_CONTACTS);

    // The reminder went out before the answer: to the current partner, with the link it already has.
    const reminders = await emailsAbout(t, transfer.id, since, 'Reminder:');
    expect(reminders.length).toBeGreaterThanOrEqual(remindersBefore + 1);
    for (const reminder of reminders) {
      expect(reminder.subject).toMatch(/^Reminder: Release needed/);
      expect(reminder.destination.to).toEqual(request.destination.to);
      expect(linkIn(reminder)).toBe(link);
    }
    expect(request.destination.to).toEqual(ACME_CONTACTS);
    const toBlue = (await t.client.emails(since)).filter(
      (e) => e.subject.includes(transfer.id) && e.destination.to.includes('partners@bluewave.example'),
    );
    expect(toBlue).toHaveLength(0);

    // The link still works: the release through it (for the date Bluewave asked for) agrees the transfer.
    await expectOpenLink(link);
    const released = await t.client.postForm(link, RELEASE_FORM);
    expect(released.status).toBe(200);
    expect(released.html).toContain('Your decision has been recorded');
    const scheduled = await t.client.waitForStatus(transfer.id, operator, ['SCHEDULED', 'EXPIRED'], 10_000);
    expect(scheduled.status).toBe('SCHEDULED');
    expect(only(eventsOf(scheduled, 'RELEASED'), 'release').detail).toMatchObject({ via: 'link', signedBy: 'Alice Smith', transferDate });

    // Nothing waits any more: no reminder, no extension.
    const before = await view(transfer.id);
    expect(expectError(await remind(transfer.id, operator), 409, 'NOT_WAITING').details).toMatchObject({ status: 'SCHEDULED' });
    expect(expectError(await extend(transfer.id, operator), 409, 'NOT_WAITING').details).toMatchObject({ status: 'SCHEDULED' });
    const after = await view(transfer.id);
    expect(after.status).toBe('SCHEDULED');
    expect(byPeople(after, 'REMINDER_SENT')).toHaveLength(1);
    expect(eventsOf(after, 'WINDOW_EXTENDED')).toHaveLength(0);
    expect(after.history.filter((e) => e.actor.kind !== 'system')).toEqual(before.history.filter((e) => e.actor.kind !== 'system'));
  });

  it('reminds the new partner, and only it, while the acceptance waits', async () => {
    const acme = await t.token({ partnerId: 'P-ACME' });
    const operator = await t.token('operator');
    const since = nowSeconds();
    const transfer = await createTransfer(t, acme, {
      customerIds: ['C-A02'],
      toPartnerId: 'P-CORAL',
      release: { transferDate, signedBy: 'Alice Smith' },
    });
    const request = await firstEmail(transfer.id, since, 'Acceptance needed');
    const link = linkIn(request);
    expect(request.destination.to).toEqual(CORAL_CONTACTS);

    const answer = await remind(transfer.id, operator, { ticketId: 'SUP-2002' });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const event = only(byPeople(answer.body as TransferView, 'REMINDER_SENT'), "operator's reminder");
    expect(event.detail).toMatchObject({ step: 'acceptance', partnerId: 'P-CORAL', ticketId: 'SUP-2002' });
    const reminders = await emailsAbout(t, transfer.id, since, 'Reminder:');
    expect(reminders.length).toBeGreaterThanOrEqual(1);
    for (const reminder of reminders) {
      expect(reminder.subject).toMatch(/^Reminder: Acceptance needed/);
      expect(reminder.destination.to).toEqual(CORAL_CONTACTS);
      expect(linkIn(reminder)).toBe(link);
    }

    const accepted = await t.client.postForm(link, { decision: 'accept', signedBy: 'Carl Jones', acknowledge: 'on' });
    expect(accepted.status).toBe(200);
    expect((await t.client.waitForStatus(transfer.id, operator, ['SCHEDULED', 'EXPIRED'], 10_000)).status).toBe('SCHEDULED');
  });

  it('extends a window before it closes: no expiry at the old deadline, reminders go on with the same link, which still works', async () => {
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const operator = await t.token('operator');
    const since = nowSeconds();
    const transfer = await createTransfer(t, blue, { customerIds: ['C-A03'], toPartnerId: 'P-BLUE', requestedDate: transferDate });
    const link = linkIn(await firstEmail(transfer.id, since, 'Release needed'));
    const oldDeadline = requestedDeadline(await view(transfer.id), 'release');
    const newDeadline = new Date(Date.parse(oldDeadline) + DAY_MS).toISOString();
    expect(Date.parse(oldDeadline), 'the window is still open').toBeGreaterThan(Date.now());

    const answer = await extend(transfer.id, operator, { ticketId: 'SUP-3003', days: 1 });
    const extendedBy = Date.now();
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const extended = answer.body as TransferView;
    expect(extended.status).toBe('AWAITING_RELEASE');
    const event = only(eventsOf(extended, 'WINDOW_EXTENDED'), 'extension');
    expect(event.actor).toEqual({ kind: 'operator', name: OPERATOR });
    expect(event.detail).toEqual({ step: 'release', from: oldDeadline, to: newDeadline, days: 1, ticketId: 'SUP-3003' });

    // Well past the old deadline, the transfer still waits, and the workflow kept reminding.
    await sleep(Math.max(0, Date.parse(oldDeadline) + INTERVAL_MS + 1_000 - Date.now()));
    const waiting = await view(transfer.id);
    expect(waiting.status).toBe('AWAITING_RELEASE');
    expect(eventsOf(waiting, 'EXPIRED')).toHaveLength(0);
    expect(await emailsAbout(t, transfer.id, since, 'Transfer expired')).toHaveLength(0);
    const reminders = eventsOf(waiting, 'REMINDER_SENT');
    expect(reminders.every((r) => r.actor.kind === 'system' && r.detail.partnerId === 'P-ACME')).toBe(true);
    const lateReminders = reminders.filter((r) => Date.parse(r.at) > Date.parse(oldDeadline));
    expect(lateReminders.length).toBeGreaterThanOrEqual(1);
    // Reminders after the extension name the new deadline: a reminder's time is taken before it reads the
    // step, so one timed after the extension was answered read it extended. (One that read the step just
    // before the extension was written may still name the old deadline, and carries a time before the answer.)
    const afterExtension = reminders.filter((r) => Date.parse(r.at) > extendedBy);
    expect(afterExtension.map((r) => r.detail.expiresAt)).toEqual(afterExtension.map(() => newDeadline));
    const reminderEmails = await emailsAbout(t, transfer.id, since, 'Reminder:');
    expect(reminderEmails.length).toBeGreaterThanOrEqual(reminders.length);
    for (const reminder of reminderEmails) {
      expect(reminder.subject).toMatch(/^Reminder: Release needed/);
      expect(reminder.destination.to).toEqual(ACME_CONTACTS);
      expect(linkIn(reminder)).toBe(link);
    }

    // The link outlived its old deadline too: it opens, and the release through it counts.
    await expectOpenLink(link);
    const released = await t.client.postForm(link, RELEASE_FORM);
    expect(released.status).toBe(200);
    expect(released.html).toContain('Your decision has been recorded');
    const scheduled = await t.client.waitForStatus(transfer.id, operator, ['SCHEDULED', 'EXPIRED'], 10_000);
    expect(scheduled.status).toBe('SCHEDULED');
    expect(eventsOf(scheduled, 'EXPIRED')).toHaveLength(0);
  });

  it('keeps every extension: the workflow resuming its wait after a reminder never puts the old deadline back', async () => {
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const operator = await t.token('operator');
    const since = nowSeconds();
    const transfer = await createTransfer(t, blue, { customerIds: ['C-A06'], toPartnerId: 'P-BLUE', requestedDate: transferDate });
    await firstEmail(transfer.id, since, 'Release needed');
    const deadline = requestedDeadline(await view(transfer.id), 'release');

    // Operators extend again and again while the workflow reminds and resumes its wait, each time
    // re-reading and re-writing the step: an extension landing in between must not be lost. Of
    // extensions racing each other only one wins (409 STEP_CHANGED for the others), so the winners
    // form one chain.
    // At least three reminder intervals, and on until the workflow has resumed its wait three times (a
    // loaded machine runs each cycle later than its interval), within a cap.
    const hammerAtLeast = Date.now() + 3 * INTERVAL_MS + 500;
    const hammerAtMost = Date.now() + 10 * INTERVAL_MS;
    // Once three reminders are recorded, half a second more, so that extensions follow the last of them.
    let enoughAt = Number.POSITIVE_INFINITY;
    const hammering = () => Date.now() < hammerAtMost && (Date.now() < hammerAtLeast || Date.now() < enoughAt);
    let extensions = 0;
    const refusals: string[] = [];
    const watch = async () => {
      while (hammering()) {
        const reminders = eventsOf(await view(transfer.id), 'REMINDER_SENT').length;
        if (reminders >= 3 && enoughAt === Number.POSITIVE_INFINITY) enoughAt = Date.now() + 500;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    await Promise.all([
      watch(),
      ...[1, 2, 3].map(async () => {
        while (hammering()) {
          const answer = await extend(transfer.id, operator, { ticketId: 'SUP-6006', days: 1 });
          if (answer.status === 200) extensions++;
          else if ((answer.body as ErrorBody).error.code !== 'STEP_CHANGED') refusals.push(JSON.stringify(answer.body));
        }
      }),
    ]);
    expect(refusals).toEqual([]);
    const after = await view(transfer.id);
    const extended = eventsOf(after, 'WINDOW_EXTENDED');
    expect(extended).toHaveLength(extensions);
    const gaps = extended.filter((event, i) => event.detail.from !== (i === 0 ? deadline : extended[i - 1]?.detail.to));
    expect(gaps.map((e) => `${e.at}: from ${String(e.detail.from)}`), 'each extension starts where the one before ended').toEqual([]);
    const lastTo = String(extended.at(-1)?.detail.to);
    expect(lastTo).toBe(new Date(Date.parse(deadline) + extensions * DAY_MS).toISOString());
    const lastAt = Date.parse(extended.at(-1)?.at ?? '');
    const resumed = eventsOf(after, 'REMINDER_SENT').filter((r) => Date.parse(r.at) < lastAt);
    expect(resumed.length, 'the workflow resumed its wait meanwhile').toBeGreaterThanOrEqual(3);

    // The workflow's next reminder names the deadline the last extension set.
    const next = await poll('a reminder after the last extension', async () =>
      eventsOf(await view(transfer.id), 'REMINDER_SENT').find((r) => Date.parse(r.at) > lastAt),
    );
    expect(next.detail.expiresAt).toBe(lastTo);
    expect((await view(transfer.id)).status).toBe('AWAITING_RELEASE');
  }, 60_000);

  it('refuses to remind or extend once the window has closed (409 EXPIRED), and once the transfer expired (409 NOT_WAITING)', async () => {
    const operator = await t.token('operator');
    let attempt = await closedWindowAttempt('C-A04');
    for (const customerId of ['C-A07', 'C-A08']) {
      if (!wokeFirst(attempt)) break;
      // The workflow woke between the table write and the calls (a slow machine): again, with another transfer.
      attempt = await closedWindowAttempt(customerId);
    }
    const { transfer, link, since, closedAt } = attempt;
    expect(expectError(attempt.reminded, 409, 'EXPIRED').details).toEqual({ expiresAt: closedAt });
    expect(expectError(attempt.extended, 409, 'EXPIRED').details).toEqual({ expiresAt: closedAt });

    // The workflow expires it at its next wake-up; then nothing waits any more.
    const expired = await t.client.waitForStatus(transfer.id, operator, ['EXPIRED'], WINDOW_MS + 5_000);
    expect(expectError(await remind(transfer.id, operator), 409, 'NOT_WAITING').details).toEqual({ status: 'EXPIRED' });
    expect(expectError(await extend(transfer.id, operator, { ticketId: 'SUP-4004', days: 30 }), 409, 'NOT_WAITING').details).toEqual({
      status: 'EXPIRED',
    });
    const after = await view(transfer.id);
    expect(after.history).toEqual(expired.history);
    // No refused call recorded or sent anything; the workflow's own reminders (none, unless it woke before the window was closed) aside.
    expect(byPeople(after, 'REMINDER_SENT')).toHaveLength(0);
    expect(eventsOf(after, 'WINDOW_EXTENDED')).toHaveLength(0);
    expect(await emailsAbout(t, transfer.id, since, 'Reminder:')).toHaveLength(eventsOf(after, 'REMINDER_SENT').length);
    expect(only(eventsOf(after, 'EXPIRED'), 'expiry').actor.kind).toBe('system');
    expect((await t.client.openLink(link)).status).toBe(410);
  });

  it('is for operators only, citing a ticket and a number of days from 1 to 30; a refusal changes nothing', async () => {
    const blue = await t.token({ partnerId: 'P-BLUE' });
    const operator = await t.token('operator');
    const since = nowSeconds();
    const transfer = await createTransfer(t, blue, { customerIds: ['C-A05'], toPartnerId: 'P-BLUE', requestedDate: transferDate });
    await firstEmail(transfer.id, since, 'Release needed');
    const deadline = requestedDeadline(await view(transfer.id), 'release');

    // Every partner, party or not, is refused before the transfer is looked up: the same 403 for a
    // transfer that does not exist, so an outsider learns nothing. An operator is told it does not exist.
    const unknown = 'TR-20200101-0000000000000000';
    for (const partnerId of ['P-ACME', 'P-BLUE', 'P-DUNE']) {
      const token = await t.token({ partnerId });
      for (const id of [transfer.id, unknown]) {
        expectError(await remind(id, token), 403, 'FORBIDDEN');
        expectError(await extend(id, token), 403, 'FORBIDDEN');
      }
    }
    expectError(await remind(unknown, operator), 404, 'NOT_FOUND');
    expectError(await extend(unknown, operator), 404, 'NOT_FOUND');

    const invalid: [ApiAnswer, string][] = [
      [await remind(transfer.id, operator, {}), 'ticketId'],
      [await remind(transfer.id, operator, { ticketId: '' }), 'ticketId'],
      [await remind(transfer.id, operator, { ticketId: 'SUP-1', days: 1 }), 'days'],
      [await extend(transfer.id, operator, { days: 1 }), 'ticketId'],
      [await extend(transfer.id, operator, { ticketId: 'SUP-1' }), 'days'],
      ...(await Promise.all(
        [0, 31, -1, 1.5, '3', null].map(
          async (days): Promise<[ApiAnswer, string]> => [await extend(transfer.id, operator, { ticketId: 'SUP-1', days }), 'days'],
        ),
      )),
    ];
    for (const [answer, field] of invalid) {
      expect(expectError(answer, 400, 'INVALID_REQUEST').message).toContain(field);
    }

    const after = await view(transfer.id);
    expect(after.status).toBe('AWAITING_RELEASE');
    expect(byPeople(after, 'REMINDER_SENT')).toHaveLength(0);
    expect(eventsOf(after, 'WINDOW_EXTENDED')).toHaveLength(0);
    // The deadline did not move: an extension now starts from the one first requested.
    const answer = await extend(transfer.id, operator, { ticketId: 'SUP-5005', days: 30 });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const event = only(eventsOf(answer.body as TransferView, 'WINDOW_EXTENDED'), 'extension');
    const to = new Date(Date.parse(deadline) + 30 * DAY_MS).toISOString();
    expect(event.detail).toEqual({ step: 'release', from: deadline, to, days: 30, ticketId: 'SUP-5005' });
  });
});
