import { beforeEach, describe, expect, it, vi } from 'vitest';
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

describe('every schema\'s rules and the words of its 400s', () => {
  // The schemas are made on their first use and kept; each test here makes them anew, from a fresh
  // module, so that each rule is held by the test that names it rather than by whichever ran first.
  let requests: typeof import('../../../lambdas/domain/requests.ts');
  beforeEach(async () => {
    vi.resetModules();
    requests = await import('../../../lambdas/domain/requests.ts');
  });

  type SchemaName = 'createTransferBody' | 'releaseDecisionBody' | 'acceptanceDecisionBody' | 'approvalForm' | 'cancelBody' | 'remindBody' | 'extendBody'
    | 'listTransfersQuery' | 'createWebhookBody' | 'webhookListQuery' | 'webhookActionQuery' | 'customerQuery';

  function accepts(schema: SchemaName, value: unknown): unknown {
    return requests.parseInput(requests[schema] as Schema<z.ZodMiniType>, value, 'input');
  }

  function refusal(schema: SchemaName, value: unknown): { message: string; issues: Issue[] } {
    try {
      requests.parseInput(requests[schema] as Schema<z.ZodMiniType>, value, 'input');
    } catch (error) {
      return { message: (error as Error).message, issues: (error as { details: { issues: Issue[] } }).details.issues };
    }
    throw new Error(`expected ${schema} to refuse ${JSON.stringify(value)}`);
  }

  it('an identifier starts with a letter or digit and holds only letters, digits and . _ : - to its end, 1 to 64 of them', () => {
    expect(accepts('createTransferBody', { customerIds: ['C1.x:y_z-0', '9'], toPartnerId: 'P'.repeat(64) })).toMatchObject({ customerIds: ['C1.x:y_z-0', '9'] });
    for (const id of ['-C1', '.hidden', '_x', 'C1 x', 'C1/', 'C1\u00e9']) {
      expect(refusal('createTransferBody', { customerIds: [id], toPartnerId: 'P-1' }).issues).toEqual([
        { field: 'customerIds.0', message: 'may hold only letters, digits and . _ : -' },
      ]);
    }
    expect(refusal('createTransferBody', { customerIds: ['C-1'], toPartnerId: '' }).issues).toEqual([
      { field: 'toPartnerId', message: 'must not be empty' },
      { field: 'toPartnerId', message: 'may hold only letters, digits and . _ : -' },
    ]);
    expect(refusal('createTransferBody', { customerIds: ['C-1'], toPartnerId: 'P'.repeat(65) }).issues).toEqual([
      { field: 'toPartnerId', message: 'must be at most 64 characters' },
    ]);
    expect(accepts('webhookListQuery', { partnerId: 'P-1' })).toEqual({ partnerId: 'P-1' });
    expect(refusal('webhookListQuery', { partnerId: 'P 1' }).issues).toEqual([{ field: 'partnerId', message: 'may hold only letters, digits and . _ : -' }]);
  });

  it('a request names 1 to 50 customers, each once; its lock override gives a reason', () => {
    expect(refusal('createTransferBody', { customerIds: [], toPartnerId: 'P-1' }).issues).toEqual([{ field: 'customerIds', message: 'must name at least one customer' }]);
    const ids = Array.from({ length: 51 }, (_, i) => `C-${i}`);
    expect(refusal('createTransferBody', { customerIds: ids, toPartnerId: 'P-1' }).issues).toEqual([{ field: 'customerIds', message: 'may name at most 50 customers' }]);
    expect(refusal('createTransferBody', { customerIds: ['C-1', 'C-1'], toPartnerId: 'P-1' }).issues).toEqual([
      { field: 'customerIds', message: 'must not name a customer twice' },
    ]);
    expect(accepts('createTransferBody', { customerIds: ['C-1'], toPartnerId: 'P-1', lockOverride: { reason: 'Partner closed' } })).toMatchObject({
      lockOverride: { reason: 'Partner closed' },
    });
    expect(refusal('createTransferBody', { customerIds: ['C-1'], toPartnerId: 'P-1', note: 'n'.repeat(1001) }).issues).toEqual([
      { field: 'note', message: 'must be at most 1000 characters' },
    ]);
  });

  it('dates are calendar dates written YYYY-MM-DD, or "immediate" where a date may be', () => {
    expect(refusal('createTransferBody', { customerIds: ['C-1'], toPartnerId: 'P-1', requestedDate: 20260401 }).issues).toEqual([
      { field: 'requestedDate', message: 'must be a date written YYYY-MM-DD or "immediate"' },
    ]);
    expect(refusal('createTransferBody', { customerIds: ['C-1'], toPartnerId: 'P-1', requestedDate: 'tomorrow' }).issues).toEqual([
      { field: 'requestedDate', message: 'must be a calendar date written YYYY-MM-DD' },
    ]);
    expect(refusal('releaseDecisionBody', { decision: 'release', signedBy: 'Alice Smith' }).issues).toEqual([
      { field: 'transferDate', message: 'must be a date written YYYY-MM-DD or "immediate"' },
    ]);
    expect(refusal('approvalForm', { decision: 'release', signedBy: 'Alice Smith', transferDate: '2026-02-30' }).issues).toEqual([
      { field: 'transferDate', message: 'must be a calendar date written YYYY-MM-DD' },
    ]);
  });

  it('a signature is one line of 2 to 120 characters; a ticket id one line of 1 to 64', () => {
    const release = (signedBy: string, ticketId?: string) => ({ decision: 'release', transferDate: 'immediate', signedBy, ...(ticketId === undefined ? {} : { ticketId }) });
    expect(refusal('releaseDecisionBody', release('A')).issues).toEqual([{ field: 'signedBy', message: 'must be the full name of the person signing' }]);
    expect(refusal('releaseDecisionBody', release('Alice\nSmith')).issues).toEqual([{ field: 'signedBy', message: 'must be a single line of text' }]);
    expect(refusal('releaseDecisionBody', release('a'.repeat(121))).issues).toEqual([{ field: 'signedBy', message: 'must be at most 120 characters' }]);
    expect(refusal('releaseDecisionBody', release('Alice Smith', ' ')).issues).toEqual([{ field: 'ticketId', message: 'must not be empty' }]);
    expect(refusal('remindBody', { ticketId: 'T'.repeat(65) }).issues).toEqual([{ field: 'ticketId', message: 'must be at most 64 characters' }]);
    expect(accepts('remindBody', { ticketId: ' SUP-1 ' })).toEqual({ ticketId: 'SUP-1' });
  });

  it('a decline\'s reason holds 3 to 1000 characters after trimming; its code is one of the list', () => {
    const decline = (fields: Record<string, unknown>) => ({ decision: 'decline', signedBy: 'Bob Jones', ...fields });
    expect(accepts('acceptanceDecisionBody', decline({ reason: ' abc ' }))).toEqual({ decision: 'decline', signedBy: 'Bob Jones', reason: 'abc' });
    expect(refusal('acceptanceDecisionBody', decline({ reason: ' ab ' })).issues).toEqual([{ field: 'reason', message: 'must say why, in a few words' }]);
    expect(refusal('acceptanceDecisionBody', decline({ reason: 'r'.repeat(1001) })).issues).toEqual([{ field: 'reason', message: 'must be at most 1000 characters' }]);
    expect(refusal('releaseDecisionBody', decline({ reasonCode: 'BORED' })).issues).toEqual([
      { field: 'reasonCode', message: 'must be one of OUTSTANDING_BALANCE, CONTRACT_IN_FORCE, CUSTOMER_NOT_CONSENTED, DISPUTE, WRONG_CUSTOMER_OR_PARTNER, OTHER' },
    ]);
    expect(accepts('cancelBody', { reason: 'abc' })).toEqual({ reason: 'abc' });
    expect(refusal('cancelBody', { reason: 'ab' }).issues).toEqual([{ field: 'reason', message: 'must say why, in a few words' }]);
  });

  it('each step takes its own decisions and a decline, and says which', () => {
    expect(accepts('releaseDecisionBody', { decision: 'decline', reason: 'Unpaid', signedBy: 'Alice Smith' })).toMatchObject({ decision: 'decline' });
    expect(accepts('acceptanceDecisionBody', { decision: 'accept', signedBy: 'Bob Jones' })).toEqual({ decision: 'accept', signedBy: 'Bob Jones' });
    expect(refusal('releaseDecisionBody', { decision: 'accept', signedBy: 'Alice Smith' }).issues).toEqual([
      { field: 'decision', message: 'decision must be "release" or "decline"' },
    ]);
    expect(refusal('acceptanceDecisionBody', { decision: 'release', signedBy: 'Bob Jones' }).issues).toEqual([
      { field: 'decision', message: 'decision must be "accept" or "decline"' },
    ]);
  });

  it('the form\'s checkboxes count as ticked with on, true, yes or 1; its reason code may be left empty', () => {
    for (const ticked of ['on', 'true', 'yes', '1']) {
      expect(accepts('approvalForm', { decision: 'accept', signedBy: 'Bob Jones', acknowledge: ticked, immediate: ticked })).toMatchObject({ acknowledge: ticked, immediate: ticked });
    }
    for (const other of ['', 'off', 'false', '0', 'checked']) {
      expect(refusal('approvalForm', { decision: 'accept', signedBy: 'Bob Jones', acknowledge: other }).issues.map((i) => i.field)).toEqual(['acknowledge']);
    }
    expect(accepts('approvalForm', { decision: 'decline', signedBy: 'Bob Jones', reasonCode: '', reason: '' })).toMatchObject({ decision: 'decline', reasonCode: '' });
    expect(accepts('approvalForm', { decision: 'decline', signedBy: 'Bob Jones', reasonCode: 'DISPUTE' })).toMatchObject({ reasonCode: 'DISPUTE' });
    expect(refusal('approvalForm', { decision: 'decline', signedBy: 'Bob Jones', reasonCode: 'BORED' }).issues.map((i) => i.field)).toEqual(['reasonCode']);
  });

  it('an extension is 1 to 30 whole days, on a ticket', () => {
    expect(accepts('extendBody', { ticketId: 'SUP-1', days: 30 })).toEqual({ ticketId: 'SUP-1', days: 30 });
    expect(refusal('extendBody', { ticketId: 'SUP-1', days: 'seven' }).issues).toEqual([{ field: 'days', message: 'must be a whole number of days' }]);
    expect(refusal('extendBody', { ticketId: 'SUP-1', days: 1.5 }).issues).toEqual([{ field: 'days', message: 'must be a whole number of days' }]);
    expect(refusal('extendBody', { ticketId: 'SUP-1', days: 0 }).issues).toEqual([{ field: 'days', message: 'must be at least 1' }]);
    expect(refusal('extendBody', { ticketId: 'SUP-1', days: 31 }).issues).toEqual([{ field: 'days', message: 'may be at most 30' }]);
  });

  it('a listing may ask for any status; a customer\'s page for 1 to 100 users and its next page', () => {
    for (const status of ['AWAITING_RELEASE', 'AWAITING_ACCEPTANCE', 'SCHEDULED', 'IN_PROGRESS', 'COMPLETED', 'DECLINED', 'EXPIRED', 'CANCELLED', 'FAILED']) {
      expect(accepts('listTransfersQuery', { status })).toEqual({ status });
    }
    expect(accepts('customerQuery', { limit: '100', nextToken: 'abc' })).toEqual({ limit: 100, nextToken: 'abc' });
    expect(refusal('customerQuery', { limit: '2.5' }).issues).toEqual([{ field: 'limit', message: 'must be a whole number' }]);
  });

  it('a webhook names a URL of at most 2048 characters and each event type it wants once', () => {
    expect(accepts('createWebhookBody', { url: 'https://example.test/hook', events: ['transfer.declined'], partnerId: 'P-1', ticketId: 'SUP-1' })).toMatchObject({
      events: ['transfer.declined'],
    });
    expect(refusal('createWebhookBody', { url: ' ' }).issues).toEqual([{ field: 'url', message: 'must not be empty' }]);
    expect(refusal('createWebhookBody', { url: `https://example.test/${'x'.repeat(2030)}` }).issues).toEqual([
      { field: 'url', message: 'must be at most 2048 characters' },
    ]);
    expect(refusal('createWebhookBody', { url: 'https://example.test/', events: [] }).issues).toEqual([
      { field: 'events', message: 'must name at least one event type (leave it out for all)' },
    ]);
    expect(refusal('createWebhookBody', { url: 'https://example.test/', events: ['transfer.failed', 'transfer.failed'] }).issues).toEqual([
      { field: 'events', message: 'must not name an event type twice' },
    ]);
    expect(refusal('createWebhookBody', { url: 'https://example.test/', events: ['transfer.moved'] }).issues[0]?.message).toBe(
      'must be one of transfer.requested, transfer.released, transfer.accepted, transfer.scheduled, transfer.completed, transfer.declined, transfer.expired, transfer.cancelled, transfer.failed',
    );
    expect(accepts('webhookActionQuery', { ticketId: 'SUP-1' })).toEqual({ ticketId: 'SUP-1' });
  });

  it('one 400 lists every issue, each with its field', () => {
    expect(refusal('extendBody', { days: 0 })).toEqual({
      message: 'The input is not valid. ticketId: is required; days: must be at least 1.',
      issues: [
        { field: 'ticketId', message: 'is required' },
        { field: 'days', message: 'must be at least 1' },
      ],
    });
  });
});
