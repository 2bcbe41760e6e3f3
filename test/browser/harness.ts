/**
 * A real Chromium for the browser tests: Debian's package, never a downloaded one, launched with
 * a fresh temporary profile and without any of its background traffic (the network here is closed).
 * The functions passed to `page.evaluate` run in the page; the project compiles without the DOM
 * library, so they type the few browser globals they use through the small interfaces below.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContextOptions, type Locator, type Page, type Request } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: install Debian's "chromium" package (sudo apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH.`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

export interface Viewport {
  name: 'desktop' | 'phone';
  phone: boolean;
  context: BrowserContextOptions;
}

const COMMON: BrowserContextOptions = { locale: 'en-US', timezoneId: 'UTC', colorScheme: 'light', reducedMotion: 'reduce' };

export const VIEWPORTS: readonly Viewport[] = [
  { name: 'desktop', phone: false, context: { ...COMMON, viewport: { width: 1280, height: 900 } } },
  {
    name: 'phone',
    phone: true,
    context: { ...COMMON, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
  },
];

export const SCREENSHOT_DIR = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));

/** A full-page screenshot into test-artifacts/screenshots/, named after the viewport, the case and the state. */
export async function screenshot(page: Page, viewport: Viewport, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = `${SCREENSHOT_DIR}${viewport.name}-${name}.png`;
  await page.screenshot({ path, fullPage: true, animations: 'disabled' });
  return path;
}

/** A tap on the phone, a click on the desktop. */
export async function press(viewport: Viewport, target: Locator): Promise<void> {
  if (viewport.phone) await target.tap();
  else await target.click();
}

/** Chromium logs every 4xx document as an error; a 400 is the expected answer to an incomplete form. */
const EXPECTED_ERROR = /^Failed to load resource: the server responded with a status of 400 /;

/** Console errors and uncaught exceptions of a page, such as a blocked inline script (CSP). */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !EXPECTED_ERROR.test(message.text())) errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}

/** Runs `act` (a click, a key press) and waits until the page it posts has loaded; returns its status. */
export async function submitted(page: Page, act: () => Promise<void>): Promise<number> {
  const response = page.waitForResponse((r) => r.request().method() === 'POST' && r.request().resourceType() === 'document', { timeout: 15_000 });
  const navigated = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame(), timeout: 15_000 });
  await act();
  const [answer] = await Promise.all([response, navigated]);
  await page.waitForLoadState('load');
  return answer.status();
}

export interface BrowserValidation {
  /** The form was posted after all. */
  posted: boolean;
  /** Ids of the controls the browser found invalid (its `invalid` events), in order. */
  invalid: string[];
}

/** Runs `act` (a submit) and reports what the browser's own form validation did. */
export async function browserValidation(page: Page, act: () => Promise<void>): Promise<BrowserValidation> {
  let posted = false;
  const onRequest = (request: Request) => {
    if (request.method() === 'POST') posted = true;
  };
  await page.evaluate(() => {
    const w = globalThis as unknown as DomWindow & { invalidControls?: string[] };
    w.invalidControls = [];
    w.document.addEventListener('invalid', (event) => w.invalidControls?.push(event.target.id), { capture: true });
  });
  page.on('request', onRequest);
  await act();
  // Validation runs within the click; give a request that did start the time to show.
  await page.waitForTimeout(150);
  page.off('request', onRequest);
  const invalid = await page.evaluate(() => (globalThis as unknown as { invalidControls?: string[] }).invalidControls ?? []);
  return { posted, invalid };
}

// ---------------------------------------------------------------------------------------------
// In-page probes

interface DomStyle {
  fontFamily: string;
  outlineStyle: string;
  outlineWidth: string;
  boxShadow: string;
  backgroundColor: string;
  maxWidth: string;
  borderLeftColor: string;
  borderLeftWidth: string;
}

interface DomElement {
  id: string;
  tagName: string;
  outerHTML: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { left: number; right: number; width: number };
}

interface DomFormControl extends DomElement {
  type: string;
  validationMessage: string;
  validity: { valid: boolean; valueMissing: boolean };
}

interface DomDocument {
  activeElement: DomElement | null;
  addEventListener(type: 'invalid', listener: (event: { target: DomElement }) => void, options: { capture: boolean }): void;
  documentElement: DomElement & { scrollWidth: number; clientWidth: number };
  body: DomElement;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): Iterable<DomElement>;
}

interface DomWindow {
  document: DomDocument;
  innerWidth: number;
  getComputedStyle(element: DomElement): DomStyle;
}

export interface FocusedElement {
  id: string;
  tag: string;
  type: string;
  outline: string;
  boxShadow: string;
  /** An outline of some width or a box shadow: the focus can be seen. */
  visible: boolean;
}

/** The focused element and whether its focus indicator shows. */
export async function focused(page: Page): Promise<FocusedElement> {
  return page.evaluate(() => {
    const w = globalThis as unknown as DomWindow;
    const element = w.document.activeElement ?? w.document.body;
    const style = w.getComputedStyle(element);
    const outlined = style.outlineStyle !== 'none' && Number.parseFloat(style.outlineWidth) > 0;
    return {
      id: element.id,
      tag: element.tagName.toLowerCase(),
      type: element.getAttribute('type') ?? '',
      outline: `${style.outlineStyle} ${style.outlineWidth}`,
      boxShadow: style.boxShadow,
      visible: outlined || style.boxShadow !== 'none',
    };
  });
}

