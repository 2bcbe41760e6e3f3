import { billingAdvice, type BillingAdvice } from './billing.ts';
import type { Caller } from './caller.ts';
import { addDays, type CalendarDate } from './dates.ts';
import type { CustomerOwnership, Partner } from './directory.ts';
import { ConflictError, ForbiddenError, NotAllowedError, ValidationError, type DomainError } from './errors.ts';
import { chooseDate, type ChosenDate, type Policy } from './policy.ts';
import type { CreateTransferBody } from './requests.ts';

/**
 * Whether a transfer request may be filed: one evaluation of the directory's state, read by POST /transfers
 * (which refuses with the first finding, in the order it always has) and by POST /transfers/check (which
 * lists them all, showing a partner nothing about customers it may not move).
 */

export type ReasonCode = 'UNKNOWN_CUSTOMER' | 'BUSY' | 'LOCKED' | 'NOT_TRANSFERABLE_BY_CALLER';
export type ProblemCode = 'UNKNOWN_PARTNER' | 'SAME_PARTNER' | 'MIXED_PARTNERS' | 'FORBIDDEN';

export interface Reason {
  code: ReasonCode;
  message: string;
  /** With LOCKED: the last locked day. */
  until?: CalendarDate;
}

export interface Problem {
  code: ProblemCode;
  message: string;
}

export interface CustomerEligibility {
  id: string;
  eligible: boolean;
  reasons: Reason[];
}

/** The answer of POST /transfers/check. */
export interface Eligibility {
  /** True iff no customer has a reason and the request has no problem. */
  eligible: boolean;
  /** Every customer of the request, in its order. */
  customers: CustomerEligibility[];
  problems: Problem[];
  /** The advice POST /transfers would give, when both partners are known (and not the same). */
  billing?: BillingAdvice;
}

/** A request body that passed every check needing no data: its dates chosen, an operator's ticket given. */
export interface ValidRequest {
  body: CreateTransferBody;
  requested: ChosenDate | null;
  released: ChosenDate | null;
}

/** The checks of a request body that need no data; each failure is a 400, for a request and for its check alike. */
export function validRequest(caller: Caller, body: CreateTransferBody, today: CalendarDate, policy: Policy): ValidRequest {
  if (caller.kind === 'operator' && !body.ticketId) {
    throw new ValidationError('An operator files a request on a support ticket\'s behalf: ticketId is required.', {
      issues: [{ field: 'ticketId', message: 'is required for operators' }],
    });
  }
  const requested = body.requestedDate ? chooseDate(body.requestedDate, today, policy, 'requestedDate') : null;
  const released = body.release ? chooseDate(body.release.transferDate, today, policy, 'release.transferDate') : null;
  if (requested && released && !(requested.immediate === released.immediate && requested.transferDate === released.transferDate)) {
    throw new ValidationError('requestedDate and release.transferDate differ; give one date (or only the release).');
  }
  return { body, requested, released };
}

/** The date a request's billing advice is for: the release's, else the requested one, else none yet. */
export function adviceDate(request: ValidRequest): CalendarDate | null {
  return request.released?.transferDate ?? request.requested?.transferDate ?? null;
}

/** What the directory (and, for a check, the claims) say about a request's customers and partners. */
export interface RequestFacts {
  caller: Caller;
  request: ValidRequest;
  /** The customers found, in the order asked. */
  owned: CustomerOwnership[];
  /** The new partner; null when the directory has no such partner. */
  toPartner: Partner | null;
  /** The current partner (see {@link currentPartnerId}); null when the directory has no such partner, left out while not read. */
  fromPartner?: Partner | null;
  /** Customer id → the transfer holding its claim; left out when not read (a request learns of a claim from its own write). */
  claims?: ReadonlyMap<string, string>;
  today: CalendarDate;
}

export interface LockedCustomer {
  id: string;
  lockedUntil: CalendarDate;
  /** The first day a new request is possible. */
  lockEnds: CalendarDate;
}

/** The findings of one request, before they are turned into a refusal or into a check's answer. */
interface Findings {
  unknown: string[];
  /** The distinct partners of the customers found, first seen first. */
  owners: string[];
  /** Customers found that a partner caller may not move: neither its own nor going to it. */
  notCallers: Set<string>;
  /** A release given by a partner that does not hold every customer found. */
  releaseForbidden: boolean;
  overrideForbidden: boolean;
  /** Customers in their post-transfer lock, whatever the override. */
  locked: LockedCustomer[];
  /** An operator's lockOverride lifts the lock. */
  overridden: boolean;
}

const MIXED_PARTNERS = 'All customers of one request must belong to the same partner.';
const NOT_CALLERS = 'A partner may request a transfer only of its own customers, or to itself.';
const RELEASE_FORBIDDEN = 'Only the current partner can release its customers.';
const OVERRIDE_FORBIDDEN = 'Only a provider operator can override the post-transfer lock.';

