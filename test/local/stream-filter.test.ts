import { describe, expect, it } from 'vitest';
import { compileFilterPattern, InvalidFilterPatternError } from '../../local/dynamodb-streams/filter.ts';
import { RELAY_EVENT_SOURCE } from '../../lib/event-relay.ts';

/** The event source mapping's filter, as the local stream poller applies it to Lambda stream records. */

/** A stream record as Lambda hands it over (NEW_IMAGE), with the item's image in DynamoDB JSON. */
function record(eventName: string, image: Record<string, unknown> | undefined, keys = { pk: { S: 'OUTBOX#evt_1' }, sk: { S: 'EVENT' } }) {
  return {
    eventID: '1',
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: { Keys: keys, ...(image ? { NewImage: { ...keys, ...image } } : {}), SequenceNumber: '100', SizeBytes: 10, StreamViewType: 'NEW_IMAGE' },
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/customer-transfers/stream/2026-01-01T00:00:00.000',
  };
}

const outbox = { kind: { S: 'outbox' }, event: { M: { id: { S: 'evt_1' } } } };

describe("the relay's filter (RELAY_EVENT_SOURCE.filterPattern)", () => {
  const relayed = compileFilterPattern(RELAY_EVENT_SOURCE.filterPattern);

  it('lets a new outbox item through', () => {
    expect(relayed(record('INSERT', outbox))).toBe(true);
  });

  it("keeps out the outbox item's later changes and its expiry", () => {
    expect(relayed(record('MODIFY', { ...outbox, relayedAt: { S: '2026-01-01T00:00:00.000Z' } }))).toBe(false);
    expect(relayed(record('REMOVE', undefined))).toBe(false);
  });

  it('keeps out every other item the table writes', () => {
    expect(relayed(record('INSERT', { kind: { S: 'transfer' } }, { pk: { S: 'TRANSFER#T1' }, sk: { S: 'TRANSFER' } }))).toBe(false);
    expect(relayed(record('INSERT', { partnerId: { S: 'P-ACME' } }, { pk: { S: 'CUSTOMER#C1' }, sk: { S: 'OWNER' } }))).toBe(false);
  });

  it('matches values exactly: case, type and attribute type count', () => {
    expect(relayed(record('INSERT', { kind: { S: 'Outbox' } }))).toBe(false);
    expect(relayed(record('INSERT', { kind: { S: 'outbox ' } }))).toBe(false);
    expect(relayed(record('insert', outbox))).toBe(false);
    expect(relayed(record('INSERT', { kind: { SS: ['outbox'] } }))).toBe(false);
    expect(relayed(record('INSERT', { kind: { M: { S: { S: 'outbox' } } } }))).toBe(false);
  });

  it('needs every field of the pattern: a record without an image or without the field does not match', () => {
    expect(relayed(record('INSERT', undefined))).toBe(false);
    expect(relayed(record('INSERT', {}))).toBe(false);
    expect(relayed({ eventName: 'INSERT' })).toBe(false);
    expect(relayed(null)).toBe(false);
  });
});

describe('pattern matching', () => {
  it('matches any of the listed values, of any JSON scalar type', () => {
    const matches = compileFilterPattern({ eventName: ['INSERT', 'MODIFY'], size: [1, 2.5], flag: [true], gone: [null] });
    expect(matches({ eventName: 'MODIFY', size: 2.5, flag: true, gone: null })).toBe(true);
    expect(matches({ eventName: 'INSERT', size: 1, flag: true, gone: null })).toBe(true);
    expect(matches({ eventName: 'REMOVE', size: 1, flag: true, gone: null })).toBe(false);
    expect(matches({ eventName: 'INSERT', size: '1', flag: true, gone: null })).toBe(false);
    expect(matches({ eventName: 'INSERT', size: 1, flag: 'true', gone: null })).toBe(false);
    expect(matches({ eventName: 'INSERT', size: 1, flag: true })).toBe(false);
  });

  it('matches a list in the record when any of its elements matches', () => {
    const matches = compileFilterPattern({ tags: ['red'], items: { kind: ['a'] } });
    expect(matches({ tags: ['blue', 'red'], items: [{ kind: 'b' }, { kind: 'a' }] })).toBe(true);
    expect(matches({ tags: ['blue'], items: [{ kind: 'a' }] })).toBe(false);
    expect(matches({ tags: ['red'], items: [{ kind: 'b' }] })).toBe(false);
  });

  it('never takes an object for a value, nor a value for an object', () => {
    const matches = compileFilterPattern({ a: ['x'], b: { c: ['y'] } });
    expect(matches({ a: { x: 1 }, b: { c: 'y' } })).toBe(false);
    expect(matches({ a: 'x', b: 'y' })).toBe(false);
    expect(matches({ a: 'x', b: { c: 'y', d: 'extra fields do not matter' } })).toBe(true);
  });

  it('refuses what it cannot judge, so that no record slips through a filter it does not understand', () => {
    for (const pattern of [
      { eventName: [{ prefix: 'INS' }] },
      { eventName: [{ 'anything-but': 'REMOVE' }] },
      { dynamodb: { NewImage: { kind: { S: [{ exists: true }] } } } },
      { $or: [{ eventName: ['INSERT'] }] },
      { eventName: 'INSERT' },
      { eventName: [] },
      { dynamodb: {} },
      {},
      ['INSERT'],
      null,
    ]) {
      expect(() => compileFilterPattern(pattern), JSON.stringify(pattern)).toThrow(InvalidFilterPatternError);
    }
  });
});
