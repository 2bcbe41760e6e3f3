// Small in-memory implementations of the domain ports, with the same all-or-nothing and
// conditional behaviour the DynamoDB adapters promise, so the use cases can be tested without AWS.
import { ApprovalLinks } from '../../../lambdas/domain/approval-links.ts';
import type { Customer, CustomerOwnership, CustomerPage, FirstDomains, Partner } from '../../../lambdas/domain/directory.ts';
import { ConflictError, ValidationError } from '../../../lambdas/domain/errors.ts';
import { chainEvents, type ChainHead } from '../../../lambdas/domain/history-chain.ts';
import { DEFAULT_POLICY, type Policy } from '../../../lambdas/domain/policy.ts';
import type {
  AlertPort,
  ApprovalLink,
  ApprovalStep,
  Clock,
  CustomerMove,
  Decision,
  DirectoryPort,
  LinkKeyPort,
  MailerPort,
  MetricsPort,
  InvoiceDays,
  NewTransfer,
  OpenStep,
  StatusChange,
  TransferPage,
  TransferRef,
  TransferState,
  TransferStorePort,
  WorkflowPort,
  WorkflowSignal,
} from '../../../lambdas/domain/ports.ts';
import { TransferService } from '../../../lambdas/domain/transfer-service.ts';
import {
  summaryOf,
  type HistoryEvent,
  type Step,
  type Transfer,
  type TransferCustomer,
  type TransferStatus,
  type TransferSummary,
  type TransferWithHistory,
} from '../../../lambdas/domain/transfer.ts';
import { WorkflowSteps } from '../../../lambdas/domain/workflow-steps.ts';
import type { Notice } from '../../../lambdas/domain/notices.ts';
import type {
  Delivery,
  DeliveryQueuePort,
  DeliveryRef,
  DeliveryWake,
  EndpointSlot,
  EndpointSlotsPort,
  StoredWebhook,
  WebhookStorePort,
} from '../../../lambdas/domain/webhooks.ts';
import { renderNotice, type EmailMessage } from '../../../lambdas/presentation/emails.ts';

export interface StoredCustomer extends Customer {
  lockedUntil: string | null;
  lastTransferId: string | null;
}

export class InMemoryDirectory implements DirectoryPort {
  readonly partners = new Map<string, Partner>();
  readonly customers = new Map<string, StoredCustomer>();

  constructor(partners: Partner[], customers: Customer[]) {
    for (const partner of partners) this.partners.set(partner.id, structuredClone(partner));
    for (const customer of customers) this.customers.set(customer.id, { ...structuredClone(customer), lockedUntil: null, lastTransferId: null });
  }

  async getPartner(id: string): Promise<Partner | undefined> {
    const partner = this.partners.get(id);
    return partner ? structuredClone(partner) : undefined;
  }

  async getOwnerships(customerIds: string[]): Promise<CustomerOwnership[]> {
    return customerIds.flatMap((id) => {
      const c = this.customers.get(id);
      return c ? [{ id: c.id, name: c.name, partnerId: c.partnerId, lockedUntil: c.lockedUntil }] : [];
    });
  }

  async firstDomains(customerIds: string[], limit: number): Promise<Map<string, FirstDomains>> {
    return new Map(
      customerIds.flatMap((id) => {
        const c = this.customers.get(id);
        return c ? [[id, { domains: c.domains.slice(0, limit), domainCount: c.domains.length }] as const] : [];
      }),
    );
  }

