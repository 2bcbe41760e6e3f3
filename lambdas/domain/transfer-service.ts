import { randomBytes } from 'node:crypto';
import { billingAdvice, type BillingAdvice } from './billing.ts';
import { actorOf, type Caller } from './caller.ts';
import { acceptanceStatement, declineStatement, releaseStatement } from './consent.ts';
import { consentRecord, type ConsentRecordDocument } from './consent-record.ts';
import { dateAt, type CalendarDate } from './dates.ts';
import { declineGround, type DeclineReasonCode } from './decline-reasons.ts';
import type { CustomerPage, Partner } from './directory.ts';
import { adviceDate, currentPartnerId, evaluateEligibility, validRequest, verdict, type Eligibility, type RequestFacts } from './eligibility.ts';
import { ConflictError, DecisionNotYetDelivered, ForbiddenError, NotFoundError, TransientError, ValidationError } from './errors.ts';
import { chooseDate, type ChosenDate, type Policy } from './policy.ts';
import {
  NO_METRICS,
  type ApprovalStep,
  type Clock,
  type DirectoryPort,
  type InvoiceDays,
  type MailerPort,
  type MetricsPort,
  type TransferPage,
  type TransferState,
  type TransferStorePort,
  type WorkflowPort,
  type WorkflowSignal,
} from './ports.ts';
import {
  acceptanceDecisionBody,
  cancelBody,
  CUSTOMER_PAGE,
  createTransferBody,
  customerQuery,
  listTransfersQuery,
  parseInput,
  releaseDecisionBody,
  type AcceptanceDecisionBody,
  type ReleaseDecisionBody,
} from './requests.ts';
import {
  SNAPSHOT_MAX_DOMAINS,
  STEP_STATUS,
  transferCustomer,
  type Actor,
  type ConsentRecord,
  type HistoryEvent,
  type Step,
  type Transfer,
  type TransferCustomer,
  type TransferStatus,
  type TransferSummary,
  type TransferSummaryWithHistory,
  type TransferWithHistory,
} from './transfer.ts';

/** Where a request came from, recorded with every written consent. */
export interface RequestMeta {
  sourceIp: string | null;
  userAgent: string | null;
}

export interface TransferServiceDeps {
  store: TransferStorePort;
  directory: DirectoryPort;
  workflow: WorkflowPort;
  mailer: MailerPort;
  clock: Clock;
  policy: Policy;
  metrics?: MetricsPort;
}

type DecisionBody = ReleaseDecisionBody | AcceptanceDecisionBody;

/** A decision as it reaches the domain, from the portal API or from a link's form. */
export interface DecisionRequest {
  /** As read with the step (its customers' domains, when the answer shows them and they are missing, are read beside the write). */
  transfer: TransferSummaryWithHistory;
  /** The step as read with the transfer (null: not opened yet); read now when left out. */
  recorded?: ApprovalStep | null;
  /** The partners' invoice days kept with the transfer; the directory is read when they are missing. */
  invoiceDays?: InvoiceDays;
  /** Whether the answer carries the customers' domains (the API's transfer JSON) or their summaries (a page). */
  withDomains: boolean;
  step: Step;
  body: DecisionBody;
  actor: Actor;
  via: 'api' | 'link';
  linkHash: string | null;
  meta: RequestMeta;
}

/** The transfer as it now stands: with its customers' domains when the request asked for them. */
export type DecisionResult = { consent: ConsentRecord; at: string; repeated: boolean; transfer: TransferSummaryWithHistory };

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Transfer ids double as execution names: short, unguessable enough, sortable by day. */
function newTransferId(today: CalendarDate): string {
  const suffix = Array.from(randomBytes(10), (byte) => CROCKFORD[byte % 32]).join('');
  return `TR-${today.replaceAll('-', '')}-${suffix}`;
}

function matchesAcceptance(accepted: TransferSummary['acceptedDate'], chosen: ChosenDate): boolean {
  if (accepted === null) return false;
  return accepted === 'immediate' ? chosen.immediate : !chosen.immediate && accepted === chosen.transferDate;
}

/** The portal's use cases: request, read, list, and the two written decisions. */
export class TransferService {
  private readonly metrics: MetricsPort;

  constructor(private readonly deps: TransferServiceDeps) {
    this.metrics = deps.metrics ?? NO_METRICS;
  }

