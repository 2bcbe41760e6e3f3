import { escapeHtml } from './escape.ts';

/**
 * Markup that may be inserted as is. Only `html` (static template parts plus escaped values)
 * and `trusted` make it, and the class is not exported, so a plain string can never pass for it.
 */
class Markup {
  constructor(readonly markup: string) {}

  toString(): string {
    return this.markup;
  }
}

export type SafeHtml = Markup;

/** What a template may interpolate; `false`, null and undefined render nothing, so `cond && html`…`` works. */
export type HtmlValue = SafeHtml | string | number | false | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof Markup) return value.markup;
  if (typeof value === 'string' || typeof value === 'number') return escapeHtml(value);
  if (value === false || value === null || value === undefined) return '';
  return value.map(render).join('');
}

/** Tagged template: the literal parts are markup, every interpolated value is escaped unless already SafeHtml. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let markup = strings[0] ?? '';
  values.forEach((value, index) => {
    markup += render(value) + (strings[index + 1] ?? '');
  });
  return new Markup(markup);
}

/**
 * For constant markup written in this folder only (the inline style sheets and script), which
 * must not be escaped: a script or style element's text is not entity-decoded.
 */
export function trusted(constant: string): SafeHtml {
  return new Markup(constant);
}