  /** Pages as the DynamoDB directory does: the next slice of domains and of users, and an opaque token bound to the customer. */
  async getCustomer(id: string, page: { users: number; domains: number; nextToken?: string }): Promise<CustomerPage | undefined> {
    let from = { d: 0 as number | null, u: 0 as number | null };
    if (page.nextToken) {
      const token = (() => {
        try {
          return JSON.parse(Buffer.from(page.nextToken, 'base64url').toString('utf8')) as { c?: unknown; d?: unknown; u?: unknown };
        } catch {
          return {};
        }
      })();
      const position = (v: unknown) => v === null || (typeof v === 'number' && Number.isInteger(v) && v > 0);
      if (token.c !== id || !position(token.d) || !position(token.u)) throw new ValidationError('nextToken does not belong to this customer\'s pages; start again without it.');
      from = { d: token.d as number | null, u: token.u as number | null };
    }
    const c = this.customers.get(id);
    if (!c) return undefined;
    const domains = from.d === null ? [] : c.domains.slice(from.d, from.d + page.domains);
    const users = from.u === null ? [] : c.users.slice(from.u, from.u + page.users);
    const next = {
      d: from.d !== null && from.d + page.domains < c.domains.length ? from.d + page.domains : null,
      u: from.u !== null && from.u + page.users < c.users.length ? from.u + page.users : null,
    };
    return {
      id: c.id,
      name: c.name,
      partnerId: c.partnerId,
      domains: [...domains],
      settings: structuredClone(c.settings),
      users: structuredClone(users),
      ...(next.d !== null || next.u !== null ? { nextToken: Buffer.from(JSON.stringify({ c: id, ...next })).toString('base64url') } : {}),
    };
  }

  owner(id: string): string | undefined {
    return this.customers.get(id)?.partnerId;
  }
}

/** The head of a history as the store keeps it: its last chained event (null: nothing chained yet). */
function chainHeadOf(events: readonly HistoryEvent[]): ChainHead | null {
  const last = events.at(-1);
  return last?.seq !== undefined && last.hash !== undefined ? { seq: last.seq, hash: last.hash } : null;
}

function stepKey(transferId: string, step: Step): string {
  return `${transferId}#${step}`;
}

export class InMemoryTransferStore implements TransferStorePort {
  readonly transfers = new Map<string, Transfer>();
  /** The partners' invoice days kept with each transfer (server-side, as in the table). */
  readonly invoiceDays = new Map<string, InvoiceDays>();
  readonly events = new Map<string, HistoryEvent[]>();
  /** customer id → transfer id holding its claim */
  readonly claims = new Map<string, string>();
  readonly steps = new Map<string, ApprovalStep>();
  readonly links = new Map<string, ApprovalLink>();
  readonly discarded: Transfer[] = [];
  readonly decisions: Decision[] = [];
  /** Moves that actually changed ownership. */
  readonly moves: CustomerMove[] = [];
  /** Makes the next changeStatus to this status fail, as if the write was lost (the step is then retried). */
  failNextChangeTo: TransferStatus | null = null;

  constructor(private readonly directory: InMemoryDirectory) {}

  async create({ transfer, events, invoiceDays }: NewTransfer): Promise<void> {
    if (this.transfers.has(transfer.id)) throw new Error(`duplicate transfer id ${transfer.id}`);
    if (invoiceDays) this.invoiceDays.set(transfer.id, { ...invoiceDays });
    const busy = transfer.customers.filter((c) => this.claims.has(c.id)).map((c) => c.id);
    if (busy.length > 0) throw new ConflictError('CUSTOMER_BUSY', `busy: ${busy.join(', ')}`, { customerIds: busy });
    this.transfers.set(transfer.id, structuredClone(transfer));
    // Chained from genesis, as the DynamoDB store writes them.
    this.events.set(transfer.id, chainEvents(transfer.id, null, structuredClone(events)).events);
    for (const c of transfer.customers) this.claims.set(c.id, transfer.id);
  }

  async discard(transfer: TransferRef): Promise<void> {
    const stored = this.transfers.get(transfer.id);
    if (stored) this.discarded.push(structuredClone(stored));
    this.transfers.delete(transfer.id);
    this.events.delete(transfer.id);
    for (const c of transfer.customers) if (this.claims.get(c.id) === transfer.id) this.claims.delete(c.id);
  }

  async get(id: string): Promise<TransferWithHistory | undefined> {
    const transfer = this.transfers.get(id);
    if (!transfer) return undefined;
    return { ...structuredClone(transfer), history: structuredClone(this.events.get(id) ?? []) };
  }

