import { PDFDocument, PageSizes, StandardFonts, rgb, type PDFFont, type PDFPage, type RGB } from 'pdf-lib';
import type { ConsentRecordDocument } from '../domain/consent-record.ts';
import type { Fact } from './blocks.ts';
import { COLOURS, PRODUCT_NAME, PROVIDER_NAME } from './brand.ts';
import { FIRST_BAD_MARK, SHORT_HASH, codePoint, recordContent, type HistoryRow, type RecordContent, type RecordPart } from './record-page.ts';
import { formatInstant } from './wording.ts';

/**
 * The consent record as a PDF: the same content as the page (`recordContent`), on A4 pages with a
 * footer naming the transfer, the page and the fingerprint. Only the standard fonts, whose metrics
 * pdf-lib carries in its code, so nothing is read from disk and nothing ships but the bundle.
 */

// ---------------------------------------------------------------------------------------------
// What the standard fonts can show

// The standard fonts encode WinAnsi (Windows-1252): printable ASCII, Latin-1 and these 27 more.
const WIN_ANSI_EXTRAS = new Set([
  0x152, 0x153, 0x160, 0x161, 0x178, 0x17d, 0x17e, 0x192, 0x2c6, 0x2dc, 0x2013, 0x2014, 0x2018, 0x2019, 0x201a, 0x201c, 0x201d,
  0x201e, 0x2020, 0x2021, 0x2022, 0x2026, 0x2030, 0x2039, 0x203a, 0x20ac, 0x2122,
]);

function encodable(char: string): boolean {
  const point = char.codePointAt(0) ?? 0;
  return (point >= 0x20 && point <= 0x7e) || (point >= 0xa0 && point <= 0xff) || WIN_ANSI_EXTRAS.has(point);
}

/** A line as the standard fonts can draw it: any other character as "[U+XXXX]", so that nothing is lost. */
function drawable(text: string): string {
  let shown = '';
  for (const char of text) shown += encodable(char) ? char : codePoint(char);
  return shown;
}

export const CODE_POINT_NOTE = 'Characters outside Latin-1 are shown as code points ([U+XXXX]); the HTML record shows them as typed.';

function textsOf(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) for (const item of value) textsOf(item, into);
  else if (typeof value === 'object' && value !== null) for (const item of Object.values(value)) textsOf(item, into);
  return into;
}

function needsCodePoints(content: RecordContent): boolean {
  return textsOf(content).some((text) => [...text].some((char) => char !== '\n' && char !== '\t' && !encodable(char)));
}

// ---------------------------------------------------------------------------------------------
// Page geometry and type

const [PAGE_WIDTH, PAGE_HEIGHT] = PageSizes.A4;
const MARGIN_X = 50;
const MARGIN_TOP = 54;
const MARGIN_BOTTOM = 64;
const FOOTER_BASELINE = 34;
const CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X;
const CONTENT_HEIGHT = PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;

const BODY = 10;
const SMALL = 8.5;
const TABLE = 7.5;
const LEADING = 1.35;
const INDENT = 12;
const LABEL_WIDTH = 150;
const LABEL_GAP = 10;

function colour(hex: string): RGB {
  const value = Number.parseInt(hex.slice(1), 16);
  return rgb(((value >> 16) & 0xff) / 255, ((value >> 8) & 0xff) / 255, (value & 0xff) / 255);
}

// Black on white for print; the brand colour only on bars and rules.
const INK = rgb(0, 0, 0);
const MUTED = colour(COLOURS.muted);
const RULE = colour(COLOURS.line);
const BRAND = colour(COLOURS.brand);
const WARN = colour(COLOURS.warnLine);
const HEAD_FILL = colour(COLOURS.page);

interface Fonts {
  regular: PDFFont;
  bold: PDFFont;
  italic: PDFFont;
  mono: PDFFont;
}

interface Style {
  font: PDFFont;
  size: number;
  colour?: RGB;
}

/** A line of a column, in its own font. */
interface Span extends Style {
  text: string;
}

