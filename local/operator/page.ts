/**
 * The operator page of the local stack: the provider's look (brand, colours, the block styles of the
 * approval pages), a strict CSP that lets only this page's own inline style and script run (by
 * hash), and no data in the HTML itself: the script fetches it with the operator's token.
 */
import { sha256 } from '../../lambdas/presentation/page-layout.ts';
import { BLOCK_CSS } from '../../lambdas/presentation/blocks.ts';
import { COLOURS, FONT_STACK, PRODUCT_NAME, PROVIDER_NAME } from '../../lambdas/presentation/brand.ts';
import { html, trusted } from '../../lambdas/presentation/html.ts';
import { TRANSFER_STATUSES } from '../../lambdas/domain/transfer.ts';
import { OPERATOR_PAGE_SCRIPT } from './page-script.ts';

const OK = { ink: '#067647', bg: '#ecfdf3' };

const OPERATOR_CSS = `
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: ${COLOURS.page}; color: ${COLOURS.ink}; font-family: ${FONT_STACK}; font-size: 15px; line-height: 1.5; }
a { color: ${COLOURS.brand}; }
[hidden] { display: none !important; }
:focus-visible { outline: 3px solid ${COLOURS.focus}; outline-offset: 2px; box-shadow: 0 0 0 5px ${COLOURS.ink}; }
.skip-link { position: absolute; left: 8px; top: -48px; background: #ffffff; color: ${COLOURS.ink}; padding: 8px 12px; border-radius: 6px; z-index: 1; }
.skip-link:focus { top: 8px; }
.masthead { background: ${COLOURS.brand}; color: #ffffff; }
.masthead-inner { max-width: 1280px; margin: 0 auto; padding: 14px 20px; display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.logo { flex: none; }
.brand { font-size: 20px; font-weight: 700; letter-spacing: 0.02em; }
.product { opacity: 0.9; border-left: 1px solid rgba(255, 255, 255, 0.5); padding-left: 10px; }
.tag { margin-left: auto; font-size: 13px; font-weight: 600; text-transform: uppercase; letter-spacing: 0.06em; background: rgba(255, 255, 255, 0.16); border-radius: 999px; padding: 2px 10px; }
main { display: block; max-width: 1280px; margin: 24px auto; padding: 0 16px; }
main:focus, #detail-title:focus { outline: none; }
h1 { font-size: 24px; line-height: 1.25; margin: 0 0 8px; }
h3 { font-size: 16px; margin: 20px 0 8px; }
.lead { color: ${COLOURS.muted}; margin: 0 0 16px; }
.card { background: ${COLOURS.card}; border: 1px solid ${COLOURS.line}; border-radius: 10px; padding: 20px 24px; margin: 0 0 16px; box-shadow: 0 1px 2px rgba(16, 24, 40, 0.06); }
.card > h2:first-child { margin-top: 0; }
.narrow { max-width: 720px; }
label { font-weight: 600; }
.field { margin: 0 0 20px; }
.hint { color: ${COLOURS.muted}; margin: 4px 0 8px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; background: ${COLOURS.page}; border-radius: 4px; padding: 1px 4px; }
input[type="password"], select { font: inherit; color: inherit; background: #ffffff; padding: 8px 10px; border: 1px solid #7b8594; border-radius: 6px; }
input[type="password"] { display: block; width: 100%; max-width: 40rem; }
.error-summary { border: 3px solid ${COLOURS.error}; background: ${COLOURS.errorBg}; border-radius: 10px; padding: 12px 20px; margin: 0 0 16px; }
.error-summary h2 { margin: 0 0 4px; color: ${COLOURS.error}; font-size: 17px; }
.error-summary p { margin: 0; }
.button.secondary { background: #ffffff; color: ${COLOURS.brand}; border: 1px solid ${COLOURS.brand}; padding: 8px 14px; }
.button.secondary:hover { background: ${COLOURS.infoBg}; }
.toolbar { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; margin: 0 0 16px; }
.toolbar .live { margin: 0 auto 0 8px; color: ${COLOURS.muted}; display: flex; align-items: center; gap: 6px; }
.live::before { content: ""; width: 9px; height: 9px; border-radius: 50%; background: ${OK.ink}; display: inline-block; }
.live.live-problem::before { background: ${COLOURS.error}; }
.scroll { overflow-x: auto; }
${BLOCK_CSS}
.data { margin: 0; font-size: 14px; }
.data td, .data th { padding: 6px 8px; }
.data tbody tr.selected td { background: ${COLOURS.infoBg}; }
.data tbody tr.selected td:first-child { box-shadow: inset 4px 0 0 ${COLOURS.brand}; }
.link-button { font: inherit; font-weight: 600; color: ${COLOURS.brand}; background: none; border: 0; padding: 0; cursor: pointer; text-decoration: underline; text-underline-offset: 2px; white-space: nowrap; }
.nowrap { white-space: nowrap; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.muted { color: ${COLOURS.muted}; }
.state-cell .badge { margin-right: 6px; }
.state-name { font-weight: 600; }
.since { display: block; }
.badge { display: inline-block; font-size: 12px; font-weight: 700; letter-spacing: 0.03em; border-radius: 999px; padding: 1px 8px; white-space: nowrap; background: ${COLOURS.page}; color: ${COLOURS.muted}; border: 1px solid ${COLOURS.line}; }
.status-awaiting_release, .status-awaiting_acceptance, .status-running { background: ${COLOURS.infoBg}; color: ${COLOURS.brand}; border-color: #b7d1ea; }
.status-scheduled, .status-in_progress { background: ${COLOURS.highlight}; color: #7a5a00; border-color: #ecd67a; }
.status-completed, .status-succeeded { background: ${OK.bg}; color: ${OK.ink}; border-color: #abefc6; }
.status-failed, .status-declined, .status-expired, .status-timed_out, .status-unreachable { background: ${COLOURS.errorBg}; color: ${COLOURS.error}; border-color: #fecdca; }
.facts { font-size: 15px; }
.facts th { width: 20%; }
.timeline td { vertical-align: top; }
.timeline tr.tone-ok td:first-child { box-shadow: inset 4px 0 0 ${OK.ink}; }
.timeline tr.tone-warn td:first-child { box-shadow: inset 4px 0 0 ${COLOURS.warnLine}; }
.timeline tr.tone-error td:first-child { box-shadow: inset 4px 0 0 ${COLOURS.error}; }
.timeline tr.tone-error td { background: ${COLOURS.errorBg}; }
.timeline tr.tone-warn td { background: ${COLOURS.warnBg}; }
.timeline tr.source-transfer .event { color: ${COLOURS.brand}; }
.event { font-weight: 600; white-space: nowrap; }
.data th { white-space: nowrap; }
.timeline .state { min-width: 11rem; }
.source { white-space: nowrap; color: ${COLOURS.muted}; font-size: 13px; }
.detail-cell { overflow-wrap: anywhere; min-width: 16rem; }
details { margin-top: 4px; }
summary { cursor: pointer; color: ${COLOURS.brand}; font-size: 13px; }
pre { margin: 6px 0 0; padding: 8px; background: ${COLOURS.page}; border-radius: 6px; font-size: 12px; max-height: 20rem; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.deliveries tr.event-head th { background: ${COLOURS.card}; border-left: 0; border-right: 0; padding: 16px 8px 8px; font-weight: 400; white-space: normal; }
.deliveries tbody:first-of-type tr.event-head th { padding-top: 8px; }
.event-head .event { margin-right: 10px; }
.event-head .mono { margin-right: 10px; overflow-wrap: anywhere; }
.event-head .when { color: ${COLOURS.muted}; margin-right: 10px; white-space: nowrap; }
.published::before { content: "\\2713\\00a0"; }
.not-published { color: ${COLOURS.warnLine}; font-weight: 600; }
.target { overflow-wrap: anywhere; min-width: 10rem; }
.last-try { overflow-wrap: anywhere; min-width: 10rem; }
.deliveries td.webhook { white-space: nowrap; overflow-wrap: normal; }
.status-delivered { background: ${OK.bg}; color: ${OK.ink}; border-color: #abefc6; }
.status-pending { background: ${COLOURS.infoBg}; color: ${COLOURS.brand}; border-color: #b7d1ea; }
.site-footer { max-width: 1280px; margin: 0 auto 32px; padding: 0 20px; color: ${COLOURS.muted}; font-size: 13px; }
@media (max-width: 640px) {
  main { margin-top: 16px; padding: 0 8px; }
  .card { padding: 16px; }
  .tag { margin-left: 0; }
  .facts th, .facts td { display: block; width: auto; padding: 4px 0; }
  .facts tr + tr td { border-top: 0; }
  .stack thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  .stack, .stack tbody, .stack tr, .stack td { display: block; width: auto; }
  .stack tr { border: 1px solid ${COLOURS.line}; border-radius: 8px; margin: 0 0 10px; padding: 6px 10px; }
  .stack td { border: 0; padding: 2px 0; white-space: normal; min-width: 0; }
  .stack td:empty { display: none; }
  .stack td[data-label]::before { content: attr(data-label) ": "; font-weight: 600; color: ${COLOURS.muted}; }
  .data tbody tr.selected td:first-child, .timeline tr td:first-child { box-shadow: none; }
  .data tbody tr.selected { box-shadow: inset 4px 0 0 ${COLOURS.brand}; }
  .timeline tr.tone-ok { box-shadow: inset 4px 0 0 ${OK.ink}; }
  .timeline tr.tone-warn { box-shadow: inset 4px 0 0 ${COLOURS.warnLine}; background: ${COLOURS.warnBg}; }
  .timeline tr.tone-error { box-shadow: inset 4px 0 0 ${COLOURS.error}; background: ${COLOURS.errorBg}; }
  .deliveries tr.event-head { border: 0; padding: 0; margin: 16px 0 8px; }
  .deliveries tr.event-head th { display: block; padding: 0; border: 0; }
  .event-head .event, .event-head .mono, .event-head .when { display: block; margin: 0; white-space: normal; }
  .deliveries td.webhook { white-space: normal; overflow-wrap: anywhere; }
  .deliveries td[data-label]::before { font-family: ${FONT_STACK}; font-size: 14px; }
}
`;

