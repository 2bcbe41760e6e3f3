import { describe, expect, it } from 'vitest';
import type * as z from '../../../lambdas/domain/zod.ts';
import { ValidationError } from '../../../lambdas/domain/errors.ts';
import {
  acceptanceDecisionBody,
  approvalForm,
  createTransferBody,
  listTransfersQuery,
  parseInput,
  releaseDecisionBody,
  type Schema,
} from '../../../lambdas/domain/requests.ts';

interface Issue {
  field: string;
  message: string;
}

function rejection(schema: Schema<z.ZodMiniType>, value: unknown, what: string): { error: ValidationError; issues: Issue[] } {
  try {
    parseInput(schema, value, what);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const details = error.details as { issues: Issue[] };
    return { error, issues: details.issues };
  }
  throw new Error(`expected the ${what} to be refused`);
}

const VALID_CREATE = { customerIds: ['C-1001'], toPartnerId: 'P-BLUE' };

describe('createTransferBody', () => {
  it('accepts a minimal and a full request, trimming text', () => {
    expect(parseInput(createTransferBody, VALID_CREATE, 'request')).toEqual(VALID_CREATE);
    expect(
      parseInput(
        createTransferBody,
        {
          ...VALID_CREATE,
          requestedDate: 'immediate',
          ticketId: ' SUP-1 ',
          note: ' line one\nline two ',
          release: { transferDate: '2026-04-01', signedBy: '  Alice Smith ' },
        },
        'request',
      ),
    ).toEqual({
      ...VALID_CREATE,
      requestedDate: 'immediate',
      ticketId: 'SUP-1',
      note: 'line one\nline two',
      release: { transferDate: '2026-04-01', signedBy: 'Alice Smith' },
    });
  });

  it('unknown fields: one readable 400 naming them', () => {
    const { error, issues } = rejection(createTransferBody, { ...VALID_CREATE, foo: 1, bar: 2 }, 'request');
    expect(error.status).toBe(400);
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.message).toBe('The request is not valid. request: unknown fields: foo, bar.');
    expect(issues).toEqual([{ field: 'request', message: 'unknown fields: foo, bar' }]);
  });

  it('an unknown field inside release is named with its path', () => {
    const { issues } = rejection(createTransferBody, { ...VALID_CREATE, release: { transferDate: '2026-04-01', signedBy: 'Al', x: 1 } }, 'request');
    expect(issues).toEqual([{ field: 'release', message: 'unknown field: x' }]);
  });

  it('a customer named twice', () => {
    const { error, issues } = rejection(createTransferBody, { ...VALID_CREATE, customerIds: ['C-1', 'C-1'] }, 'request');
    expect(issues).toEqual([{ field: 'customerIds', message: 'must not name a customer twice' }]);
    expect(error.message).toBe('The request is not valid. customerIds: must not name a customer twice.');
  });

  it('no customer, an empty id, more than 50 customers', () => {
    expect(rejection(createTransferBody, { ...VALID_CREATE, customerIds: [] }, 'request').issues).toEqual([
      { field: 'customerIds', message: 'must name at least one customer' },
    ]);
    expect(rejection(createTransferBody, { ...VALID_CREATE, customerIds: [''] }, 'request').issues).toContainEqual({
      field: 'customerIds.0',
      message: 'must not be empty',
    });
    const fiftyOne = Array.from({ length: 51 }, (_, i) => `C-${i}`);
    expect(rejection(createTransferBody, { ...VALID_CREATE, customerIds: fiftyOne }, 'request').issues).toEqual([
      { field: 'customerIds', message: 'may name at most 50 customers' },
    ]);
    expect(parseInput(createTransferBody, { ...VALID_CREATE, customerIds: fiftyOne.slice(0, 50) }, 'request').customerIds).toHaveLength(50);
  });

  it('ids with odd characters or over 64 characters', () => {
    const { issues } = rejection(createTransferBody, { customerIds: ['C 1', 'C'.repeat(65)], toPartnerId: 'P#1' }, 'request');
    expect(issues).toEqual([
      { field: 'customerIds.0', message: 'may hold only letters, digits and . _ : -' },
      { field: 'customerIds.1', message: 'must be at most 64 characters' },
      { field: 'toPartnerId', message: 'may hold only letters, digits and . _ : -' },
    ]);
  });

  it.each(['2026-02-30', '2026/03/01', '2026-3-1', 'tomorrow', '2026-04-01T00:00:00Z'])('a bad date %s', (requestedDate) => {
    const { issues } = rejection(createTransferBody, { ...VALID_CREATE, requestedDate }, 'request');
    expect(issues).toHaveLength(1);
    expect(issues[0]?.field).toBe('requestedDate');
    expect(issues[0]?.message).toMatch(/YYYY-MM-DD/);
  });

  it('oversized note and signer name', () => {
    expect(rejection(createTransferBody, { ...VALID_CREATE, note: 'x'.repeat(1001) }, 'request').issues).toEqual([
      { field: 'note', message: 'must be at most 1000 characters' },
    ]);
    expect(
      rejection(createTransferBody, { ...VALID_CREATE, release: { transferDate: 'immediate', signedBy: 'a'.repeat(121) } }, 'request').issues,
    ).toEqual([{ field: 'release.signedBy', message: 'must be at most 120 characters' }]);
  });

  it('a one-letter signature is not a full name', () => {
    expect(rejection(createTransferBody, { ...VALID_CREATE, release: { transferDate: 'immediate', signedBy: ' A ' } }, 'request').issues).toEqual([
      { field: 'release.signedBy', message: 'must be the full name of the person signing' },
    ]);
  });

  it('not an object at all', () => {
    expect(rejection(createTransferBody, 'hello', 'request').issues).toEqual([
      { field: 'request', message: 'Invalid input: expected object, received string' },
    ]);
    expect(rejection(createTransferBody, null, 'request').error.status).toBe(400);
  });
});