// ---------------------------------------------------------------------------------------------
// Wrapping

/** Lines of at most `width` points; explicit line breaks kept, runs of spaces kept inside a line. */
function wrap(text: string, style: Style, width: number): string[] {
  return text.split('\n').flatMap((paragraph) => wrapLine(drawable(paragraph.replace(/\t/g, '    ')), style, width));
}

// Widths of words already measured, per font and size: a history repeats most of its words.
const widths = new WeakMap<PDFFont, Map<string, number>>();

function widthOf(text: string, { font, size }: Style): number {
  let known = widths.get(font);
  if (!known) {
    known = new Map();
    widths.set(font, known);
  }
  const key = `${size} ${text}`;
  let width = known.get(key);
  if (width === undefined) {
    width = font.widthOfTextAtSize(text, size);
    known.set(key, width);
  }
  return width;
}

/**
 * Greedy wrapping by whole words. A line's width is the sum of its words' widths: the kerning left
 * out at a word's edge only ever narrows the standard fonts' text, so a line never overflows.
 */
function wrapLine(text: string, style: Style, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  let used = 0;
  for (const token of text.split(/( +)/)) {
    if (token === '') continue;
    const tokenWidth = widthOf(token, style);
    if (used + tokenWidth <= width) {
      current += token;
      used += tokenWidth;
      continue;
    }
    // The spaces at a break are dropped, as a browser does.
    if (token.startsWith(' ')) {
      lines.push(current);
      current = '';
      used = 0;
      continue;
    }
    if (current.trim() !== '') lines.push(current.trimEnd());
    current = '';
    used = 0;
    if (tokenWidth <= width) {
      current = token;
      used = tokenWidth;
      continue;
    }
    // A word wider than the line (a hash, a user agent) is cut anywhere.
    for (const char of token) {
      if (current !== '' && style.font.widthOfTextAtSize(current + char, style.size) > width) {
        lines.push(current);
        current = '';
      }
      current += char;
    }
    used = style.font.widthOfTextAtSize(current, style.size);
  }
  lines.push(current.trimEnd());
  return lines;
}

function spans(text: string, style: Style, width: number): Span[] {
  return wrap(text, style, width).map((line) => ({ ...style, text: line }));
}

// ---------------------------------------------------------------------------------------------
// Rows and pages

/** A slice of the page that is drawn whole: a line of text, a table line, some space. */
interface Row {
  height: number;
  draw(page: PDFPage, top: number): void;
}

function baseline(top: number, size: number): number {
  return PAGE_HEIGHT - top - size;
}

function drawSpan(page: PDFPage, span: Span, x: number, top: number): void {
  if (span.text === '') return;
  page.drawText(span.text, { x, y: baseline(top, span.size), size: span.size, font: span.font, color: span.colour ?? INK });
}

function bar(page: PDFPage, top: number, height: number, tint: RGB): void {
  page.drawRectangle({ x: MARGIN_X, y: PAGE_HEIGHT - top - height, width: 3, height, color: tint });
}

function rule(page: PDFPage, top: number, x = MARGIN_X, width = CONTENT_WIDTH): void {
  page.drawLine({ start: { x, y: PAGE_HEIGHT - top }, end: { x: x + width, y: PAGE_HEIGHT - top }, thickness: 0.5, color: RULE });
}

function lineRows(lines: readonly Span[], options: { indent?: number; tint?: RGB } = {}): Row[] {
  const indent = options.indent ?? 0;
  return lines.map((span) => ({
    height: span.size * LEADING,
    draw(page, top) {
      if (options.tint) bar(page, top, span.size * LEADING, options.tint);
      drawSpan(page, span, MARGIN_X + indent, top);
    },
  }));
}

function space(height: number, tint?: RGB): Row {
  return { height, draw: (page, top) => tint && bar(page, top, height, tint) };
}

function total(rows: readonly Row[]): number {
  return rows.reduce((sum, row) => sum + row.height, 0);
}