  today(): CalendarDate {
    return dateAt(this.deps.clock.now(), this.deps.policy.timeZone);
  }

  async create(caller: Caller, rawBody: unknown, meta: RequestMeta): Promise<TransferWithHistory> {
    const body = parseInput(createTransferBody, rawBody, 'request');
    const { directory, policy } = this.deps;
    const today = this.today();
    const request = validRequest(caller, body, today, policy);
    const { requested, released } = request;

    // Who holds the customers and the new partner, in one round; the current partner and the domain
    // snapshots once the owners are known. POST /transfers/check weighs the same facts (eligibility.ts).
    const [owned, toPartner] = await Promise.all([directory.getOwnerships(body.customerIds), directory.getPartner(body.toPartnerId)]);
    const facts: RequestFacts = { caller, request, owned, toPartner: toPartner ?? null, today };
    const early = verdict(facts);
    if (early.kind === 'refused') throw early.error;
    const [domains, fromPartner] = await Promise.all([
      directory.firstDomains(owned.map((c) => c.id), SNAPSHOT_MAX_DOMAINS),
      directory.getPartner(early.fromId),
    ]);
    // A customer claimed by another transfer is refused by the write itself (CUSTOMER_BUSY): the authority in a race.
    const admitted = verdict({ ...facts, fromPartner: fromPartner ?? null });
    if (admitted.kind === 'refused') throw admitted.error;
    const { from, to, locked } = admitted;

    const at = this.deps.clock.now().toISOString();
    const actor = actorOf(caller);
    const filedByNewPartner = caller.kind === 'partner' && caller.partnerId === to.id;
    const transfer: Transfer = {
      id: newTransferId(today),
      status: released ? 'AWAITING_ACCEPTANCE' : 'AWAITING_RELEASE',
      customers: owned.map((c) => transferCustomer(c, domains.get(c.id)?.domains ?? [], domains.get(c.id)?.domainCount ?? 0)),
      fromPartner: { id: from.id, name: from.name },
      toPartner: { id: to.id, name: to.name },
      requestedDate: requested?.transferDate ?? null,
      transferDate: released?.transferDate ?? null,
      immediate: released?.immediate ?? false,
      acceptedDate: filedByNewPartner && requested ? (requested.immediate ? 'immediate' : requested.transferDate) : null,
      billing: this.advice(from, to, today, adviceDate(request)),
      ticketId: body.ticketId ?? null,
      note: body.note ?? null,
      requestedBy: actor,
      createdAt: at,
      updatedAt: at,
    };
    const events: HistoryEvent[] = [
      {
        at,
        type: 'REQUESTED',
        actor,
        detail: {
          customerIds: body.customerIds,
          toPartnerId: to.id,
          requestedDate: body.requestedDate ?? null,
          ticketId: transfer.ticketId,
          note: transfer.note,
          ...(body.lockOverride && locked.length > 0 ? { lockOverride: { reason: body.lockOverride.reason, customers: locked } } : {}),
          sourceIp: meta.sourceIp,
          userAgent: meta.userAgent,
        },
      },
    ];
    if (body.release && released) {
      const consent = this.consent(transfer, 'release', 'release', body.release.signedBy, released, null, 'request', transfer.ticketId, meta, transfer.billing);
      events.push({ at, type: 'RELEASED', actor: { ...actor, name: body.release.signedBy }, detail: { ...consent } });
    }
    if (transfer.acceptedDate !== null && requested) {
      // A new partner's request with a date is its written acceptance of exactly that date.
      const consent = this.consent(transfer, 'acceptance', 'accept', caller.subject, requested, null, 'request', transfer.ticketId, meta, transfer.billing);
      events.push({ at, type: 'ACCEPTED', actor, detail: { ...consent } });
    }

    await this.deps.store.create({ transfer, events, invoiceDays: { from: from.invoiceDay, to: to.invoiceDay } });
    try {
      // Each wait lasts until the first reminder, or the whole window when that is shorter.
      const firstWait = { value: { seconds: Math.min(policy.reminderIntervalSeconds, policy.approvalWindowSeconds) } };
      await this.deps.workflow.start(transfer.id, {
        transferId: transfer.id,
        policy: {
          approvalWindowSeconds: policy.approvalWindowSeconds,
          reminderIntervalSeconds: policy.reminderIntervalSeconds,
        },
        releaseWait: firstWait,
        acceptanceWait: firstWait,
        ...(released ? { release: { acceptanceNeeded: true, transferDate: released.transferDate, immediate: released.immediate } } : {}),
      });
    } catch (error) {
      // A request whose workflow did not start is withdrawn whole: nothing half-written stays.
      await this.deps.store.discard(transfer);
      throw error instanceof TransientError ? error : new TransientError();
    }
    this.metrics.transferStatus(transfer.status);
    return { ...transfer, history: events };
  }