  /** Like the DynamoDB store: the summary (no domains), the history and the steps, in one read. */
  async getState(id: string): Promise<TransferState | undefined> {
    const transfer = this.transfers.get(id);
    if (!transfer) return undefined;
    const steps: TransferState['steps'] = {};
    for (const step of ['release', 'acceptance'] as const) {
      const found = this.steps.get(stepKey(id, step));
      if (found) steps[step] = structuredClone(found);
    }
    const invoiceDays = this.invoiceDays.get(id);
    const history = structuredClone(this.events.get(id) ?? []);
    return { transfer: { ...structuredClone(summaryOf(transfer)), history }, steps, ...(invoiceDays ? { invoiceDays: { ...invoiceDays } } : {}), chainHead: chainHeadOf(history) };
  }

  async getCustomers(transfer: Pick<TransferSummary, 'id' | 'customers'>): Promise<TransferCustomer[]> {
    this.customerReads += 1;
    const stored = new Map((this.transfers.get(transfer.id)?.customers ?? []).map((c) => [c.id, c]));
    return transfer.customers.map((c) => structuredClone(stored.get(c.id)) ?? { ...c, domains: [], domainsTruncated: c.domainCount > 0 });
  }

  /** How often the customers' domain snapshots were read. */
  customerReads = 0;

  async list(query: { partnerId?: string; status?: TransferStatus; limit: number; nextToken?: string }): Promise<TransferPage> {
    const all = [...this.transfers.values()]
      .filter((t) => !query.partnerId || t.fromPartner.id === query.partnerId || t.toPartner.id === query.partnerId)
      .filter((t) => !query.status || t.status === query.status)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    const offset = query.nextToken ? Number(query.nextToken) : 0;
    const items = all.slice(offset, offset + query.limit).map((t) => structuredClone(summaryOf(t)));
    return { items, ...(offset + query.limit < all.length ? { nextToken: String(offset + query.limit) } : {}) };
  }

  async getStep(transferId: string, step: Step): Promise<ApprovalStep | undefined> {
    const found = this.steps.get(stepKey(transferId, step));
    return found ? structuredClone(found) : undefined;
  }

  async openStep(input: OpenStep): Promise<boolean> {
    const key = stepKey(input.transferId, input.step);
    const existing = this.steps.get(key);
    if (existing?.decision) return false;
    this.steps.set(key, {
      transferId: input.transferId,
      step: input.step,
      partnerId: input.partnerId,
      taskToken: input.taskToken,
      linkHash: input.linkHash,
      linkNonce: input.linkNonce,
      linkSentAt: input.newLink ? null : (existing?.linkSentAt ?? null),
      // A resumed wait keeps the deadline as stored (an operator may have extended it), as the real store does.
      expiresAt: input.newLink ? input.expiresAt : (existing?.expiresAt ?? input.expiresAt),
      decision: null,
      signal: null,
      signalledAt: null,
    });
    if (input.newLink) {
      this.links.set(input.linkHash, {
        hash: input.linkHash,
        transferId: input.transferId,
        step: input.step,
        partnerId: input.partnerId,
        expiresAt: input.expiresAt,
        state: 'open',
      });
    }
    const superseded = input.supersedes ? this.links.get(input.supersedes) : undefined;
    if (superseded?.state === 'open') superseded.state = 'superseded';
    if (input.event) this.pushEvent(input.transferId, input.event);
    return true;
  }

  async markLinkSent(transferId: string, step: Step, at: string): Promise<void> {
    const found = this.steps.get(stepKey(transferId, step));
    if (found) found.linkSentAt = at;
  }

  async getLink(hash: string): Promise<ApprovalLink | undefined> {
    const link = this.links.get(hash);
    return link ? structuredClone(link) : undefined;
  }

