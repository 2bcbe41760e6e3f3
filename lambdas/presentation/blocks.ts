import { COLOURS } from './brand.ts';
import { html, type SafeHtml } from './html.ts';

/**
 * The content of emails and pages as a few kinds of block, each rendered once as HTML and once
 * as plain text, so that an email's two parts always say the same thing.
 */
export interface FactLine {
  main: string;
  detail?: string;
}

export interface Fact {
  label: string;
  value: string | readonly FactLine[];
}

export type Block =
  | { kind: 'heading'; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'facts'; rows: readonly Fact[] }
  | { kind: 'table'; caption: string; head: readonly string[]; rows: readonly (readonly string[])[] }
  | { kind: 'notice'; tone: 'info' | 'warning'; title?: string; text: string }
  | { kind: 'quote'; label: string; text: string }
  | { kind: 'action'; label: string; url: string };

export function heading(text: string): Block {
  return { kind: 'heading', text };
}

export function paragraph(text: string): Block {
  return { kind: 'paragraph', text };
}

/** A button in HTML, the bare address in text. Only web addresses: anything else in an href could run script. */
export function action(label: string, url: string): Block {
  if (!/^https?:\/\//i.test(url)) throw new RangeError('An action link must be an http(s) URL.');
  return { kind: 'action', label, url };
}

function factValueHtml(value: Fact['value']): SafeHtml {
  if (typeof value === 'string') return html`${value}`;
  return html`<ul class="lines">${value.map(
    (line) => html`<li>${line.main}${line.detail && html`<span class="detail">${line.detail}</span>`}</li>`,
  )}</ul>`;
}

function factsHtml(rows: readonly Fact[]): SafeHtml {
  return html`<table class="facts">${rows.map(
    (row) => html`<tr><th scope="row">${row.label}</th><td>${factValueHtml(row.value)}</td></tr>`,
  )}</table>`;
}

function blockHtml(block: Block): SafeHtml {
  switch (block.kind) {
    case 'heading':
      return html`<h2>${block.text}</h2>`;
    case 'paragraph':
      return html`<p>${block.text}</p>`;
    case 'facts':
      return factsHtml(block.rows);
    case 'table':
      return html`<table class="data"><caption>${block.caption}</caption><thead><tr>${block.head.map(
        (cell) => html`<th scope="col">${cell}</th>`,
      )}</tr></thead><tbody>${block.rows.map((row) => html`<tr>${row.map((cell) => html`<td>${cell}</td>`)}</tr>`)}</tbody></table>`;
    case 'notice':
      return html`<div class="notice notice-${block.tone}">${block.title && html`<p class="notice-title">${block.title}</p>`}<p>${block.text}</p></div>`;
    case 'quote':
      return html`<div class="quote"><p class="quote-label">${block.label}</p><blockquote>${block.text}</blockquote></div>`;
    case 'action':
      // A "bulletproof" button: the cell carries the colour (and, for Outlook's Word engine, which
      // ignores padding on links, the padding); the one link fills it everywhere else.
      return html`<table role="presentation" class="action" cellpadding="0" cellspacing="0" border="0"><tr><td class="button-cell" align="center"><a class="button" href="${block.url}">${block.label}</a></td></tr></table>
<p class="fineprint">If the button does not work, copy this address into your browser:<br><span class="url">${block.url}</span></p>`;
  }
}

export function blocksHtml(blocks: readonly Block[]): SafeHtml {
  return html`${blocks.map((block) => html`${blockHtml(block)}\n`)}`;
}

function factText(fact: Fact): string {
  if (typeof fact.value === 'string') return `${fact.label}: ${fact.value}`;
  const lines = fact.value.map((line) => `  - ${line.main}${line.detail ? `: ${line.detail}` : ''}`);
  return [`${fact.label}:`, ...lines].join('\n');
}

function blockText(block: Block): string {
  switch (block.kind) {
    case 'heading':
      return `${block.text}\n${'-'.repeat(block.text.length)}`;
    case 'paragraph':
      return block.text;
    case 'facts':
      return block.rows.map(factText).join('\n');
    case 'table':
      return [
        `${block.caption} (${block.head.join(' | ')}):`,
        ...block.rows.map((row) => `  - ${row.filter((cell) => cell !== '').join(' | ')}`),
      ].join('\n');
    case 'notice': {
      const lines = [block.title, block.text].filter((line) => line !== undefined && line !== '');
      return block.tone === 'warning' ? `WARNING: ${lines.join('\n')}` : lines.join('\n');
    }
    case 'quote':
      return [`${block.label}:`, ...block.text.split('\n').map((line) => `> ${line}`)].join('\n');
    case 'action':
      return `${block.label}:\n${block.url}`;
  }
}

export function blocksText(blocks: readonly Block[]): string {
  return blocks.map(blockText).join('\n\n');
}

/** Styles of the block classes, shared by the page and email style sheets. */
export const BLOCK_CSS = `
h2 { font-size: 18px; line-height: 1.3; margin: 24px 0 12px; }
p { margin: 0 0 12px; }
.facts { width: 100%; border-collapse: collapse; margin: 0 0 16px; }
.facts th { text-align: left; font-weight: 600; color: ${COLOURS.muted}; vertical-align: top; padding: 8px 16px 8px 0; width: 34%; }
.facts td { vertical-align: top; padding: 8px 0; overflow-wrap: anywhere; }
.facts tr + tr th, .facts tr + tr td { border-top: 1px solid ${COLOURS.line}; }
.lines { list-style: none; margin: 0; padding: 0; }
.lines li + li { margin-top: 6px; }
.detail { display: block; color: ${COLOURS.muted}; font-size: 14px; }
.data { width: 100%; border-collapse: collapse; margin: 0 0 16px; }
.data caption { text-align: left; font-weight: 600; padding: 0 0 8px; }
.data th, .data td { text-align: left; vertical-align: top; padding: 8px; border: 1px solid ${COLOURS.line}; overflow-wrap: anywhere; }
.data th { background: ${COLOURS.page}; }
.notice { border-left: 4px solid ${COLOURS.brand}; background: ${COLOURS.infoBg}; border-radius: 6px; padding: 12px 16px; margin: 0 0 16px; }
.notice p { margin: 0; }
.notice .notice-title { font-weight: 700; margin: 0 0 4px; }
.notice-warning { border-left-color: ${COLOURS.warnLine}; background: ${COLOURS.warnBg}; }
.notice-warning .notice-title { color: ${COLOURS.warnLine}; }
.quote { margin: 0 0 16px; }
.quote .quote-label { font-weight: 600; margin: 0 0 4px; }
blockquote { margin: 0; padding: 12px 16px; border-left: 4px solid ${COLOURS.line}; background: ${COLOURS.page}; border-radius: 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
.action { margin: 24px 0 8px; }
.button { display: inline-block; background: ${COLOURS.brand}; color: #ffffff; border: 0; border-radius: 6px; padding: 12px 22px; font: inherit; font-weight: 600; text-decoration: none; cursor: pointer; }
.button:hover { background: ${COLOURS.brandDark}; }
.fineprint { color: ${COLOURS.muted}; font-size: 14px; }
.url { overflow-wrap: anywhere; word-break: break-all; }
`;
