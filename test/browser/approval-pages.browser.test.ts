/**
 * The approval pages in a real Chromium, on a desktop and on a phone: the local stack runs, transfers
 * are created through the API, the links are taken from the emails, and the partners' forms are
 * filled in and submitted as people do, by mouse, touch or keyboard. Every decision is checked twice:
 * on the page that answers, and through the API. Full-page screenshots of every state land in
 * test-artifacts/screenshots/.
 */
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it, type TestContext } from 'vitest';
import { addDays } from '../../lambdas/domain/dates.ts';
import type { TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from '../e2e/local-stack.ts';
import {
  accessibleControls,
  browserValidation,
  collectPageErrors,
  disableBrowserValidation,
  focused,
  launchChromium,
  layout,
  press,
  screenshot,
  styleOf,
  submitted,
  unlabelledControls,
  validity,
  VIEWPORTS,
  type FocusedElement,
  type Viewport,
} from './harness.ts';

const CURRENT_PARTNER = 'billing@acme-it.example';
const NEW_PARTNER = 'partners@bluewave.example';
const LINK = /https?:\/\/[^\s"'<>]+\/approvals\/[A-Za-z0-9_-]+/;

let browser: Browser;
let t: TestStack;
let blue: string;
/** Why Chromium could not start: every case then fails with this one line (rather than being skipped). */
let noBrowser: Error | undefined;

beforeAll(async () => {
  try {
    browser = await launchChromium();
  } catch (error) {
    noBrowser = error instanceof Error ? error : new Error(String(error));
    return;
  }
  t = await startTestStack({ seedFile: TEST_DIRECTORY });
  blue = await t.token({ partnerId: 'P-BLUE', subject: 'dana@bluewave.example' });
});

beforeEach(() => {
  if (noBrowser) throw noBrowser;
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

// ---------------------------------------------------------------------------------------------
// The API side

let customerNumber = 0;

/** A customer of Acme no other case of this file uses, so that no transfer is locked by another. */
function freshCustomer(): string {
  customerNumber += 1;
  if (customerNumber > 40) throw new Error('The test directory has 40 customers of P-ACME; this file used them all.');
  return `C-A${String(customerNumber).padStart(2, '0')}`;
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** Bluewave asks for a customer of Acme; Acme's billing contact gets the release link. */
async function requestTransfer(): Promise<{ id: string; since: number }> {
  const since = Date.now() / 1000 - 1;
  const created = await t.client.call('POST', '/transfers', blue, { customerIds: [freshCustomer()], toPartnerId: 'P-BLUE' });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const transfer = created.body as TransferView;
  expect(transfer.status).toBe('AWAITING_RELEASE');
  return { id: transfer.id, since };
}

/** The approval link emailed to a recipient about this very transfer. */
async function linkFor(recipient: string, transferId: string, since: number): Promise<string> {
  return poll(`a link for ${transferId} to ${recipient}`, async () => {
    const emails = await t.client.emails(since);
    const email = emails.find((e) => e.destination.to.includes(recipient) && e.subject.includes(transferId) && LINK.test(e.body.text ?? ''));
    return email ? LINK.exec(email.body.text ?? '')?.[0] : undefined;
  });
}

async function transferNow(id: string): Promise<TransferView> {
  const answer = await t.client.call('GET', `/transfers/${id}`, blue);
  expect(answer.status).toBe(200);
  return answer.body as TransferView;
}

function eventsOf(transfer: TransferView, type: string): TransferView['history'] {
  return transfer.history.filter((event) => event.type === type);
}

/** Nothing was decided: the transfer still waits for the same step, with no consent recorded. */
async function expectUndecided(id: string, status: 'AWAITING_RELEASE' | 'AWAITING_ACCEPTANCE'): Promise<void> {
  const transfer = await transferNow(id);
  expect(transfer.status).toBe(status);
  expect(eventsOf(transfer, 'DECLINED')).toHaveLength(0);
  expect(eventsOf(transfer, status === 'AWAITING_RELEASE' ? 'RELEASED' : 'ACCEPTED')).toHaveLength(0);
}

// ---------------------------------------------------------------------------------------------
// The browser side

interface Opened {
  page: Page;
  /** Console errors and uncaught exceptions (a blocked inline script would show here). */
  errors: string[];
}

/** Opens a link in a fresh browser context (no cookies, no cache), closed when the case ends. */
async function open(viewport: Viewport, onTestFinished: TestContext['onTestFinished'], link: string): Promise<Opened> {
  const context = await browser.newContext(viewport.context);
  onTestFinished(() => context.close());
  const page = await context.newPage();
  const errors = collectPageErrors(page);
  const response = await page.goto(link);
  expect(response?.status()).toBe(200);
  return { page, errors };
}

/** The form's controls, found the way assistive technology finds them: by role and accessible name. */
function form(page: Page) {
  return {
    release: page.getByRole('radio', { name: /^Release the customers to Bluewave Networks/ }),
    accept: page.getByRole('radio', { name: /^Accept the customers from Acme IT Services/ }),
    decline: page.getByRole('radio', { name: /^Decline: the customers stay with Acme IT Services/ }),
    date: page.getByLabel('Date', { exact: true }),
    immediate: page.getByRole('checkbox', { name: /^Transfer immediately instead/ }),
    reasonCode: page.getByRole('combobox', { name: /^Reason for declining/ }),
    reason: page.getByRole('textbox', { name: /^Reason for declining/ }),
    signedBy: page.getByRole('textbox', { name: 'Your full name' }),
    acknowledge: page.getByRole('checkbox', { name: /^I have read the statement above and I sign it/ }),
    submit: page.getByRole('button', { name: 'Submit signed decision' }),
  };
}

/** Looks like the provider's page, fits the viewport, and (on a page with a form) every control has a name. */
async function expectWellFormedPage(page: Page, viewport: Viewport): Promise<void> {
  const seen = await layout(page);
  expect(seen.mastheadText).toContain('MailShield');
  expect(seen.mastheadText).toContain('Customer Transfer');
  expect(seen.mastheadBackground).toBe('rgb(11, 79, 138)');
  expect(seen.bodyBackground).not.toBe('rgba(0, 0, 0, 0)');
  expect(seen.mainMaxWidth).toBe('760px');
  expect(seen.cards.length).toBeGreaterThan(0);
  for (const card of seen.cards) {
    expect(card.background).toBe('rgb(255, 255, 255)');
    expect(card.width).toBeLessThanOrEqual(760);
  }
  expect(seen.overflowing, 'elements sticking out on the right').toEqual([]);
  expect(seen.scrollWidth).toBeLessThanOrEqual(seen.innerWidth);
  if (viewport.phone) expect(seen.innerWidth).toBe(390);

  if ((await page.locator('form').count()) === 0) return;
  const { controls, unlabelled } = await unlabelledControls(page);
  expect(controls).toBeGreaterThanOrEqual(5);
  expect(unlabelled, 'form controls without <label for> or aria-label').toEqual([]);
  // What a screen reader gets: the controls shown (the date field as a Date with its month/day/year
  // spin buttons and calendar button; a decline's reasons only while "decline" is chosen) and the
  // submit button, each with a name.
  const named = await accessibleControls(page);
  const shown = await page.locator('input:not([type="hidden"]), textarea, select').filter({ visible: true }).count();
  expect(named.length).toBeGreaterThan(shown);
  for (const control of named) {
    expect(control.name, `accessible name of a ${control.role}`).not.toBe('');
  }
}

async function expectRecorded(page: Page, status: number, decision: 'Released' | 'Accepted' | 'Declined', signedBy: string): Promise<void> {
  expect(status).toBe(200);
  expect(await page.title()).toMatch(/^Your decision has been recorded ·/);
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Your decision has been recorded');
  expect(await page.locator('.eyebrow').textContent()).toBe(decision);
  expect(await recorded(page, 'Signed by').textContent()).toContain(signedBy);
  expect(await page.locator('form').count()).toBe(0);
}

/** A row of the "Recorded decision" card of the confirmation page. */
function recorded(page: Page, label: string): Locator {
  return page
    .locator('section.card', { has: page.getByRole('heading', { name: 'Recorded decision' }) })
    .getByRole('row', { name: new RegExp(`^${label}`) });
}

/** A transfer date the picker allows, and not the one it shows at first. */
async function pickableDate(page: Page): Promise<string> {
  const { date } = form(page);
  const [min, max, initial] = await Promise.all([date.getAttribute('min'), date.getAttribute('max'), date.inputValue()]);
  if (!min || !max) throw new Error('The date picker has no min or max');
  const choice = addDays(min, 9) === initial ? addDays(min, 10) : addDays(min, 9);
  expect(choice <= max).toBe(true);
  return choice;
}

/** Sequential within a viewport; generous, since a busy machine slows Chromium down. */
const CASE = { concurrent: false, timeout: 45_000 };

for (const viewport of VIEWPORTS) {
  const size = viewport.context.viewport ? `${viewport.context.viewport.width}×${viewport.context.viewport.height}` : '';

  // The two viewports run side by side (each case has its own transfer, customer and browser
  // context); the cases of one viewport run one after the other.
  describe.concurrent(`approval pages in Chromium on a ${viewport.name} (${size})`, () => {
    it('release page: a date from the date picker, the acknowledgement required; acceptance page: accept', CASE, async ({ onTestFinished }) => {
      const { id, since } = await requestTransfer();
      const { page, errors } = await open(viewport, onTestFinished, await linkFor(CURRENT_PARTNER, id, since));
      const f = form(page);

      expect(await page.title()).toBe('Release customers to Bluewave Networks · Customer Transfer · MailShield');
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Release customers to Bluewave Networks');
      await expectWellFormedPage(page, viewport);
      expect(await f.date.getAttribute('type')).toBe('date');
      expect(await accessibleControls(page)).toContainEqual({ role: 'Date', name: 'Date' });
      await screenshot(page, viewport, '01-release-page');

      // Everything but the acknowledgement: the browser's `required` stops the submission.
      const date = await pickableDate(page);
      await press(viewport, f.release);
      await f.date.fill(date);
      expect(await f.date.inputValue()).toBe(date);
      await f.signedBy.fill('Alice Smith');
      expect(await browserValidation(page, () => press(viewport, f.submit))).toEqual({ posted: false, invalid: ['acknowledge'] });
      expect(await validity(page, '#acknowledge')).toMatchObject({ valueMissing: true });
      await expectUndecided(id, 'AWAITING_RELEASE');

      // A browser that does not validate: the server answers 400 with the field named, and records nothing.
      await disableBrowserValidation(page);
      expect(await submitted(page, () => press(viewport, f.submit))).toBe(400);
      expect(await page.title()).toMatch(/^Error: Release customers/);
      const summary = page.getByRole('alert');
      expect(await summary.textContent()).toContain('Your decision was not recorded');
      expect(await summary.getByRole('link', { name: /^Written consent: tick the box/ }).getAttribute('href')).toBe('#acknowledge');
      // The page's script put the focus on the summary, so it is read out and its links come next.
      expect(await page.locator('.error-summary:focus').count()).toBe(1);
      expect(await f.acknowledge.getAttribute('aria-invalid')).toBe('true');
      expect(await f.acknowledge.isChecked()).toBe(false);
      expect(await page.locator('#acknowledge-error').textContent()).toContain('Tick the box to confirm');
      // A checkbox shows no red border, so its field gets a red bar.
      expect(await styleOf(page, '.field:has(#acknowledge)', 'borderLeftColor')).toBe('rgb(180, 35, 24)');
      // What was filled in is kept.
      expect(await f.release.isChecked()).toBe(true);
      expect(await f.date.inputValue()).toBe(date);
      expect(await f.signedBy.inputValue()).toBe('Alice Smith');
      await expectWellFormedPage(page, viewport);
      await screenshot(page, viewport, '02-release-missing-acknowledgement');
      await expectUndecided(id, 'AWAITING_RELEASE');

      await press(viewport, f.acknowledge);
      await expectRecorded(page, await submitted(page, () => press(viewport, f.submit)), 'Released', 'Alice Smith, for Acme IT Services');
      expect(await recorded(page, 'Transfer date').textContent()).toContain(date);
      await expectWellFormedPage(page, viewport);
      await screenshot(page, viewport, '03-release-recorded');

      const released = await transferNow(id);
      expect(released.status).toBe('AWAITING_ACCEPTANCE');
      expect(released.transferDate).toBe(date);
      expect(eventsOf(released, 'RELEASED').map((e) => e.detail)).toEqual([
        expect.objectContaining({ decision: 'release', signedBy: 'Alice Smith', via: 'link', transferDate: date }),
      ]);

      // The new partner's page shows the chosen date and accepts.
      const acceptance = await open(viewport, onTestFinished, await linkFor(NEW_PARTNER, id, since));
      const a = form(acceptance.page);
      expect(await acceptance.page.getByRole('heading', { level: 1 }).textContent()).toBe('Accept customers from Acme IT Services');
      expect(await acceptance.page.locator('.readonly dd').textContent()).toContain(date);
      expect(await a.date.count()).toBe(0);
      await expectWellFormedPage(acceptance.page, viewport);
      await screenshot(acceptance.page, viewport, '04-acceptance-page');

      await press(viewport, a.accept);
      await a.signedBy.fill('Dana Lee');
      await press(viewport, a.acknowledge);
      await expectRecorded(acceptance.page, await submitted(acceptance.page, () => press(viewport, a.submit)), 'Accepted', 'Dana Lee, for Bluewave Networks');
      await expectWellFormedPage(acceptance.page, viewport);
      await screenshot(acceptance.page, viewport, '05-acceptance-recorded');

      const accepted = await transferNow(id);
      expect(['SCHEDULED', 'IN_PROGRESS', 'COMPLETED']).toContain(accepted.status);
      expect(eventsOf(accepted, 'ACCEPTED').map((e) => e.detail)).toEqual([
        expect.objectContaining({ decision: 'accept', signedBy: 'Dana Lee', via: 'link', transferDate: date }),
      ]);
      expect([...errors, ...acceptance.errors]).toEqual([]);
    });

    it('release page: "immediate" disables the date and the server takes it; acceptance page: decline with a reason', CASE, async ({ onTestFinished }) => {
      const { id, since } = await requestTransfer();
      const { page, errors } = await open(viewport, onTestFinished, await linkFor(CURRENT_PARTNER, id, since));
      const f = form(page);

      await press(viewport, f.release);
      expect(await f.date.isEnabled()).toBe(true);
      await press(viewport, f.immediate);
      // The page's own script (allowed by its CSP hash) greys out the date.
      await page.locator('#transferDate:disabled').waitFor({ timeout: 2_000 });
      expect(await f.date.isDisabled()).toBe(true);
      await press(viewport, f.immediate);
      await page.locator('#transferDate:enabled').waitFor({ timeout: 2_000 });
      await press(viewport, f.immediate);
      await page.locator('#transferDate:disabled').waitFor({ timeout: 2_000 });
      await f.signedBy.fill('Alice Smith');
      await press(viewport, f.acknowledge);
      await screenshot(page, viewport, '06-release-immediate-filled');

      await expectRecorded(page, await submitted(page, () => press(viewport, f.submit)), 'Released', 'Alice Smith');
      expect(await recorded(page, 'Transfer date').textContent()).toContain('Immediately');
      await expectWellFormedPage(page, viewport);
      await screenshot(page, viewport, '07-release-immediate-recorded');

      const released = await transferNow(id);
      expect(released.status).toBe('AWAITING_ACCEPTANCE');
      expect(released.immediate).toBe(true);
      expect(eventsOf(released, 'RELEASED').map((e) => e.detail)).toEqual([
        expect.objectContaining({ decision: 'release', signedBy: 'Alice Smith', via: 'link', immediate: true }),
      ]);

      // The new partner declines; without a reason the browser stops it (the script made the reason required).
      const acceptance = await open(viewport, onTestFinished, await linkFor(NEW_PARTNER, id, since));
      const a = form(acceptance.page);
      expect(await acceptance.page.locator('.readonly dd').textContent()).toContain('Immediately');
      // The reasons show only once "decline" is chosen.
      expect(await a.reasonCode.isVisible()).toBe(false);
      await press(viewport, a.decline);
      expect(await a.reasonCode.isVisible()).toBe(true);
      expect(await a.reasonCode.inputValue()).toBe('');
      await a.signedBy.fill('Dana Lee');
      await press(viewport, a.acknowledge);
      expect(await browserValidation(acceptance.page, () => press(viewport, a.submit))).toEqual({ posted: false, invalid: ['reason'] });
      expect(await validity(acceptance.page, '#reason')).toMatchObject({ valueMissing: true });
      await expectUndecided(id, 'AWAITING_ACCEPTANCE');

      // A reason from the list stands alone: the words become optional.
      await a.reasonCode.selectOption({ label: 'A contract with the customer is still in force' });
      expect(await validity(acceptance.page, '#reason')).toMatchObject({ valueMissing: false });
      await a.reason.fill('We cannot support this customer before the next quarter.');
      await screenshot(acceptance.page, viewport, '08-acceptance-decline-filled');
      await expectRecorded(acceptance.page, await submitted(acceptance.page, () => press(viewport, a.submit)), 'Declined', 'Dana Lee');
      expect(await recorded(acceptance.page, 'Reason').textContent()).toContain(
        'A contract with the customer is still in force: We cannot support this customer',
      );
      await expectWellFormedPage(acceptance.page, viewport);
      await screenshot(acceptance.page, viewport, '09-acceptance-declined');

      const declined = await transferNow(id);
      expect(declined.status).toBe('DECLINED');
      expect(eventsOf(declined, 'DECLINED').map((e) => e.detail)).toEqual([
        expect.objectContaining({
          decision: 'decline',
          signedBy: 'Dana Lee',
          reasonCode: 'CONTRACT_IN_FORCE',
          reason: 'We cannot support this customer before the next quarter.',
        }),
      ]);
      expect([...errors, ...acceptance.errors]).toEqual([]);
    });

    it('release page: declining needs a reason; with one, the transfer is declined', CASE, async ({ onTestFinished }) => {
      const { id, since } = await requestTransfer();
      const { page, errors } = await open(viewport, onTestFinished, await linkFor(CURRENT_PARTNER, id, since));
      const f = form(page);

      await press(viewport, f.decline);
      await f.signedBy.fill('Alice Smith');
      await press(viewport, f.acknowledge);
      expect(await browserValidation(page, () => press(viewport, f.submit))).toEqual({ posted: false, invalid: ['reason'] });
      expect(await validity(page, '#reason')).toMatchObject({ valueMissing: true });
      await expectUndecided(id, 'AWAITING_RELEASE');

      // Without the browser's check the server says the reason is missing, next to the field and at the top.
      await disableBrowserValidation(page);
      expect(await submitted(page, () => press(viewport, f.submit))).toBe(400);
      expect(await page.getByRole('alert').getByRole('link', { name: /^Reason: say why you decline/ }).getAttribute('href')).toBe('#reason');
      expect(await page.locator('#reason-error').textContent()).toContain('Say why you decline, in a few words');
      expect(await page.locator('.error-summary:focus').count()).toBe(1);
      expect(await styleOf(page, '.field:has(#reason)', 'borderLeftWidth')).toBe('4px');
      expect(await f.reason.getAttribute('aria-invalid')).toBe('true');
      expect(await f.reason.getAttribute('aria-describedby')).toContain('reason-error');
      expect(await f.decline.isChecked()).toBe(true);
      await expectWellFormedPage(page, viewport);
      await screenshot(page, viewport, '10-release-decline-missing-reason');
      await expectUndecided(id, 'AWAITING_RELEASE');

      await f.reason.fill('The customer asked us to stay.');
      expect(await f.acknowledge.isChecked()).toBe(true);
      await expectRecorded(page, await submitted(page, () => press(viewport, f.submit)), 'Declined', 'Alice Smith');
      await expectWellFormedPage(page, viewport);
      await screenshot(page, viewport, '11-release-declined');

      const declined = await transferNow(id);
      expect(declined.status).toBe('DECLINED');
      expect(eventsOf(declined, 'DECLINED').map((e) => e.detail)).toEqual([
        expect.objectContaining({ decision: 'decline', signedBy: 'Alice Smith', via: 'link', reason: 'The customer asked us to stay.' }),
      ]);
      expect(errors).toEqual([]);
    });

    it('keyboard only: a release made with Tab, Space, typing and Enter, the focus visible at every stop', CASE, async ({ onTestFinished }) => {
      const { id, since } = await requestTransfer();
      const { page, errors } = await open(viewport, onTestFinished, await linkFor(CURRENT_PARTNER, id, since));
      const date = await pickableDate(page);
      const stops: FocusedElement[] = [];

      /** Presses Tab until the focus reaches the wanted element, noting every element it stops on. */
      async function tabTo(wanted: (element: FocusedElement) => boolean, what: string): Promise<void> {
        for (let presses = 0; presses < 40; presses += 1) {
          await page.keyboard.press('Tab');
          const now = await focused(page);
          stops.push(now);
          if (wanted(now)) return;
        }
        throw new Error(`Tab never reached ${what}; it stopped on ${stops.map((s) => s.id || s.tag).join(', ')}`);
      }

      // The skip link comes first and leads into the main content.
      await tabTo((e) => e.tag === 'a', 'the skip link');
      expect(await page.getByRole('link', { name: 'Skip to main content' }).isVisible()).toBe(true);
      await page.keyboard.press('Enter');
      expect((await focused(page)).id).toBe('main');

      await tabTo((e) => e.id === 'decision-release', 'the release choice');
      await page.keyboard.press('Space');
      await tabTo((e) => e.id === 'transferDate', 'the date picker');
      const [year, month, day] = date.split('-');
      await page.keyboard.type(`${month ?? ''}${day ?? ''}${year ?? ''}`); // the en-US picker reads mm/dd/yyyy
      await tabTo((e) => e.id === 'signedBy', 'the name');
      await page.keyboard.type('Alice Smith');
      await tabTo((e) => e.id === 'acknowledge', 'the acknowledgement');
      await page.keyboard.press('Space');
      await tabTo((e) => e.tag === 'button' && e.type === 'submit', 'the submit button');
      await screenshot(page, viewport, '12-keyboard-focus-on-submit');

      const f = form(page);
      expect(await f.release.isChecked()).toBe(true);
      expect(await f.date.inputValue()).toBe(date);
      expect(await f.immediate.isChecked()).toBe(false);
      expect(await f.signedBy.inputValue()).toBe('Alice Smith');
      expect(await f.acknowledge.isChecked()).toBe(true);
      expect(stops.filter((stop) => !stop.visible), 'focused elements without a visible outline or shadow').toEqual([]);
      // Every control of the form was on the way, in the order of the page.
      const order = [...new Set(stops.map((stop) => stop.id).filter((stopId) => stopId !== ''))];
      // The decline's reasons are hidden while "release" is chosen: no Tab stop.
      expect(order).toEqual(['decision-release', 'transferDate', 'immediate', 'signedBy', 'acknowledge']);

      await expectRecorded(page, await submitted(page, () => page.keyboard.press('Enter')), 'Released', 'Alice Smith');
      await screenshot(page, viewport, '13-keyboard-release-recorded');
      const released = await transferNow(id);
      expect(released.status).toBe('AWAITING_ACCEPTANCE');
      expect(released.transferDate).toBe(date);
      expect(eventsOf(released, 'RELEASED').map((e) => e.detail)).toEqual([
        expect.objectContaining({ decision: 'release', signedBy: 'Alice Smith', via: 'link', transferDate: date }),
      ]);
      expect(errors).toEqual([]);
    });
  });
}
