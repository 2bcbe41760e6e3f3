/**
 * The consent record as a partner opens it from the portal, in a real Chromium: its own styles pass
 * the page's content security policy, it fits a phone, the history scrolls rather than the page, and
 * it prints without the masthead's colours. Screenshots land in test-artifacts/screenshots/record-*.png.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, TEST_DIRECTORY, type TestStack } from '../e2e/local-stack.ts';
import { createTransfer, daysAfter, getTransfer, poll, todayInNewYork } from '../e2e/support.ts';
import { collectPageErrors, launchChromium, layout, screenshot, styleOf, VIEWPORTS } from './harness.ts';

let browser: Browser;
let t: TestStack;
let transferId: string;
let acme: string;

beforeAll(async () => {
  browser = await launchChromium();
  t = await startTestStack({ seedFile: TEST_DIRECTORY });
  acme = await t.token({ partnerId: 'P-ACME', subject: 'alice@acme-it.example' });
  const blue = await t.token({ partnerId: 'P-BLUE', subject: 'bob@bluewave.example' });
  const created = await createTransfer(t, acme, { customerIds: ['C-A30', 'C-A31'], toPartnerId: 'P-BLUE', requestedDate: daysAfter(todayInNewYork(), 3) });
  transferId = created.id;
  expect((await t.client.call('POST', `/transfers/${transferId}/release`, acme, { decision: 'release', transferDate: 'immediate', signedBy: 'Alice Smith' })).status).toBe(200);
  expect((await t.client.call('POST', `/transfers/${transferId}/acceptance`, blue, { decision: 'accept', signedBy: 'Bob Wave' })).status).toBe(200);
  await poll('the confirmations', async () => ((await getTransfer(t, transferId, acme)).history.some((e) => e.type === 'CONFIRMATIONS_SENT') ? true : undefined), 30_000);
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

describe('the consent record page', () => {
  for (const viewport of VIEWPORTS) {
    it(`renders styled, without a CSP violation, within the ${viewport.name} viewport, and prints plainly`, async () => {
      const context = await browser.newContext({ ...viewport.context, extraHTTPHeaders: { authorization: `Bearer ${acme}` } });
      try {
        const page = await context.newPage();
        const errors = collectPageErrors(page);
        const response = await page.goto(`${t.stack.urls.api}/transfers/${transferId}/record`);
        expect(response?.status()).toBe(200);
        expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");

        // The record's own stylesheet applied: cards have a background of their own, not the browser's default.
        const shown = await layout(page);
        expect(shown.cards.length).toBeGreaterThanOrEqual(4);
        expect(shown.cards.every((card) => card.background !== 'rgba(0, 0, 0, 0)')).toBe(true);
        expect(await styleOf(page, 'code.hash', 'fontFamily')).toMatch(/mono/i);
        expect(errors).toEqual([]);

        // The page never scrolls sideways: only the history table may, inside its own region.
        expect(shown.scrollWidth).toBeLessThanOrEqual(shown.innerWidth);
        const fingerprint = response?.headers()['x-record-fingerprint'] ?? '';
        await expect(page.getByText(fingerprint, { exact: false }).first().isVisible()).resolves.toBe(true);
        for (const signer of ['Alice Smith', 'Bob Wave']) await expect(page.getByText(signer).first().isVisible()).resolves.toBe(true);
        await screenshot(page, viewport, 'record');

        await page.emulateMedia({ media: 'print' });
        expect(await styleOf(page, 'body', 'backgroundColor')).toMatch(/rgb\(255, 255, 255\)|rgba\(0, 0, 0, 0\)/);
        await screenshot(page, viewport, 'record-print');
      } finally {
        await context.close();
      }
    });
  }
});
