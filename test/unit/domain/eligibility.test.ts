import { describe, expect, it } from 'vitest';
import { billingAdvice } from '../../../lambdas/domain/billing.ts';
import type { Caller } from '../../../lambdas/domain/caller.ts';
import type { CustomerOwnership, Partner } from '../../../lambdas/domain/directory.ts';
import {
  checkCodesFor,
  currentPartnerId,
  evaluateEligibility,
  validRequest,
  verdict,
  type Eligibility,
  type RequestFacts,
} from '../../../lambdas/domain/eligibility.ts';
import { ConflictError, ForbiddenError, NotAllowedError, ValidationError } from '../../../lambdas/domain/errors.ts';
import { DEFAULT_POLICY } from '../../../lambdas/domain/policy.ts';
import type { CreateTransferBody } from '../../../lambdas/domain/requests.ts';
import { EAST, NORTH, SOUTH, TODAY } from './in-memory-ports.ts';

const north: Caller = { kind: 'partner', partnerId: 'P-NORTH', subject: 'alice@northwind.example' };
const south: Caller = { kind: 'partner', partnerId: 'P-SOUTH', subject: 'bob@southgate.example' };
const east: Caller = { kind: 'partner', partnerId: 'P-EAST', subject: 'eve@eastline.example' };
const operator: Caller = { kind: 'operator', subject: 'ops-7' };

const YESTERDAY = '2026-03-09';
const PARTNERS = new Map<string, Partner>([NORTH, SOUTH, EAST].map((p) => [p.id, p]));

function owned(id: string, partnerId: string, lockedUntil: string | null = null): CustomerOwnership {
  return { id, name: `Customer ${id}`, partnerId, lockedUntil };
}

const ACME = owned('C-ACME', 'P-NORTH');
const BRIGHT = owned('C-BRIGHT', 'P-NORTH');
const CORAL = owned('C-CORAL', 'P-SOUTH');

/** The facts as the service gathers them: the current partner read whenever the evaluation needs it. */
function facts(
  caller: Caller,
  body: CreateTransferBody,
  customers: CustomerOwnership[],
  options: { claims?: Record<string, string>; partners?: Map<string, Partner> } = {},
): RequestFacts {
  const partners = options.partners ?? PARTNERS;
  const base: RequestFacts = {
    caller,
    request: validRequest(caller, body, TODAY, DEFAULT_POLICY),
    owned: customers,
    toPartner: partners.get(body.toPartnerId) ?? null,
    claims: new Map(Object.entries(options.claims ?? {})),
    today: TODAY,
  };
  const fromId = currentPartnerId(base);
  return fromId === undefined ? base : { ...base, fromPartner: partners.get(fromId) ?? null };
}

function check(...args: Parameters<typeof facts>): Eligibility {
  return evaluateEligibility(facts(...args));
}

/** Every code of an answer, customers' first, in order. */
function codes(answer: Eligibility): string[] {
  return [...answer.customers.flatMap((c) => c.reasons.map((r) => r.code)), ...answer.problems.map((p) => p.code)];
}