  /**
   * Whether `create` would accept this body now, and every reason why not, from the same facts; writes
   * nothing. Its round trips: the owners, the new partner and the claims at once; then the current
   * partner, unless it is the calling partner (read with the first), or the caller may not learn it.
   */
  async check(caller: Caller, rawBody: unknown): Promise<Eligibility> {
    const body = parseInput(createTransferBody, rawBody, 'request');
    const { directory, store, policy } = this.deps;
    const today = this.today();
    const request = validRequest(caller, body, today, policy);
    // A partner other than the new one can be eligible only as the customers' current partner.
    const likelyFrom = caller.kind === 'partner' && caller.partnerId !== body.toPartnerId ? caller.partnerId : undefined;
    const [owned, toPartner, claims, callerPartner] = await Promise.all([
      directory.getOwnerships(body.customerIds),
      directory.getPartner(body.toPartnerId),
      store.activeClaims(body.customerIds),
      likelyFrom === undefined ? Promise.resolve(undefined) : directory.getPartner(likelyFrom),
    ]);
    const facts: RequestFacts = { caller, request, owned, toPartner: toPartner ?? null, claims, today };
    const fromId = currentPartnerId(facts);
    if (fromId === undefined) return evaluateEligibility(facts);
    const fromPartner = fromId === likelyFrom ? callerPartner : await directory.getPartner(fromId);
    return evaluateEligibility({ ...facts, fromPartner: fromPartner ?? null });
  }

  /** A transfer the caller may see, with its customers' domain snapshots; anything else is "not found", so ids cannot be probed. */
  async getVisible(caller: Caller, id: string): Promise<TransferWithHistory> {
    const { transfer } = await this.visibleState(caller, id);
    return this.withCustomers(transfer);
  }

  /** The consent record of a transfer the caller may see: what each party signed, every event, the chain's verdict, the fingerprint. */
  async record(caller: Caller, id: string): Promise<ConsentRecordDocument> {
    const options = { now: this.deps.clock.now(), timeZone: this.deps.policy.timeZone };
    const record = consentRecord(await this.visibleState(caller, id), options);
    // One read may see an event being written without the head it moves (or the reverse): a broken
    // chain is read once more before it is shown as broken.
    return record.chain.state === 'broken' ? consentRecord(await this.visibleState(caller, id), options) : record;
  }

  /** The transfer's own items (no domains, with its steps: server-side only), for a caller who may see them. */
  async visibleState(caller: Caller, id: string): Promise<TransferState> {
    // An id that cannot exist is not looked up (DynamoDB refuses keys over 2 KB).
    const state = POSSIBLE_ID.test(id) ? await this.deps.store.getState(id) : undefined;
    if (!state || !isParty(caller, state.transfer)) throw new NotFoundError(`Transfer ${id} was not found.`);
    return state;
  }

  /** The transfer with its customers' domain snapshots, read when it has only their summaries. */
  async withCustomers(transfer: TransferSummaryWithHistory): Promise<TransferWithHistory> {
    return { ...transfer, customers: await this.customersOf(transfer) };
  }

  private async customersOf(transfer: TransferSummary): Promise<TransferCustomer[]> {
    const customers = transfer.customers;
    if (customers.every((c): c is TransferCustomer => 'domains' in c)) return customers;
    return this.deps.store.getCustomers(transfer);
  }

  async list(caller: Caller, rawQuery: Record<string, string | undefined>): Promise<TransferPage> {
    const query = parseInput(listTransfersQuery, rawQuery, 'query');
    return this.deps.store.list({
      ...(caller.kind === 'partner' ? { partnerId: caller.partnerId } : {}),
      ...(query.status ? { status: query.status } : {}),
      limit: query.limit ?? 25,
      ...(query.nextToken ? { nextToken: query.nextToken } : {}),
    });
  }

