import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ChainVerdict } from '../../../lambdas/domain/consent-record.ts';
import { canonicalJson, chainEvents, eventHash, genesisHash, inChainOrder, verifyChain, type ChainHead } from '../../../lambdas/domain/history-chain.ts';
import type { HistoryEvent } from '../../../lambdas/domain/transfer.ts';

const ID = 'TR-20260310-CHAIN00001';
const OTHER_ID = 'TR-20260310-CHAIN00002';

function event(type: string, at: string, detail: Record<string, unknown> = {}): HistoryEvent {
  return { at, type, actor: { kind: 'partner', partnerId: 'P-NORTH', name: 'alice' }, detail };
}

const CONTENT: HistoryEvent[] = [
  event('REQUESTED', '2026-03-10T15:00:00.000Z', { customerIds: ['C-ACME'] }),
  event('APPROVAL_REQUESTED', '2026-03-10T15:00:01.000Z', { step: 'release' }),
  event('RELEASED', '2026-03-11T10:00:00.000Z', { statement: 'I, Alice Smith, release ...', decision: 'release' }),
  event('APPROVAL_REQUESTED', '2026-03-11T10:00:01.000Z', { step: 'acceptance' }),
  event('ACCEPTED', '2026-03-12T09:30:00.000Z', { statement: 'I, Bob Jones, accept ...', decision: 'accept' }),
];