/** Form controls with neither a `<label for>` nor an aria-label(ledby): each is described by its HTML. */
export async function unlabelledControls(page: Page): Promise<{ controls: number; unlabelled: string[] }> {
  return page.evaluate(() => {
    const d = (globalThis as unknown as DomWindow).document;
    const labelled = new Set([...d.querySelectorAll('label[for]')].map((label) => label.getAttribute('for')));
    const controls = [...d.querySelectorAll('input:not([type="hidden"]), textarea, select')];
    const unlabelled = controls.filter((control) => {
      const named = (control.getAttribute('aria-label') ?? '').trim() !== '' || (control.getAttribute('aria-labelledby') ?? '').trim() !== '';
      return !named && !(control.id !== '' && labelled.has(control.id));
    });
    return { controls: controls.length, unlabelled: unlabelled.map((control) => control.outerHTML.slice(0, 160)) };
  });
}

export interface ValidityState {
  valueMissing: boolean;
  message: string;
}

/** The browser's own validity of a control (what its `required` validation says). */
export async function validity(page: Page, selector: string): Promise<ValidityState> {
  return page.evaluate((sel) => {
    const control = (globalThis as unknown as DomWindow).document.querySelector(sel) as DomFormControl | null;
    if (!control) throw new Error(`no ${sel} on the page`);
    return { valueMissing: control.validity.valueMissing, message: control.validationMessage };
  }, selector);
}

/** Makes the form skip the browser's validation, as an old or script-less browser would, so the server's check shows. */
export async function disableBrowserValidation(page: Page): Promise<void> {
  await page.evaluate(() => {
    const form = (globalThis as unknown as DomWindow).document.querySelector('form[data-approval]');
    if (!form) throw new Error('no approval form on the page');
    (form as unknown as { noValidate: boolean }).noValidate = true;
  });
}

/** A computed style of the first element a CSS selector finds. */
export async function styleOf(page: Page, selector: string, property: keyof DomStyle): Promise<string> {
  return page.evaluate(
    ([sel, prop]) => {
      const w = globalThis as unknown as DomWindow;
      const element = w.document.querySelector(sel);
      if (!element) throw new Error(`no ${sel} on the page`);
      return w.getComputedStyle(element)[prop];
    },
    [selector, property] as const,
  );
}

export interface Layout {
  innerWidth: number;
  scrollWidth: number;
  /** Elements whose box sticks out past the right edge of the viewport. */
  overflowing: string[];
  mastheadText: string;
  mastheadBackground: string;
  bodyBackground: string;
  mainMaxWidth: string;
  cards: { background: string; width: number }[];
}

/** What makes the page look like a provider's page rather than a bare form. */
export async function layout(page: Page): Promise<Layout> {
  return page.evaluate(() => {
    const w = globalThis as unknown as DomWindow;
    const d = w.document;
    const masthead = d.querySelector('header');
    const main = d.querySelector('main');
    const overflowing = [...d.querySelectorAll('body *')]
      .filter((element) => element.getBoundingClientRect().right > w.innerWidth + 0.5 && element.getBoundingClientRect().width > 0)
      .filter((element) => !(element.getAttribute('class') ?? '').includes('visually-hidden') && !(element.getAttribute('class') ?? '').includes('skip-link'))
      .map((element) => `${element.tagName.toLowerCase()}${element.id ? `#${element.id}` : ''}.${element.getAttribute('class') ?? ''}`);
    return {
      innerWidth: w.innerWidth,
      scrollWidth: d.documentElement.scrollWidth,
      overflowing,
      mastheadText: masthead?.textContent?.trim() ?? '',
      mastheadBackground: masthead ? w.getComputedStyle(masthead).backgroundColor : '',
      bodyBackground: w.getComputedStyle(d.body).backgroundColor,
      mainMaxWidth: main ? w.getComputedStyle(main).maxWidth : '',
      cards: [...d.querySelectorAll('main .card')].map((card) => ({
        background: w.getComputedStyle(card).backgroundColor,
        width: card.getBoundingClientRect().width,
      })),
    };
  });
}

export interface NamedControl {
  role: string;
  name: string;
}

/** Roles of the controls a user operates, as Chromium's accessibility tree names them. */
const CONTROL_ROLES = new Set(['textbox', 'searchbox', 'checkbox', 'radio', 'button', 'combobox', 'listbox', 'spinbutton', 'Date', 'DateTime', 'InputTime', 'slider', 'switch']);

/** Every control in Chromium's accessibility tree (what a screen reader gets), with its computed accessible name. */
export async function accessibleControls(page: Page): Promise<NamedControl[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = await cdp.send('Accessibility.getFullAXTree');
    return nodes
      .filter((node) => !node.ignored && CONTROL_ROLES.has(String(node.role?.value ?? '')))
      .map((node) => ({ role: String(node.role?.value ?? ''), name: String(node.name?.value ?? '').trim() }));
  } finally {
    await cdp.detach();
  }
}