  async decide(decision: Decision): Promise<void> {
    const transferId = decision.transfer.id;
    const transfer = this.requireTransfer(transferId);
    const key = stepKey(transferId, decision.step);
    const step = this.steps.get(key);
    const link = decision.linkHash ? this.links.get(decision.linkHash) : undefined;
    if (transfer.status !== decision.from || step?.decision || (decision.linkHash && link?.state !== 'open')) {
      throw new ConflictError('ALREADY_DECIDED', 'Another decision was recorded first; this one was not recorded.');
    }
    if ((step?.taskToken ?? null) !== decision.taskToken) {
      throw new ConflictError('STEP_CHANGED', 'The step was opened again since it was read; nothing was recorded.');
    }
    this.decisions.push(structuredClone(decision));
    Object.assign(transfer, structuredClone(decision.changes), { status: decision.to, updatedAt: decision.at });
    this.steps.set(key, {
      transferId,
      step: decision.step,
      partnerId: step?.partnerId ?? (decision.step === 'release' ? transfer.fromPartner.id : transfer.toPartner.id),
      taskToken: step?.taskToken ?? null,
      linkHash: step?.linkHash ?? null,
      linkNonce: step?.linkNonce ?? null,
      linkSentAt: step?.linkSentAt ?? null,
      expiresAt: step?.expiresAt ?? null,
      decision: structuredClone(decision.consent),
      signal: structuredClone(decision.signal),
      signalledAt: null,
    });
    if (link) link.state = 'used';
    this.pushEvent(transferId, decision.event);
    if (decision.releaseClaims) this.releaseClaims(transfer);
  }

  async markSignalled(transferId: string, step: Step, at: string): Promise<void> {
    const found = this.steps.get(stepKey(transferId, step));
    if (found && !found.signalledAt) found.signalledAt = at;
  }

  async changeStatus(change: StatusChange): Promise<void> {
    if (this.failNextChangeTo === change.to) {
      this.failNextChangeTo = null;
      throw new Error('write lost');
    }
    const transfer = this.requireTransfer(change.transferId);
    if (!change.from.includes(transfer.status)) {
      throw new ConflictError('INVALID_STATE', `The transfer is ${transfer.status}; it cannot become ${change.to}.`);
    }
    Object.assign(transfer, structuredClone(change.changes ?? {}), { status: change.to, updatedAt: change.at });
    this.pushEvent(change.transferId, change.event);
    if (change.releaseClaims) this.releaseClaims(transfer);
  }

  async appendEvent(transferId: string, event: HistoryEvent): Promise<void> {
    this.pushEvent(transferId, event);
  }

  async extendStep(input: { transferId: string; step: Step; linkHash: string; from: string; to: string; event: HistoryEvent }): Promise<void> {
    const step = this.steps.get(stepKey(input.transferId, input.step));
    const link = this.links.get(input.linkHash);
    if (!step || step.expiresAt !== input.from || step.linkHash !== input.linkHash || step.decision || link?.state !== 'open') {
      throw new ConflictError('STEP_CHANGED', 'The step was decided or changed meanwhile; nothing was extended.');
    }
    step.expiresAt = input.to;
    link.expiresAt = input.to;
    this.pushEvent(input.transferId, input.event);
  }

  async reclaim(transferId: string, customerIds: string[]): Promise<string[]> {
    const held = customerIds.filter((id) => [undefined, transferId].includes(this.claims.get(id)));
    for (const id of held) this.claims.set(id, transferId);
    return held;
  }

  async moveCustomer(move: CustomerMove): Promise<'moved' | 'already-moved' | 'not-movable'> {
    const customer = this.directory.customers.get(move.customerId);
    if (customer?.partnerId === move.fromPartnerId && this.claims.get(move.customerId) === move.transferId) {
      customer.partnerId = move.toPartnerId;
      customer.lockedUntil = move.lockedUntil;
      customer.lastTransferId = move.transferId;
      this.claims.delete(move.customerId);
      this.pushEvent(move.transferId, move.event);
      this.moves.push(structuredClone(move));
      return 'moved';
    }
    return customer?.partnerId === move.toPartnerId && customer.lastTransferId === move.transferId ? 'already-moved' : 'not-movable';
  }

