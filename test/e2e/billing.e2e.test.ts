import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEmail, TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { daysAfter, todayInNewYork } from './support.ts';

/**
 * Billing advice wherever a date is chosen: the API's answer, the approval emails (both parts) and
 * the approval pages. Expected dates are worked out here, independently of the product's billing code.
 */

interface Billing {
  fromPartnerNextInvoiceDate: string;
  toPartnerNextInvoiceDate: string;
  recommendedDate: string;
  aligned: boolean | null;
  advice: string;
}
type Transfer = TransferView & { billing: Billing; transferDate: string | null };

const PARTNERS = {
  acme: { id: 'P-ACME', name: 'Acme IT Services', invoiceDay: 1, contacts: ['billing@acme-it.example', 'ops@acme-it.example'] },
  blue: { id: 'P-BLUE', name: 'Bluewave Networks', invoiceDay: 15, contacts: ['partners@bluewave.example'] },
  coral: { id: 'P-CORAL', name: 'Coral Cloud Partners', invoiceDay: 31, contacts: ['admin@coralcloud.example'] },
  dune: { id: 'P-DUNE', name: 'Dune Digital', invoiceDay: 28, contacts: ['hello@dune.example'] },
} as const;
type Partner = (typeof PARTNERS)[keyof typeof PARTNERS];
interface AdviceDates {
  from: string;
  to: string;
  recommended: string;
}

// --- an independent calendar: the next invoice date found by walking day by day ---

function lastDayOfMonth(date: string): number {
  const day = new Date(`${date}T00:00:00Z`);
  return new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth() + 1, 0)).getUTCDate();
}

/** Whether a date is the partner's invoice date: its invoice day, or the month's last day when the month is shorter. */
function isInvoiceDate(date: string, invoiceDay: number): boolean {
  return Number(date.slice(8, 10)) === Math.min(invoiceDay, lastDayOfMonth(date));
}

function nextInvoiceDate(invoiceDay: number, onOrAfter: string): string {
  let date = onOrAfter;
  for (let day = 0; day < 62; day += 1, date = daysAfter(date, 1)) {
    if (isInvoiceDate(date, invoiceDay)) return date;
  }
  throw new Error(`No invoice date within two months of ${onOrAfter}`);
}

// --- reading what the partners see ---

/** The visible text of an HTML email or page, on one line. */
function visibleText(html: string): string {
  return html
    .replace(/<(style|script)[\s\S]*?<\/\1>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

/** The lines that show a transfer's billing advice, as the text part of an email writes them. */
function adviceLines(from: Partner, to: Partner, dates: AdviceDates): string[] {
  return [
    `Next invoice date of ${from.name} (current partner): ${dates.from}`,
    `Next invoice date of ${to.name} (new partner): ${dates.to}`,
    `Recommended transfer date: ${dates.recommended}`,
  ];
}

/** The same facts in HTML, once the markup is gone. */
function adviceText(from: Partner, to: Partner, dates: AdviceDates): string[] {
  return adviceLines(from, to, dates).map((line) => line.replace(': ', ' '));
}

const warningTitle = (from: Partner) => `The chosen date is not an invoice date of ${from.name}`;

let t: TestStack;
const today = todayInNewYork();

beforeAll(async () => {
  t = await startTestStack({ seedFile: TEST_DIRECTORY, maxWaitSeconds: 1 });
});

afterAll(async () => {
  await t?.stop();
});

async function approvalEmail(recipient: string, transferId: string, step: 'Release' | 'Acceptance', since: number): Promise<StoredEmail> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const found = (await t.client.emails(since)).find(
      (email) => email.destination.to.includes(recipient) && email.subject.startsWith(`${step} needed`) && email.subject.includes(transferId),
    );
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`No ${step.toLowerCase()} email for ${transferId} reached ${recipient}`);
}

/** What an HTML email part or an approval page shows: both next invoice dates, the recommendation, and a warning or none. */
function expectHtmlAdvice(html: string, from: Partner, to: Partner, dates: AdviceDates, warned: boolean): void {
  const visible = visibleText(html);
  for (const line of adviceText(from, to, dates)) expect(visible).toContain(line);
  if (warned) {
    expect(visible).toContain(warningTitle(from));
    expect(html).toContain('class="notice notice-warning"');
  } else {
    expect(visible).not.toContain(warningTitle(from));
    expect(html).not.toContain('class="notice notice-warning"');
  }
}