function findings({ caller, request: { body }, owned, today }: RequestFacts): Findings {
  const found = new Set(owned.map((c) => c.id));
  const mayMoveOthers = caller.kind === 'operator' || caller.partnerId === body.toPartnerId;
  return {
    unknown: body.customerIds.filter((id) => !found.has(id)),
    owners: [...new Set(owned.map((c) => c.partnerId))],
    notCallers: new Set(mayMoveOthers ? [] : owned.filter((c) => c.partnerId !== caller.partnerId).map((c) => c.id)),
    releaseForbidden: body.release !== undefined && caller.kind === 'partner' && owned.some((c) => c.partnerId !== caller.partnerId),
    overrideForbidden: body.lockOverride !== undefined && caller.kind !== 'operator',
    locked: owned
      .filter((c) => c.lockedUntil !== null && c.lockedUntil >= today)
      .map((c) => ({ id: c.id, lockedUntil: c.lockedUntil as string, lockEnds: addDays(c.lockedUntil as string, 1) })),
    overridden: body.lockOverride !== undefined && caller.kind === 'operator',
  };
}

/**
 * The partner whose record the evaluation needs: the one partner holding every customer found, when the
 * caller may move them all (a partner learns nothing of customers it may not move); else none.
 */
export function currentPartnerId({ caller, request: { body }, owned }: Pick<RequestFacts, 'caller' | 'request' | 'owned'>): string | undefined {
  const owners = [...new Set(owned.map((c) => c.partnerId))];
  const [only] = owners;
  if (owners.length !== 1 || only === undefined) return undefined;
  if (caller.kind === 'partner' && caller.partnerId !== only && caller.partnerId !== body.toPartnerId) return undefined;
  return only;
}

function lockMessage(lock: LockedCustomer): string {
  return `${lock.id} was transferred recently and is locked until ${lock.lockedUntil}; a new request is possible from ${lock.lockEnds}`;
}

/** How POST /transfers answers: refused with its first finding, waiting for the current partner's record, or admitted. */
export type Verdict =
  | { kind: 'refused'; error: DomainError }
  | { kind: 'pending'; fromId: string }
  | { kind: 'admitted'; fromId: string; from: Partner; to: Partner; locked: LockedCustomer[] };

/**
 * The verdict on a request, its findings taken in the order POST /transfers has always checked them. Until
 * the current partner is read, the verdict is a refusal that needs no more, or `pending`. Claims are not
 * part of it: the request's own write finds a claimed customer (CUSTOMER_BUSY), whatever happens meanwhile.
 */
export function verdict(facts: RequestFacts & { fromPartner: Partner | null }): Exclude<Verdict, { kind: 'pending' }>;
export function verdict(facts: RequestFacts): Verdict;
export function verdict(facts: RequestFacts): Verdict {
  const { body } = facts.request;
  const f = findings(facts);
  const refused = (error: DomainError): Verdict => ({ kind: 'refused', error });
  if (f.unknown.length > 0) {
    return refused(
      new NotAllowedError('UNKNOWN_CUSTOMER', `Unknown customer${f.unknown.length > 1 ? 's' : ''}: ${f.unknown.join(', ')}.`, { customerIds: f.unknown }),
    );
  }
  // A partner asking about customers it may not move learns that much, and not who holds them.
  if (f.notCallers.size > 0) return refused(new ForbiddenError(NOT_CALLERS));
  const [fromId] = f.owners;
  if (f.owners.length !== 1 || fromId === undefined) {
    return refused(new NotAllowedError('MIXED_PARTNERS', MIXED_PARTNERS, facts.caller.kind === 'operator' ? { partners: f.owners } : undefined));
  }
  if (fromId === body.toPartnerId) return refused(new NotAllowedError('SAME_PARTNER', `The customers already belong to ${body.toPartnerId}.`));
  if (f.releaseForbidden) return refused(new ForbiddenError(RELEASE_FORBIDDEN));
  if (!facts.toPartner) return refused(new NotAllowedError('UNKNOWN_PARTNER', `Unknown partner: ${body.toPartnerId}.`));
  if (facts.fromPartner === undefined) return { kind: 'pending', fromId };
  if (facts.fromPartner === null) return refused(new NotAllowedError('UNKNOWN_PARTNER', `The current partner ${fromId} is not in the directory.`));
  if (f.overrideForbidden) return refused(new ForbiddenError(OVERRIDE_FORBIDDEN));
  if (f.locked.length > 0 && !f.overridden) {
    return refused(new ConflictError('LOCKED', f.locked.map(lockMessage).join('; ') + '.', { customers: f.locked }));
  }
  return { kind: 'admitted', fromId, from: facts.fromPartner, to: facts.toPartner, locked: f.locked };
}

