import type { DeclineReasonCode } from './decline-reasons.ts';
import type { ChainHead } from './history-chain.ts';
import type { CalendarDate } from './dates.ts';
import type { CustomerOwnership, CustomerPage, FirstDomains, Partner } from './directory.ts';
import type { Notice } from './notices.ts';
import type {
  ConsentRecord,
  HistoryEvent,
  Step,
  Transfer,
  TransferCustomer,
  TransferStatus,
  TransferSummary,
  TransferSummaryWithHistory,
  TransferWithHistory,
} from './transfer.ts';

export interface DirectoryPort {
  getPartner(id: string): Promise<Partner | undefined>;
  /** Who holds each customer found (unknown ones are left out), in the order asked. */
  getOwnerships(customerIds: string[]): Promise<CustomerOwnership[]>;
  /** Each found customer's first `limit` domains, in order, and how many it has in all. */
  firstDomains(customerIds: string[], limit: number): Promise<Map<string, FirstDomains>>;
  /**
   * One page of a customer: at most `domains` domains and `users` users, after those of the page
   * `nextToken` came with. A token not handed out for this customer is a ValidationError.
   */
  getCustomer(id: string, page: { users: number; domains: number; nextToken?: string }): Promise<CustomerPage | undefined>;
}

/** What a waiting step knows: the current task token (server-side only), its link and its decision. */
export interface ApprovalStep {
  transferId: string;
  step: Step;
  partnerId: string;
  taskToken: string | null;
  linkHash: string | null;
  /** Random input of the link's secret (the secret itself is never stored). */
  linkNonce: string | null;
  /** When the current link was emailed; null while it has not been. */
  linkSentAt: string | null;
  expiresAt: string | null;
  decision: ConsentRecord | null;
  /** The output sent to the workflow with the decision, kept so either side can deliver it. */
  signal: WorkflowSignal | null;
  signalledAt: string | null;
}

export interface ApprovalLink {
  hash: string;
  transferId: string;
  step: Step;
  partnerId: string;
  expiresAt: string;
  state: 'open' | 'used' | 'superseded';
}

export type WorkflowSignal =
  | { kind: 'success'; output: Record<string, unknown> }
  | { kind: 'failure'; error: string; cause: string };

/** The partners' invoice days (1–31) as they were when the request was filed: the billing advice's inputs. */
export interface InvoiceDays {
  from: number;
  to: number;
}

export interface NewTransfer {
  transfer: Transfer;
  /** Kept with the transfer, so that a release's advice needs no read of the directory (the service always gives them). */
  invoiceDays?: InvoiceDays;
  /** The request and any consent given up front, recorded like every other consent. */
  events: HistoryEvent[];
}

/** What a write needs of a transfer it does not read again: these never change once it is filed. */
export type TransferRef = Pick<TransferSummary, 'id' | 'fromPartner' | 'toPartner' | 'customers'>;

export interface Decision {
  /** The transfer as read with the step: its parties and customers for the write, the rest for the events it emits. */
  transfer: TransferSummary;
  step: Step;
  /**
   * The step's task token as the decider read it (null: no wait yet). The decision is written only
   * while it is unchanged, so that the token signalled is the current one; else ConflictError STEP_CHANGED.
   */
  taskToken: string | null;
  from: TransferStatus;
  to: TransferStatus;
  consent: ConsentRecord;
  event: HistoryEvent;
  signal: WorkflowSignal;
  /** Fields of the transfer that change with the decision. */
  changes: Partial<Pick<Transfer, 'transferDate' | 'immediate' | 'billing' | 'acceptedDate' | 'decline'>>;
  /** Release the customers' claims in the same write (a decline). */
  releaseClaims: boolean;
  linkHash: string | null;
  at: string;
}

export interface StatusChange {
  transferId: string;
  from: TransferStatus[];
  to: TransferStatus;
  event: HistoryEvent;
  at: string;
  releaseClaims?: boolean;
  changes?: Partial<Pick<Transfer, 'billing'>> & { outcomes?: CustomerOutcome[] };
}

export interface CustomerOutcome {
  customerId: string;
  outcome: 'moved' | 'already-moved' | 'failed';
  reason?: string;
}

export interface CustomerMove {
  transferId: string;
  customerId: string;
  fromPartnerId: string;
  toPartnerId: string;
  lockedUntil: CalendarDate;
  event: HistoryEvent;
  at: string;
}

export interface OpenStep {
  transferId: string;
  step: Step;
  partnerId: string;
  taskToken: string;
  linkHash: string;
  linkNonce: string;
  /** The step's previous link, which stops working; null when the link stays the same. */
  supersedes: string | null;
  /** Whether the link is new (written now) or the step's current one (a wait resumed after a reminder). */
  newLink: boolean;
  /** Written only with a new link; a resumed wait keeps the stored deadline (an operator may have extended it). */
  expiresAt: string;
  at: string;
  event: HistoryEvent | null;
}