  /** One page of a customer (`?limit=` users, `?nextToken=` for the next page); anything not the caller's is "not found". */
  async getCustomer(caller: Caller, id: string, rawQuery: Record<string, string | undefined> = {}): Promise<CustomerPage> {
    const query = parseInput(customerQuery, rawQuery, 'query');
    const page = {
      users: query.limit ?? CUSTOMER_PAGE.defaultUsers,
      domains: CUSTOMER_PAGE.domains,
      ...(query.nextToken ? { nextToken: query.nextToken } : {}),
    };
    const customer = POSSIBLE_ID.test(id) ? await this.deps.directory.getCustomer(id, page) : undefined;
    if (!customer || (caller.kind === 'partner' && caller.partnerId !== customer.partnerId)) {
      throw new NotFoundError(`Customer ${id} was not found.`);
    }
    return customer;
  }

  /** A decision through the portal API: the step's own party, or an operator citing a ticket. */
  async decideByCaller(caller: Caller, id: string, step: Step, rawBody: unknown, meta: RequestMeta): Promise<DecisionResult> {
    const { transfer, steps, invoiceDays } = await this.visibleState(caller, id);
    const body: DecisionBody =
      step === 'release'
        ? parseInput(releaseDecisionBody, rawBody, 'decision')
        : parseInput(acceptanceDecisionBody, rawBody, 'decision');
    const party = step === 'release' ? transfer.fromPartner : transfer.toPartner;
    if (caller.kind === 'partner' && caller.partnerId !== party.id) {
      throw new ForbiddenError(
        step === 'release' ? 'Only the current partner can release or decline here.' : 'Only the new partner can accept or decline here.',
      );
    }
    if (caller.kind === 'operator' && !body.ticketId) {
      throw new ValidationError('An operator decides on a partner\'s behalf only citing a support ticket: ticketId is required.', {
        issues: [{ field: 'ticketId', message: 'is required for operators' }],
      });
    }
    const actor: Actor = caller.kind === 'operator' ? actorOf(caller) : { kind: 'partner', partnerId: party.id, name: caller.subject };
    return this.decide({ transfer, recorded: steps[step] ?? null, ...(invoiceDays ? { invoiceDays } : {}), withDomains: true, step, body, actor, via: 'api', linkHash: null, meta });
  }