class Pages {
  readonly pages: PDFPage[] = [];
  /** Drawn again at the top of every new page while a table runs: its header. */
  repeat: Row[] = [];
  private page: PDFPage | null = null;
  private top = 0;

  constructor(private readonly pdf: PDFDocument) {}

  private get room(): number {
    return this.page === null ? 0 : PAGE_HEIGHT - MARGIN_BOTTOM - this.top;
  }

  private newPage(): void {
    this.page = this.pdf.addPage(PageSizes.A4);
    this.pages.push(this.page);
    this.top = MARGIN_TOP;
    for (const row of this.repeat) this.draw(this.page, row);
  }

  private draw(page: PDFPage, row: Row): void {
    row.draw(page, this.top);
    this.top += row.height;
  }

  place(row: Row): void {
    if (this.page === null || row.height > this.room) this.newPage();
    if (this.page !== null) this.draw(this.page, row);
  }

  /** Rows kept on one page when they fit on one, with `after` points more for what must follow them. */
  keep(rows: readonly Row[], after = 0): void {
    const height = total(rows) + after;
    if (this.page === null || (height > this.room && height <= CONTENT_HEIGHT - total(this.repeat))) this.newPage();
    for (const row of rows) this.place(row);
  }

  /** Space that is not carried over to the next page. */
  gap(height: number): void {
    this.top = Math.min(this.top + height, PAGE_HEIGHT - MARGIN_BOTTOM);
  }
}

// ---------------------------------------------------------------------------------------------
// The record's parts as rows

class Renderer {
  constructor(private readonly fonts: Fonts) {}

  text(text: string, style: Partial<Style> = {}, width = CONTENT_WIDTH): Span[] {
    return spans(text, { font: this.fonts.regular, size: BODY, ...style }, width);
  }

  heading(text: string, size: number): Row[] {
    return [space(size * 0.6), ...lineRows(this.text(text, { font: this.fonts.bold, size })), space(size * 0.3)];
  }

  facts(facts: readonly Fact[]): Row[][] {
    const valueWidth = CONTENT_WIDTH - LABEL_WIDTH - LABEL_GAP;
    return facts.map((fact, index) => {
      const labels = this.text(fact.label, { font: this.fonts.bold, size: SMALL + 0.5, colour: MUTED }, LABEL_WIDTH);
      const values =
        typeof fact.value === 'string'
          ? this.text(fact.value, {}, valueWidth)
          : fact.value.flatMap((line) => [
              ...this.text(line.main, {}, valueWidth),
              ...(line.detail ? this.text(line.detail, { size: SMALL, colour: MUTED }, valueWidth) : []),
            ]);
      const rows: Row[] = [{ height: 4, draw: (page, top) => index > 0 && rule(page, top) }];
      for (let at = 0; at < Math.max(labels.length, values.length); at += 1) {
        const label = labels[at];
        const value = values[at];
        const height = Math.max(label ? label.size * LEADING : 0, value ? value.size * LEADING : 0);
        rows.push({
          height,
          draw(page, top) {
            if (label) drawSpan(page, label, MARGIN_X, top);
            if (value) drawSpan(page, value, MARGIN_X + LABEL_WIDTH + LABEL_GAP, top);
          },
        });
      }
      rows.push(space(3));
      return rows;
    });
  }

  /** A text beside a bar: a notice, the signed statement, a monospaced value. */
  barred(label: Span[], body: Span[], tint: RGB): Row[] {
    return [space(4), ...lineRows(label, { indent: INDENT, tint }), ...lineRows(body, { indent: INDENT, tint }), space(4, tint), space(8)];
  }