  /** Puts a transfer in a given state directly, for tests that start mid-way. */
  seed(transfer: Transfer, events: HistoryEvent[] = []): void {
    this.transfers.set(transfer.id, structuredClone(transfer));
    this.events.set(transfer.id, structuredClone(events));
    for (const c of transfer.customers) this.claims.set(c.id, transfer.id);
  }

  history(transferId: string): HistoryEvent[] {
    return this.events.get(transferId) ?? [];
  }

  private pushEvent(transferId: string, event: HistoryEvent): void {
    const list = this.events.get(transferId) ?? [];
    // Chained after the last event, as the DynamoDB store chains it after the transfer's head.
    list.push(...chainEvents(transferId, chainHeadOf(list), [structuredClone(event)]).events);
    this.events.set(transferId, list);
  }

  private requireTransfer(id: string): Transfer {
    const transfer = this.transfers.get(id);
    if (!transfer) throw new ConflictError('UNKNOWN_TRANSFER', `Transfer ${id} does not exist.`);
    return transfer;
  }

  private releaseClaims(transfer: Transfer): void {
    for (const c of transfer.customers) if (this.claims.get(c.id) === transfer.id) this.claims.delete(c.id);
  }

  async activeClaims(customerIds: string[]): Promise<Map<string, string>> {
    return new Map(customerIds.flatMap((id) => {
      const transferId = this.claims.get(id);
      return transferId === undefined ? [] : [[id, transferId] as const];
    }));
  }
}

export class RecordingWorkflow implements WorkflowPort {
  readonly starts: { transferId: string; input: Record<string, unknown> }[] = [];
  readonly signals: { taskToken: string; signal: WorkflowSignal }[] = [];
  startError: Error | null = null;
  /** Tokens of tasks that no longer exist (timed out, or an attempt Step Functions retried). */
  readonly goneTokens = new Set<string>();

  async start(transferId: string, input: Record<string, unknown>): Promise<void> {
    if (this.startError) throw this.startError;
    this.starts.push({ transferId, input: structuredClone(input) });
  }

  /** When set, the next signal fails with it (a workflow briefly unreachable). */
  signalError: Error | null = null;

  async signal(taskToken: string, signal: WorkflowSignal): Promise<'delivered' | 'gone'> {
    if (this.signalError) {
      const error = this.signalError;
      this.signalError = null;
      throw error;
    }
    // As in Step Functions, a task token is spent once it is answered: a later answer with it is refused.
    if (this.goneTokens.has(taskToken) || this.answered.has(taskToken)) {
      this.refused.push({ taskToken, signal: structuredClone(signal) });
      return 'gone';
    }
    this.answered.add(taskToken);
    this.signals.push({ taskToken, signal: structuredClone(signal) });
    return 'delivered';
  }

  private readonly answered = new Set<string>();
  /** Answers sent with a token that was gone or already answered: refused, as Step Functions refuses them. */
  readonly refused: { taskToken: string; signal: WorkflowSignal }[] = [];

  readonly stops: { transferId: string; cause: string }[] = [];

  async stop(transferId: string, cause: string): Promise<boolean> {
    this.stops.push({ transferId, cause });
    return true;
  }
}

/**
 * Keeps each notice a use case hands over, and the email the SES adapter would make of it (rendered
 * by the same presentation code, in the policy's time zone), so tests can read what people read.
 */
export class RecordingMailer implements MailerPort {
  readonly notices: Notice[] = [];
  readonly sent: EmailMessage[] = [];
  /** Makes the next send fail, as SES does when throttled past its retries. */
  failNext: Error | null = null;

  constructor(private readonly timeZone: string = DEFAULT_POLICY.timeZone) {}

  async send(notice: Notice): Promise<void> {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = null;
      throw error;
    }
    this.notices.push(structuredClone(notice));
    this.sent.push(renderNotice(notice, this.timeZone));
  }
}

/** Keeps every business metric a use case publishes, in order: `[name, ...values]`. */
export class RecordingMetrics implements MetricsPort {
  readonly published: unknown[][] = [];

  transferStatus(status: TransferStatus): void {
    this.published.push(['transferStatus', status]);
  }