  /**
   * Records a written decision and signals the workflow; a repeat of the recorded decision is answered again.
   * Its round trips: the transfer with its steps (given), the write, the signal; the customers' domains are
   * read beside them, and the partners only for a release of a transfer filed without its invoice days.
   */
  async decide(request: DecisionRequest, attempt = 0): Promise<DecisionResult> {
    const { transfer, step, body } = request;
    const recorded = request.recorded !== undefined ? request.recorded : ((await this.deps.store.getStep(transfer.id, step)) ?? null);
    if (recorded?.decision) {
      if (recorded.decision.decision === body.decision && recorded.decision.signedBy === body.signedBy.trim()) {
        await this.deliver(transfer.id, step);
        const at = transfer.history.find((e) => e.detail.step === step && e.detail.decision === body.decision)?.at ?? transfer.updatedAt;
        return { consent: recorded.decision, at, repeated: true, transfer: request.withDomains ? await this.withCustomers(transfer) : transfer };
      }
      throw new ConflictError('ALREADY_DECIDED', `A ${recorded.decision.decision} decision was already recorded for the ${step}.`, {
        decision: recorded.decision.decision,
        signedBy: recorded.decision.signedBy,
      });
    }
    if (transfer.status !== STEP_STATUS[step]) {
      throw new ConflictError('NOT_WAITING', `The transfer is ${transfer.status}; it is not waiting for the ${step}.`, {
        status: transfer.status,
      });
    }
    if (recorded?.expiresAt && Date.parse(recorded.expiresAt) <= this.deps.clock.now().getTime()) {
      throw new ConflictError('EXPIRED', `The approval window for the ${step} closed at ${recorded.expiresAt}.`, {
        expiresAt: recorded.expiresAt,
      });
    }

    const at = this.deps.clock.now().toISOString();
    const today = this.today();
    const ticketId = body.ticketId ?? null;
    const chosen = body.decision === 'release' ? chooseDate(body.transferDate, today, this.deps.policy, 'transferDate') : null;
    // The customers' domains (for an answer that shows them) are read while the decision is written and
    // signalled, off the critical path; only a release waits for a read first: both partners, for the billing advice.
    const customersRead: Promise<TransferWithHistory['customers'] | TransferSummary['customers']> = request.withDomains
      ? this.customersOf(transfer)
      : Promise.resolve(transfer.customers);
    customersRead.catch(() => undefined);
    const partners = chosen ? await this.billingParties(transfer, request.invoiceDays) : undefined;
    let consent: ConsentRecord;
    let to: TransferStatus;
    let signal: WorkflowSignal;
    let changes: Partial<Transfer> = {};
    let type: string;
    if (body.decision === 'decline') {
      const date = { transferDate: transfer.transferDate ?? today, immediate: transfer.immediate };
      const ground = declineGroundOf(body);
      consent = this.consent(transfer, step, 'decline', body.signedBy, date, ground, request.via, ticketId, request.meta, transfer.billing);
      to = 'DECLINED';
      type = 'DECLINED';
      signal = { kind: 'failure', error: 'TransferDeclined', cause: `The ${step} was declined.` };
      changes = { decline: { step, reasonCode: ground.code, reason: ground.reason, signedBy: consent.signedBy, at } };
    } else if (chosen) {
      const acceptanceNeeded = !matchesAcceptance(transfer.acceptedDate, chosen);
      const [from, toPartner] = partners ?? [];
      // The advice for the date being signed is the one the signer is shown, and the one kept with the consent.
      const billing = from && toPartner ? this.advice(from, toPartner, today, chosen.transferDate) : transfer.billing;
      consent = this.consent(transfer, step, 'release', body.signedBy, chosen, null, request.via, ticketId, request.meta, billing);
      to = acceptanceNeeded ? 'AWAITING_ACCEPTANCE' : 'SCHEDULED';
      type = 'RELEASED';
      signal = { kind: 'success', output: { acceptanceNeeded, transferDate: chosen.transferDate, immediate: chosen.immediate } };
      changes = {
        transferDate: chosen.transferDate,
        immediate: chosen.immediate,
        ...(from && toPartner ? { billing } : {}),
      };
    } else {
      const date = { transferDate: transfer.transferDate ?? today, immediate: transfer.immediate };
      consent = this.consent(transfer, step, 'accept', body.signedBy, date, null, request.via, ticketId, request.meta, transfer.billing);
      to = 'SCHEDULED';
      type = 'ACCEPTED';
      signal = { kind: 'success', output: { accepted: true } };
      changes = { acceptedDate: transfer.immediate ? 'immediate' : transfer.transferDate };
    }

    const event: HistoryEvent = { at, type, actor: request.actor, detail: { ...consent } };
    const taskToken = recorded?.taskToken ?? null;
    try {
      await this.deps.store.decide({
        transfer,
        step,
        taskToken,
        from: transfer.status,
        to,
        consent,
        event,
        signal,
        changes,
        releaseClaims: to === 'DECLINED',
        linkHash: request.linkHash,
        at,
      });
    } catch (error) {
      // A wait resumed (with a new task token) since the step was read: decide against the step as it is now.
      if (error instanceof ConflictError && error.code === 'STEP_CHANGED' && attempt < 2) {
        const now = (await this.deps.store.getStep(transfer.id, step)) ?? null;
        return this.decide({ ...request, transfer: { ...transfer, customers: await customersRead }, recorded: now }, attempt + 1);
      }
      throw error;
    }
    this.metrics.transferStatus(to);
    if (consent.decision === 'decline') this.metrics.decline(consent.reasonCode ?? 'OTHER');
    const asked = [...transfer.history].reverse().find((e) => e.type === 'APPROVAL_REQUESTED' && e.detail.step === step);
    if (asked) this.metrics.approvalLatency(step, (Date.parse(at) - Date.parse(asked.at)) / 1000);
    try {
      // Without a token the workflow has not reached the wait yet: the wait finds the decision and delivers it.
      // No bookkeeping write follows (a round trip the partner would wait for): the token is spent once
      // Step Functions takes the decision, so a repeat that sends it again is refused there ('gone').
      if (taskToken) await this.deps.workflow.signal(taskToken, signal);
    } catch (error) {
      // Never "nothing was recorded" once it is: a repeat of the same decision delivers it.
      if (error instanceof TransientError) throw new DecisionNotYetDelivered();
      throw error;
    }
    const customers = await customersRead;
    // The write was conditional on the status and the step as read, so this is the transfer as it now stands.
    return {
      consent,
      at,
      repeated: false,
      transfer: { ...transfer, ...changes, customers, status: to, updatedAt: at, history: [...transfer.history, event] },
    };
  }

