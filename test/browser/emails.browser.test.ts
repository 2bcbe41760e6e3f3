/**
 * Every email in a real Chromium, on a desktop and on a phone, twice: as sent, and as a webmail
 * client that drops <style> shows it (every style element removed, the class attributes left in
 * place, where they no longer mean anything). Both must hold the same promises: the call to action
 * is a visible, padded, coloured button with readable text; warnings stand apart; the facts
 * (customers, partners, dates) and every other line are visible and readable (13px or more, text
 * contrast 4.5:1 or more against the background it is drawn on, from the computed styles); nothing
 * sticks out sideways. Full-page screenshots land in test-artifacts/screenshots/<viewport>-email-*.png.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it, type TestContext } from 'vitest';
import { everyEmail } from '../unit/presentation/email-cases.ts';
import { LINK, sampleTransfer } from '../unit/presentation/fixtures.ts';
import { launchChromium, screenshot, VIEWPORTS, type Viewport } from './harness.ts';

let browser: Browser;
/** Why Chromium could not start: every case then fails with this one line (rather than being skipped). */
let noBrowser: Error | undefined;

beforeAll(async () => {
  try {
    browser = await launchChromium();
  } catch (error) {
    noBrowser = error instanceof Error ? error : new Error(String(error));
  }
});

beforeEach(() => {
  if (noBrowser) throw noBrowser;
});

afterAll(async () => {
  await browser?.close();
});

// ---------------------------------------------------------------------------------------------
// In-page probe (the project compiles without the DOM library: the few globals it uses are typed here)

interface ProbeRect {
  left: number;
  right: number;
  width: number;
  height: number;
}

interface ProbeStyle {
  backgroundColor: string;
  color: string;
  fontSize: string;
  borderLeftWidth: string;
  borderLeftColor: string;
  borderLeftStyle: string;
}

interface ProbeNode {
  nodeType: number;
  textContent: string | null;
}

interface ProbeElement extends ProbeNode {
  tagName: string;
  parentElement: ProbeElement | null;
  childNodes: Iterable<ProbeNode>;
  children: { length: number };
  getAttribute(name: string): string | null;
  getBoundingClientRect(): ProbeRect;
  checkVisibility(options: { visibilityProperty: boolean; opacityProperty: boolean }): boolean;
  querySelectorAll(selector: string): Iterable<ProbeElement>;
  remove(): void;
}

interface ProbeWindow {
  innerWidth: number;
  getComputedStyle(element: ProbeElement): ProbeStyle;
  document: {
    body: ProbeElement;
    documentElement: { scrollWidth: number };
    styleSheets: { length: number };
    querySelectorAll(selector: string): Iterable<ProbeElement>;
    createRange(): { selectNodeContents(node: ProbeElement): void; getBoundingClientRect(): ProbeRect };
  };
}

interface Report {
  /** Every promise broken, said in a line each. */
  problems: string[];
  styleElements: number;
  styleSheets: number;
  /** Elements still carrying a class attribute (kept, though meaningless without the sheet). */
  classed: number;
  /** The facts tables' text. */
  facts: string;
  button: { text: string; href: string; box: { width: number; height: number }; textBox: { width: number; height: number } } | null;
  notices: number;
  warnings: number;
  /** Text elements checked for size and contrast. */
  checked: number;
}