  approvalLatency(step: Step, seconds: number): void {
    this.published.push(['approvalLatency', step, seconds]);
  }

  rehomeErrors(customers: number): void {
    this.published.push(['rehomeErrors', customers]);
  }

  emailFailure(): void {
    this.published.push(['emailFailure']);
  }

  decline(reasonCode: string): void {
    this.published.push(['decline', reasonCode]);
  }
}

export class RecordingAlerts implements AlertPort {
  readonly published: { subject: string; message: string }[] = [];
  /** false: no topic is configured (a local run), so nothing is published. */
  topic = true;
  /** Makes the next publish fail, as SNS does past its retries. */
  failNext: Error | null = null;

  async publish(subject: string, message: string): Promise<boolean> {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = null;
      throw error;
    }
    if (!this.topic) return false;
    this.published.push({ subject, message });
    return true;
  }
}

/** The approval-link key (32 bytes or more). */
export const LINK_KEY = Buffer.from('unit-test-approval-link-key-0123456789abcdef', 'utf8');

export const linkKey: LinkKeyPort = { key: () => Promise.resolve(LINK_KEY) };

export class FixedClock implements Clock {
  constructor(public current: Date) {}

  now(): Date {
    return new Date(this.current.getTime());
  }
}

export const NORTH: Partner = { id: 'P-NORTH', name: 'Northwind IT', invoiceDay: 1, contacts: ['ops@northwind.example', 'billing@northwind.example'] };
export const SOUTH: Partner = { id: 'P-SOUTH', name: 'Southgate Networks', invoiceDay: 15, contacts: ['partners@southgate.example'] };
export const EAST: Partner = { id: 'P-EAST', name: 'Eastline Cloud', invoiceDay: 31, contacts: ['admin@eastline.example'] };

export const CUSTOMERS: Customer[] = [
  {
    id: 'C-ACME',
    name: 'Acme Widgets',
    partnerId: 'P-NORTH',
    domains: ['acme.example', 'acme-mail.example'],
    settings: { spamThreshold: 5 },
    users: [{ email: 'it@acme.example', settings: { digest: 'daily' } }],
  },
  { id: 'C-BRIGHT', name: 'Brightside Dental', partnerId: 'P-NORTH', domains: ['brightside.example'], settings: {}, users: [] },
  { id: 'C-CORAL', name: 'Coral Bakery', partnerId: 'P-SOUTH', domains: ['coral.example'], settings: {}, users: [] },
];

/** 2026-03-10 11:00 in New York. */
export const NOW = new Date('2026-03-10T15:00:00.000Z');
export const TODAY = '2026-03-10';

export function world(options: { policy?: Partial<Policy>; now?: Date } = {}) {
  const directory = new InMemoryDirectory([NORTH, SOUTH, EAST], CUSTOMERS);
  const store = new InMemoryTransferStore(directory);
  const workflow = new RecordingWorkflow();
  const alerts = new RecordingAlerts();
  const clock = new FixedClock(options.now ?? NOW);
  const policy: Policy = { ...DEFAULT_POLICY, ...options.policy };
  const mailer = new RecordingMailer(policy.timeZone);
  const metrics = new RecordingMetrics();
  const transfers = new TransferService({ store, directory, workflow, mailer, clock, policy, metrics });
  const links = new ApprovalLinks(store, transfers, clock, policy.maxDaysAhead);
  const steps = new WorkflowSteps({
    store,
    directory,
    mailer,
    alerts,
    linkKey,
    transfers,
    clock,
    policy,
    metrics,
    publicBaseUrl: 'https://transfers.example.test/',
    devopsEmail: 'devops@provider.example',
  });
  return { directory, store, workflow, mailer, alerts, metrics, clock, policy, transfers, links, steps };
}

export type World = ReturnType<typeof world>;

export const META = { sourceIp: '203.0.113.7', userAgent: 'Mozilla/5.0 (test)' };

/** Runs a promise that must fail and returns its error, to assert on its class and fields. */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