describe('evaluateEligibility', () => {
  it('an eligible request: every customer eligible, no problem, and the billing advice of the date asked', () => {
    const answer = check(north, { customerIds: ['C-ACME', 'C-BRIGHT'], toPartnerId: 'P-SOUTH', requestedDate: '2026-04-02' }, [ACME, BRIGHT]);
    expect(answer).toEqual({
      eligible: true,
      customers: [
        { id: 'C-ACME', eligible: true, reasons: [] },
        { id: 'C-BRIGHT', eligible: true, reasons: [] },
      ],
      problems: [],
      billing: billingAdvice({ today: TODAY, fromInvoiceDay: 1, toInvoiceDay: 15, fromPartnerName: 'Northwind IT', chosenDate: '2026-04-02' }),
    });
    expect(answer.billing).toMatchObject({ recommendedDate: '2026-04-01', aligned: false });
  });

  it('the billing advice is for the release date when there is one, and without a date when none is given', () => {
    expect(check(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', release: { transferDate: 'immediate', signedBy: 'Alice Smith' } }, [ACME]).billing).toMatchObject({
      aligned: false,
      advice: expect.stringContaining(`Warning: ${TODAY}`),
    });
    expect(check(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, [ACME]).billing).toMatchObject({ aligned: null });
  });

  it('UNKNOWN_CUSTOMER names each customer the directory lacks; the others are judged as usual', () => {
    const answer = check(north, { customerIds: ['C-NOPE', 'C-ACME', 'C-GONE'], toPartnerId: 'P-SOUTH' }, [ACME]);
    expect(answer.eligible).toBe(false);
    expect(answer.customers).toEqual([
      { id: 'C-NOPE', eligible: false, reasons: [{ code: 'UNKNOWN_CUSTOMER', message: 'Unknown customer: C-NOPE.' }] },
      { id: 'C-ACME', eligible: true, reasons: [] },
      { id: 'C-GONE', eligible: false, reasons: [{ code: 'UNKNOWN_CUSTOMER', message: 'Unknown customer: C-GONE.' }] },
    ]);
    expect(answer.problems).toEqual([]);
  });

  it('BUSY says only that the customer is in another active transfer: never which transfer, nor its partners', () => {
    // The new partner asks for a customer that its owner is moving to someone else.
    const answer = check(south, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, [ACME], { claims: { 'C-ACME': 'TR-20260301-SECRET0001' } });
    expect(answer.customers).toEqual([
      { id: 'C-ACME', eligible: false, reasons: [{ code: 'BUSY', message: 'C-ACME is already in another active transfer.' }] },
    ]);
    const text = JSON.stringify(answer);
    expect(text).not.toContain('TR-');
    expect(text).not.toContain('SECRET');
    expect(text).not.toContain('P-EAST');
    expect(text).not.toContain('Eastline');
  });

  it('LOCKED up to and including the last locked day, with that day as until; the day after, free', () => {
    const lockedToday = check(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, [owned('C-ACME', 'P-NORTH', TODAY)]);
    expect(lockedToday.customers).toEqual([
      {
        id: 'C-ACME',
        eligible: false,
        reasons: [
          {
            code: 'LOCKED',
            message: `C-ACME was transferred recently and is locked until ${TODAY}; a new request is possible from 2026-03-11.`,
            until: TODAY,
          },
        ],
      },
    ]);
    expect(lockedToday.eligible).toBe(false);

    const lockEndedYesterday = check(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, [owned('C-ACME', 'P-NORTH', YESTERDAY)]);
    expect(lockEndedYesterday).toMatchObject({ eligible: true, customers: [{ id: 'C-ACME', eligible: true, reasons: [] }], problems: [] });
  });

  it('an operator\'s lockOverride lifts the lock; a partner\'s is FORBIDDEN and lifts nothing', () => {
    const locked = [owned('C-ACME', 'P-NORTH', '2026-03-20')];
    const lockOverride = { reason: 'Merger of the two partners' };
    const byOperator = check(operator, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', ticketId: 'SUP-1', lockOverride }, locked);
    expect(byOperator).toMatchObject({ eligible: true, customers: [{ id: 'C-ACME', eligible: true, reasons: [] }], problems: [] });

    const byPartner = check(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', lockOverride }, locked);
    expect(byPartner.eligible).toBe(false);
    expect(codes(byPartner)).toEqual(['LOCKED', 'FORBIDDEN']);
    expect(byPartner.problems).toEqual([{ code: 'FORBIDDEN', message: 'Only a provider operator can override the post-transfer lock.' }]);
  });

  it('NOT_TRANSFERABLE_BY_CALLER for a partner neither owner nor new partner, and nothing more about that customer', () => {
    // C-CORAL is P-SOUTH's, locked, claimed, and asked for on P-SOUTH's behalf... by P-EAST.
    const answer = check(east, { customerIds: ['C-CORAL'], toPartnerId: 'P-SOUTH' }, [owned('C-CORAL', 'P-SOUTH', '2026-03-20')], {
      claims: { 'C-CORAL': 'TR-20260301-SECRET0002' },
    });
    expect(answer).toEqual({
      eligible: false,
      customers: [
        {
          id: 'C-CORAL',
          eligible: false,
          reasons: [{ code: 'NOT_TRANSFERABLE_BY_CALLER', message: 'A partner may request a transfer only of its own customers, or to itself.' }],
        },
      ],
      // Not SAME_PARTNER: that would say whose customer it is. No billing: that would name its partner.
      problems: [],
    });
  });

  it('a partner asking for its own customers beside others\' is told MIXED_PARTNERS; among others\' only, it is not told whether they share a partner', () => {
    const own = check(north, { customerIds: ['C-ACME', 'C-CORAL'], toPartnerId: 'P-EAST' }, [ACME, CORAL]);
    expect(own.customers.map((c) => c.reasons.map((r) => r.code))).toEqual([[], ['NOT_TRANSFERABLE_BY_CALLER']]);
    expect(own.problems).toEqual([{ code: 'MIXED_PARTNERS', message: 'All customers of one request must belong to the same partner.' }]);
    expect(own.billing).toBeUndefined();

    const othersOnly = check(east, { customerIds: ['C-ACME', 'C-CORAL'], toPartnerId: 'P-SOUTH' }, [ACME, CORAL]);
    expect(codes(othersOnly)).toEqual(['NOT_TRANSFERABLE_BY_CALLER', 'NOT_TRANSFERABLE_BY_CALLER']);
    expect(othersOnly.problems).toEqual([]);
  });

  it('MIXED_PARTNERS names the partners to an operator only', () => {
    const byOperator = check(operator, { customerIds: ['C-ACME', 'C-CORAL'], toPartnerId: 'P-EAST', ticketId: 'SUP-1' }, [ACME, CORAL]);
    expect(byOperator.problems).toEqual([
      { code: 'MIXED_PARTNERS', message: 'All customers of one request must belong to the same partner. They belong to P-NORTH, P-SOUTH.' },
    ]);
    const byNewPartner = check(east, { customerIds: ['C-ACME', 'C-CORAL'], toPartnerId: 'P-EAST' }, [ACME, CORAL]);
    expect(byNewPartner.problems).toEqual([{ code: 'MIXED_PARTNERS', message: 'All customers of one request must belong to the same partner.' }]);
    expect(byNewPartner.customers.every((c) => c.eligible)).toBe(true);
    expect(byNewPartner.eligible).toBe(false);
    expect(byNewPartner.billing).toBeUndefined();
  });

  it('SAME_PARTNER when the customers already belong to the new partner, with no billing advice', () => {
    const answer = check(north, { customerIds: ['C-ACME'], toPartnerId: 'P-NORTH' }, [ACME]);
    expect(answer).toEqual({
      eligible: false,
      customers: [{ id: 'C-ACME', eligible: true, reasons: [] }],
      problems: [{ code: 'SAME_PARTNER', message: 'The customers already belong to P-NORTH.' }],
    });
    const some = check(operator, { customerIds: ['C-ACME', 'C-CORAL'], toPartnerId: 'P-SOUTH', ticketId: 'SUP-1' }, [ACME, CORAL]);
    expect(some.problems.map((p) => [p.code, p.message])).toEqual([
      ['MIXED_PARTNERS', 'All customers of one request must belong to the same partner. They belong to P-NORTH, P-SOUTH.'],
      ['SAME_PARTNER', 'C-CORAL already belongs to P-SOUTH.'],
    ]);
  });

  it('UNKNOWN_PARTNER for a new partner or a current partner the directory lacks; no billing then', () => {
    const newPartner = check(north, { customerIds: ['C-ACME'], toPartnerId: 'P-NOPE' }, [ACME]);
    expect(newPartner.problems).toEqual([{ code: 'UNKNOWN_PARTNER', message: 'Unknown partner: P-NOPE.' }]);
    expect(newPartner.billing).toBeUndefined();

    const orphan = owned('C-ORPHAN', 'P-GONE');
    const currentPartner = check(south, { customerIds: ['C-ORPHAN'], toPartnerId: 'P-SOUTH' }, [orphan]);
    expect(currentPartner.problems).toEqual([{ code: 'UNKNOWN_PARTNER', message: 'The current partner P-GONE is not in the directory.' }]);
    expect(currentPartner.billing).toBeUndefined();
  });

  it('FORBIDDEN for a release given by a partner that does not hold the customers', () => {
    const answer = check(south, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', release: { transferDate: '2026-04-01', signedBy: 'Bob Jones' } }, [ACME]);
    expect(answer.problems).toEqual([{ code: 'FORBIDDEN', message: 'Only the current partner can release its customers.' }]);
    expect(answer.customers.every((c) => c.eligible)).toBe(true);
    expect(answer.eligible).toBe(false);
  });

  it('lists several reasons and problems at once', () => {
    const answer = check(
      north,
      {
        customerIds: ['C-ACME', 'C-BRIGHT', 'C-NOPE', 'C-CORAL'],
        toPartnerId: 'P-NOPE',
        lockOverride: { reason: 'Customer insists' },
      },
      [owned('C-ACME', 'P-NORTH', TODAY), BRIGHT, CORAL],
      { claims: { 'C-ACME': 'TR-1', 'C-BRIGHT': 'TR-2' } },
    );
    expect(answer.customers.map((c) => [c.id, c.reasons.map((r) => r.code)])).toEqual([
      ['C-ACME', ['BUSY', 'LOCKED']],
      ['C-BRIGHT', ['BUSY']],
      ['C-NOPE', ['UNKNOWN_CUSTOMER']],
      ['C-CORAL', ['NOT_TRANSFERABLE_BY_CALLER']],
    ]);
    expect(answer.customers.find((c) => c.id === 'C-ACME')?.reasons[1]?.until).toBe(TODAY);
    expect(answer.problems.map((p) => p.code)).toEqual(['MIXED_PARTNERS', 'UNKNOWN_PARTNER', 'FORBIDDEN']);
    expect(answer.eligible).toBe(false);
  });
});

describe('validRequest (a 400 for the request and its check alike)', () => {
  it('an operator needs a ticket; dates must be today or later and agree', () => {
    expect(() => validRequest(operator, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, TODAY, DEFAULT_POLICY)).toThrow(ValidationError);
    expect(() => validRequest(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', requestedDate: YESTERDAY }, TODAY, DEFAULT_POLICY)).toThrow(
      'requestedDate 2026-03-09 is in the past; use 2026-03-10 or later, or "immediate".',
    );
    expect(() =>
      validRequest(
        north,
        { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', requestedDate: '2026-04-01', release: { transferDate: '2026-04-02', signedBy: 'Alice Smith' } },
        TODAY,
        DEFAULT_POLICY,
      ),
    ).toThrow('requestedDate and release.transferDate differ');
    expect(validRequest(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', requestedDate: 'immediate' }, TODAY, DEFAULT_POLICY)).toMatchObject({
      requested: { transferDate: TODAY, immediate: true },
      released: null,
    });
  });
});

describe('verdict (POST /transfers: the first finding, in its historic order)', () => {
  it('waits for the current partner only when nothing before it refuses', () => {
    const base = facts(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, [owned('C-ACME', 'P-NORTH', TODAY)]);
    const { fromPartner: _read, ...unread } = base;
    expect(verdict(unread)).toEqual({ kind: 'pending', fromId: 'P-NORTH' });
    // With the current partner read, the lock refuses it.
    const locked = verdict(base);
    expect(locked.kind === 'refused' && locked.error).toBeInstanceOf(ConflictError);
    expect(locked).toMatchObject({ kind: 'refused', error: { status: 409, code: 'LOCKED', details: { customers: [{ id: 'C-ACME', lockedUntil: TODAY, lockEnds: '2026-03-11' }] } } });
    // An unknown current partner comes before the lock.
    expect(verdict({ ...base, owned: [owned('C-ACME', 'P-GONE', TODAY)], fromPartner: null, caller: operator, request: { ...base.request, body: { ...base.request.body, ticketId: 'SUP-1' } } })).toMatchObject({
      kind: 'refused',
      error: { status: 422, code: 'UNKNOWN_PARTNER', message: 'The current partner P-GONE is not in the directory.' },
    });
  });

  it('takes the findings in order: unknown customer, the caller\'s right, mixed partners, same partner, the release, the new partner', () => {
    const refusal = (f: RequestFacts) => {
      const v = verdict(f);
      return v.kind === 'refused' ? [v.error.constructor, v.error.code, v.error.message] : v.kind;
    };
    expect(refusal(facts(east, { customerIds: ['C-NOPE', 'C-ACME', 'C-CORAL'], toPartnerId: 'P-NOPE' }, [ACME, CORAL]))).toEqual([
      NotAllowedError,
      'UNKNOWN_CUSTOMER',
      'Unknown customer: C-NOPE.',
    ]);
    // A partner on neither side learns only that it may not: not whether the customers share a partner, nor who holds them.
    for (const body of [{ customerIds: ['C-ACME', 'C-CORAL'], toPartnerId: 'P-NOPE' }, { customerIds: ['C-ACME'], toPartnerId: 'P-NORTH' }]) {
      expect(refusal(facts(east, body, body.customerIds.length > 1 ? [ACME, CORAL] : [ACME]))).toEqual([
        ForbiddenError,
        'FORBIDDEN',
        'A partner may request a transfer only of its own customers, or to itself.',
      ]);
    }
    const mixed = verdict(facts(operator, { customerIds: ['C-ACME', 'C-CORAL'], toPartnerId: 'P-NOPE', ticketId: 'SUP-1' }, [ACME, CORAL]));
    expect(mixed.kind === 'refused' ? [mixed.error.code, mixed.error.details] : mixed.kind).toEqual(['MIXED_PARTNERS', { partners: ['P-NORTH', 'P-SOUTH'] }]);
    const mixedForNewPartner = verdict(facts(north, { customerIds: ['C-ACME', 'C-CORAL'], toPartnerId: 'P-NORTH' }, [ACME, CORAL]));
    expect(mixedForNewPartner.kind === 'refused' ? [mixedForNewPartner.error.code, mixedForNewPartner.error.details] : mixedForNewPartner.kind).toEqual(['MIXED_PARTNERS', undefined]);
    expect(refusal(facts(operator, { customerIds: ['C-ACME'], toPartnerId: 'P-NORTH', ticketId: 'SUP-1' }, [ACME]))).toEqual([
      NotAllowedError,
      'SAME_PARTNER',
      'The customers already belong to P-NORTH.',
    ]);
    expect(refusal(facts(east, { customerIds: ['C-ACME'], toPartnerId: 'P-NOPE', release: { transferDate: 'immediate', signedBy: 'Eve Long' } }, [ACME]))).toEqual([
      ForbiddenError,
      'FORBIDDEN',
      'A partner may request a transfer only of its own customers, or to itself.',
    ]);
    expect(refusal(facts(south, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', release: { transferDate: 'immediate', signedBy: 'Bob Jones' } }, [ACME]))).toEqual([
      ForbiddenError,
      'FORBIDDEN',
      'Only the current partner can release its customers.',
    ]);
    expect(refusal(facts(north, { customerIds: ['C-ACME'], toPartnerId: 'P-NOPE', lockOverride: { reason: 'Customer insists' } }, [ACME]))).toEqual([
      NotAllowedError,
      'UNKNOWN_PARTNER',
      'Unknown partner: P-NOPE.',
    ]);
    expect(refusal(facts(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', lockOverride: { reason: 'Customer insists' } }, [owned('C-ACME', 'P-NORTH', TODAY)]))).toEqual([
      ForbiddenError,
      'FORBIDDEN',
      'Only a provider operator can override the post-transfer lock.',
    ]);
  });

  it('admits a request with nothing against it, ignoring claims (the write is their judge)', () => {
    const admitted = verdict({ ...facts(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, [ACME], { claims: { 'C-ACME': 'TR-1' } }), fromPartner: NORTH });
    expect(admitted).toEqual({ kind: 'admitted', fromId: 'P-NORTH', from: NORTH, to: SOUTH, locked: [] });
  });
});

describe('eligibility: the words and edges of each finding', () => {
  it('an operator without a ticket is a 400 saying so; a past up-front release names release.transferDate', () => {
    expect(() => validRequest(operator, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, TODAY, DEFAULT_POLICY)).toThrow(
      'An operator files a request on a support ticket\'s behalf: ticketId is required.',
    );
    const past = (() => {
      try {
        validRequest(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', release: { transferDate: YESTERDAY, signedBy: 'Alice Smith' } }, TODAY, DEFAULT_POLICY);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(past).toMatchObject({ status: 400, details: { field: 'release.transferDate' } });
  });

  it('a request\'s date and its release\'s must be the same day and both immediate or both not', () => {
    const body = (requestedDate: string, transferDate: string): CreateTransferBody => ({
      customerIds: ['C-ACME'],
      toPartnerId: 'P-SOUTH',
      requestedDate,
      release: { transferDate, signedBy: 'Alice Smith' },
    });
    expect(validRequest(north, body('2026-04-01', '2026-04-01'), TODAY, DEFAULT_POLICY).released).toEqual({ transferDate: '2026-04-01', immediate: false });
    expect(validRequest(north, body('immediate', 'immediate'), TODAY, DEFAULT_POLICY).released).toEqual({ transferDate: TODAY, immediate: true });
    expect(() => validRequest(north, body('immediate', TODAY), TODAY, DEFAULT_POLICY)).toThrow(ValidationError);
  });

  it('several unknown customers are named together', () => {
    const result = verdict({ ...facts(north, { customerIds: ['C-ACME', 'C-X', 'C-Y'], toPartnerId: 'P-SOUTH' }, [ACME]), fromPartner: NORTH });
    expect(result).toMatchObject({ kind: 'refused', error: { code: 'UNKNOWN_CUSTOMER', message: 'Unknown customers: C-X, C-Y.' } });
  });

  it('several locked customers are each named in the 409', () => {
    const result = verdict({
      ...facts(north, { customerIds: ['C-ACME', 'C-BRIGHT'], toPartnerId: 'P-SOUTH' }, [owned('C-ACME', 'P-NORTH', TODAY), owned('C-BRIGHT', 'P-NORTH', TODAY)]),
      fromPartner: NORTH,
    });
    expect(result).toMatchObject({
      kind: 'refused',
      error: {
        code: 'LOCKED',
        message:
          `C-ACME was transferred recently and is locked until ${TODAY}; a new request is possible from 2026-03-11; ` +
          `C-BRIGHT was transferred recently and is locked until ${TODAY}; a new request is possible from 2026-03-11.`,
      },
    });
  });

  it('an operator without a lock override is held by the lock too', () => {
    const locked = [owned('C-ACME', 'P-NORTH', TODAY)];
    expect(codes(check(operator, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', ticketId: 'SUP-1' }, locked))).toEqual(['LOCKED']);
  });

  it('an operator may give the release up front for any partner\'s customers', () => {
    const body = { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH', ticketId: 'SUP-1', release: { transferDate: 'immediate' as const, signedBy: 'Alice Smith' } };
    expect(check(operator, body, [ACME])).toMatchObject({ eligible: true, problems: [] });
  });

  it('a partner releasing customers of which only some are its own is FORBIDDEN too', () => {
    const body = { customerIds: ['C-ACME', 'C-CORAL'], toPartnerId: 'P-EAST', release: { transferDate: 'immediate' as const, signedBy: 'Alice Smith' } };
    expect(check(north, body, [ACME, CORAL]).problems.map((p) => p.code)).toContain('FORBIDDEN');
  });

  it('some but not all customers already with the new partner are named; one "belongs", several "belong"', () => {
    const one = check(operator, { customerIds: ['C-ACME', 'C-CORAL'], toPartnerId: 'P-SOUTH', ticketId: 'SUP-1' }, [ACME, CORAL]);
    expect(one.problems).toContainEqual({ code: 'SAME_PARTNER', message: 'C-CORAL already belongs to P-SOUTH.' });
    const coral2 = owned('C-CORAL-2', 'P-SOUTH');
    const two = check(operator, { customerIds: ['C-ACME', 'C-CORAL', 'C-CORAL-2'], toPartnerId: 'P-SOUTH', ticketId: 'SUP-1' }, [ACME, CORAL, coral2]);
    expect(two.problems).toContainEqual({ code: 'SAME_PARTNER', message: 'C-CORAL, C-CORAL-2 already belong to P-SOUTH.' });
  });

  it('without the claims read, no customer is found busy', () => {
    const { claims: _claims, ...withoutClaims } = facts(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, [ACME]);
    expect(evaluateEligibility(withoutClaims)).toMatchObject({ eligible: true });
  });

  it('a refusal of POST /transfers stands for the check\'s codes', () => {
    expect(checkCodesFor({ code: 'CUSTOMER_BUSY', message: 'busy' })).toEqual(['BUSY']);
    expect(checkCodesFor({ code: 'FORBIDDEN', message: 'A partner may request a transfer only of its own customers, or to itself.' })).toEqual(['NOT_TRANSFERABLE_BY_CALLER']);
    expect(checkCodesFor({ code: 'FORBIDDEN', message: 'Only the current partner can release its customers.' })).toEqual(['FORBIDDEN']);
    expect(checkCodesFor({ code: 'MIXED_PARTNERS', message: 'mixed' })).toEqual(['MIXED_PARTNERS', 'NOT_TRANSFERABLE_BY_CALLER']);
    expect(checkCodesFor({ code: 'SAME_PARTNER', message: 'same' })).toEqual(['SAME_PARTNER', 'NOT_TRANSFERABLE_BY_CALLER']);
    expect(checkCodesFor({ code: 'LOCKED', message: 'locked' })).toEqual(['LOCKED']);
  });
});