/** Runs in the page: measures the email as the reader sees it and lists what falls short. */
function probe(options: { link: string | null; strip: boolean }): Report {
  const w = globalThis as unknown as ProbeWindow;
  const d = w.document;
  if (options.strip) for (const style of [...d.querySelectorAll('style')]) style.remove();

  const MIN_FONT_PX = 13;
  const MIN_TEXT_CONTRAST = 4.5;
  /** WCAG's non-text contrast: what a control's or a block's edge needs against its surroundings. */
  const MIN_EDGE_CONTRAST = 3;
  const problems: string[] = [];
  type Rgba = [number, number, number, number];

  const parse = (value: string): Rgba => {
    const match = /rgba?\(([^)]*)\)/.exec(value);
    if (!match) return [0, 0, 0, 0];
    const parts = (match[1] ?? '').split(/[\s,/]+/).filter((part) => part !== '').map(Number);
    return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0, parts[3] ?? 1];
  };
  const over = (top: Rgba, below: Rgba): Rgba => {
    const a = top[3];
    return [top[0] * a + below[0] * (1 - a), top[1] * a + below[1] * (1 - a), top[2] * a + below[2] * (1 - a), 1];
  };
  /** The colour an element's text is drawn on: its own and its ancestors' backgrounds over the white canvas. */
  const backgroundOf = (element: ProbeElement | null): Rgba => {
    const layers: Rgba[] = [];
    for (let e = element; e; e = e.parentElement) {
      const colour = parse(w.getComputedStyle(e).backgroundColor);
      if (colour[3] > 0) layers.push(colour);
      if (colour[3] >= 1) break;
    }
    return layers.reduceRight<Rgba>((below, layer) => over(layer, below), [255, 255, 255, 1]);
  };
  const luminance = (colour: Rgba): number => {
    const channel = (value: number) => {
      const v = value / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(colour[0]) + 0.7152 * channel(colour[1]) + 0.0722 * channel(colour[2]);
  };
  const contrast = (a: Rgba, b: Rgba): number => {
    const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return ((light ?? 0) + 0.05) / ((dark ?? 0) + 0.05);
  };
  const name = (element: ProbeElement): string => {
    const text = (element.textContent ?? '').replace(/\s+/g, ' ').trim().slice(0, 50);
    return `<${element.tagName.toLowerCase()}> "${text}"`;
  };
  const visible = (element: ProbeElement): boolean => {
    const rect = element.getBoundingClientRect();
    return element.checkVisibility({ visibilityProperty: true, opacityProperty: true }) && rect.width > 0 && rect.height > 0;
  };
  const inView = (element: ProbeElement): boolean => {
    const rect = element.getBoundingClientRect();
    return rect.left >= -0.5 && rect.right <= w.innerWidth + 0.5;
  };
  const ownText = (element: ProbeElement): string =>
    [...element.childNodes]
      .filter((node) => node.nodeType === 3)
      .map((node) => node.textContent ?? '')
      .join('')
      .trim();

  // Every line of text the reader sees: size, contrast, inside the screen.
  let checked = 0;
  for (const element of [...d.body.querySelectorAll('*')]) {
    if (ownText(element) === '' || !visible(element)) continue;
    checked += 1;
    const style = w.getComputedStyle(element);
    const size = Number.parseFloat(style.fontSize);
    if (size < MIN_FONT_PX) problems.push(`${name(element)}: font size ${size}px, under ${MIN_FONT_PX}px`);
    const background = backgroundOf(element);
    const ratio = contrast(over(parse(style.color), background), background);
    if (ratio < MIN_TEXT_CONTRAST) problems.push(`${name(element)}: text contrast ${ratio.toFixed(2)}:1 (${style.color} on rgb(${background.slice(0, 3).join(', ')}))`);
    if (!inView(element)) problems.push(`${name(element)}: outside the screen sideways`);
  }
  if (d.documentElement.scrollWidth > w.innerWidth) problems.push(`scrolls sideways: ${d.documentElement.scrollWidth}px wide in ${w.innerWidth}px`);

  // The call to action: the one link, a button of its own colour (on itself, or on a cell holding it alone).
  const links = [...d.body.querySelectorAll('a[href]')];
  let button: Report['button'] = null;
  if (options.link === null) {
    if (links.length > 0) problems.push(`${links.length} links in an email without a call to action`);
  } else if (links.length !== 1) {
    problems.push(`${links.length} links where the one button should be`);
  } else {
    const link = links[0] as ProbeElement;
    // The button's box: the outermost coloured element among the link and the elements holding it alone (a table cell…).
    let box: ProbeElement | null = null;
    for (let e: ProbeElement | null = link; e; e = e.parentElement) {
      if (e !== link && (e.children.length !== 1 || ownText(e) !== '')) break;
      if (parse(w.getComputedStyle(e).backgroundColor)[3] > 0) box = e;
    }
    const range = d.createRange();
    range.selectNodeContents(link);
    const textRect = range.getBoundingClientRect();
    if (link.getAttribute('href') !== options.link) problems.push(`the button links to ${link.getAttribute('href') ?? 'nothing'}`);
    if (!visible(link) || !inView(link)) problems.push('the button is not visible on the screen');
    if (!box) {
      problems.push(`the button has no background colour of its own: ${name(link)}`);
    } else {
      const fill = backgroundOf(box);
      const around = backgroundOf(box.parentElement);
      const edge = contrast(fill, around);
      if (edge < MIN_EDGE_CONTRAST) problems.push(`the button hardly stands out from the page: ${edge.toFixed(2)}:1`);
      const rect = box.getBoundingClientRect();
      if (rect.width - textRect.width < 16 || rect.height - textRect.height < 12) {
        problems.push(`the button has no padding: box ${rect.width}×${rect.height}, text ${textRect.width}×${textRect.height}`);
      }
      button = {
        text: (link.textContent ?? '').trim(),
        href: link.getAttribute('href') ?? '',
        box: { width: rect.width, height: rect.height },
        textBox: { width: textRect.width, height: textRect.height },
      };
    }
  }

  // Notices and warnings stand apart from the text around them: a coloured edge or background.
  const notices = [...d.body.querySelectorAll('.notice')];
  for (const notice of notices) {
    if (!visible(notice)) {
      problems.push(`${name(notice)}: not visible`);
      continue;
    }
    const style = w.getComputedStyle(notice);
    const around = backgroundOf(notice.parentElement);
    const edge = style.borderLeftStyle !== 'none' && Number.parseFloat(style.borderLeftWidth) >= 3 ? contrast(parse(style.borderLeftColor), around) : 1;
    const fill = contrast(backgroundOf(notice), around);
    if (edge < MIN_EDGE_CONTRAST && fill < MIN_EDGE_CONTRAST) problems.push(`${name(notice)}: does not stand apart (edge ${edge.toFixed(2)}:1, fill ${fill.toFixed(2)}:1)`);
  }

  // The facts: every row visible.
  const facts = [...d.body.querySelectorAll('table.facts')];
  if (facts.length === 0) problems.push('no facts table');
  for (const cell of facts.flatMap((table) => [...table.querySelectorAll('th, td')])) {
    if (!visible(cell) || !inView(cell)) problems.push(`${name(cell)}: fact not visible on the screen`);
  }

  return {
    problems,
    styleElements: [...d.querySelectorAll('style')].length,
    styleSheets: d.styleSheets.length,
    classed: [...d.body.querySelectorAll('[class]')].length,
    facts: facts.map((table) => table.textContent ?? '').join('\n'),
    button,
    notices: notices.length,
    warnings: [...d.body.querySelectorAll('.notice-warning')].length,
    checked,
  };
}