/** Both parts of an approval email say the same. */
function expectEmailAdvice(email: StoredEmail, from: Partner, to: Partner, dates: AdviceDates, warned: boolean): void {
  const text = email.body.text ?? '';
  for (const line of adviceLines(from, to, dates)) expect(text).toContain(line);
  if (warned) expect(text).toContain(`WARNING: ${warningTitle(from)}`);
  else expect(text).not.toContain('WARNING');
  expectHtmlAdvice(email.body.html ?? '', from, to, dates, warned);
}

describe('billing advice', () => {
  it('recommends the current partner’s next invoice date (a short month’s last day), then warns on the emails and pages once another date is chosen', async () => {
    const { coral, dune } = PARTNERS;
    const coralNext = nextInvoiceDate(coral.invoiceDay, today);
    const duneNext = nextInvoiceDate(dune.invoiceDay, today);
    // An invoice day of 31 falls on the last day of every month, 30-day months included.
    expect(Number(coralNext.slice(8, 10))).toBe(lastDayOfMonth(coralNext));
    expect(daysAfter(coralNext, 1).endsWith('-01')).toBe(true);
    const dates = { from: coralNext, to: duneNext, recommended: coralNext };

    // Dune asks for a Coral customer without a date: advice, but nothing to align yet.
    const since = Date.now() / 1000 - 1;
    const duneToken = await t.token({ partnerId: dune.id });
    const created = await t.client.call('POST', '/transfers', duneToken, { customerIds: ['C-C01'], toPartnerId: dune.id });
    expect(created.status).toBe(201);
    const transfer = created.body as Transfer;
    expect(transfer.billing).toEqual({
      fromPartnerNextInvoiceDate: coralNext,
      toPartnerNextInvoiceDate: duneNext,
      recommendedDate: coralNext,
      aligned: null,
      advice:
        `Recommended transfer date: ${coralNext}, the next invoice date of ${coral.name}. ` +
        'Billing has no proration, so a transfer on that date avoids billing the customer twice.',
    });

    // The release email and its page advise the same, without a warning.
    const releaseLink = await t.client.waitForLink(coral.contacts[0], since);
    const releaseEmail = await approvalEmail(coral.contacts[0], transfer.id, 'Release', since);
    expectEmailAdvice(releaseEmail, coral, dune, dates, false);
    const releasePage = await t.client.openLink(releaseLink);
    expect(releasePage.status).toBe(200);
    expectHtmlAdvice(releasePage.html, coral, dune, dates, false);
    // The date field starts at the recommended date.
    expect(releasePage.html).toMatch(new RegExp(`name="transferDate"[^>]*value="${coralNext}"`));

    // Coral releases for the day after its invoice date: allowed, with a warning.
    const chosen = daysAfter(coralNext, 1);
    const nextAfterChosen = nextInvoiceDate(coral.invoiceDay, chosen);
    const released = await t.client.postForm(releaseLink, { decision: 'release', transferDate: chosen, signedBy: 'Cora Reed', acknowledge: 'on' });
    expect(released.status).toBe(200);
    const afterRelease = (await t.client.call('GET', `/transfers/${transfer.id}`, duneToken)).body as Transfer;
    expect(afterRelease.status).toBe('AWAITING_ACCEPTANCE');
    expect(afterRelease.transferDate).toBe(chosen);
    expect(afterRelease.billing).toEqual({
      fromPartnerNextInvoiceDate: coralNext,
      toPartnerNextInvoiceDate: duneNext,
      recommendedDate: coralNext,
      aligned: false,
      advice:
        `Warning: ${chosen} is not an invoice date of ${coral.name} (next ones: ${coralNext}, ${nextAfterChosen}). ` +
        'Billing has no proration, so both partners may bill the customer for the same period. ' +
        `Choose ${coralNext} or ${nextAfterChosen} to avoid that.`,
    });

    // Dune is asked to accept that date: its email and page carry the warning.
    const acceptLink = await t.client.waitForLink(dune.contacts[0], since);
    const acceptEmail = await approvalEmail(dune.contacts[0], transfer.id, 'Acceptance', since);
    expectEmailAdvice(acceptEmail, coral, dune, dates, true);
    expect(acceptEmail.body.text).toContain(`${chosen} is not an invoice date of ${coral.name}`);
    expect(acceptEmail.body.text).toContain('This is advice only: it does not block the transfer.');
    const acceptPage = await t.client.openLink(acceptLink);
    expect(acceptPage.status).toBe(200);
    expect(visibleText(acceptPage.html)).toContain(`${chosen} is not an invoice date of ${coral.name}`);
    expectHtmlAdvice(acceptPage.html, coral, dune, dates, true);

    // Advice never blocks: accepted, the move runs on the date chosen, and the record keeps the warning.
    const accepted = await t.client.postForm(acceptLink, { decision: 'accept', signedBy: 'Dana Dune', acknowledge: 'on' });
    expect(accepted.status).toBe(200);
    const done = (await t.client.waitForStatus(transfer.id, duneToken, ['COMPLETED', 'FAILED'], 20_000)) as Transfer;
    expect(done.status).toBe('COMPLETED');
    expect(done.transferDate).toBe(chosen);
    expect(done.billing.aligned).toBe(false);
  });

  it('says a date on the current partner’s invoice date is aligned, in the API answer and the acceptance email and page', async () => {
    const { acme, blue } = PARTNERS;
    const acmeNext = nextInvoiceDate(acme.invoiceDay, today);
    const blueNext = nextInvoiceDate(blue.invoiceDay, today);
    const since = Date.now() / 1000 - 1;
    const created = await t.client.call('POST', '/transfers', await t.token({ partnerId: acme.id }), {
      customerIds: ['C-A20'],
      toPartnerId: blue.id,
      release: { transferDate: acmeNext, signedBy: 'Alice Smith' },
    });
    expect(created.status).toBe(201);
    const transfer = created.body as Transfer;
    expect(transfer.billing).toEqual({
      fromPartnerNextInvoiceDate: acmeNext,
      toPartnerNextInvoiceDate: blueNext,
      recommendedDate: acmeNext,
      aligned: true,
      advice: `${acmeNext} is an invoice date of ${acme.name}: the customer is billed once.`,
    });

    const dates = { from: acmeNext, to: blueNext, recommended: acmeNext };
    const email = await approvalEmail(blue.contacts[0], transfer.id, 'Acceptance', since);
    expectEmailAdvice(email, acme, blue, dates, false);
    expect(email.body.text).toContain(`${acmeNext} is an invoice date of ${acme.name}: the customer is billed once.`);
    const page = await t.client.openLink(await t.client.waitForLink(blue.contacts[0], since));
    expect(page.status).toBe(200);
    expect(visibleText(page.html)).toContain(`${acmeNext} is an invoice date of ${acme.name}: the customer is billed once.`);
    expectHtmlAdvice(page.html, acme, blue, dates, false);
  });

  it('warns about a requested date off the invoice date, and stops warning once the release picks the recommended one', async () => {
    const { acme, blue } = PARTNERS;
    const blueNext = nextInvoiceDate(blue.invoiceDay, today);
    const acmeNext = nextInvoiceDate(acme.invoiceDay, today);
    const requestedDate = daysAfter(blueNext, 1);
    const since = Date.now() / 1000 - 1;
    const acmeToken = await t.token({ partnerId: acme.id });
    // Acme, the new partner, asks for Bluewave's customer on the day after Bluewave's invoice date.
    const created = await t.client.call('POST', '/transfers', acmeToken, { customerIds: ['C-B01'], toPartnerId: acme.id, requestedDate });
    expect(created.status).toBe(201);
    const transfer = created.body as Transfer;
    expect(transfer.billing).toMatchObject({
      fromPartnerNextInvoiceDate: blueNext,
      toPartnerNextInvoiceDate: acmeNext,
      recommendedDate: blueNext,
      aligned: false,
    });
    expect(transfer.billing.advice).toMatch(new RegExp(`^Warning: ${requestedDate} is not an invoice date of ${blue.name} \\(next ones: ${blueNext}, `));

    const dates = { from: blueNext, to: acmeNext, recommended: blueNext };
    const email = await approvalEmail(blue.contacts[0], transfer.id, 'Release', since);
    expectEmailAdvice(email, blue, acme, dates, true);
    const page = await t.client.openLink(await t.client.waitForLink(blue.contacts[0], since));
    expect(page.status).toBe(200);
    expectHtmlAdvice(page.html, blue, acme, dates, true);
    expect(page.html).toMatch(new RegExp(`name="transferDate"[^>]*value="${requestedDate}"`));

    // Bluewave releases on its own invoice date instead: aligned, so Acme must now accept that date, without a warning.
    const released = await t.client.call('POST', `/transfers/${transfer.id}/release`, await t.token({ partnerId: blue.id }), {
      decision: 'release',
      transferDate: blueNext,
      signedBy: 'Bea Wave',
    });
    expect(released.status).toBe(200);
    const afterRelease = released.body as Transfer;
    expect(afterRelease.status).toBe('AWAITING_ACCEPTANCE');
    expect(afterRelease.billing).toMatchObject({ recommendedDate: blueNext, aligned: true });
    const acceptEmail = await approvalEmail(acme.contacts[0], transfer.id, 'Acceptance', since);
    expect(acceptEmail.destination.to).toEqual([...acme.contacts]);
    expectEmailAdvice(acceptEmail, blue, acme, dates, false);
  });
});
