/**
 * Lambda's event filtering for stream records (the EventBridge pattern syntax), for the part of it the
 * stack uses: every key of the pattern must match; a list holds the values a field may equal (strings,
 * numbers, booleans, null; exactly, case-sensitive); an object matches the nested fields. A field the
 * record lacks never matches, and a record's list matches when any of its elements does.
 *
 * Anything else (prefix, anything-but, numeric, exists, wildcard, `$or`, ...) is refused when the
 * pattern is compiled, so a pattern the local twin cannot judge never lets records through.
 */

export type FilterPattern = { readonly [field: string]: FilterPattern | readonly unknown[] };

export class InvalidFilterPatternError extends Error {
  override readonly name = 'InvalidFilterPatternError';
}

/** Checks a pattern once and answers whether a record (as JSON) matches it. */
export function compileFilterPattern(pattern: unknown): (record: unknown) => boolean {
  validate(pattern, '');
  return (record) => matchesObject(pattern as FilterPattern, record);
}

function validate(pattern: unknown, path: string): void {
  if (typeof pattern !== 'object' || pattern === null || Array.isArray(pattern)) {
    throw new InvalidFilterPatternError(`The filter pattern${path ? ` at ${path}` : ''} must be a JSON object.`);
  }
  const fields = Object.entries(pattern);
  if (fields.length === 0) throw new InvalidFilterPatternError(`The filter pattern${path ? ` at ${path}` : ''} is empty.`);
  for (const [field, value] of fields) {
    const at = path ? `${path}.${field}` : field;
    if (field.startsWith('$')) throw new InvalidFilterPatternError(`${at}: "${field}" is not supported by the local stream poller.`);
    if (Array.isArray(value)) {
      if (value.length === 0) throw new InvalidFilterPatternError(`${at}: a list of values must not be empty.`);
      for (const candidate of value) {
        if (candidate !== null && typeof candidate === 'object') {
          throw new InvalidFilterPatternError(`${at}: content filter ${JSON.stringify(candidate)} is not supported by the local stream poller (only exact values are).`);
        }
      }
    } else if (typeof value === 'object' && value !== null) {
      validate(value, at);
    } else {
      throw new InvalidFilterPatternError(`${at}: a value must be a list or an object, got ${JSON.stringify(value)}.`);
    }
  }
}

function matchesObject(pattern: FilterPattern, value: unknown): boolean {
  if (Array.isArray(value)) return value.some((element) => matchesObject(pattern, element));
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return Object.entries(pattern).every(([field, expected]) => {
    if (!Object.hasOwn(record, field)) return false;
    const actual = record[field];
    return Array.isArray(expected) ? matchesValues(expected, actual) : matchesObject(expected as FilterPattern, actual);
  });
}

function matchesValues(expected: readonly unknown[], actual: unknown): boolean {
  if (Array.isArray(actual)) return actual.some((element) => matchesValues(expected, element));
  // An object where a value is expected never equals one.
  if (typeof actual === 'object' && actual !== null) return false;
  return expected.some((candidate) => candidate === actual);
}