async function show(viewport: Viewport, onTestFinished: TestContext['onTestFinished'], html: string): Promise<Page> {
  const context = await browser.newContext(viewport.context);
  onTestFinished(() => context.close());
  const page = await context.newPage();
  // An email loads nothing; were it to try, the request goes nowhere.
  await page.route('**/*', (route) => route.abort());
  await page.setContent(html, { waitUntil: 'load' });
  return page;
}

function slug(name: string): string {
  return name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
}

const EMAILS = everyEmail(sampleTransfer());
const CASE = { timeout: 30_000 };

for (const viewport of VIEWPORTS) {
  describe(`emails on a ${viewport.name}`, () => {
    describe.each(EMAILS)('%s', (emailName, email) => {
      const link = email.text.includes(LINK) ? LINK : null;

      it.for([
        ['as sent', false],
        ['with its <style> removed', true],
      ] as const)('%s: button, warnings and facts visible and readable', CASE, async ([variant, strip], { onTestFinished }) => {
        const page = await show(viewport, onTestFinished, email.html);
        const report = await page.evaluate(probe, { link, strip });
        await screenshot(page, viewport, `email-${slug(emailName)}-${strip ? 'no-style' : 'as-sent'}`);

        expect(report.problems, `${emailName}, ${variant}`).toEqual([]);
        expect(report.checked).toBeGreaterThan(10);
        if (strip) {
          expect(report.styleElements).toBe(0);
          expect(report.styleSheets).toBe(0);
          expect(report.classed).toBeGreaterThan(10);
        } else {
          expect(report.styleSheets).toBe(1);
        }
        for (const fact of ['Acme Widgets Ltd (cust-acme)', 'Northwind IT (partner-north)', 'Southgate Networks (partner-south)', 'Transfer date']) {
          expect(report.facts).toContain(fact);
        }
        if (link) expect(report.button).toMatchObject({ href: LINK, text: expect.stringMatching(/^Review and (release|accept) or decline$/) });
        if (email.html.includes('class="notice notice-warning"')) expect(report.warnings).toBeGreaterThan(0);
      });
    });
  });
}

describe('the probe itself', () => {
  const [name, email] = EMAILS.find(([emailName]) => emailName.includes('date off the invoice dates')) ?? [];

  /** The email as it was before its styles were inlined: class attributes only (the inbox preview keeps its own). */
  function classOnly(html: string): string {
    return html.replace(/ style="(?!display:none)[^"]*"/g, '').replace(/ bgcolor="[^"]*"/g, '');
  }

  it('finds what a class-only email loses without its <style>: the button, the warning', CASE, async ({ onTestFinished }) => {
    expect(name).toBeDefined();
    const viewport = VIEWPORTS[0] as Viewport;
    const page = await show(viewport, onTestFinished, classOnly(email?.html ?? ''));
    const report = await page.evaluate(probe, { link: LINK, strip: true });
    await screenshot(page, viewport, 'email-class-only-no-style');

    expect(report.problems).toContain('the button has no background colour of its own: <a> "Review and accept or decline"');
    expect(report.problems.some((problem) => problem.startsWith('<div> "The chosen date is not an invoice date') && problem.includes('does not stand apart'))).toBe(true);
  });
});
