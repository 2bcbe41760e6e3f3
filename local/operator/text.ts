/**
 * The operator view as plain text for a terminal: aligned columns, one line per row, every value
 * redacted and stripped of control characters (a payload must not be able to drive the terminal).
 */
import type { DeliveryView, EventView } from './event-deliveries.ts';
import { oneLine } from './redact.ts';
import { dateText, type TimelineEntry, type TransferDetailView, type TransferRow } from './timeline.ts';

function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number): string {
  return text + ' '.repeat(Math.max(0, size - width(text)));
}

/** Columns aligned on the widest cell, two spaces apart; the last column is not padded. */
export function textTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = [head, ...rows].map((row) => head.map((_, i) => oneLine(row[i] ?? '', 400)));
  const widths = head.map((_, i) => Math.max(...cells.map((row) => width(row[i] ?? ''))));
  return cells
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : pad(cell, widths[i] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

/** `2026-11-24 14:20:00` (UTC), or with milliseconds. */
export function utcText(isoText: string | null, millis = false): string {
  if (!isoText) return '—';
  const date = new Date(isoText);
  if (Number.isNaN(date.getTime())) return oneLine(isoText, 40);
  const text = date.toISOString().replace('T', ' ');
  return millis ? text.slice(0, 23) : text.slice(0, 19);
}

export function currentStateText(row: Pick<TransferRow, 'execution'>): string {
  if (!row.execution) return '(no execution)';
  return row.execution.status === 'RUNNING' ? (row.execution.state ?? 'RUNNING') : row.execution.label;
}

export function transfersTable(rows: readonly TransferRow[]): string {
  return textTable(
    ['ID', 'STATUS', 'CURRENT STATE', 'FROM → TO', 'DATE', 'UPDATED (UTC)'],
    rows.map((row) => [
      row.id,
      row.status,
      currentStateText(row),
      `${row.fromPartner.id} → ${row.toPartner.id}`,
      dateText(row),
      utcText(row.updatedAt),
    ]),
  );
}

export function timelineTable(entries: readonly TimelineEntry[]): string {
  return textTable(
    ['TIME (UTC)', 'EVENT', 'STATE', 'DETAIL'],
    entries.map((entry) => [utcText(entry.at, true), entry.event, entry.state ?? '', oneLine(entry.detail, 140)]),
  );
}

export function transferDetailText(view: TransferDetailView): string {
  const { transfer, execution } = view;
  const facts: [string, string][] = [
    ['Transfer', transfer.id],
    ['Status', transfer.status],
    ['Execution', execution ? `${execution.status}${execution.redriveCount > 0 ? `, redriven ${execution.redriveCount}×` : ''}` : '(no execution)'],
    ['Current state', currentStateText(transfer)],
    ['Customers', transfer.customers.map((c) => `${c.name} (${c.id})`).join(', ')],
    ['From → to', `${transfer.fromPartner.name} (${transfer.fromPartner.id}) → ${transfer.toPartner.name} (${transfer.toPartner.id})`],
    ['Date', dateText(transfer)],
    ['Requested', utcText(transfer.createdAt)],
    ['Updated', utcText(transfer.updatedAt)],
  ];
  if (transfer.ticketId) facts.push(['Ticket', transfer.ticketId]);
  if (transfer.decline) facts.push(['Declined', declineText(transfer.decline)]);
  for (const partnerId of transfer.unreachable) facts.push(['UNREACHABLE', `${partnerId}: every contact bounced; no link, reminder or notice reaches it`]);
  if (transfer.bounced.length > 0) facts.push(['Bounced', transfer.bounced.map((b) => `${b.address}${b.partnerId ? ` (${b.partnerId})` : ''}`).join(', ')]);
  if (execution?.error) facts.push(['Error', `${execution.error}${execution.cause ? `: ${execution.cause}` : ''}`]);
  if (transfer.outcomes.length > 0) {
    facts.push(['Outcomes', transfer.outcomes.map((o) => `${o.customerId} ${o.outcome}${o.reason ? ` (${o.reason})` : ''}`).join('; ')]);
  }
  const labelWidth = Math.max(...facts.map(([label]) => width(label)));
  const header = facts.map(([label, value]) => `${pad(label, labelWidth)}  ${oneLine(value, 300)}`).join('\n');
  return `${header}\n\n${timelineTable(view.timeline)}\n\n${eventsText(view.events)}`;
}

/** Whether the bus has the event: when the relay published it, or why it has not. */
export function publishedText(event: Pick<EventView, 'relayedAt' | 'inOutbox'>): string {
  if (event.relayedAt) return `published ${utcText(event.relayedAt, true)}`;
  return event.inOutbox ? 'not yet published' : 'no longer in the outbox';
}

/** The last try: its HTTP status, why it failed, and why the delivery was dropped. */
export function lastTryText(delivery: Pick<DeliveryView, 'lastStatus' | 'lastError' | 'note'>): string {
  const status = delivery.lastStatus === null ? null : `HTTP ${delivery.lastStatus}`;
  const attempt = status && delivery.lastError ? `${status}: ${delivery.lastError}` : (status ?? delivery.lastError);
  return [attempt, delivery.note].filter((part) => part !== null && part !== '').join(' ') || '—';
}

function nextTryText(delivery: Pick<DeliveryView, 'status' | 'nextAttemptAt'>): string {
  if (delivery.status !== 'pending') return '—';
  return delivery.nextAttemptAt ? utcText(delivery.nextAttemptAt) : 'queued';
}

/** Each event on a line (time, type, id, whether the bus has it), its webhook deliveries in a table under it. */
export function eventsText(events: readonly EventView[]): string {
  const title = 'EVENTS AND DELIVERIES (UTC)';
  if (events.length === 0) return `${title}\nNo events yet.`;
  const blocks = events.map((event) => {
    const head = [utcText(event.occurredAt, true), event.type, event.id, publishedText(event)].map((cell) => oneLine(cell, 200)).join('  ');
    if (event.deliveries.length === 0) return `${head}\n  No webhook deliveries.`;
    const table = textTable(
      ['WEBHOOK', 'TARGET', 'STATUS', 'TRIES', 'LAST TRY', 'NEXT TRY', 'DELIVERED/FAILED'],
      event.deliveries.map((d) => [d.webhookId, d.target, d.status, String(d.attempts), oneLine(lastTryText(d), 200), nextTryText(d), utcText(d.settledAt)]),
    );
    return `${head}\n${table.split('\n').map((line) => `  ${line}`).join('\n')}`;
  });
  return `${title}\n${blocks.join('\n\n')}`;
}

/** A decline as operators read it: the step, the ground's code and the partner's words, who signed. */
function declineText(decline: NonNullable<TransferDetailView['transfer']['decline']>): string {
  return `${decline.step} declined, ${decline.reasonCode}${decline.reason ? `: ${decline.reason}` : ''} (signed by ${decline.signedBy})`;
}