export interface TransferPage {
  items: TransferSummary[];
  nextToken?: string;
}

/** A transfer as one read of its own items finds it: without its customers' domains, with its history and its steps. */
export interface TransferState {
  transfer: TransferSummaryWithHistory;
  /** Server-side only; absent for a transfer filed before they were kept. */
  invoiceDays?: InvoiceDays;
  /** Server-side only: steps hold task tokens. */
  steps: Partial<Record<Step, ApprovalStep>>;
  /** The head of the history's hash chain as the transfer keeps it (null: filed before history was chained). */
  chainHead?: ChainHead | null;
}

export interface TransferStorePort {
  /** Writes the transfer, its history, its up-front decisions and a claim per customer, all or nothing. */
  create(input: NewTransfer): Promise<void>;
  /** Undoes a create whose workflow could not start. */
  discard(transfer: TransferRef): Promise<void>;
  /** The transfer with its history and its customers' domain snapshots (getState, then getCustomers). */
  get(id: string): Promise<TransferWithHistory | undefined>;
  /** The transfer's own items in one read: summary, history, steps. */
  getState(id: string): Promise<TransferState | undefined>;
  /** The domain snapshots of the customers a transfer names, in its order. */
  getCustomers(transfer: Pick<TransferSummary, 'id' | 'customers'>): Promise<TransferCustomer[]>;
  /** Summaries, newest first. */
  list(query: { partnerId?: string; status?: TransferStatus; limit: number; nextToken?: string }): Promise<TransferPage>;
  getStep(transferId: string, step: Step): Promise<ApprovalStep | undefined>;
  /**
   * Stores the task token of a newly reached wait and its new link (superseding an older one);
   * false when the step was decided already.
   */
  openStep(input: OpenStep): Promise<boolean>;
  getLink(hash: string): Promise<ApprovalLink | undefined>;
  /**
   * Records a decision and moves the status, all or nothing; throws ConflictError ALREADY_DECIDED when
   * someone decided first, STEP_CHANGED when the step's task token is no longer the one read.
   */
  decide(decision: Decision): Promise<void>;
  markSignalled(transferId: string, step: Step, at: string): Promise<void>;
  markLinkSent(transferId: string, step: Step, at: string): Promise<void>;
  changeStatus(change: StatusChange): Promise<void>;
  appendEvent(transferId: string, event: HistoryEvent): Promise<void>;
  /** Moves a waiting step's deadline (and its link's) later; throws ConflictError when the step changed meanwhile. */
  extendStep(input: { transferId: string; step: Step; linkHash: string; from: string; to: string; event: HistoryEvent }): Promise<void>;
  /** Claims customers again for a redriven transfer; answers those it now holds (another transfer's claim is left alone). */
  reclaim(transferId: string, customerIds: string[], at: string): Promise<string[]>;
  /** Moves one customer: ownership, claim and audit event in one transaction. */
  moveCustomer(move: CustomerMove): Promise<'moved' | 'already-moved' | 'not-movable'>;
  /** Customer id → the transfer holding its claim, for those of the given customers in an active transfer; read consistently. */
  activeClaims(customerIds: string[]): Promise<Map<string, string>>;
}

/** Tells people of a transfer: the adapter renders the notice (email on AWS) and sends it; none to send to is no error. */
export interface MailerPort {
  send(notice: Notice): Promise<void>;
}

/** The key approval-link secrets are derived from. */
export interface LinkKeyPort {
  key(): Promise<Buffer>;
}

/** Business metrics for the operators' dashboard. Recording one never fails a request. */
export interface MetricsPort {
  /** A transfer entered a status. */
  transferStatus(status: TransferStatus): void;
  /** Time from asking a partner to its written decision. */
  approvalLatency(step: Step, seconds: number): void;
  /** Customers that could not be moved in one re-homing attempt. */
  rehomeErrors(customers: number): void;
  emailFailure(): void;
  /** A partner declined, on this ground. */
  decline(reasonCode: DeclineReasonCode): void;
}

export const NO_METRICS: MetricsPort = {
  transferStatus: () => undefined,
  decline: () => undefined,
  approvalLatency: () => undefined,
  rehomeErrors: () => undefined,
  emailFailure: () => undefined,
};

/** Operator alerts beyond email (an SNS topic on AWS). */
export interface AlertPort {
  /** false when no topic is configured (local runs): email is then the only way. */
  publish(subject: string, message: string): Promise<boolean>;
}

export interface WorkflowPort {
  start(transferId: string, input: Record<string, unknown>): Promise<void>;
  signal(taskToken: string, signal: WorkflowSignal): Promise<'delivered' | 'gone'>;
  /** Stops the transfer's execution; false when it was not running. */
  stop(transferId: string, cause: string): Promise<boolean>;
}

export interface Clock {
  now(): Date;
}
