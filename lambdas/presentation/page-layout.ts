import { createHash } from 'node:crypto';
import { BLOCK_CSS, blocksHtml, type Block } from './blocks.ts';
import { COLOURS, FONT_STACK, PRODUCT_NAME, PROVIDER_NAME } from './brand.ts';
import { html, trusted, type SafeHtml } from './html.ts';

const PAGE_CSS = `
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: ${COLOURS.page}; color: ${COLOURS.ink}; font-family: ${FONT_STACK}; font-size: 16px; line-height: 1.5; }
a { color: ${COLOURS.brand}; }
:focus-visible { outline: 3px solid ${COLOURS.focus}; outline-offset: 2px; box-shadow: 0 0 0 5px ${COLOURS.ink}; }
/* A date field's calendar button takes the focus inside the field, where :focus-visible never matches the field. */
input[type="date"]:focus-within { outline: 3px solid ${COLOURS.focus}; outline-offset: 2px; box-shadow: 0 0 0 5px ${COLOURS.ink}; }
.skip-link { position: absolute; left: 8px; top: -48px; background: #ffffff; color: ${COLOURS.ink}; padding: 8px 12px; border-radius: 6px; z-index: 1; }
.skip-link:focus { top: 8px; }
.masthead { background: ${COLOURS.brand}; color: #ffffff; }
.masthead-inner { max-width: 760px; margin: 0 auto; padding: 14px 20px; display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.logo { flex: none; }
.brand { font-size: 20px; font-weight: 700; letter-spacing: 0.02em; }
.product { opacity: 0.9; border-left: 1px solid rgba(255, 255, 255, 0.5); padding-left: 10px; }
main { display: block; max-width: 760px; margin: 24px auto; padding: 0 16px; }
main:focus { outline: none; }
.card { background: ${COLOURS.card}; border: 1px solid ${COLOURS.line}; border-radius: 10px; padding: 24px; margin: 0 0 16px; box-shadow: 0 1px 2px rgba(16, 24, 40, 0.06); }
.card > h2:first-child { margin-top: 0; }
h1 { font-size: 26px; line-height: 1.25; margin: 0 0 12px; }
h3 { font-size: 16px; margin: 0 0 8px; }
.lead { font-size: 18px; }
.eyebrow { text-transform: uppercase; letter-spacing: 0.06em; font-size: 13px; font-weight: 600; color: ${COLOURS.muted}; margin: 0 0 4px; }
.site-footer { max-width: 760px; margin: 0 auto 32px; padding: 0 20px; color: ${COLOURS.muted}; font-size: 13px; }
fieldset { border: 0; padding: 0; margin: 0 0 24px; min-width: 0; }
legend { font-weight: 600; font-size: 17px; padding: 0; margin: 0 0 8px; }
label { font-weight: 600; }
.field { margin: 0 0 24px; }
.label-note { font-weight: 400; color: ${COLOURS.muted}; }
.hint { color: ${COLOURS.muted}; margin: 4px 0 8px; }
.choice, .check { display: flex; gap: 12px; align-items: flex-start; margin: 10px 0; }
.choice label, .check label { font-weight: 400; }
.choice .hint { margin: 0; font-size: 14px; }
input[type="radio"], input[type="checkbox"] { flex: none; width: 22px; height: 22px; margin: 1px 0 0; accent-color: ${COLOURS.brand}; }
input[type="text"], input[type="date"], select, textarea { display: block; width: 100%; max-width: 28rem; font: inherit; color: inherit; background: #ffffff; padding: 10px 12px; border: 1px solid #7b8594; border-radius: 6px; }
textarea { max-width: 100%; min-height: 7rem; resize: vertical; }
input:disabled { background: ${COLOURS.page}; color: ${COLOURS.muted}; }
[aria-invalid="true"] { border: 2px solid ${COLOURS.error}; }
.field-error { color: ${COLOURS.error}; font-weight: 600; margin: 4px 0 8px; }
/* A bar beside each field in error: a native checkbox or radio shows no border, so the field does. */
.field:has(.field-error), fieldset:has(> .field-error) { border-left: 4px solid ${COLOURS.error}; padding-left: 14px; }
.error-summary:focus { outline: 3px solid ${COLOURS.focus}; outline-offset: 2px; }
.error-summary { border: 3px solid ${COLOURS.error}; background: ${COLOURS.errorBg}; border-radius: 10px; padding: 16px 24px; margin: 0 0 16px; }
.error-summary h2 { margin: 0 0 8px; color: ${COLOURS.error}; }
.error-summary ul { margin: 0; padding-left: 20px; }
.error-summary a { color: ${COLOURS.error}; font-weight: 600; }
.statement { font-size: 17px; background: #fbfcfd; border-left-color: ${COLOURS.brand}; }
.placeholder { background: ${COLOURS.highlight}; border-radius: 3px; padding: 0 2px; }
.readonly { margin: 0 0 24px; }
.readonly dt { font-weight: 600; }
.readonly dd { margin: 4px 0 0; font-size: 17px; }
form + .fineprint { margin-top: 16px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
${BLOCK_CSS}
@media (max-width: 480px) {
  main { margin-top: 16px; padding: 0 8px; }
  .card, .error-summary { padding: 16px; }
  h1 { font-size: 22px; }
  .facts th, .facts td { display: block; width: auto; padding: 4px 0; }
  .facts tr + tr td { border-top: 0; }
  .facts tr + tr th { padding-top: 12px; }
  .button { width: 100%; }
}
`;