  part(part: RecordPart): Row[][] {
    const inner = CONTENT_WIDTH - INDENT;
    switch (part.kind) {
      case 'heading':
        return [this.heading(part.text, 12)];
      case 'subheading':
        return [this.heading(part.text, 11)];
      case 'paragraph':
        return [[...lineRows(this.text(part.text)), space(6)]];
      case 'facts':
        return this.facts(part.rows);
      case 'notice':
        return [
          this.barred(
            part.title ? this.text(part.title, { font: this.fonts.bold }, inner) : [],
            this.text(part.text, {}, inner),
            part.tone === 'warning' ? WARN : BRAND,
          ),
        ];
      case 'quote':
        return [[space(6), ...lineRows(this.text(part.label, { font: this.fonts.bold })), ...this.barred([], this.text(part.text, {}, inner), RULE)]];
      case 'code':
        return [[space(4), ...lineRows(this.text(part.label, { font: this.fonts.bold })), ...this.barred([], this.text(part.text, { font: this.fonts.mono }, inner), RULE)]];
      case 'table':
        return [
          lineRows(this.text(part.caption, { font: this.fonts.bold })),
          ...part.rows.map((row) => lineRows(this.text(row.filter((cell) => cell !== '').join(' | ')))),
        ];
      case 'action':
        return [[...lineRows(this.text(`${part.label}: ${part.url}`)), space(6)]];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The history table

const COLUMNS = [36, 92, 74, 82, 149, 62] as const;
const CELL_PAD = 3;

function columnX(index: number): number {
  return MARGIN_X + COLUMNS.slice(0, index).reduce((sum, width) => sum + width, 0);
}

function tableRows(cells: readonly Span[][], fill?: RGB): Row[] {
  const height = TABLE * LEADING;
  const count = Math.max(...cells.map((cell) => cell.length));
  const rows: Row[] = [
    {
      height: CELL_PAD,
      draw(page, top) {
        if (fill) page.drawRectangle({ x: MARGIN_X, y: PAGE_HEIGHT - top - (count * height + 2 * CELL_PAD), width: CONTENT_WIDTH, height: count * height + 2 * CELL_PAD, color: fill });
        rule(page, top);
      },
    },
  ];
  for (let at = 0; at < count; at += 1) {
    rows.push({
      height,
      draw(page, top) {
        cells.forEach((cell, column) => {
          const span = cell[at];
          if (span) drawSpan(page, span, columnX(column) + CELL_PAD, top);
        });
      },
    });
  }
  rows.push(space(CELL_PAD));
  return rows;
}

function historyCells(renderer: Renderer, fonts: Fonts, row: HistoryRow): Span[][] {
  const cell = (text: string, column: number, style: Partial<Style> = {}) => renderer.text(text, { size: TABLE, ...style }, (COLUMNS[column] ?? 0) - 2 * CELL_PAD);
  return [
    [...cell(row.seq, 0), ...(row.firstBad ? cell(FIRST_BAD_MARK, 0, { font: fonts.bold, colour: WARN }) : [])],
    cell(row.at, 1),
    cell(row.event, 2),
    cell(row.actor, 3),
    cell(row.detail, 4),
    row.hash === null ? cell('not chained', 5, { colour: MUTED }) : cell(row.hash.slice(0, SHORT_HASH), 5, { font: fonts.mono }),
  ];
}

// ---------------------------------------------------------------------------------------------
// The document

/** The consent record as an A4 PDF with a footer on every page and the record's metadata. */
export async function recordPdf(doc: ConsentRecordDocument): Promise<Uint8Array> {
  // The standard fonts lack the true minus sign of a UTC offset; a hyphen says the same.
  const content = recordContent(doc, (iso) => formatInstant(iso, doc.timeZone).replace(/\u2212/g, '-'));
  const pdf = await PDFDocument.create();
  const fonts: Fonts = {
    regular: await pdf.embedFont(StandardFonts.Helvetica),
    bold: await pdf.embedFont(StandardFonts.HelveticaBold),
    italic: await pdf.embedFont(StandardFonts.HelveticaOblique),
    mono: await pdf.embedFont(StandardFonts.Courier),
  };
  const title = `${content.title} ${content.transferId}`;
  const produced = new Date(doc.generatedAt);
  pdf.setTitle(title, { showInWindowTitleBar: true });
  pdf.setAuthor(PROVIDER_NAME);
  pdf.setSubject(`Consent record of transfer ${content.transferId}, fingerprint ${content.fingerprint}`);
  pdf.setKeywords([content.transferId, content.fingerprint]);
  pdf.setCreator(`${PROVIDER_NAME} ${PRODUCT_NAME}`);
  pdf.setProducer(`${PROVIDER_NAME} ${PRODUCT_NAME}`);
  pdf.setLanguage('en');
  if (!Number.isNaN(produced.getTime())) {
    pdf.setCreationDate(produced);
    pdf.setModificationDate(produced);
  }

  const renderer = new Renderer(fonts);
  const pages = new Pages(pdf);
  const placeAll = (groups: readonly Row[][]) => groups.forEach((rows) => pages.keep(rows));
  const section = (heading: string, first: Row[][]) => pages.keep(renderer.heading(heading, 14), total(first[0] ?? []));

  pages.keep([
    ...lineRows(renderer.text(`${PROVIDER_NAME} · ${PRODUCT_NAME}`, { font: fonts.bold, colour: BRAND })),
    space(6),
    ...lineRows(renderer.text(title, { font: fonts.bold, size: 18 })),
    space(4),
    ...lineRows(renderer.text(content.intro)),
    space(4),
    ...lineRows(renderer.text(content.produced, { size: SMALL, colour: MUTED })),
    ...(needsCodePoints(content) ? lineRows(renderer.text(CODE_POINT_NOTE, { font: fonts.italic, size: SMALL })) : []),
    space(6),
  ]);

  const transferGroups = content.transfer.parts.flatMap((part) => renderer.part(part));
  section(content.transfer.title, transferGroups);
  placeAll(transferGroups);

  const consentIntro = content.consents.intro ? [[...lineRows(renderer.text(content.consents.intro)), space(6)]] : [];
  const consents = content.consents.items.map((item) => [...renderer.heading(item.title, 12), ...item.parts.flatMap((part) => renderer.part(part)).flat()]);
  section(content.consents.title, consentIntro.length > 0 ? consentIntro : consents);
  placeAll(consentIntro);
  // A consent is kept on one page when it fits on one.
  placeAll(consents);

  const header = tableRows(
    content.history.head.map((text, column) => renderer.text(text, { font: fonts.bold, size: TABLE }, (COLUMNS[column] ?? 0) - 2 * CELL_PAD)),
    HEAD_FILL,
  );
  const rows = content.history.rows.map((row) => tableRows(historyCells(renderer, fonts, row)));
  const intro = [...lineRows(renderer.text(content.history.intro)), space(6)];
  section(content.history.title, [intro]);
  pages.keep([...intro, ...header], total(rows[0] ?? []));
  pages.repeat = header;
  if (rows.length === 0) pages.place(lineRows(renderer.text('No events.', { size: TABLE }))[0] ?? space(0));
  placeAll(rows);
  pages.repeat = [];
  pages.gap(8);

  const integrity = content.integrity.parts.map((part) => renderer.part(part).flat());
  section(content.integrity.title, integrity);
  placeAll(integrity);

  const footer = { font: fonts.regular, size: 8, color: MUTED };
  const fingerprint = `fingerprint ${drawable(content.fingerprint.slice(0, 16))}`;
  const left = drawable(title);
  pages.pages.forEach((page, index) => {
    const middle = `page ${index + 1} of ${pages.pages.length}`;
    rule(page, PAGE_HEIGHT - FOOTER_BASELINE - 12);
    page.drawText(left, { ...footer, x: MARGIN_X, y: FOOTER_BASELINE });
    page.drawText(middle, { ...footer, x: (PAGE_WIDTH - fonts.regular.widthOfTextAtSize(middle, 8)) / 2, y: FOOTER_BASELINE });
    page.drawText(fingerprint, { ...footer, x: PAGE_WIDTH - MARGIN_X - fonts.regular.widthOfTextAtSize(fingerprint, 8), y: FOOTER_BASELINE });
  });

  return pdf.save();
}
