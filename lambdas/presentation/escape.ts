const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** The one escaping function for everything that goes into HTML, text and attribute values alike. */
export function escapeHtml(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(/[&<>"']/g, (char) => ENTITIES[char] ?? char);
}

// C0 and C1 controls (CR, LF, NEL among them), DEL and the Unicode line and paragraph separators:
// any of them could end a header line or fold it.
// eslint-disable-next-line no-control-regex
const LINE_BREAKERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** One line of printable text, for email subjects: nothing in it can reach another header. */
export function singleLine(value: string): string {
  return value.replace(LINE_BREAKERS, ' ').replace(/ {2,}/g, ' ').trim();
}