  /**
   * Withdraws a transfer before re-homing began, by either party or an operator citing a ticket: the
   * execution stops, the claims go, both partners are told. Exactly one of a cancel and the start of
   * re-homing wins, as both are conditional status changes.
   */
  async cancel(caller: Caller, id: string, rawBody: unknown, meta: RequestMeta): Promise<TransferWithHistory> {
    const transfer = await this.getVisible(caller, id);
    const body = parseInput(cancelBody, rawBody, 'cancellation');
    if (caller.kind === 'operator' && !body.ticketId) {
      throw new ValidationError('An operator cancels on a partner\'s behalf only citing a support ticket: ticketId is required.', {
        issues: [{ field: 'ticketId', message: 'is required for operators' }],
      });
    }
    if (!CANCELLABLE.includes(transfer.status)) throw tooLateToCancel(transfer.status);

    const at = this.deps.clock.now().toISOString();
    try {
      await this.deps.store.changeStatus({
        transferId: id,
        from: CANCELLABLE,
        to: 'CANCELLED',
        at,
        releaseClaims: true,
        event: {
          at,
          type: 'CANCELLED',
          actor: actorOf(caller),
          detail: { reason: body.reason, ticketId: body.ticketId ?? null, sourceIp: meta.sourceIp, userAgent: meta.userAgent },
        },
      });
    } catch (error) {
      if (error instanceof ConflictError) throw tooLateToCancel((await this.deps.store.getState(id))?.transfer.status ?? transfer.status);
      throw error;
    }
    this.metrics.transferStatus('CANCELLED');
    // The status is what guards the customers; a stop that fails only leaves the execution to end
    // at its next step, which finds the transfer cancelled.
    await this.deps.workflow.stop(id, 'Cancelled on request').catch(() => false);
    const [from, to] = await Promise.all([
      this.deps.directory.getPartner(transfer.fromPartner.id),
      this.deps.directory.getPartner(transfer.toPartner.id),
    ]);
    const cancelledBy =
      caller.kind === 'operator'
        ? `Provider support (ticket ${body.ticketId ?? ''})`
        : caller.partnerId === transfer.fromPartner.id
          ? transfer.fromPartner.name
          : transfer.toPartner.name;
    try {
      await this.deps.mailer.send({
        kind: 'cancellation',
        transfer: { ...transfer, status: 'CANCELLED' },
        cancelledBy,
        reason: body.reason,
        recipients: [...(from?.contacts ?? []), ...(to?.contacts ?? [])],
      });
    } catch {
      // The cancel stands whatever happens to its notice; the missing notice is put on record if possible.
      await this.deps.store
        .appendEvent(id, { at, type: 'NOTICE_FAILED', actor: { kind: 'system', name: 'api' }, detail: { notice: 'cancellation' } })
        .catch(unlessTransient(undefined));
    }
    const cancelled = await this.deps.store.get(id).catch(unlessTransient(undefined));
    return cancelled ?? { ...transfer, status: 'CANCELLED', updatedAt: at };
  }

  /**
   * Hands a recorded decision to the waiting workflow task (the stored token, or the one given by a
   * wait that found the decision already there). Whichever side holds both delivers; the other finds it done.
   */
  async deliver(transferId: string, step: Step, taskToken?: string): Promise<void> {
    const recorded = await this.deps.store.getStep(transferId, step);
    const token = taskToken ?? recorded?.taskToken;
    if (!recorded?.signal || !token || recorded.signalledAt) return;
    // A token that is gone (the wait timed out meanwhile) leaves the decision to the resumed wait.
    if ((await this.deps.workflow.signal(token, recorded.signal)) === 'delivered') {
      // Bookkeeping only: the workflow has the decision, and a later signal with the same token finds it gone.
      await this.deps.store.markSignalled(transferId, step, this.deps.clock.now().toISOString()).catch(unlessTransient(undefined));
    }
  }