describe('single-line fields refuse control characters', () => {
  const release = (signedBy: string, ticketId?: string) => ({
    decision: 'release',
    transferDate: '2026-04-01',
    signedBy,
    ...(ticketId === undefined ? {} : { ticketId }),
  });

  it.each([
    ['a line feed (header injection)', 'Alice\nBcc: victim@example.test'],
    ['a carriage return', 'Alice\rSmith'],
    ['a tab', 'Alice\tSmith'],
    ['a NUL', 'Alice\u0000Smith'],
    ['DEL', 'Alice\u007fSmith'],
    ['an escape', 'Alice\u001b[31mSmith'],
  ])('signedBy with %s', (_label, signedBy) => {
    expect(rejection(releaseDecisionBody, release(signedBy), 'decision').issues).toEqual([
      { field: 'signedBy', message: 'must be a single line of text' },
    ]);
  });

  it.each([
    ['NEL, a C1 control character that means "next line"', 'Alice\u0085Smith'],
    ['another C1 control character', 'Alice\u009bSmith'],
    ['the Unicode line separator', 'Alice\u2028Smith'],
    ['the Unicode paragraph separator', 'Alice\u2029Smith'],
  ])('signedBy with %s', (_label, signedBy) => {
    expect(rejection(releaseDecisionBody, release(signedBy), 'decision').issues).toEqual([
      { field: 'signedBy', message: 'must be a single line of text' },
    ]);
  });

  it('a ticket id with a line break inside', () => {
    expect(rejection(releaseDecisionBody, release('Alice Smith', 'T-1\r\nX-Injected: 1'), 'decision').issues).toEqual([
      { field: 'ticketId', message: 'must be a single line of text' },
    ]);
  });

  it('surrounding whitespace (including a trailing newline) is trimmed, not refused', () => {
    expect(parseInput(releaseDecisionBody, release('  Alice Smith \n'), 'decision')).toMatchObject({ signedBy: 'Alice Smith' });
  });

  it('a note may span lines', () => {
    expect(parseInput(createTransferBody, { ...VALID_CREATE, note: 'one\ntwo' }, 'request').note).toBe('one\ntwo');
  });
});