/**
 * Progressive enhancement only; the server validates everything. Moves the focus to the error
 * summary of a rejected form (so that it is read out and its links are the next Tab stops), greys
 * out the date while "immediate" is ticked, shows the decline's reason fields only while "decline" is
 * chosen, and makes the words required then unless a listed reason (other than "another") is chosen.
 */
const PAGE_SCRIPT = `(function () {
  var summary = document.querySelector('.error-summary');
  if (summary) summary.focus();
  var form = document.querySelector('form[data-approval]');
  if (!form) return;
  var immediate = form.querySelector('#immediate');
  var date = form.querySelector('#transferDate');
  var reason = form.querySelector('#reason');
  var code = form.querySelector('#reasonCode');
  var declineOnly = form.querySelector('[data-decline-only]');
  var decline = form.querySelector('input[name="decision"][value="decline"]');
  function sync() {
    if (immediate && date) date.disabled = immediate.checked;
    var declining = Boolean(decline && decline.checked);
    if (declineOnly) declineOnly.hidden = !declining;
    if (reason) reason.required = declining && (!code || code.value === '' || code.value === 'OTHER');
  }
  form.addEventListener('change', sync);
  sync();
})();`;

/** A CSP source allowing exactly this inline style or script, by its hash. */
export function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/**
 * A Content-Security-Policy for the pages: nothing is loaded, only this inline style and script
 * run (by hash), and the form may post only back to the page's own origin.
 */
export const PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src ${sha256(PAGE_CSS)}`,
  `script-src ${sha256(PAGE_SCRIPT)}`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const LOGO = html`<svg class="logo" width="28" height="28" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="#ffffff" d="M12 1.5 3.5 4.8v6.1c0 5.3 3.6 10.2 8.5 11.6 4.9-1.4 8.5-6.3 8.5-11.6V4.8z"/><path fill="${COLOURS.brand}" d="m10.6 15.6-3.7-3.7 1.5-1.5 2.2 2.2 5-5 1.5 1.5z"/></svg>`;

/** The one layout of every page: header band, main column of cards, footer. */
export function pageLayout(page: { title: string; main: SafeHtml; script?: boolean }): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>${page.title} · ${PRODUCT_NAME} · ${PROVIDER_NAME}</title>
<style>${trusted(PAGE_CSS)}</style>
</head>
<body>
<a class="skip-link" href="#main">Skip to main content</a>
<header class="masthead"><div class="masthead-inner">${LOGO}<span class="brand">${PROVIDER_NAME}</span><span class="product">${PRODUCT_NAME}</span></div></header>
<main id="main" tabindex="-1">
${page.main}
</main>
<footer class="site-footer"><p>${PROVIDER_NAME} ${PRODUCT_NAME}. A transfer changes only which partner manages and bills a customer; mail flow is never interrupted.</p></footer>
${page.script === true && html`<script>${trusted(PAGE_SCRIPT)}</script>\n`}</body>
</html>
`.toString();
}

/** A titled card of blocks. */
export function card(title: string, blocks: readonly Block[]): SafeHtml {
  return html`<section class="card"><h2>${title}</h2>
${blocksHtml(blocks)}</section>
`;
}
