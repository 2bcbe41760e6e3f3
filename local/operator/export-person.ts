import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { redactValue } from './redact.ts';

/** What is stored about one person: every item of the table that holds the address. */
export interface PersonExport {
  email: string;
  exportedAt: string;
  table: string;
  /** Items read to find them (the whole table). */
  scanned: number;
  items: Record<string, unknown>[];
}

/** An email address as an operator types it: one `@`, a dot in the domain, no spaces. */
export function isEmailAddress(value: string): boolean {
  return /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value) && value.length <= 254;
}

/** A pattern for `email` standing on its own in a text (not the end of a longer address), ignoring case. */
function addressPattern(email: string): RegExp {
  const escaped = email.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![A-Za-z0-9._%+-])${escaped}(?![A-Za-z0-9-]|\\.[A-Za-z0-9])`, 'i');
}

/** Whether any string in `value` (keys included, however deep) holds the address. */
export function mentions(value: unknown, pattern: RegExp): boolean {
  if (typeof value === 'string') return pattern.test(value);
  if (Array.isArray(value)) return value.some((item) => mentions(item, pattern));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([key, inner]) => pattern.test(key) || mentions(inner, pattern));
  }
  return false;
}

/** An item as exported: secrets (task tokens, hashes, nonces a secret is derived from) never leave the table. */
function exported(item: Record<string, unknown>): Record<string, unknown> {
  const { linkNonce: _linkNonce, nonce: _nonce, ...rest } = item;
  return redactValue(rest) as Record<string, unknown>;
}

/**
 * Reads the whole table, a page at a time, and keeps each item that holds `email` in any field.
 * `onPage` is told after each page how many items were read and found so far. Writes nothing.
 */
export async function exportPerson(
  db: DynamoDBDocumentClient,
  tableName: string,
  email: string,
  onPage: (progress: { scanned: number; found: number }) => void = () => undefined,
  now: () => Date = () => new Date(),
): Promise<PersonExport> {
  const pattern = addressPattern(email.trim());
  const items: Record<string, unknown>[] = [];
  let scanned = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) if (mentions(item, pattern)) items.push(exported(item));
    scanned += page.ScannedCount ?? page.Items?.length ?? 0;
    startKey = page.LastEvaluatedKey;
    onPage({ scanned, found: items.length });
  } while (startKey);
  const keyOf = (item: Record<string, unknown>) => `${String(item.pk)}\u0000${String(item.sk)}`;
  items.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  return { email: email.trim(), exportedAt: now().toISOString(), table: tableName, scanned, items };
}