/**
 * Nothing is loaded from anywhere; only this page's style and script run (by hash); the script may
 * fetch only from this origin; the token form can never be submitted (the script handles it), so a
 * pasted token cannot end up in a URL or a request body.
 */
export const OPERATOR_PAGE_CSP = [
  "default-src 'none'",
  `style-src ${sha256(OPERATOR_CSS)}`,
  `script-src ${sha256(OPERATOR_PAGE_SCRIPT)}`,
  "connect-src 'self'",
  // The page's icon is inline (an empty data: URL), so the browser asks for no /favicon.ico.
  "img-src data:",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export const OPERATOR_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': OPERATOR_PAGE_CSP,
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

const LOGO = html`<svg class="logo" width="28" height="28" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="#ffffff" d="M12 1.5 3.5 4.8v6.1c0 5.3 3.6 10.2 8.5 11.6 4.9-1.4 8.5-6.3 8.5-11.6V4.8z"/><path fill="${COLOURS.brand}" d="m10.6 15.6-3.7-3.7 1.5-1.5 2.2 2.2 5-5 1.5 1.5z"/></svg>`;

export function operatorPage(): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<link rel="icon" href="data:,">
<title>Operator view · ${PRODUCT_NAME} · ${PROVIDER_NAME}</title>
<style>${trusted(OPERATOR_CSS)}</style>
</head>
<body>
<a class="skip-link" href="#main">Skip to main content</a>
<header class="masthead"><div class="masthead-inner">${LOGO}<span class="brand">${PROVIDER_NAME}</span><span class="product">${PRODUCT_NAME}</span><span class="tag">Operator view · local</span></div></header>
<main id="main" tabindex="-1">
<h1>Transfers and their executions</h1>
<p class="lead">Every transfer with the state its Step Functions execution is in, and for one transfer the execution's timeline with the transfer's own history. Refreshed every 2 seconds.</p>
<section class="card narrow" id="signin" aria-labelledby="signin-title">
<h2 id="signin-title">Operator token</h2>
<div class="error-summary" id="signin-error" role="alert" tabindex="-1" hidden></div>
<form id="token-form" method="post" autocomplete="off">
<div class="field">
<label for="token">Paste an operator token</label>
<p class="hint" id="token-hint">Print one with <code>npm run --silent token -- --operator</code>. It stays in this browser tab (session storage) and is sent only in the Authorization header.</p>
<input type="password" id="token" name="token" aria-describedby="token-hint" autocomplete="off" spellcheck="false" required>
</div>
<button class="button" type="submit">Show transfers</button>
</form>
</section>
<div id="console" hidden>
<div class="toolbar">
<label for="status-filter">Status</label>
<select id="status-filter"><option value="">All statuses</option>${TRANSFER_STATUSES.map((status) => html`<option value="${status}">${status.replace(/_/g, ' ')}</option>`)}</select>
<p class="live" id="live"><span id="live-text">Loading…</span></p>
<button type="button" class="button secondary" id="sign-out">Forget token</button>
</div>
<div class="notice notice-warning" id="problem" role="status" hidden></div>
<section class="card" aria-labelledby="list-title">
<h2 id="list-title">Transfers</h2>
<div class="scroll"><table class="data stack" id="transfers"><thead><tr><th scope="col">Transfer</th><th scope="col">Status</th><th scope="col">Current state</th><th scope="col">From → to</th><th scope="col">Date</th><th scope="col">Updated</th></tr></thead><tbody id="transfer-rows"></tbody></table></div>
<p class="hint" id="list-empty" hidden>No transfers yet.</p>
<p class="hint" id="list-more" hidden>Showing the newest 100 transfers; filter by status to see others.</p>
</section>
<section class="card" id="detail" aria-labelledby="detail-title" aria-live="off" hidden>
<h2 id="detail-title" tabindex="-1">Transfer</h2>
<table class="facts" id="detail-facts"></table>
<h3>Timeline</h3>
<div class="scroll"><table class="data stack timeline" id="timeline"><thead><tr><th scope="col">Time</th><th scope="col">Source</th><th scope="col">Event</th><th scope="col">State</th><th scope="col">Detail</th><th scope="col">Duration</th></tr></thead><tbody id="timeline-rows"></tbody></table></div>
<h3 id="events-title">Events and deliveries</h3>
<p class="hint">Each event the transfer emitted, whether it is published to the event bus yet, and under it every delivery to a webhook. A webhook's URL shows its host and path only.</p>
<p class="hint" id="events-empty" hidden>No events yet.</p>
<div class="scroll" id="events-wrap"><table class="data stack deliveries" id="events" aria-labelledby="events-title"><thead><tr><th scope="col">Webhook</th><th scope="col">URL</th><th scope="col">Status</th><th scope="col">Tries</th><th scope="col">Last try</th><th scope="col">Next try</th><th scope="col">Delivered / failed at</th></tr></thead></table></div>
</section>
</div>
</main>
<footer class="site-footer"><p>${PROVIDER_NAME} ${PRODUCT_NAME} · local stack only: this page is not part of the deployed API.</p></footer>
<script>${trusted(OPERATOR_PAGE_SCRIPT)}</script>
</body>
</html>
`.toString();
}