/** A history of five events chained from genesis, and the head the transfer keeps. */
function chained(transferId = ID): { events: HistoryEvent[]; head: ChainHead } {
  const { events, head } = chainEvents(transferId, null, CONTENT);
  if (!head) throw new Error('five events give a head');
  return { events, head };
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The verdict's first bad event, as its seq and a word of its problem. */
function brokenAt(verdict: ChainVerdict): { seq: number | null; problem: string } {
  if (verdict.state !== 'broken') throw new Error(`expected a broken chain, got ${verdict.state}`);
  return { seq: verdict.at.seq, problem: verdict.problem };
}

describe('canonicalJson', () => {
  it('sorts object keys at every depth, so the same value gives the same text however its keys were ordered', () => {
    const a = { type: 'RELEASED', detail: { b: 1, a: { y: [1, { d: 4, c: 3 }], x: 'x' } }, at: 't' };
    const b = { at: 't', detail: { a: { x: 'x', y: [1, { c: 3, d: 4 }] }, b: 1 }, type: 'RELEASED' };
    expect(canonicalJson(a)).toBe('{"at":"t","detail":{"a":{"x":"x","y":[1,{"c":3,"d":4}]},"b":1},"type":"RELEASED"}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
  });

  it('leaves undefined members out, of objects and of arrays (as the table drops them), and keeps null', () => {
    expect(canonicalJson({ a: 1, gone: undefined, nested: { gone: undefined, kept: null } })).toBe('{"a":1,"nested":{"kept":null}}');
    expect(canonicalJson({ list: [1, undefined, 2, null] })).toBe('{"list":[1,2,null]}');
    expect(canonicalJson({ a: 1, gone: undefined })).toBe(canonicalJson({ a: 1 }));
  });

  it('writes scalars as JSON does, and keeps array order', () => {
    expect(canonicalJson('a "quoted" text')).toBe('"a \\"quoted\\" text"');
    expect(canonicalJson(1.5)).toBe('1.5');
    expect(canonicalJson(true)).toBe('true');
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
    expect(canonicalJson([3, 1, 2])).not.toBe(canonicalJson([1, 2, 3]));
    expect(canonicalJson({ 'b"': 1, a: 2 })).toBe('{"a":2,"b\\"":1}');
  });
});

describe('chainEvents', () => {
  it('chains from genesis: seq 1..n, the first names the transfer\'s genesis hash, each the hash of the one before', () => {
    const { events, head } = chained();
    expect(genesisHash(ID)).toBe(sha256(`customer-transfer:${ID}`));
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(events[0]?.prevHash).toBe(genesisHash(ID));
    for (const [index, e] of events.entries()) {
      if (index > 0) expect(e.prevHash).toBe(events[index - 1]?.hash);
      // The hash is the SHA-256 of exactly these members, canonically written.
      const { at, type, actor, detail, seq, prevHash } = e;
      expect(e.hash).toBe(sha256(canonicalJson({ transferId: ID, seq, prevHash, at, type, actor, detail })));
      expect(e).toMatchObject(CONTENT[index] ?? {});
    }
    expect(head).toEqual({ seq: 5, hash: events[4]?.hash });
    expect(new Set(events.map((e) => e.hash)).size).toBe(5);
  });

  it('chains after a head: the seqs go on and the first names the head\'s hash; the result is the chain written at once', () => {
    const whole = chained();
    const first = chainEvents(ID, null, CONTENT.slice(0, 2));
    const rest = chainEvents(ID, first.head, CONTENT.slice(2));
    expect(rest.events.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(rest.events[0]?.prevHash).toBe(first.head?.hash);
    expect([...first.events, ...rest.events]).toEqual(whole.events);
    expect(rest.head).toEqual(whole.head);
  });

  it('chains an event\'s content only: chain fields it already carries are replaced; no event leaves the head as it was', () => {
    const stale = { ...event('NOTE', '2026-03-13T00:00:00.000Z'), seq: 99, prevHash: 'x', hash: 'y' };
    const { events, head } = chainEvents(ID, { seq: 2, hash: 'h2' }, [stale]);
    expect(events[0]).toMatchObject({ seq: 3, prevHash: 'h2' });
    expect(events[0]?.hash).toBe(eventHash(ID, { ...event('NOTE', '2026-03-13T00:00:00.000Z'), seq: 3, prevHash: 'h2' }));
    expect(head).toEqual({ seq: 3, hash: events[0]?.hash });
    expect(chainEvents(ID, { seq: 2, hash: 'h2' }, [])).toEqual({ events: [], head: { seq: 2, hash: 'h2' } });
    expect(chainEvents(ID, null, [])).toEqual({ events: [], head: null });
  });

  it('the hash does not depend on the order of the keys of an event or its detail', () => {
    const reordered = CONTENT.map(({ detail, actor, type, at }) => ({
      detail: Object.fromEntries(Object.entries(detail).reverse()),
      actor: { name: actor.name, partnerId: actor.partnerId, kind: actor.kind },
      type,
      at,
    }));
    expect(chainEvents(ID, null, reordered).head).toEqual(chained().head);
  });
});

describe('inChainOrder', () => {
  it('puts events written before the chain first, as stored, then the chained ones by seq', () => {
    const legacy = [event('LEGACY_B', '2026-03-09T00:00:00.000Z'), event('LEGACY_A', '2026-03-08T00:00:00.000Z')];
    const { events } = chained();
    const shuffled = [events[3], legacy[0], events[0], events[4], legacy[1], events[2], events[1]] as HistoryEvent[];
    expect(inChainOrder(shuffled).map((e) => e.seq ?? e.type)).toEqual(['LEGACY_B', 'LEGACY_A', 1, 2, 3, 4, 5]);
  });
});

describe('verifyChain', () => {
  it('an intact chain, whatever order its events are read in, names its head', () => {
    const { events, head } = chained();
    const expected: ChainVerdict = { state: 'intact', events: 5, head: head.hash };
    expect(verifyChain(ID, events, head)).toEqual(expected);
    expect(verifyChain(ID, [...events].reverse(), head)).toEqual(expected);
  });

  it('a history written before chaining is unchained; so is no history at all', () => {
    expect(verifyChain(ID, CONTENT, null)).toEqual({ state: 'unchained', events: 5 });
    expect(verifyChain(ID, [], null)).toEqual({ state: 'unchained', events: 0 });
  });

  it('unchained events, then a chain that holds, are partly chained', () => {
    const legacy = CONTENT.slice(0, 2);
    const { events, head } = chainEvents(ID, null, CONTENT.slice(2));
    expect(verifyChain(ID, [...legacy, ...events], head)).toEqual({ state: 'partly-chained', unchained: 2, events: 5, head: head?.hash });
    // However they are read: the unchained ones first.
    expect(verifyChain(ID, [...events, ...legacy].reverse(), head)).toMatchObject({ state: 'partly-chained', unchained: 2 });
  });

  it('an event without chain fields recorded after the chain began is broken, not partly chained: it was slipped in or stripped', () => {
    const { events, head } = chained();
    const slipped = event('RELEASED', '2026-03-11T12:00:00.000Z', { statement: 'I, Mallory, release ...', decision: 'release' });
    expect(verifyChain(ID, [...events, slipped], head)).toMatchObject({
      state: 'broken',
      at: { seq: null, type: 'RELEASED', at: '2026-03-11T12:00:00.000Z' },
      problem: expect.stringContaining('recorded after the chain began') as string,
    });
    const stripped = events.map((e, i) => (i === 3 ? { at: e.at, type: e.type, actor: e.actor, detail: e.detail } : e));
    expect(verifyChain(ID, stripped, head)).toMatchObject({ state: 'broken', at: { type: 'APPROVAL_REQUESTED' } });
  });

  describe('broken, naming the first event that does not hold', () => {
    const { events, head } = chained();
    const replace = (index: number, changed: Partial<HistoryEvent>) => events.map((e, i) => (i === index ? { ...e, ...changed } : e));

    it('an altered detail', () => {
      const verdict = verifyChain(ID, replace(2, { detail: { ...events[2]?.detail, statement: 'I, Alice Smith, do NOT release ...' } }), head);
      expect(verdict).toEqual({
        state: 'broken',
        events: 5,
        at: { seq: 3, type: 'RELEASED', at: '2026-03-11T10:00:00.000Z' },
        problem: 'its content does not match its hash: it was altered after it was written',
      });
    });

    it('an altered time, type or actor', () => {
      expect(brokenAt(verifyChain(ID, replace(1, { at: '2026-03-10T15:00:02.000Z' }), head))).toEqual({ seq: 2, problem: expect.stringContaining('altered') });
      expect(brokenAt(verifyChain(ID, replace(3, { type: 'DECLINED' }), head))).toEqual({ seq: 4, problem: expect.stringContaining('altered') });
      expect(brokenAt(verifyChain(ID, replace(0, { actor: { kind: 'operator', name: 'mallory' } }), head))).toEqual({ seq: 1, problem: expect.stringContaining('altered') });
    });

    it('an altered hash (recomputed over altered content) no longer matches the next event\'s predecessor', () => {
      const altered = { ...events[1], detail: { step: 'acceptance' } } as HistoryEvent & { seq: number; prevHash: string };
      const rehashed = replace(1, { detail: altered.detail, hash: eventHash(ID, altered) });
      expect(brokenAt(verifyChain(ID, rehashed, head))).toEqual({ seq: 3, problem: 'it does not name the hash of event #2 as its predecessor' });
    });

    it('a removed middle event: the one after the gap', () => {
      const verdict = verifyChain(ID, events.filter((e) => e.seq !== 3), head);
      expect(verdict).toMatchObject({ state: 'broken', events: 4, at: { seq: 4, type: 'APPROVAL_REQUESTED' }, problem: 'event #3 is missing before it' });
    });

    it('a removed first event: the new first', () => {
      expect(brokenAt(verifyChain(ID, events.slice(1), head))).toEqual({ seq: 2, problem: 'event #1 is missing before it' });
    });

    it('a removed last event: the transfer\'s head names one more', () => {
      const verdict = verifyChain(ID, events.slice(0, 4), head);
      expect(verdict).toMatchObject({
        state: 'broken',
        events: 4,
        at: { seq: 4 },
        problem: 'the chain ends at event #5, but only 4 are stored after it: later events were removed',
      });
    });

    it('every chained event removed: the head still names the chain', () => {
      expect(brokenAt(verifyChain(ID, [], head))).toEqual({ seq: null, problem: "the transfer's chain ends at event #5, but no chained event is stored" });
    });

    it('a head that names another last event, or none', () => {
      expect(brokenAt(verifyChain(ID, events, { seq: 5, hash: 'f'.repeat(64) }))).toEqual({ seq: 5, problem: 'the transfer names event #5 as the last, with another hash' });
      expect(brokenAt(verifyChain(ID, events, { seq: 4, hash: head.hash }))).toMatchObject({ seq: 5 });
      expect(brokenAt(verifyChain(ID, events, null))).toEqual({ seq: 5, problem: "the transfer does not name the chain's last event" });
    });

    it('an inserted event with a seq of its own: the seq stored twice', () => {
      // A forged copy of event 3 (a consent) with another statement, stored beside it.
      const forged = { ...events[2], detail: { ...events[2]?.detail, statement: 'forged' } } as HistoryEvent;
      const verdict = verifyChain(ID, [...events.slice(0, 3), forged, ...events.slice(3)], head);
      expect(verdict).toMatchObject({ state: 'broken', events: 6, at: { seq: 3 }, problem: 'event #3 is stored more than once' });
    });

    it('an inserted event chained properly after another: the event after it no longer follows', () => {
      // Chained after event 2, as seq 3: the old event 3 now follows a seq 3.
      const inserted = chainEvents(ID, { seq: 2, hash: events[1]?.hash ?? '' }, [event('NOTE', '2026-03-10T20:00:00.000Z')]).events;
      const verdict = verifyChain(ID, [...events.slice(0, 2), ...inserted, ...events.slice(2)], head);
      expect(verdict).toMatchObject({ state: 'broken', at: { seq: 3 }, problem: 'event #3 is stored more than once' });
    });

    it('an inserted event with incomplete chain fields', () => {
      const { hash: _hash, ...withoutHash } = { ...events[4], seq: 6 } as HistoryEvent;
      expect(brokenAt(verifyChain(ID, [...events, withoutHash], head))).toEqual({ seq: 6, problem: 'its chain fields (seq, prevHash, hash) are incomplete' });
    });

    it('a history moved from another transfer: the genesis hash binds the transfer id', () => {
      const foreign = chained(OTHER_ID);
      expect(verifyChain(OTHER_ID, foreign.events, foreign.head)).toMatchObject({ state: 'intact' });
      expect(brokenAt(verifyChain(ID, foreign.events, foreign.head))).toEqual({ seq: 1, problem: 'it does not name the hash of event #0 as its predecessor' });
      // Even given this transfer's genesis, the hash over the transfer id does not hold.
      const regenesis = foreign.events.map((e, i) => (i === 0 ? { ...e, prevHash: genesisHash(ID) } : e));
      expect(brokenAt(verifyChain(ID, regenesis, foreign.head))).toEqual({ seq: 1, problem: expect.stringContaining('altered') });
    });

    it('one event of another transfer in the middle, at its own seq', () => {
      const foreign = chained(OTHER_ID);
      expect(brokenAt(verifyChain(ID, replace(3, foreign.events[3] ?? {}), head))).toEqual({ seq: 4, problem: expect.stringContaining('predecessor') });
    });

    it('two events swapped: by their seqs, or by their content', () => {
      const bySeq = replace(1, { seq: 3 }).map((e, i) => (i === 2 ? { ...e, seq: 2 } : e));
      expect(brokenAt(verifyChain(ID, bySeq, head))).toEqual({ seq: 2, problem: 'it does not name the hash of event #1 as its predecessor' });
      const [second, third] = [events[1], events[2]];
      if (!second || !third) throw new Error('five events');
      const content = (e: HistoryEvent) => ({ at: e.at, type: e.type, actor: e.actor, detail: e.detail });
      const byContent = replace(1, content(third)).map((e, i) => (i === 2 ? { ...e, ...content(second) } : e));
      expect(verifyChain(ID, byContent, head)).toMatchObject({ state: 'broken', at: { seq: 2, type: 'RELEASED' }, problem: expect.stringContaining('altered') });
    });

    it('a chained event among the unchained ones is still checked', () => {
      const legacy = CONTENT.slice(0, 2);
      const tail = chainEvents(ID, null, CONTENT.slice(2));
      const altered = tail.events.map((e) => (e.seq === 2 ? { ...e, detail: { step: 'release' } } : e));
      expect(brokenAt(verifyChain(ID, [...legacy, ...altered], tail.head))).toEqual({ seq: 2, problem: expect.stringContaining('altered') });
    });
  });
});
