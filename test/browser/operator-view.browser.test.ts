/**
 * The local operator view in a real Chromium: an operator pastes a token once, sees every transfer
 * with its execution's current state, opens one and watches its timeline follow the transfer live
 * (no reload) as the partners decide through their emailed links. A partner's token is refused, the
 * token never appears in a URL, no task token reaches the page, and values are shown as text. Each
 * event of a transfer is shown with its webhook deliveries, without a URL's query string, a body sent
 * or an answer received. Screenshots land in test-artifacts/screenshots/operator-*.png.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransferView } from '../../local/local-client.ts';
import { executionArnOf, localSfnClient } from '../../local/operator/overview.ts';
import { utcText } from '../../local/operator/text.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from '../e2e/local-stack.ts';
import { ANSWER_EXCERPT, HOSTILE_ERROR, QUERY_SECRET, seedDeliveries } from '../e2e/webhook-deliveries.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));
const CURRENT_PARTNER = 'billing@acme-it.example';
const NEW_PARTNER = 'partners@bluewave.example';
const HOSTILE_NOTE = '<img src=x onerror="document.title=\'pwned\'"><b>bold?</b>';

let browser: Browser;
let t: TestStack;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t = await startTestStack({ seedFile: TEST_DIRECTORY });
  await mkdir(SCREENSHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SCREENSHOTS}operator-${name}.png`, fullPage: true, animations: 'disabled' });
}

interface Watched {
  context: BrowserContext;
  page: Page;
  errors: string[];
  /** Every request the page made, with whether it carried a bearer token. */
  requests: { url: string; authorization: string | undefined }[];
  navigations: string[];
}

async function openOperatorPage(width = 1360): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width, height: 900 }, locale: 'en-US', timezoneId: 'UTC', colorScheme: 'light', reducedMotion: 'reduce' });
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: Watched['requests'] = [];
  const navigations: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('request', (request) => requests.push({ url: request.url(), authorization: request.headers().authorization }));
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations.push(frame.url());
  });
  const response = await page.goto(`${t.stack.urls.api}/operator`);
  expect(response?.status()).toBe(200);
  const csp = response?.headers()['content-security-policy'] ?? '';
  expect(csp).toContain("default-src 'none'");
  expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
  expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
  expect(csp).toContain("connect-src 'self'");
  expect(response?.headers()['referrer-policy']).toBe('no-referrer');
  return { context, page, errors, requests, navigations };
}

async function pasteToken(page: Page, token: string): Promise<void> {
  await page.locator('#token').fill(token);
  await page.getByRole('button', { name: 'Show transfers' }).click();
}

function sessionToken(page: Page): Promise<string | null> {
  return page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem('transfer-operator-token'));
}

async function taskTokens(id: string): Promise<string[]> {
  const sfn = localSfnClient(t.stack.urls.sfn);
  try {
    const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn: executionArnOf(t.stack.stateMachineArn, id), maxResults: 1000 }));
    return events.flatMap((event) => [...(event.taskScheduledEventDetails?.parameters ?? '').matchAll(/"taskToken":"([^"]+)"/g)].map((m) => m[1] ?? ''));
  } finally {
    sfn.destroy();
  }
}