/** Webhooks and deliveries as the DynamoDB store keeps them: the same refusals, and claims and settles only on their condition. */
export class InMemoryWebhookStore implements WebhookStorePort {
  readonly webhooks = new Map<string, StoredWebhook>();
  readonly deliveries = new Map<string, Delivery>();
  /** Failed deliveries listed under their owner, in the order settled (without their body). */
  readonly failures: Array<Omit<Delivery, 'body'>> = [];
  /** Every delivery written (not those already there). */
  readonly written: Delivery[] = [];
  /** Every claim asked for, and whether it was granted. */
  readonly claims: Array<{ eventId: string; seen: number; granted: boolean }> = [];
  /** Ids looked up with find. */
  readonly found: string[] = [];

  private static keyOf(ref: DeliveryRef): string {
    return `${ref.transferId ?? '-'}#${ref.webhookId}#${ref.eventId}`;
  }

  async add(webhook: StoredWebhook, limit: number): Promise<void> {
    const owned = await this.owned(webhook.partnerId);
    const same = owned.find((other) => other.url === webhook.url);
    if (same) throw new ConflictError('WEBHOOK_EXISTS', 'A webhook with this URL is already registered.', { id: same.id });
    if (owned.length >= limit) throw new ConflictError('TOO_MANY_WEBHOOKS', `At most ${limit} webhooks may be registered.`, { limit });
    this.webhooks.set(webhook.id, structuredClone(webhook));
  }

  async owned(partnerId: string | null): Promise<StoredWebhook[]> {
    return [...this.webhooks.values()].filter((webhook) => webhook.partnerId === partnerId).map((webhook) => structuredClone(webhook));
  }

  async find(id: string): Promise<StoredWebhook | undefined> {
    this.found.push(id);
    const webhook = this.webhooks.get(id);
    return webhook ? structuredClone(webhook) : undefined;
  }

  async remove(webhook: StoredWebhook): Promise<void> {
    this.webhooks.delete(webhook.id);
  }

  async recentFailures(partnerId: string | null, limit: number): Promise<Delivery[]> {
    return this.failures
      .filter((failure) => failure.partnerId === partnerId)
      .slice(-limit)
      .reverse()
      .map((failure) => structuredClone(failure) as Delivery);
  }

  async subscribersOf(partnerIds: readonly string[]): Promise<StoredWebhook[]> {
    return [...this.webhooks.values()]
      .filter((webhook) => webhook.partnerId === null || partnerIds.includes(webhook.partnerId))
      .map((webhook) => structuredClone(webhook));
  }

  async addDeliveries(deliveries: readonly Delivery[]): Promise<void> {
    for (const delivery of deliveries) {
      const key = InMemoryWebhookStore.keyOf(delivery);
      if (this.deliveries.has(key)) continue;
      this.deliveries.set(key, structuredClone(delivery));
      this.written.push(structuredClone(delivery));
    }
  }

  async delivery(ref: DeliveryRef): Promise<Delivery | undefined> {
    const delivery = this.deliveries.get(InMemoryWebhookStore.keyOf(ref));
    return delivery ? structuredClone(delivery) : undefined;
  }

  async siblings(ref: DeliveryRef): Promise<Delivery[]> {
    if (ref.transferId === null) return [];
    return [...this.deliveries.values()]
      .filter((delivery) => delivery.transferId === ref.transferId && delivery.webhookId === ref.webhookId)
      .map((delivery) => structuredClone(delivery));
  }

  async deliveriesOf(transferId: string): Promise<Delivery[]> {
    return [...this.deliveries.values()].filter((delivery) => delivery.transferId === transferId).map((delivery) => structuredClone(delivery));
  }

  async claim(ref: DeliveryRef, seen: number, at: string, nextAttemptAt: string | null): Promise<boolean> {
    const delivery = this.deliveries.get(InMemoryWebhookStore.keyOf(ref));
    const granted = delivery !== undefined && delivery.status === 'pending' && delivery.attempts === seen;
    this.claims.push({ eventId: ref.eventId, seen, granted });
    if (granted) Object.assign(delivery, { attempts: seen + 1, triedAt: at, nextAttemptAt });
    return granted;
  }