  private consent(
    transfer: TransferSummary,
    step: Step,
    decision: ConsentRecord['decision'],
    signedBy: string,
    date: ChosenDate,
    ground: DeclineGround | null,
    via: ConsentRecord['via'],
    ticketId: string | null,
    meta: RequestMeta,
    billing: BillingAdvice | null,
  ): ConsentRecord {
    const input = { ...transfer, transferDate: date.transferDate, immediate: date.immediate, signedBy: signedBy.trim() };
    const statement =
      decision === 'decline'
        ? declineStatement(step, { ...input, reason: declineGround(ground?.code ?? 'OTHER', ground?.reason ?? null) })
        : step === 'release'
          ? releaseStatement(input)
          : acceptanceStatement(input);
    return {
      step,
      decision,
      signedBy: signedBy.trim(),
      statement,
      transferDate: date.transferDate,
      immediate: date.immediate,
      reasonCode: ground?.code ?? null,
      reason: ground?.reason ?? null,
      billing,
      via,
      ticketId,
      sourceIp: meta.sourceIp,
      userAgent: meta.userAgent,
    };
  }

  /** The two partners as the billing advice needs them: from the invoice days kept with the transfer, else the directory. */
  private async billingParties(transfer: TransferSummary, invoiceDays: InvoiceDays | undefined): Promise<[Pick<Partner, 'name' | 'invoiceDay'> | undefined, Pick<Partner, 'name' | 'invoiceDay'> | undefined]> {
    if (invoiceDays) {
      return [
        { name: transfer.fromPartner.name, invoiceDay: invoiceDays.from },
        { name: transfer.toPartner.name, invoiceDay: invoiceDays.to },
      ];
    }
    return Promise.all([this.deps.directory.getPartner(transfer.fromPartner.id), this.deps.directory.getPartner(transfer.toPartner.id)]);
  }

  private advice(from: Pick<Partner, 'name' | 'invoiceDay'>, to: Pick<Partner, 'name' | 'invoiceDay'>, today: CalendarDate, chosen: CalendarDate | null) {
    return billingAdvice({
      today,
      fromInvoiceDay: from.invoiceDay,
      toInvoiceDay: to.invoiceDay,
      fromPartnerName: from.name,
      chosenDate: chosen,
    });
  }
}

/** A decline's ground: its code, and its text (required for OTHER, which a decline without a code means). */
interface DeclineGround {
  code: DeclineReasonCode;
  reason: string | null;
}

function declineGroundOf(body: { reasonCode?: DeclineReasonCode | undefined; reason?: string | undefined }): DeclineGround {
  const code = body.reasonCode ?? 'OTHER';
  const reason = body.reason?.trim() || null;
  if (code === 'OTHER' && reason === null) {
    throw new ValidationError('The decision is not valid. reason: is required when reasonCode is OTHER or not given; say why you decline, in a few words.', {
      issues: [{ field: 'reason', message: 'is required when reasonCode is OTHER or not given' }],
    });
  }
  return { code, reason };
}

/** For work done after a change is recorded: a transient failure yields `fallback`, anything else is thrown on. */
function unlessTransient<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if (error instanceof TransientError) return fallback;
    throw error;
  };
}

/** Every transfer and customer id has this shape (see the request schemas). */
const POSSIBLE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

const CANCELLABLE: TransferStatus[] = ['AWAITING_RELEASE', 'AWAITING_ACCEPTANCE', 'SCHEDULED'];

function tooLateToCancel(status: TransferStatus): ConflictError {
  return ['IN_PROGRESS', 'COMPLETED', 'FAILED'].includes(status)
    ? new ConflictError('REHOMING_BEGAN', `The transfer is ${status}: re-homing has begun, so it can no longer be cancelled.`, { status })
    : new ConflictError('ALREADY_ENDED', `The transfer is already ${status}.`, { status });
}

export function isParty(caller: Caller, transfer: Pick<Transfer, 'fromPartner' | 'toPartner'>): boolean {
  return caller.kind === 'operator' || caller.partnerId === transfer.fromPartner.id || caller.partnerId === transfer.toPartner.id;
}