describe('the operator view', () => {
  it('serves its JSON to operators only: 401 without a token, 403 for a partner', async () => {
    const api = `${t.stack.urls.api}/operator/api/executions`;
    expect((await fetch(api)).status).toBe(401);
    const partner = await fetch(api, { headers: { authorization: `Bearer ${await t.token({ partnerId: 'P-ACME' })}` } });
    expect(partner.status).toBe(403);
    expect(await partner.json()).toEqual({ error: { code: 'FORBIDDEN', message: 'Only provider operators may use the operator view.' } });
    expect((await fetch(`${api}/TR-20990101-NOSUCHONE0`, { headers: { authorization: `Bearer ${await t.token({ partnerId: 'P-BLUE' })}` } })).status).toBe(403);
    const operator = await fetch(`${api}/TR-20990101-NOSUCHONE0`, { headers: { authorization: `Bearer ${await t.token('operator')}` } });
    expect(operator.status).toBe(404);
  });

  it('refuses a partner\'s token and forgets it', async () => {
    const { context, page, errors } = await openOperatorPage();
    try {
      await page.locator('#signin').waitFor();
      await screenshot(page, 'signin');
      await pasteToken(page, await t.token({ partnerId: 'P-ACME' }));
      const error = page.locator('#signin-error');
      await error.waitFor({ state: 'visible', timeout: 10_000 });
      expect(await error.textContent()).toContain('not an operator');
      expect(await page.locator('#console').isHidden()).toBe(true);
      expect(await sessionToken(page)).toBeNull();
      expect(await page.locator('#token').inputValue()).toBe('');
      await screenshot(page, 'partner-refused');
      expect(errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('lists the transfers and follows one transfer\'s timeline live as the partners decide', async () => {
    const blue = await t.token({ partnerId: 'P-BLUE', subject: 'dana@bluewave.example' });
    const since = Date.now() / 1000 - 1;
    const created = await t.client.call('POST', '/transfers', blue, { customerIds: ['C-A01', 'C-A02'], toPartnerId: 'P-BLUE', note: HOSTILE_NOTE });
    expect(created.status).toBe(201);
    const id = (created.body as TransferView).id;
    const releaseLink = await t.client.waitForLink(CURRENT_PARTNER, since);

    const { context, page, errors, requests, navigations } = await openOperatorPage();
    try {
      const operatorToken = await t.token('operator');
      await pasteToken(page, operatorToken);
      const row = page.locator('#transfer-rows tr', { has: page.locator(`button[data-id="${id}"]`) });
      await row.waitFor({ timeout: 15_000 });
      expect(await row.locator('td').allInnerTexts()).toEqual([
        id,
        'AWAITING RELEASE',
        expect.stringMatching(/^RUNNING\s*Await release from current partner$/) as unknown as string,
        expect.stringMatching(/^P-ACME → P-BLUE\s*C-A01, C-A02$/) as unknown as string,
        '—',
        expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/) as unknown as string,
      ]);
      await screenshot(page, 'list');

      // The token: kept for this tab only, sent as a header, never in a URL.
      expect(await sessionToken(page)).toBe(operatorToken);
      const apiCalls = requests.filter((r) => r.url.includes('/operator/api/'));
      expect(apiCalls.length).toBeGreaterThan(0);
      for (const call of apiCalls) expect(call.authorization).toBe(`Bearer ${operatorToken}`);
      for (const request of requests) expect(request.url).not.toContain(operatorToken);

      await row.locator('button').click();
      const facts = page.locator('#detail-facts');
      const timeline = page.locator('#timeline-rows');
      await facts.getByText('Await release from current partner').waitFor({ timeout: 15_000 });
      expect(page.url()).toMatch(new RegExp(`/operator#${id}$`));
      await timeline.getByText('APPROVAL_REQUESTED').waitFor();
      const events = async () => (await timeline.locator('tr').evaluateAll((rows) => rows.map((r) => (r as unknown as { innerText: string }).innerText)));
      const before = await events();
      expect(before.some((line) => /\tEntered\tAwait release from current partner\t/.test(line))).toBe(true);
      expect(before.some((line) => /\tTask scheduled\tAwait release from current partner\trequest-approval, waits for a task token/.test(line))).toBe(true);
      // The note is shown as text, never as markup.
      await page.locator('#timeline-rows tr', { hasText: 'REQUESTED' }).locator('summary').first().click();
      expect(await page.locator('#timeline-rows pre').first().innerText()).toContain(HOSTILE_NOTE.replace(/"/g, '\\"'));
      expect(await facts.locator('tr', { hasText: 'Note' }).locator('td').innerText()).toBe(HOSTILE_NOTE);
      expect(await page.locator('main img, main b').count()).toBe(0);
      expect(await page.title()).not.toBe('pwned');
      // The wait's task parameters are shown, without the task token.
      await page.locator('#timeline-rows tr', { hasText: 'Task scheduled' }).locator('summary').first().click();
      expect(await page.locator('#timeline-rows details[open] pre').last().innerText()).toContain('"taskToken": "[redacted]"');
      await screenshot(page, 'timeline-release');

      // The current partner releases through its link: the page follows without a reload.
      const navigationsBefore = navigations.length;
      expect((await t.client.postForm(releaseLink, { decision: 'release', immediate: 'on', signedBy: 'Alice Smith', acknowledge: 'on' })).status).toBe(200);
      await facts.getByText('Await acceptance by new partner').waitFor({ timeout: 15_000 });
      await timeline.getByText('RELEASED', { exact: true }).waitFor();
      const during = await events();
      expect(during.some((line) => /\tExited\tAwait release from current partner\tafter \d/.test(line))).toBe(true);
      expect(during.some((line) => /\tEntered\tAwait acceptance by new partner\t/.test(line))).toBe(true);
      // The list is refreshed in the same round as the timeline, from its own request.
      await row.locator('td').nth(1).getByText('AWAITING ACCEPTANCE', { exact: true }).waitFor({ timeout: 5000 });
      await row.locator('td').nth(2).getByText('Await acceptance by new partner', { exact: true }).waitFor({ timeout: 5000 });
      // The opened data stayed open across the refreshes.
      expect(await page.locator('#timeline-rows details[open]').count()).toBe(2);
      await screenshot(page, 'timeline-acceptance');

      // The new partner accepts: the workflow sleeps, re-homes and confirms, and the page shows the end.
      const acceptLink = await t.client.waitForLink(NEW_PARTNER, since);
      expect((await t.client.postForm(acceptLink, { decision: 'accept', signedBy: 'Dana Lee', acknowledge: 'on' })).status).toBe(200);
      await timeline.getByText('Execution succeeded').waitFor({ timeout: 30_000 });
      await facts.getByText('COMPLETED', { exact: true }).waitFor({ timeout: 10_000 });
      const after = await events();
      for (const state of ['Record schedule and notify DevOps', 'Sleep until transfer date', 'Re-home customers', 'Send confirmations']) {
        expect(after.some((line) => line.includes(`\tExited\t${state}\tafter`)), state).toBe(true);
      }
      expect(after.filter((line) => line.includes('\tCUSTOMER_MOVED\t'))).toHaveLength(2);
      await row.locator('td').nth(1).getByText('COMPLETED', { exact: true }).waitFor({ timeout: 5000 });
      await expect.poll(() => row.locator('td').nth(2).innerText(), { timeout: 5000 }).toBe('SUCCEEDED');
      await screenshot(page, 'timeline-completed');
      expect(navigations.length).toBe(navigationsBefore);

      // Not one task token reached the page, through any of its refreshes.
      const tokens = await taskTokens(id);
      expect(tokens.length).toBeGreaterThanOrEqual(2);
      const html = await page.content();
      for (const secret of tokens) expect(html).not.toContain(secret);
      expect(errors).toEqual([]);

      // Forgetting the token stops the view and clears the tab's storage.
      await page.getByRole('button', { name: 'Forget token' }).click();
      await page.locator('#signin').waitFor();
      expect(await sessionToken(page)).toBeNull();
    } finally {
      await context.close();
    }
  }, 120_000);

  it('shows each event with its webhook deliveries as text, never a query string, a body or an answer, on a desktop and a phone', async () => {
    const created = await t.client.call('POST', '/transfers', await t.token({ partnerId: 'P-BLUE' }), { customerIds: ['C-A03'], toPartnerId: 'P-BLUE' });
    expect(created.status).toBe(201);
    const id = (created.body as TransferView).id;
    const seeded = await seedDeliveries(t.stack, id);
    const operatorToken = await t.token('operator');

    // Not even the page's data carries them.
    const data = await (await fetch(`${t.stack.urls.api}/operator/api/executions/${id}`, { headers: { authorization: `Bearer ${operatorToken}` } })).text();
    for (const hidden of [QUERY_SECRET, ANSWER_EXCERPT, 'user:pass', '#frag', seeded.delivered.body]) expect(data).not.toContain(hidden);

    for (const [width, name] of [[1360, 'events'], [390, 'events-phone']] as const) {
      const { context, page, errors } = await openOperatorPage(width);
      try {
        await pasteToken(page, operatorToken);
        await page.locator(`#transfer-rows button[data-id="${id}"]`).click();
        const events = page.locator('#events');
        await events.locator('tr.event-head').nth(1).waitFor({ timeout: 15_000 });
        const heads = await events.locator('tr.event-head').allInnerTexts();
        const words = (text: string | undefined) => (text ?? '').replace(/\s+/g, ' ').trim();
        expect(words(heads[0])).toMatch(new RegExp(`^transfer\\.requested ${seeded.event.id} Occurred ${utcText(seeded.event.occurredAt, true)} Published to the bus \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}$`));
        expect(words(heads[1])).toBe(`transfer.failed ${seeded.held.id} Occurred ${utcText(seeded.held.occurredAt, true)} Not yet published to the bus`);

        const groups = events.locator('tbody');
        const rows = await groups.nth(0).locator('tr.delivery').evaluateAll((trs) =>
          trs.map((tr) => Array.from((tr as unknown as { cells: ArrayLike<{ innerText: string }> }).cells, (td) => td.innerText.trim())));
        expect(rows).toEqual([
          [seeded.delivered.webhookId, '127.0.0.1:4100/hooks/acme', 'delivered', '1', 'HTTP 204', '', utcText(seeded.delivered.settledAt)],
          // The error text is shown as text: no markup of it runs.
          [seeded.failed.webhookId, 'hooks.bluewave.example/in/transfers', 'failed', '1', HOSTILE_ERROR, '', utcText(seeded.failed.settledAt)],
          [seeded.retrying.webhookId, 'ops.provider.example/events', 'pending', '2', 'HTTP 503\nThe endpoint answered 503.', utcText(seeded.retrying.nextAttemptAt), ''],
        ]);
        expect(await groups.nth(1).locator('td').allInnerTexts()).toEqual(['No webhook deliveries.']);
        expect(await page.locator('#events script, #events img, main img').count()).toBe(0);
        expect(await page.title()).not.toBe('pwned');
        const html = await page.content();
        for (const hidden of [QUERY_SECRET, ANSWER_EXCERPT, 'user:pass', '#frag', seeded.delivered.body]) expect(html).not.toContain(hidden);

        const overflow = await page.evaluate(() => {
          const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document;
          return d.documentElement.scrollWidth - d.documentElement.clientWidth;
        });
        if (width < 640) expect(overflow).toBeLessThanOrEqual(1);
        await screenshot(page, name);
        await page.locator('#events-wrap').screenshot({ path: `${SCREENSHOTS}operator-${name}-section.png`, animations: 'disabled' });
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
    }
  }, 120_000);

  it('flags a party every contact of which bounced, and lists the bounced contacts, as text', async () => {
    const created = await t.client.call('POST', '/transfers', await t.token({ partnerId: 'P-BLUE' }), { customerIds: ['C-A04'], toPartnerId: 'P-BLUE' });
    expect(created.status).toBe(201);
    const id = (created.body as TransferView).id;
    // SES bounces, as the alert topic hands them to the mail feedback queue on AWS (one address made hostile text).
    const sqs = new SQSClient({ endpoint: t.stack.urls.sqs, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      for (const address of [CURRENT_PARTNER, 'ops@acme-it.example']) {
        const body = {
          eventType: 'Bounce',
          mail: { timestamp: new Date().toISOString(), destination: [address], tags: { transferId: [id] } },
          bounce: { bounceType: 'Permanent', bouncedRecipients: [{ emailAddress: address }], timestamp: new Date().toISOString() },
        };
        await sqs.send(new SendMessageCommand({ QueueUrl: t.stack.sqs.queueUrl(t.stack.queues.mailFeedback), MessageBody: JSON.stringify(body) }));
      }
    } finally {
      sqs.destroy();
    }
    // The recorder runs on its own time: the page's data has both once it has run.
    const operatorToken = await t.token('operator');
    let data: { transfer?: { bounced?: unknown[]; unreachable?: string[] } } = {};
    for (let attempt = 0; attempt < 100 && (data.transfer?.unreachable ?? []).length === 0; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      const answer = await fetch(`${t.stack.urls.api}/operator/api/executions/${id}`, { headers: { authorization: `Bearer ${operatorToken}` } });
      data = (await answer.json()) as typeof data;
    }
    expect(data.transfer?.unreachable).toEqual(['P-ACME']);
    const { context, page, errors } = await openOperatorPage(1360);
    try {
      await pasteToken(page, operatorToken);
      await page.locator(`#transfer-rows button[data-id="${id}"]`).click();
      const facts = page.locator('#detail-facts');
      const row = (label: string) => facts.locator('tr', { has: page.locator('th', { hasText: new RegExp(`^${label}$`) }) });
      const flag = row('Unreachable');
      await flag.waitFor({ timeout: 15_000 });
      expect((await flag.innerText()).replace(/\s+/g, ' ').trim()).toBe('Unreachable UNREACHABLE P-ACME: every contact bounced; no link, reminder or notice reaches it');
      expect(await flag.locator('.status-unreachable').count()).toBe(1);
      // In the order they were recorded: the two bounces are handled at once, either first.
      const bounced = (await row('Bounced').innerText()).replace(/\s+/g, ' ').trim();
      expect(bounced).toMatch(/^Bounced /);
      expect(bounced.slice('Bounced '.length).split(', ').sort()).toEqual(['billing@acme-it.example (P-ACME)', 'ops@acme-it.example (P-ACME)']);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('fits a phone screen', async () => {
    const { context, page, errors } = await openOperatorPage(390);
    try {
      await pasteToken(page, await t.token('operator'));
      await page.locator('#transfer-rows tr').first().waitFor({ timeout: 15_000 });
      await page.locator('#transfer-rows button').first().click();
      await page.locator('#timeline-rows tr').first().waitFor({ timeout: 15_000 });
      const overflow = await page.evaluate(() => {
        const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document;
        return d.documentElement.scrollWidth - d.documentElement.clientWidth;
      });
      expect(overflow).toBeLessThanOrEqual(1);
      // Rows are stacked on a phone, each cell naming its column.
      const firstRow = page.locator('#transfer-rows tr').first();
      expect(await firstRow.evaluate((node) => (globalThis as unknown as { getComputedStyle(n: unknown): { display: string } }).getComputedStyle(node).display)).toBe('block');
      await screenshot(page, 'phone');
      await page.screenshot({ path: `${SCREENSHOTS}operator-phone-top.png`, animations: 'disabled' });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});