  async settle(delivery: Delivery, change: Pick<Delivery, 'status' | 'lastAttempt' | 'settledAt'> & { note?: string }): Promise<void> {
    const stored = this.deliveries.get(InMemoryWebhookStore.keyOf(delivery));
    // Only the try it tells of, as the table's condition.
    if (stored === undefined || stored.status !== 'pending' || stored.attempts !== delivery.attempts) return;
    Object.assign(stored, structuredClone(change));
    if (change.status === 'failed' && change.settledAt !== null) {
      const { body: _body, ...failed } = { ...delivery, ...change };
      this.failures.push(structuredClone(failed));
    }
  }
}

/** A deliveries queue that keeps every wake with its delay, and when it was asked for. */
export class RecordingDeliveryQueue implements DeliveryQueuePort {
  readonly sent: Array<{ wake: DeliveryWake; delaySeconds: number; at: Date }> = [];

  constructor(
    private readonly clock: Clock,
    /** Where the order of wakes and other calls is written, if anywhere. */
    private readonly log?: string[],
  ) {}

  async wake(wakes: readonly DeliveryWake[], delaySeconds: number): Promise<void> {
    for (const wake of wakes) {
      this.sent.push({ wake: { ...wake }, delaySeconds, at: this.clock.now() });
      this.log?.push(`wake ${wake.eventId} attempt ${wake.attempt} in ${delaySeconds} s`);
    }
  }
}

/** An endpoint's slots as the table keeps them: leases that run out, and each slot's last try. */
export class InMemoryEndpointSlots implements EndpointSlotsPort {
  readonly items = new Map<string, { lease: string | null; leasedAt: Date | null; leaseUntil: Date | null; lastTry: EndpointSlot['lastTry'] }>();
  private leases = 0;

  constructor(
    /** Where takes and releases are written, if anywhere. */
    private readonly log?: string[],
  ) {}

  slots(webhookId: string, now: Date): Promise<EndpointSlot[]> {
    const state = [...this.items]
      .filter(([key]) => key.startsWith(`${webhookId}#`))
      .map(([key, item]) => ({
        slot: Number(key.split('#')[1]),
        leasedAt: item.leaseUntil !== null && item.leaseUntil.getTime() >= now.getTime() ? item.leasedAt : null,
        lastTry: item.lastTry,
      }));
    return Promise.resolve(structuredClone(state));
  }

  take(webhookId: string, slot: number, until: Date, now: Date): Promise<string | undefined> {
    const key = `${webhookId}#${slot}`;
    const item = this.items.get(key);
    if (item?.leaseUntil && item.leaseUntil.getTime() >= now.getTime()) return Promise.resolve(undefined);
    this.leases += 1;
    const lease = `lease-${this.leases}`;
    this.items.set(key, { lease, leasedAt: now, leaseUntil: until, lastTry: item?.lastTry ?? null });
    this.log?.push(`take slot ${slot}`);
    return Promise.resolve(`${slot}:${lease}`);
  }

  release(webhookId: string, held: string, tryMs: number, now: Date): Promise<void> {
    const [slot, lease] = held.split(':');
    const item = this.items.get(`${webhookId}#${slot}`);
    this.log?.push(`release slot ${slot} after ${tryMs} ms`);
    if (item?.lease === lease) this.items.set(`${webhookId}#${slot}`, { lease: null, leasedAt: null, leaseUntil: null, lastTry: { ms: tryMs, endedAt: now } });
    return Promise.resolve();
  }

  /** Sets what the table says of a slot. */
  set(webhookId: string, slot: number, state: { leasedAt?: Date; lastTry?: { ms: number; endedAt: Date } }): void {
    this.items.set(`${webhookId}#${slot}`, {
      lease: state.leasedAt ? `preset-${slot}` : null,
      leasedAt: state.leasedAt ?? null,
      leaseUntil: state.leasedAt ? new Date(state.leasedAt.getTime() + 15_000) : null,
      lastTry: state.lastTry ?? null,
    });
  }
}