describe('decision bodies are discriminated by decision', () => {
  it('release needs a date; decline needs a reason of at least 3 characters', () => {
    expect(parseInput(releaseDecisionBody, { decision: 'release', transferDate: 'immediate', signedBy: 'Alice Smith' }, 'decision')).toEqual({
      decision: 'release',
      transferDate: 'immediate',
      signedBy: 'Alice Smith',
    });
    expect(rejection(releaseDecisionBody, { decision: 'release', signedBy: 'Alice Smith' }, 'decision').issues.map((i) => i.field)).toEqual([
      'transferDate',
    ]);
    expect(rejection(acceptanceDecisionBody, { decision: 'decline', signedBy: 'Bob Jones', reason: ' no ' }, 'decision').issues).toEqual([
      { field: 'reason', message: 'must say why, in a few words' },
    ]);
    // Whether words are needed depends on the reason code (the domain asks for them with OTHER); a code must be one of the list.
    expect(parseInput(releaseDecisionBody, { decision: 'decline', reasonCode: 'DISPUTE', signedBy: 'Bob Jones' }, 'decision')).toEqual({
      decision: 'decline',
      reasonCode: 'DISPUTE',
      signedBy: 'Bob Jones',
    });
    expect(rejection(releaseDecisionBody, { decision: 'decline', reasonCode: 'BORED', signedBy: 'Bob Jones' }, 'decision').issues.map((i) => i.field)).toEqual([
      'reasonCode',
    ]);
  });

  it('a decision of the other step is refused with the allowed choices', () => {
    expect(rejection(releaseDecisionBody, { decision: 'accept', signedBy: 'Alice Smith' }, 'decision').issues).toEqual([
      { field: 'decision', message: 'decision must be "release" or "decline"' },
    ]);
    expect(rejection(acceptanceDecisionBody, { decision: 'release', transferDate: 'immediate', signedBy: 'Bob Jones' }, 'decision').issues).toEqual([
      { field: 'decision', message: 'decision must be "accept" or "decline"' },
    ]);
  });

  it('an acceptance carries no date of its own', () => {
    expect(rejection(acceptanceDecisionBody, { decision: 'accept', signedBy: 'Bob Jones', transferDate: '2026-04-01' }, 'decision').issues).toEqual([
      { field: 'decision', message: 'unknown field: transferDate' },
    ]);
  });

  it('a decline\'s reason may hold 1000 characters, not more', () => {
    const body = { decision: 'decline', signedBy: 'Bob Jones' };
    expect(parseInput(acceptanceDecisionBody, { ...body, reason: 'r'.repeat(1000) }, 'decision')).toMatchObject({ decision: 'decline' });
    expect(rejection(acceptanceDecisionBody, { ...body, reason: 'r'.repeat(1001) }, 'decision').issues).toEqual([
      { field: 'reason', message: 'must be at most 1000 characters' },
    ]);
  });
});

describe('approvalForm and listTransfersQuery', () => {
  it('the form takes checkbox values and an empty date', () => {
    expect(parseInput(approvalForm, { decision: 'release', transferDate: '', immediate: 'on', signedBy: 'Alice Smith', acknowledge: 'on' }, 'form')).toEqual({
      decision: 'release',
      transferDate: '',
      immediate: 'on',
      signedBy: 'Alice Smith',
      acknowledge: 'on',
    });
    expect(rejection(approvalForm, { decision: 'maybe', signedBy: 'Alice Smith' }, 'form').issues).toEqual([
      { field: 'decision', message: 'choose whether to agree or decline' },
    ]);
    expect(rejection(approvalForm, { decision: 'release', signedBy: 'Alice Smith', acknowledge: 'nope' }, 'form').issues.map((i) => i.field)).toEqual([
      'acknowledge',
    ]);
  });

  it('the query coerces limit and refuses a fraction, 0 and an unknown status', () => {
    expect(parseInput(listTransfersQuery, { limit: '10', status: 'SCHEDULED' }, 'query')).toEqual({ limit: 10, status: 'SCHEDULED' });
    expect(rejection(listTransfersQuery, { limit: '1.5' }, 'query').issues).toEqual([{ field: 'limit', message: 'must be a whole number' }]);
    expect(rejection(listTransfersQuery, { limit: '0', status: 'NOPE' }, 'query').issues.map((i) => i.field)).toEqual(['status', 'limit']);
    expect(rejection(listTransfersQuery, { limit: '101' }, 'query').issues.map((i) => i.field)).toEqual(['limit']);
    expect(rejection(listTransfersQuery, { cursor: 'x' }, 'query').issues).toEqual([{ field: 'query', message: 'unknown field: cursor' }]);
  });
});
