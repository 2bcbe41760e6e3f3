/**
 * The data of the operator view, shared by the page's JSON routes and the terminal command: the
 * transfers (from the product itself, in process or through its HTTP API) joined with their
 * executions on the local Step Functions API (execution name = transfer id).
 */
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  ListStateMachinesCommand,
  SFNClient,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { CONTACT_BOUNCED, PARTY_UNREACHABLE } from '../../lambdas/domain/mail-feedback.ts';
import * as z from '../../lambdas/domain/zod.ts';
import { LOCAL_REGION } from '../lambda-context.ts';
import type { EventDeliveriesSource } from './event-deliveries.ts';
import { oneLine } from './redact.ts';
import {
  currentState,
  executionTimeline,
  mergeTimelines,
  transferRow,
  transferTimeline,
  type ExecutionView,
  type TransferDetailView,
  type TransferLike,
  type TransferRow,
} from './timeline.ts';

export interface ListQuery {
  status?: string;
  limit?: string;
  nextToken?: string;
}

/** Where the transfers come from: the product's own service (in the local API) or its HTTP API (the CLI). */
export interface TransferSource {
  list(query: ListQuery): Promise<{ items: TransferLike[]; nextToken?: string }>;
  /** Null when there is no such transfer. */
  get(id: string): Promise<TransferLike | null>;
}

export interface TransferListView {
  items: TransferRow[];
  nextToken?: string;
}

/** A client for the local Step Functions API (the local stack accepts any credentials). */
export function localSfnClient(endpoint: string): SFNClient {
  return new SFNClient({
    endpoint,
    region: process.env.AWS_REGION ?? LOCAL_REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 2,
  });
}

/** The state machine of the local stack: STATE_MACHINE_ARN when set, else the one the local API serves. */
export async function findStateMachineArn(sfn: SFNClient): Promise<string> {
  const fromEnv = process.env.STATE_MACHINE_ARN?.trim();
  if (fromEnv) return fromEnv;
  const { stateMachines = [] } = await sfn.send(new ListStateMachinesCommand({}));
  const machine = stateMachines.find((m) => m.name === 'customer-transfer') ?? stateMachines[0];
  if (!machine?.stateMachineArn) throw new Error('The local Step Functions API serves no state machine.');
  return machine.stateMachineArn;
}

export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

export class OperatorOverview {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
    private readonly transfers: TransferSource,
    private readonly events: EventDeliveriesSource,
  ) {}

  /** The transfers, newest first, each with its execution's status and current state. */
  async list(query: ListQuery): Promise<TransferListView> {
    const page = await this.transfers.list(query);
    const items = await Promise.all(
      page.items.map(async (transfer) => {
        const execution = await this.execution(transfer.id, false);
        return transferRow(transfer, execution?.view ?? null);
      }),
    );
    return { items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  }

  /** One transfer with its execution, the merged timeline and its events' deliveries; null when the transfer does not exist. */
  async detail(id: string): Promise<TransferDetailView | null> {
    if (!EXECUTION_NAME.test(id)) return null;
    const transfer = await this.transfers.get(id);
    if (!transfer) return null;
    const [execution, events] = await Promise.all([this.execution(id, true), this.events.eventsOf(id)]);
    const row = transferRow(transfer, execution?.view ?? null);
    return {
      transfer: {
        ...row,
        ticketId: transfer.ticketId ?? null,
        note: transfer.note ? oneLine(transfer.note, 500) : null,
        outcomes: (transfer.outcomes ?? []).map((o) => ({ ...o, ...(o.reason ? { reason: oneLine(o.reason, 300) } : {}) })),
        billingAdvice: transfer.billing?.advice ? oneLine(transfer.billing.advice, 500) : null,
        decline: transfer.decline
          ? { ...transfer.decline, signedBy: oneLine(transfer.decline.signedBy, 120), reason: transfer.decline.reason ? oneLine(transfer.decline.reason, 300) : null }
          : null,
        ...mailFeedbackOf(transfer.history ?? []),
      },
      execution: execution?.view ?? null,
      timeline: mergeTimelines(execution ? executionTimeline(execution.events) : [], transferTimeline(transfer.history ?? [])),
      events,
    };
  }

  private async execution(name: string, includeExecutionData: boolean): Promise<{ view: ExecutionView; events: HistoryEvent[] } | null> {
    if (!EXECUTION_NAME.test(name)) return null;
    const executionArn = executionArnOf(this.stateMachineArn, name);
    let described: DescribeExecutionCommandOutput;
    try {
      described = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return null;
      throw error;
    }
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, includeExecutionData, nextToken }));
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    const status = described.status ?? 'UNKNOWN';
    const view: ExecutionView = {
      name,
      status,
      startDate: described.startDate?.toISOString() ?? null,
      stopDate: described.stopDate?.toISOString() ?? null,
      redriveCount: described.redriveCount ?? 0,
      redriveDate: described.redriveDate?.toISOString() ?? null,
      redriveStatus: described.redriveStatus ?? null,
      error: described.error ? oneLine(described.error, 200) : null,
      cause: described.cause ? oneLine(described.cause, 400) : null,
      ...currentState(events, status),
    };
    return { view, events };
  }
}

