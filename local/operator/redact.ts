/**
 * What the operator view shows of payloads: task tokens, approval secrets, bearer tokens and the like
 * never leave the server, whatever the payload (state input and output, task parameters, error
 * causes, history details).
 */

export const REDACTED = '[redacted]';

/** Field names whose values are secrets: the workflow's `taskToken` above all. */
const SENSITIVE_KEY = /token|secret|password|passwd|authori[sz]ation|credential|signature|cookie|api[-_]?key|private|^key$|linkkey|^hash$|Hash$/i;

/** A JWT (its header is base64url JSON, so it starts with "eyJ"). */
const JWT_LIKE = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}/g;
/** The secret of an approval link travels in its path. */
const APPROVAL_PATH = /(\/approvals\/)[A-Za-z0-9_-]+/g;
const BEARER = /\b(Bearer\s+)\S+/gi;
/** `"taskToken":"…"` and the like inside text that is not JSON as a whole (an error cause, a log line). */
const INLINE_SECRET_FIELD = /(["']?[A-Za-z_]*(?:token|secret|password|signature)[A-Za-z_]*["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;}&]+)/gi;
/** Long runs of base64url or hex with no spaces, such as a task token quoted on its own. */
const OPAQUE_RUN = /\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{40,}\b/g;

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key);
}

/** Redacts secret-looking parts of free text. */
export function redactText(text: string): string {
  return text
    .replace(APPROVAL_PATH, `$1${REDACTED}`)
    .replace(BEARER, `$1${REDACTED}`)
    .replace(INLINE_SECRET_FIELD, (_, field: string, value: string) => {
      if (value === REDACTED || value.slice(1, -1) === REDACTED) return `${field}${value}`;
      const quote = value.startsWith('"') || value.startsWith("'") ? value.charAt(0) : '';
      return `${field}${quote}${REDACTED}${quote}`;
    })
    .replace(JWT_LIKE, REDACTED)
    .replace(OPAQUE_RUN, REDACTED);
}

function parseJsonText(text: string): { ok: true; value: unknown } | { ok: false } {
  const trimmed = text.trim();
  if (!(trimmed.startsWith('{') || trimmed.startsWith('['))) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(trimmed) as unknown };
  } catch {
    return { ok: false };
  }
}

/**
 * A deep copy of a JSON value with secret fields replaced by `[redacted]` and secret-looking text
 * redacted; strings that hold JSON (Step Functions' `input`, `parameters`, a Lambda error's `cause`)
 * are parsed, redacted and written back as JSON.
 */
export function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 40) return REDACTED;
  if (typeof value === 'string') {
    const parsed = parseJsonText(value);
    if (parsed.ok) return JSON.stringify(redactValue(parsed.value, depth + 1));
    return redactText(value);
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = isSensitiveKey(key) && item !== null && item !== undefined ? REDACTED : redactValue(item, depth + 1);
    }
    return out;
  }
  return value;
}

/** JSON text (as Step Functions gives input and output), redacted and pretty-printed; plain text is redacted as text. */
export function redactJsonText(text: string | undefined, maxLength = 6000): string | null {
  if (text === undefined || text === '') return null;
  const parsed = parseJsonText(text);
  const pretty = parsed.ok ? JSON.stringify(redactValue(parsed.value), null, 2) : redactText(text);
  return pretty.length > maxLength ? `${pretty.slice(0, maxLength)}\n… (${pretty.length - maxLength} more characters)` : pretty;
}

/** Control characters (escape sequences among them) would let a payload rewrite an operator's terminal. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** One line of printable, redacted text of at most `max` characters. */
export function oneLine(text: string, max = 160): string {
  const line = redactText(text).replace(CONTROL, ' ').replace(/ {2,}/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