/**
 * Every finding about a request, as POST /transfers/check answers it. A partner learns nothing about a
 * customer it may not move beyond that (not its lock, nor a claim, nor its partner, nor whether it shares
 * one with the others), and of a customer in another transfer only BUSY: never which transfer or partner.
 */
export function evaluateEligibility(facts: RequestFacts): Eligibility {
  const { caller, request, owned, toPartner, fromPartner, claims } = facts;
  const { body } = request;
  const f = findings(facts);
  const byId = new Map(owned.map((c) => [c.id, c]));
  const locks = new Map(f.locked.map((lock) => [lock.id, lock]));

  const customers = body.customerIds.map((id): CustomerEligibility => {
    const reasons: Reason[] = [];
    if (!byId.has(id)) {
      reasons.push({ code: 'UNKNOWN_CUSTOMER', message: `Unknown customer: ${id}.` });
    } else if (f.notCallers.has(id)) {
      reasons.push({ code: 'NOT_TRANSFERABLE_BY_CALLER', message: NOT_CALLERS });
    } else {
      if (claims?.has(id)) reasons.push({ code: 'BUSY', message: `${id} is already in another active transfer.` });
      const lock = locks.get(id);
      if (lock && !f.overridden) reasons.push({ code: 'LOCKED', message: `${lockMessage(lock)}.`, until: lock.lockedUntil });
    }
    return { id, eligible: reasons.length === 0, reasons };
  });

  const visible = owned.filter((c) => !f.notCallers.has(c.id));
  const visibleOwners = [...new Set(visible.map((c) => c.partnerId))];
  const problems: Problem[] = [];
  // Customers the caller holds beside others it does not: mixed, as it knows; among others only, it is not told.
  if (visibleOwners.length > 1 || (visible.length > 0 && f.notCallers.size > 0)) {
    problems.push({ code: 'MIXED_PARTNERS', message: caller.kind === 'operator' ? `${MIXED_PARTNERS} They belong to ${visibleOwners.join(', ')}.` : MIXED_PARTNERS });
  }
  const already = visible.filter((c) => c.partnerId === body.toPartnerId).map((c) => c.id);
  if (already.length > 0) {
    problems.push({
      code: 'SAME_PARTNER',
      message:
        already.length === owned.length
          ? `The customers already belong to ${body.toPartnerId}.`
          : `${already.join(', ')} already belong${already.length > 1 ? '' : 's'} to ${body.toPartnerId}.`,
    });
  }
  if (f.releaseForbidden) problems.push({ code: 'FORBIDDEN', message: RELEASE_FORBIDDEN });
  if (!toPartner) problems.push({ code: 'UNKNOWN_PARTNER', message: `Unknown partner: ${body.toPartnerId}.` });
  const fromId = currentPartnerId(facts);
  if (fromId !== undefined && fromPartner === null) {
    problems.push({ code: 'UNKNOWN_PARTNER', message: `The current partner ${fromId} is not in the directory.` });
  }
  if (f.overrideForbidden) problems.push({ code: 'FORBIDDEN', message: OVERRIDE_FORBIDDEN });

  const billing =
    fromPartner && toPartner && fromPartner.id === fromId && fromId !== toPartner.id
      ? billingAdvice({
          today: facts.today,
          fromInvoiceDay: fromPartner.invoiceDay,
          toInvoiceDay: toPartner.invoiceDay,
          fromPartnerName: fromPartner.name,
          chosenDate: adviceDate(request),
        })
      : undefined;
  return {
    eligible: problems.length === 0 && customers.every((c) => c.eligible),
    customers,
    problems,
    ...(billing ? { billing } : {}),
  };
}

/**
 * The check's codes a refusal of POST /transfers stands for: a busy claim is BUSY, and a partner that may
 * not move a customer is told only that (MIXED_PARTNERS and SAME_PARTNER may show as that too).
 */
export function checkCodesFor(error: { code: string; message: string }): string[] {
  if (error.code === 'CUSTOMER_BUSY') return ['BUSY'];
  if (error.code === 'FORBIDDEN' && error.message === NOT_CALLERS) return ['NOT_TRANSFERABLE_BY_CALLER'];
  if (error.code === 'MIXED_PARTNERS' || error.code === 'SAME_PARTNER') return [error.code, 'NOT_TRANSFERABLE_BY_CALLER'];
  return [error.code];
}

/** Every code of a check's answer, the customers' first. */
export function checkCodesOf(answer: Eligibility): string[] {
  return [...answer.customers.flatMap((c) => c.reasons.map((r) => r.code)), ...answer.problems.map((p) => p.code)];
}
