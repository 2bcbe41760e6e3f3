import { createHash } from 'node:crypto';
import type { ChainVerdict } from './consent-record.ts';
import type { HistoryEvent } from './transfer.ts';

/**
 * A transfer's history is a hash chain: each event stores its place (`seq`, from 1), the hash of the
 * event before it (`prevHash`; for the first, a value bound to the transfer id, so no event can be
 * moved to another transfer) and its own hash over both and its content. The transfer keeps the
 * head (the last seq and hash), so an event removed from the end is found too.
 */
export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * JSON with object keys sorted and undefined members left out, of objects and of arrays alike (the
 * table drops both): one text per value, however it was stored.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.filter((item) => item !== undefined).map(canonicalJson).join(',')}]`;
  const members = Object.keys(value)
    .sort()
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${members.join(',')}}`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** What the first event of a transfer names as its predecessor. */
export function genesisHash(transferId: string): string {
  return sha256(`customer-transfer:${transferId}`);
}

/** The hash of an event at its place in the chain: its content, its seq and its predecessor's hash. */
export function eventHash(transferId: string, event: HistoryEvent & { seq: number; prevHash: string }): string {
  const { at, type, actor, detail, seq, prevHash } = event;
  return sha256(canonicalJson({ transferId, seq, prevHash, at, type, actor, detail }));
}

/** `events` chained after `head` (null: the transfer has no chained event yet), and the new head. */
export function chainEvents(transferId: string, head: ChainHead | null, events: readonly HistoryEvent[]): { events: HistoryEvent[]; head: ChainHead | null } {
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? genesisHash(transferId);
  const chained = events.map((event) => {
    const { seq: _seq, prevHash: _prev, hash: _hash, ...content } = event;
    seq += 1;
    const linked = { ...content, seq, prevHash };
    const hash = eventHash(transferId, linked);
    prevHash = hash;
    return { ...linked, hash };
  });
  return { events: chained, head: chained.length > 0 ? { seq, hash: prevHash } : head };
}

function isChained(event: HistoryEvent): boolean {
  return event.seq !== undefined || event.hash !== undefined || event.prevHash !== undefined;
}

/** Events in chain order: those written before the chain first (as stored), then the chained ones by seq. */
export function inChainOrder(events: readonly HistoryEvent[]): HistoryEvent[] {
  const unchained = events.filter((event) => !isChained(event));
  const chained = events.filter(isChained).sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  return [...unchained, ...chained];
}

/**
 * Checks a transfer's stored history against its chain and the head the transfer keeps. The first
 * event that does not hold is named: changed (its hash), removed or inserted (a gap or a repeat in
 * the seqs, or a predecessor that is not the event before), or missing from the end (the head).
 */
export function verifyChain(transferId: string, stored: readonly HistoryEvent[], head: ChainHead | null): ChainVerdict {
  const events = inChainOrder(stored);
  const unchained = events.filter((event) => !isChained(event)).length;
  const chained = events.slice(unchained);
  const broken = (event: HistoryEvent | undefined, problem: string): ChainVerdict => ({
    state: 'broken',
    events: events.length,
    at: { seq: event?.seq ?? null, type: event?.type ?? null, at: event?.at ?? null },
    problem,
  });
  if (chained.length === 0) {
    if (head !== null) return broken(undefined, `the transfer's chain ends at event #${head.seq}, but no chained event is stored`);
    return { state: 'unchained', events: events.length };
  }
  // Events written before chaining all precede the chain: one recorded after it began was slipped in.
  const chainBegan = chained[0]?.at ?? '';
  const slipped = events.slice(0, unchained).find((event) => event.at > chainBegan);
  if (slipped) return broken(slipped, 'it has no chain fields but was recorded after the chain began: it was inserted, or stripped of its chain');
  let prevHash = genesisHash(transferId);
  for (const [index, event] of chained.entries()) {
    const expectedSeq = index + 1;
    if (typeof event.seq !== 'number' || typeof event.prevHash !== 'string' || typeof event.hash !== 'string') {
      return broken(event, 'its chain fields (seq, prevHash, hash) are incomplete');
    }
    if (event.seq !== expectedSeq) {
      return event.seq > expectedSeq
        ? broken(event, `event #${expectedSeq} is missing before it`)
        : broken(event, `event #${event.seq} is stored more than once`);
    }
    if (event.prevHash !== prevHash) return broken(event, `it does not name the hash of event #${expectedSeq - 1} as its predecessor`);
    if (eventHash(transferId, { ...event, seq: event.seq, prevHash: event.prevHash }) !== event.hash) {
      return broken(event, 'its content does not match its hash: it was altered after it was written');
    }
    prevHash = event.hash;
  }
  const last = chained[chained.length - 1];
  if (head === null) return broken(last, "the transfer does not name the chain's last event");
  if (head.seq !== chained.length || head.hash !== prevHash) {
    return head.seq > chained.length
      ? broken(last, `the chain ends at event #${head.seq}, but only ${chained.length} are stored after it: later events were removed`)
      : broken(last, `the transfer names event #${head.seq} as the last, with another hash`);
  }
  return unchained > 0
    ? { state: 'partly-chained', unchained, events: events.length, head: prevHash }
    : { state: 'intact', events: events.length, head: prevHash };
}