/** The bounced contacts and unreachable parties a transfer's history records (see lambdas/domain/mail-feedback.ts). */
function mailFeedbackOf(history: readonly { type: string; detail: Record<string, unknown> }[]): Pick<TransferDetailView['transfer'], 'bounced' | 'unreachable'> {
  // Each address and party once, though feedback handled at the same time may have recorded one twice.
  const bounced = new Map<string, string | null>();
  for (const event of history.filter((candidate) => candidate.type === CONTACT_BOUNCED)) {
    const address = oneLine(String(event.detail.address), 254);
    if (!bounced.has(address)) bounced.set(address, typeof event.detail.partnerId === 'string' ? event.detail.partnerId : null);
  }
  const unreachable = new Set(history.filter((event) => event.type === PARTY_UNREACHABLE).map((event) => String(event.detail.partnerId)));
  return { bounced: [...bounced].map(([address, partnerId]) => ({ address, partnerId })), unreachable: [...unreachable] };
}

// ---------------------------------------------------------------------------------------------
// Transfers read through the product's HTTP API (the terminal command)

const party = z.object({ id: z.string(), name: z.string() });
const historyEvent = z.object({
  at: z.string(),
  type: z.string(),
  actor: z.object({ kind: z.string(), partnerId: z.optional(z.string()), name: z.optional(z.string()) }),
  detail: z.record(z.string(), z.unknown()),
});
const transferSchema = z.object({
  id: z.string(),
  status: z.string(),
  customers: z.array(z.object({ id: z.string(), name: z.string() })),
  fromPartner: party,
  toPartner: party,
  requestedDate: z.nullable(z.string()),
  transferDate: z.nullable(z.string()),
  immediate: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  ticketId: z.optional(z.nullable(z.string())),
  note: z.optional(z.nullable(z.string())),
  outcomes: z.optional(z.array(z.object({ customerId: z.string(), outcome: z.string(), reason: z.optional(z.string()) }))),
  billing: z.optional(z.object({ advice: z.optional(z.string()) })),
  history: z.optional(z.array(historyEvent)),
});
const pageSchema = z.object({ items: z.array(transferSchema), nextToken: z.optional(z.string()) });
const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/** An answer of the HTTP API that is not what was asked for, with its one-line message. */
export class ApiAnswerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiAnswerError';
  }
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const parsed = errorSchema.safeParse(JSON.parse(text));
    if (parsed.success) return oneLine(parsed.data.error.message, 300);
  } catch {
    // not the contract's error body
  }
  return `HTTP ${response.status}`;
}

export class HttpTransferSource implements TransferSource {
  constructor(
    private readonly apiUrl: string,
    private readonly token: () => Promise<string>,
  ) {}

  async list(query: ListQuery): Promise<{ items: TransferLike[]; nextToken?: string }> {
    const params = new URLSearchParams();
    if (query.status) params.set('status', query.status);
    if (query.limit) params.set('limit', query.limit);
    if (query.nextToken) params.set('nextToken', query.nextToken);
    const search = params.size > 0 ? `?${params.toString()}` : '';
    const response = await this.request(`/transfers${search}`);
    if (!response.ok) throw new ApiAnswerError(response.status, await errorMessage(response));
    return pageSchema.parse(await response.json());
  }

  async get(id: string): Promise<TransferLike | null> {
    const response = await this.request(`/transfers/${encodeURIComponent(id)}`);
    if (response.status === 404) return null;
    if (!response.ok) throw new ApiAnswerError(response.status, await errorMessage(response));
    return transferSchema.parse(await response.json());
  }

  private async request(path: string): Promise<Response> {
    return fetch(`${this.apiUrl}${path}`, { headers: { authorization: `Bearer ${await this.token()}`, accept: 'application/json' } });
  }
}
