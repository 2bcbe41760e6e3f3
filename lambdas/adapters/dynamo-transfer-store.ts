import { TransactionCanceledException, type CancellationReason } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  PutCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { ConflictError, TransientError, ValidationError } from '../domain/errors.ts';
import type {
  ApprovalLink,
  ApprovalStep,
  CustomerMove,
  Decision,
  InvoiceDays,
  NewTransfer,
  OpenStep,
  StatusChange,
  TransferPage,
  TransferRef,
  TransferState,
  TransferStorePort,
} from '../domain/ports.ts';
import {
  canTransition,
  customerSummary,
  summaryOf,
  transferCustomer,
  type HistoryEvent,
  type Step,
  type Transfer,
  type TransferCustomer,
  type TransferStatus,
  type TransferSummary,
  type TransferWithHistory,
} from '../domain/transfer.ts';
import { eventsOf, type TransferEvent } from '../domain/events.ts';
import { chainEvents, inChainOrder, type ChainHead } from '../domain/history-chain.ts';
import { batchGetAll, batchWriteAll } from './batch.ts';
import { TABLE_INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from './table-schema.ts';
import { keys, TRANSFER_OWN_ITEMS_AFTER } from './table-keys.ts';
import { queryPartition } from './query-partition.ts';
import { asTransient, transientOr } from './transient.ts';

type TransactItem = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number];
type Item = Record<string, unknown>;

/** An outbox event stays this long after it was written (for the relay's retries and a look back); then DynamoDB's TTL removes it. */
export const OUTBOX_RETENTION_SECONDS = 30 * 86_400;

/** The outbox item of an event: written once, in the transaction of the change it tells of. */
function outboxPut(tableName: string, event: TransferEvent): TransactItem {
  return {
    Put: {
      TableName: tableName,
      Item: {
        ...keys.outbox(event.transferId, event.id),
        kind: 'outbox',
        event,
        [TTL_ATTRIBUTE]: Math.floor(Date.parse(event.occurredAt) / 1000) + OUTBOX_RETENTION_SECONDS,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}

/**
 * An approval link stays this long after it expires (its page still says "expired") or after it was used (its
 * page says "already answered"), whichever comes first; then DynamoDB's TTL removes it.
 */
export const LINK_GRACE_SECONDS = 30 * 86_400;

/** The TTL attribute of a link expiring at `expiresAt` (epoch seconds, as DynamoDB's TTL reads it). */
export function linkExpiry(expiresAt: string): number {
  return Math.floor(Date.parse(expiresAt) / 1000) + LINK_GRACE_SECONDS;
}

const [BY_PARTY, BY_PARTY_STATUS] = TABLE_INDEXES;
/**
 * Keys, the head of the history chain, which the transfer item keeps for the server, and the expiry a closed
 * transfer's items carry for the table's TTL: never in a transfer's or an event's JSON.
 */
const KEY_ATTRIBUTES = ['pk', 'sk', 'kind', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'chainSeq', 'chainHash', TTL_ATTRIBUTE];

/** How often a write is tried again when another writer appended to the same history meanwhile. */
const CHAIN_ATTEMPTS = 6;

/** Another writer moved the chain's head since it was read: the write is built again on the new head. */
class ChainMoved extends Error {
  constructor() {
    super('The history chain moved on since it was read.');
    this.name = 'ChainMoved';
  }
}

/** The head of a transfer item's chain; null for a transfer written before history was chained. */
function headOf(item: Item): ChainHead | null {
  return typeof item.chainSeq === 'number' && typeof item.chainHash === 'string' ? { seq: item.chainSeq, hash: item.chainHash } : null;
}

/**
 * The pieces that append chained events in a transaction: their items, and the change of the head on
 * the transfer item, conditional on the head being the one the events were chained after, so that two
 * events can never claim the same predecessor.
 */
interface ChainWrite {
  events: HistoryEvent[];
  head: ChainHead | null;
  set: string;
  condition: string;
  values: Record<string, unknown>;
}

function chainWrite(transferId: string, head: ChainHead | null, events: readonly HistoryEvent[]): ChainWrite {
  const chained = chainEvents(transferId, head, events);
  return {
    events: chained.events,
    head: chained.head,
    set: 'chainSeq = :chainSeq, chainHash = :chainHash',
    // The head as read, hash and all: a stale cached head of the same length (a transfer filed again under its id) fails too.
    condition: head === null ? 'attribute_not_exists(chainSeq)' : 'chainSeq = :chainPrev AND chainHash = :chainPrevHash',
    values: {
      ':chainSeq': chained.head?.seq ?? 0,
      ':chainHash': chained.head?.hash ?? '',
      ...(head === null ? {} : { ':chainPrev': head.seq, ':chainPrevHash': head.hash }),
    },
  };
}

function strip<T>(item: Record<string, unknown>): T {
  return Object.fromEntries(Object.entries(item).filter(([k]) => !KEY_ATTRIBUTES.includes(k))) as T;
}

function listSortKey(transfer: Pick<Transfer, 'createdAt' | 'id'>): string {
  return `${transfer.createdAt}#${transfer.id}`;
}

/** The party views let each partner list its own transfers through an index, never a scan. */
function partyIds(transfer: Pick<Transfer, 'fromPartner' | 'toPartner'>): string[] {
  return [transfer.fromPartner.id, transfer.toPartner.id];
}

let eventSequence = 0;

/** Events of the same instant keep the order they were recorded in: a sequence number, then a random tie-breaker across processes. */
function eventItem(transferId: string, event: HistoryEvent): Record<string, unknown> {
  eventSequence = (eventSequence + 1) % 1_000_000;
  const unique = `${String(eventSequence).padStart(6, '0')}-${randomBytes(3).toString('hex')}`;
  return { ...keys.event(transferId, event.at, unique), kind: 'event', ...event };
}

export class DynamoTransferStore implements TransferStorePort {
  /** The chain heads last read or written, by transfer: a first guess that saves a read; a stale one costs a retry. */
  private readonly heads = new Map<string, ChainHead | null>();
  /** The expiry of closed transfers whose head was read (it never changes once set); kept as long as their head. */
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private remember(transferId: string, head: ChainHead | null): void {
    this.heads.delete(transferId);
    this.heads.set(transferId, head);
    if (this.heads.size > 256) {
      const oldest = this.heads.keys().next().value as string;
      this.heads.delete(oldest);
      this.expiries.delete(oldest);
    }
  }

  private async head(transferId: string): Promise<ChainHead | null> {
    if (this.heads.has(transferId)) return this.heads.get(transferId) ?? null;
    const result = await asTransient(() =>
      this.db.send(
        new GetCommand({
          TableName: this.tableName,
          Key: keys.transfer(transferId),
          ConsistentRead: true,
          ProjectionExpression: 'pk, chainSeq, chainHash, #ttl',
          ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
        }),
      ),
    );
    if (!result.Item) throw new ConflictError('UNKNOWN_TRANSFER', `Transfer ${transferId} does not exist.`);
    const expiry = result.Item[TTL_ATTRIBUTE];
    if (typeof expiry === 'number') this.expiries.set(transferId, expiry);
    const head = headOf(result.Item);
    this.remember(transferId, head);
    return head;
  }

  /**
   * Runs `write` with `events` chained after the transfer's head; built again on the new head when another
   * writer moved it. `written` says whether a result means the events were stored (a refused move stores none).
   */
  private async appendChained<T>(
    transferId: string,
    events: readonly HistoryEvent[],
    write: (chain: ChainWrite) => Promise<T>,
    written: (result: T) => boolean = () => true,
  ): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      // Without an event there is no head to move, nor to read.
      const chain = chainWrite(transferId, events.length > 0 ? await this.head(transferId) : null, events);
      try {
        const result = await write(chain);
        // A head that was not written is never cached: a later write chained after it would break the chain.
        if (events.length > 0) {
          if (written(result)) this.remember(transferId, chain.head);
          else this.heads.delete(transferId);
        }
        return result;
      } catch (error) {
        this.heads.delete(transferId);
        if (!(error instanceof ChainMoved)) throw error;
        if (attempt >= CHAIN_ATTEMPTS) throw new TransientError();
        // Writers that lost the same race spread out before they read the head again.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      }
    }
  }

  /**
   * The transfer item's change of head, for a transaction that does not otherwise update the transfer item;
   * `open` also requires that the transfer has no expiry yet (it has not been retired since it was read).
   */
  private headUpdate(transferId: string, chain: ChainWrite, open = false): TransactItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.transfer(transferId),
        UpdateExpression: `SET ${chain.set}`,
        ConditionExpression: `attribute_exists(pk) AND ${chain.condition}${open ? ' AND attribute_not_exists(#ttl)' : ''}`,
        ExpressionAttributeValues: chain.values,
        ...(open ? { ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE } } : {}),
      },
    };
  }

  async create({ transfer, events, invoiceDays }: NewTransfer): Promise<void> {
    // Each customer's domain snapshot is an item of its own, written first. Readers reach it only through
    // the transfer item, which names it, so it stays invisible until the transaction below commits.
    await this.writeCustomers(transfer);
    const chain = chainEvents(transfer.id, null, events);
    // At most 1 + 2 + 3 events + 3 outbox events + 50 claims = 59 actions (of DynamoDB's 100), each a small item.
    const items: TransactItem[] = [
      {
        Put: {
          TableName: this.tableName,
          Item: {
            ...keys.transfer(transfer.id),
            kind: 'transfer',
            // The customers' summaries (id, name, domainCount) only: listings never read a domain.
            ...summaryOf(transfer),
            ...(invoiceDays ? { invoiceDays } : {}),
            ...(chain.head ? { chainSeq: chain.head.seq, chainHash: chain.head.hash } : {}),
            gsi1pk: 'ALL',
            gsi1sk: listSortKey(transfer),
            gsi2pk: `ALL#${transfer.status}`,
            gsi2sk: listSortKey(transfer),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      ...partyIds(transfer).map((partnerId) => ({
        Put: {
          TableName: this.tableName,
          Item: {
            ...keys.party(transfer.id, partnerId),
            kind: 'party',
            transferId: transfer.id,
            status: transfer.status,
            gsi1pk: `PARTY#${partnerId}`,
            gsi1sk: listSortKey(transfer),
            gsi2pk: `PARTY#${partnerId}#${transfer.status}`,
            gsi2sk: listSortKey(transfer),
          },
        },
      })),
      ...chain.events.map((event) => ({ Put: { TableName: this.tableName, Item: eventItem(transfer.id, event) } })),
      ...eventsOf({ history: events, transfer: summaryOf(transfer), at: transfer.createdAt }).map((event) => outboxPut(this.tableName, event)),
      ...transfer.customers.map((customer) => ({
        Put: {
          TableName: this.tableName,
          Item: { ...keys.claim(customer.id), kind: 'claim', transferId: transfer.id, claimedAt: transfer.createdAt },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      })),
    ];
    const claimOffset = items.length - transfer.customers.length;
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      const reasons = cancellationReasons(error);
      // A cancelled transaction wrote nothing: its snapshots go too. (After any other failure the
      // transaction may yet have been applied, so they stay; unnamed, they are never read. Nor are
      // they deleted when the transfer id itself was taken: they would be that transfer's.)
      const idTaken = reasons?.[0]?.Code === 'ConditionalCheckFailed';
      if (reasons && !idTaken) await this.deleteCustomers(transfer).catch(() => undefined);
      const busy = transfer.customers
        .filter((_, index) => reasons?.[claimOffset + index]?.Code === 'ConditionalCheckFailed')
        .map((c) => c.id);
      if (busy.length > 0) {
        throw new ConflictError(
          'CUSTOMER_BUSY',
          `Customer${busy.length > 1 ? 's' : ''} ${busy.join(', ')} ${busy.length > 1 ? 'are' : 'is'} already in another active transfer.`,
          { customerIds: busy },
        );
      }
      throw transientOr(error);
    }
  }

  async discard(transfer: TransferRef): Promise<void> {
    const items: TransactItem[] = [
      { Delete: { TableName: this.tableName, Key: keys.transfer(transfer.id) } },
      ...partyIds(transfer).map((partnerId) => ({ Delete: { TableName: this.tableName, Key: keys.party(transfer.id, partnerId) } })),
      ...transfer.customers.map((customer) => ({
        Delete: {
          TableName: this.tableName,
          Key: keys.claim(customer.id),
          ConditionExpression: 'transferId = :id',
          ExpressionAttributeValues: { ':id': transfer.id },
        },
      })),
    ];
    await asTransient(() => this.db.send(new TransactWriteCommand({ TransactItems: items })));
    // The rest of the partition (history events, customer snapshots) goes too, so a rejected request leaves nothing behind.
    const rest = await queryPartition(this.db, this.tableName, `TRANSFER#${transfer.id}`);
    await batchWriteAll(
      this.db,
      this.tableName,
      rest.map((item) => ({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } })),
    );
  }

  async get(id: string): Promise<TransferWithHistory | undefined> {
    const state = await this.getState(id);
    if (!state) return undefined;
    return { ...state.transfer, customers: await this.getCustomers(state.transfer) };
  }

  async getState(id: string): Promise<TransferState | undefined> {
    // The transfer's own items sort after its customers' snapshots: one query, however many domains.
    const items = await queryPartition(this.db, this.tableName, keys.transfer(id).pk, { after: TRANSFER_OWN_ITEMS_AFTER });
    const transferItem = items.find((item) => item.kind === 'transfer');
    if (!transferItem) return undefined;
    const history = inChainOrder(items.filter((item) => item.kind === 'event').map((item) => strip<HistoryEvent>(item)));
    this.remember(id, headOf(transferItem));
    const steps: TransferState['steps'] = {};
    for (const item of items.filter((i) => i.kind === 'step')) {
      const step = String(item.sk).slice('STEP#'.length);
      if (step === 'release' || step === 'acceptance') steps[step] = stepOf(id, step, item);
    }
    const invoiceDays = transferItem.invoiceDays as InvoiceDays | undefined;
    return {
      transfer: { ...summaryFromItem(transferItem, items.find((item) => item.kind === 'customers')), history },
      steps,
      ...(invoiceDays ? { invoiceDays } : {}),
      chainHead: headOf(transferItem),
    };
  }

  async getCustomers(transfer: Pick<TransferSummary, 'id' | 'customers'>): Promise<TransferCustomer[]> {
    if (transfer.customers.length === 0) return [];
    const keysWanted = transfer.customers.map((c) => keys.transferCustomer(transfer.id, c.id));
    const found = new Map((await batchGetAll(this.db, this.tableName, keysWanted, { consistent: true })).map((i) => [String(i.customerId), i]));
    // A transfer filed before the per-customer items has its customers' domains in the legacy item.
    const legacy = transfer.customers.every((c) => found.has(c.id)) ? undefined : await this.legacyCustomers(transfer.id);
    return transfer.customers.map((customer): TransferCustomer => {
      const item = found.get(customer.id);
      if (item) {
        return {
          ...customerSummary(customer),
          domains: (item.domains as string[] | undefined) ?? [],
          domainsTruncated: item.domainsTruncated === true,
        };
      }
      const domains = legacy?.get(customer.id);
      if (domains) return transferCustomer(customer, domains, domains.length);
      // Not there (a request withdrawn while it was read): say the list is short, rather than show none as all.
      return { ...customerSummary(customer), domains: [], domainsTruncated: customer.domainCount > 0 };
    });
  }

  async list(query: { partnerId?: string; status?: TransferStatus; limit: number; nextToken?: string }): Promise<TransferPage> {
    const owner = query.partnerId ? `PARTY#${query.partnerId}` : 'ALL';
    const partition = query.status ? `${owner}#${query.status}` : owner;
    const index = query.status ? BY_PARTY_STATUS : BY_PARTY;
    const result = await asTransient(() =>
      this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.indexName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': index.partitionKey },
          ExpressionAttributeValues: { ':pk': partition },
          ScanIndexForward: false,
          Limit: query.limit,
          ExclusiveStartKey: query.nextToken ? decodeToken(query.nextToken, index, partition) : undefined,
        }),
      ),
    );
    // The indexes hold keys only: the transfer id is in the table's partition key.
    const ids = (result.Items ?? []).map((item) => String(item.pk).slice('TRANSFER#'.length));
    const transfers = await this.batchGetSummaries(ids);
    return {
      items: ids.map((id) => transfers.get(id)).filter((t): t is TransferSummary => t !== undefined),
      ...(result.LastEvaluatedKey ? { nextToken: encodeToken(result.LastEvaluatedKey) } : {}),
    };
  }

  async getStep(transferId: string, step: Step): Promise<ApprovalStep | undefined> {
    const result = await asTransient(() =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.step(transferId, step), ConsistentRead: true })),
    );
    return result.Item ? stepOf(transferId, step, result.Item) : undefined;
  }

  async openStep(input: OpenStep): Promise<boolean> {
    return this.appendChained(input.transferId, input.event ? [input.event] : [], (chain) => this.openStepOnce(input, chain), (opened) => opened);
  }

  private async openStepOnce(input: OpenStep, chain: ChainWrite): Promise<boolean> {
    const items: TransactItem[] = [
      {
        Update: {
          TableName: this.tableName,
          Key: keys.step(input.transferId, input.step),
          // A wait resumed with the current link keeps the step's deadline as it stands: an operator may
          // have extended it since the caller read it, and writing that stale value back would undo the extension.
          UpdateExpression:
            'SET partnerId = :partner, taskToken = :token, linkHash = :hash, linkNonce = :nonce, openedAt = :at, kind = :kind' +
            (input.newLink ? ', expiresAt = :expires REMOVE linkSentAt' : ''),
          ConditionExpression: 'attribute_not_exists(decision)',
          ExpressionAttributeValues: {
            ':partner': input.partnerId,
            ':token': input.taskToken,
            ':hash': input.linkHash,
            ':nonce': input.linkNonce,
            ...(input.newLink ? { ':expires': input.expiresAt } : {}),
            ':at': input.at,
            ':kind': 'step',
          },
        },
      },
    ];
    if (input.newLink) {
      items.push({
        Put: {
          TableName: this.tableName,
          Item: {
            ...keys.link(input.linkHash),
            kind: 'link',
            transferId: input.transferId,
            step: input.step,
            partnerId: input.partnerId,
            expiresAt: input.expiresAt,
            state: 'open',
            [TTL_ATTRIBUTE]: linkExpiry(input.expiresAt),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
    }
    for (const event of chain.events) items.push({ Put: { TableName: this.tableName, Item: eventItem(input.transferId, event) } });
    if (input.supersedes) {
      items.push({
        Update: {
          TableName: this.tableName,
          Key: keys.link(input.supersedes),
          UpdateExpression: 'SET #state = :superseded',
          ConditionExpression: '#state = :open',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':superseded': 'superseded', ':open': 'open' },
        },
      });
    }
    const headIndex = chain.events.length > 0 ? items.push(this.headUpdate(input.transferId, chain)) - 1 : -1;
    try {
      await asTransient(() => this.db.send(new TransactWriteCommand({ TransactItems: items })));
      return true;
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons?.[0]?.Code === 'ConditionalCheckFailed') return false;
      if (headIndex >= 0 && reasons?.[headIndex]?.Code === 'ConditionalCheckFailed') throw new ChainMoved();
      throw error;
    }
  }

  async getLink(hash: string): Promise<ApprovalLink | undefined> {
    const result = await asTransient(() =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.link(hash), ConsistentRead: true })),
    );
    if (!result.Item) return undefined;
    const { transferId, step, partnerId, expiresAt, state } = result.Item as Omit<ApprovalLink, 'hash'>;
    return { hash, transferId, step, partnerId, expiresAt, state };
  }

  async decide(decision: Decision): Promise<void> {
    await this.appendChained(decision.transfer.id, [decision.event], (chain) => this.decideOnce(decision, chain));
  }

  private async decideOnce(decision: Decision, chain: ChainWrite): Promise<void> {
    const { transfer } = decision;
    const statusUpdates = this.statusUpdates(transfer, [decision.from], decision.to, decision.at, decision.changes, chain);
    const stepIndex = statusUpdates.length;
    const items: TransactItem[] = [
      ...statusUpdates,
      {
        Update: {
          TableName: this.tableName,
          Key: keys.step(transfer.id, decision.step),
          UpdateExpression: 'SET decision = :decision, workflowSignal = :signal, decidedAt = :at, kind = :kind, partnerId = if_not_exists(partnerId, :partner)',
          // The task token is the one the decider read: it is the one to signal once the decision is in.
          ConditionExpression: `attribute_not_exists(decision) AND ${decision.taskToken === null ? 'attribute_not_exists(taskToken)' : 'taskToken = :token'}`,
          ExpressionAttributeValues: {
            ':decision': decision.consent,
            ':signal': decision.signal,
            ':at': decision.at,
            ':kind': 'step',
            ':partner': decision.step === 'release' ? transfer.fromPartner.id : transfer.toPartner.id,
            ...(decision.taskToken === null ? {} : { ':token': decision.taskToken }),
          },
        },
      },
      ...chain.events.map((event) => ({ Put: { TableName: this.tableName, Item: eventItem(transfer.id, event) } })),
      ...eventsOf({
        history: [decision.event],
        enteredStatus: decision.to,
        transfer: { ...summaryOf(transfer), ...decision.changes, status: decision.to, updatedAt: decision.at },
        at: decision.at,
      }).map((event) => outboxPut(this.tableName, event)),
      ...(decision.releaseClaims ? this.claimReleases(transfer) : []),
    ];
    if (decision.linkHash) {
      items.push({
        Update: {
          TableName: this.tableName,
          Key: keys.link(decision.linkHash),
          // A used link is removed the grace period after its use (sooner than after its expiry).
          UpdateExpression: 'SET #state = :used, usedAt = :at, #ttl = :ttl',
          ConditionExpression: '#state = :open',
          ExpressionAttributeNames: { '#state': 'state', '#ttl': TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ':used': 'used', ':open': 'open', ':at': decision.at, ':ttl': linkExpiry(decision.at) },
        },
      });
    }
    try {
      await asTransient(() => this.db.send(new TransactWriteCommand({ TransactItems: items })));
    } catch (error) {
      const failed = cancellationReasons(error)?.flatMap((reason, index) => (reason.Code === 'ConditionalCheckFailed' ? [index] : []));
      if (failed && failed.length > 0) {
        // The transfer item's condition failed with its status still the one decided from: an event was appended meanwhile.
        const statusHolds = !failed.includes(0) || (await this.getTransferItem(transfer.id)).status === decision.from;
        const others = failed.filter((index) => index !== 0);
        if (statusHolds && others.length === 0) throw new ChainMoved();
        // The step's condition failed too and it holds no decision: its task token changed (a wait resumed, appending its event).
        if (statusHolds && others.length === 1 && others[0] === stepIndex && !(await this.getStep(transfer.id, decision.step))?.decision) {
          throw new ConflictError('STEP_CHANGED', 'The step was opened again since it was read; nothing was recorded.');
        }
        throw new ConflictError('ALREADY_DECIDED', 'Another decision was recorded first; this one was not recorded.');
      }
      throw error;
    }
  }

  async markLinkSent(transferId: string, step: Step, at: string): Promise<void> {
    await asTransient(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.step(transferId, step),
          UpdateExpression: 'SET linkSentAt = :at',
          ExpressionAttributeValues: { ':at': at },
        }),
      ),
    );
  }

  async markSignalled(transferId: string, step: Step, at: string): Promise<void> {
    await asTransient(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.step(transferId, step),
          UpdateExpression: 'SET signalledAt = if_not_exists(signalledAt, :at)',
          ExpressionAttributeValues: { ':at': at },
        }),
      ),
    );
  }

  async changeStatus(change: StatusChange): Promise<void> {
    // The transfer item is read first (its parties and customers); the read also gives the chain's head.
    const transfer = await this.getTransferItem(change.transferId);
    await this.appendChained(change.transferId, [change.event], (chain) => this.changeStatusOnce(change, transfer, chain));
  }

  private async changeStatusOnce(change: StatusChange, transfer: TransferSummary, chain: ChainWrite): Promise<void> {
    const items: TransactItem[] = [
      ...this.statusUpdates(transfer, change.from, change.to, change.at, change.changes ?? {}, chain),
      ...chain.events.map((event) => ({ Put: { TableName: this.tableName, Item: eventItem(change.transferId, event) } })),
      ...eventsOf({
        history: [change.event],
        enteredStatus: change.to,
        transfer: { ...transfer, ...(change.changes ?? {}), status: change.to, updatedAt: change.at },
        at: change.at,
      }).map((event) => outboxPut(this.tableName, event)),
      ...(change.releaseClaims ? this.claimReleases(transfer) : []),
    ];
    try {
      await asTransient(() => this.db.send(new TransactWriteCommand({ TransactItems: items })));
    } catch (error) {
      if (cancellationReasons(error)?.[0]?.Code === 'ConditionalCheckFailed') {
        const now = await this.getTransferItem(change.transferId);
        if (change.from.includes(now.status)) throw new ChainMoved();
        throw new ConflictError('INVALID_STATE', `The transfer is ${now.status}; it cannot become ${change.to}.`, {
          status: now.status,
        });
      }
      throw error;
    }
  }

  /**
   * Appends an event outside a change of status (a notice sent or failed, an outcome). Once the transfer
   * closed, its item carries the expiry its retention gave it, and so does the event; while none was read
   * with the head, the write is conditional on none, so an event can never slip in between the expiry
   * being set on the transfer and the rest of its items being stamped (see DynamoRetention): it fails,
   * and is written again on the head and expiry read anew.
   */
  async appendEvent(transferId: string, event: HistoryEvent): Promise<void> {
    await this.appendChained(transferId, [event], async (chain) => {
      const expiry = this.expiries.get(transferId);
      const items: TransactItem[] = [
        ...chain.events.map((chained) => ({
          Put: { TableName: this.tableName, Item: { ...eventItem(transferId, chained), ...(expiry === undefined ? {} : { [TTL_ATTRIBUTE]: expiry }) } },
        })),
        this.headUpdate(transferId, chain, expiry === undefined),
      ];
      try {
        await asTransient(() => this.db.send(new TransactWriteCommand({ TransactItems: items })));
      } catch (error) {
        if (cancellationReasons(error)?.[items.length - 1]?.Code === 'ConditionalCheckFailed') throw new ChainMoved();
        throw error;
      }
    });
  }

  async moveCustomer(move: CustomerMove): Promise<'moved' | 'already-moved' | 'not-movable'> {
    return this.appendChained(move.transferId, [move.event], (chain) => this.moveCustomerOnce(move, chain), (outcome) => outcome === 'moved');
  }

  private async moveCustomerOnce(move: CustomerMove, chain: ChainWrite): Promise<'moved' | 'already-moved' | 'not-movable'> {
    const items: TransactItem[] = [
      {
        Update: {
          TableName: this.tableName,
          Key: keys.ownership(move.customerId),
          UpdateExpression:
            'SET partnerId = :to, previousPartnerId = :from, lastTransferId = :transfer, lockedUntil = :lock, updatedAt = :at',
          ConditionExpression: 'partnerId = :from',
          ExpressionAttributeValues: {
            ':to': move.toPartnerId,
            ':from': move.fromPartnerId,
            ':transfer': move.transferId,
            ':lock': move.lockedUntil,
            ':at': move.at,
          },
        },
      },
      {
        Delete: {
          TableName: this.tableName,
          Key: keys.claim(move.customerId),
          ConditionExpression: 'transferId = :transfer',
          ExpressionAttributeValues: { ':transfer': move.transferId },
        },
      },
      ...chain.events.map((event) => ({ Put: { TableName: this.tableName, Item: eventItem(move.transferId, event) } })),
      {
        Put: {
          TableName: this.tableName,
          Item: {
            ...keys.customerAudit(move.customerId, move.at, move.transferId),
            kind: 'audit',
            type: 'OWNERSHIP_MOVED',
            transferId: move.transferId,
            fromPartnerId: move.fromPartnerId,
            toPartnerId: move.toPartnerId,
            at: move.at,
          },
        },
      },
    ];
    const headIndex = items.push(this.headUpdate(move.transferId, chain)) - 1;
    try {
      await asTransient(() => this.db.send(new TransactWriteCommand({ TransactItems: items })));
      return 'moved';
    } catch (error) {
      const reasons = cancellationReasons(error);
      const failed = (index: number) => reasons?.[index]?.Code === 'ConditionalCheckFailed';
      // The ownership and the claim decide whether the customer moves; a moved head only means "build it again".
      if (!failed(0) && !failed(1)) {
        if (failed(headIndex)) throw new ChainMoved();
        throw error;
      }
      const owner = await asTransient(() =>
        this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.ownership(move.customerId), ConsistentRead: true })),
      );
      const movedByThis = owner.Item?.partnerId === move.toPartnerId && owner.Item?.lastTransferId === move.transferId;
      return movedByThis ? 'already-moved' : 'not-movable';
    }
  }

  async extendStep(input: { transferId: string; step: Step; linkHash: string; from: string; to: string; event: HistoryEvent }): Promise<void> {
    await this.appendChained(input.transferId, [input.event], (chain) => this.extendStepOnce(input, chain));
  }

  private async extendStepOnce(input: { transferId: string; step: Step; linkHash: string; from: string; to: string }, chain: ChainWrite): Promise<void> {
    const items: TransactItem[] = [
      {
        Update: {
          TableName: this.tableName,
          Key: keys.step(input.transferId, input.step),
          UpdateExpression: 'SET expiresAt = :to',
          ConditionExpression: 'expiresAt = :from AND linkHash = :hash AND attribute_not_exists(decision)',
          ExpressionAttributeValues: { ':to': input.to, ':from': input.from, ':hash': input.linkHash },
        },
      },
      {
        Update: {
          TableName: this.tableName,
          Key: keys.link(input.linkHash),
          // The link is removed only a grace period after its new deadline.
          UpdateExpression: 'SET expiresAt = :to, #ttl = :ttl',
          ConditionExpression: '#state = :open',
          ExpressionAttributeNames: { '#state': 'state', '#ttl': TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ':to': input.to, ':ttl': linkExpiry(input.to), ':open': 'open' },
        },
      },
      ...chain.events.map((event) => ({ Put: { TableName: this.tableName, Item: eventItem(input.transferId, event) } })),
      this.headUpdate(input.transferId, chain),
    ];
    try {
      await asTransient(() => this.db.send(new TransactWriteCommand({ TransactItems: items })));
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons?.[0]?.Code === 'ConditionalCheckFailed' || reasons?.[1]?.Code === 'ConditionalCheckFailed') {
        throw new ConflictError('STEP_CHANGED', 'The step was decided or changed meanwhile; nothing was extended.');
      }
      if (reasons?.[items.length - 1]?.Code === 'ConditionalCheckFailed') throw new ChainMoved();
      if (reasons?.some((r) => r.Code === 'ConditionalCheckFailed')) {
        throw new ConflictError('STEP_CHANGED', 'The step was decided or changed meanwhile; nothing was extended.');
      }
      throw error;
    }
  }

  async reclaim(transferId: string, customerIds: string[], at: string): Promise<string[]> {
    const held: string[] = [];
    for (const customerId of customerIds) {
      try {
        await asTransient(() =>
          this.db.send(
            new PutCommand({
              TableName: this.tableName,
              Item: { ...keys.claim(customerId), kind: 'claim', transferId, claimedAt: at },
              ConditionExpression: 'attribute_not_exists(pk) OR transferId = :transfer',
              ExpressionAttributeValues: { ':transfer': transferId },
            }),
          ),
        );
        held.push(customerId);
      } catch (error) {
        if (!(error instanceof Error && error.name === 'ConditionalCheckFailedException')) throw error;
      }
    }
    return held;
  }

  private statusUpdates(
    transfer: TransferRef,
    from: TransferStatus[],
    to: TransferStatus,
    at: string,
    changes: Record<string, unknown>,
    chain?: ChainWrite,
  ): TransactItem[] {
    const illegal = from.filter((status) => !canTransition(status, to, { redrive: true }));
    if (illegal.length > 0) throw new Error(`No transition from ${illegal.join(', ')} to ${to}`);
    const sets = Object.keys(changes).map((name, index) => `#c${index} = :c${index}`);
    const names = Object.fromEntries(Object.keys(changes).map((name, index) => [`#c${index}`, name]));
    const values = Object.fromEntries(Object.values(changes).map((value, index) => [`:c${index}`, value]));
    const fromValues = Object.fromEntries(from.map((status, index) => [`:from${index}`, status]));
    return [
      {
        Update: {
          TableName: this.tableName,
          Key: keys.transfer(transfer.id),
          UpdateExpression: ['SET #status = :to', 'updatedAt = :at', 'gsi2pk = :gsi2pk', ...sets, ...(chain ? [chain.set] : [])].join(', '),
          ConditionExpression: `#status IN (${Object.keys(fromValues).join(', ')})${chain ? ` AND ${chain.condition}` : ''}`,
          ExpressionAttributeNames: { '#status': 'status', ...names },
          ExpressionAttributeValues: { ':to': to, ':at': at, ':gsi2pk': `ALL#${to}`, ...values, ...fromValues, ...(chain?.values ?? {}) },
        },
      },
      ...partyIds(transfer).map((partnerId) => ({
        Update: {
          TableName: this.tableName,
          Key: keys.party(transfer.id, partnerId),
          UpdateExpression: 'SET #status = :to, gsi2pk = :gsi2pk',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':to': to, ':gsi2pk': `PARTY#${partnerId}#${to}` },
        },
      })),
    ];
  }

  /** Claims this transfer still holds; a claim another transfer took is left alone. */
  private claimReleases(transfer: TransferRef): TransactItem[] {
    return transfer.customers.map((customer) => ({
      Delete: {
        TableName: this.tableName,
        Key: keys.claim(customer.id),
        ConditionExpression: 'attribute_not_exists(pk) OR transferId = :transfer',
        ExpressionAttributeValues: { ':transfer': transfer.id },
      },
    }));
  }

  /** The transfer item alone (parties and customer summaries), read consistently before a status change. */
  private async getTransferItem(id: string): Promise<TransferSummary> {
    const result = await asTransient(() =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.transfer(id), ConsistentRead: true })),
    );
    if (!result.Item) throw new ConflictError('UNKNOWN_TRANSFER', `Transfer ${id} does not exist.`);
    this.remember(id, headOf(result.Item));
    if (Array.isArray(result.Item.customers)) return summaryFromItem(result.Item);
    const legacy = await asTransient(() =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.legacyTransferCustomers(id), ConsistentRead: true })),
    );
    return summaryFromItem(result.Item, legacy.Item);
  }

  private async batchGetSummaries(ids: string[]): Promise<Map<string, TransferSummary>> {
    const items = await batchGetAll(this.db, this.tableName, ids.map((id) => keys.transfer(id)));
    const transfers = new Map(items.map((item) => [String(item.id), item]));
    // Transfers filed before their items carried the customers' summaries: their legacy item, in one more read.
    const legacyIds = [...transfers.values()].filter((item) => !Array.isArray(item.customers)).map((item) => String(item.id));
    const legacy = new Map(
      legacyIds.length === 0
        ? []
        : (await batchGetAll(this.db, this.tableName, legacyIds.map((id) => keys.legacyTransferCustomers(id)))).map((item) => [
            String(item.pk).slice('TRANSFER#'.length),
            item,
          ]),
    );
    return new Map([...transfers].map(([id, item]) => [id, summaryFromItem(item, legacy.get(id))]));
  }

  private async legacyCustomers(transferId: string): Promise<Map<string, string[]>> {
    const result = await asTransient(() =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.legacyTransferCustomers(transferId), ConsistentRead: true })),
    );
    const customers = (result.Item?.customers as { id: string; domains?: string[] }[] | undefined) ?? [];
    return new Map(customers.map((c) => [c.id, c.domains ?? []]));
  }

  private async writeCustomers(transfer: Transfer): Promise<void> {
    const puts = transfer.customers.map((customer) => ({ PutRequest: { Item: customerItem(transfer.id, customer) } }));
    try {
      await batchWriteAll(this.db, this.tableName, puts);
    } catch (error) {
      await this.deleteCustomers(transfer).catch(() => undefined);
      throw error;
    }
  }

  private deleteCustomers(transfer: TransferRef): Promise<void> {
    const deletes = transfer.customers.map((customer) => ({ DeleteRequest: { Key: keys.transferCustomer(transfer.id, customer.id) } }));
    return batchWriteAll(this.db, this.tableName, deletes);
  }

  /** The claims a create would find (its condition reads the same items): one consistent batch read, up to 100 customers a call. */
  async activeClaims(customerIds: string[]): Promise<Map<string, string>> {
    const customerOf = new Map(customerIds.map((id) => [keys.claim(id).pk, id]));
    const items = await batchGetAll(this.db, this.tableName, customerIds.map((id) => keys.claim(id)), { consistent: true });
    return new Map(
      items.flatMap((item) => {
        const customerId = customerOf.get(String(item.pk));
        return customerId === undefined ? [] : [[customerId, String(item.transferId)] as const];
      }),
    );
  }
}

/** A customer's snapshot item: its domains as the transfer keeps them (its name is in the transfer item). */
function customerItem(transferId: string, customer: TransferCustomer): Item {
  return {
    ...keys.transferCustomer(transferId, customer.id),
    kind: 'transfer-customer',
    customerId: customer.id,
    domainCount: customer.domainCount,
    domains: customer.domains,
    domainsTruncated: customer.domainsTruncated,
  };
}

/** A transfer's summary from its item (and, for one filed before the items carried them, its legacy customers item). */
function summaryFromItem(transferItem: Item, legacyItem?: Item): TransferSummary {
  // The invoice days are the server's own (see TransferState), never part of the transfer's JSON.
  const { invoiceDays: _invoiceDays, ...stored } = strip<TransferSummary & { invoiceDays?: InvoiceDays }>(transferItem);
  if (Array.isArray(transferItem.customers)) return stored;
  const customers = (legacyItem?.customers as { id: string; name: string; domains?: string[] }[] | undefined) ?? [];
  return { ...stored, customers: customers.map((c) => ({ id: c.id, name: c.name, domainCount: c.domains?.length ?? 0 })) };
}

function stepOf(transferId: string, step: Step, item: Item): ApprovalStep {
  return {
    transferId,
    step,
    partnerId: String(item.partnerId),
    taskToken: (item.taskToken as string | undefined) ?? null,
    linkHash: (item.linkHash as string | undefined) ?? null,
    linkNonce: (item.linkNonce as string | undefined) ?? null,
    linkSentAt: (item.linkSentAt as string | undefined) ?? null,
    expiresAt: (item.expiresAt as string | undefined) ?? null,
    decision: (item.decision as ApprovalStep['decision'] | undefined) ?? null,
    signal: (item.workflowSignal as ApprovalStep['signal'] | undefined) ?? null,
    signalledAt: (item.signalledAt as string | undefined) ?? null,
  };
}

function cancellationReasons(error: unknown): CancellationReason[] | undefined {
  return error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : undefined;
}

/** Page tokens are opaque to callers and bound to the listing they came from. */
function encodeToken(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeToken(token: string, index: { partitionKey: string; sortKey: string }, partition: string): Record<string, string> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  // Exactly the key this listing hands out: the table's and the index's key attributes, all strings,
  // in the very partition queried (same caller, same status filter). DynamoDB never sees anything else.
  const expected = [TABLE_KEYS.partitionKey, TABLE_KEYS.sortKey, index.partitionKey, index.sortKey].sort();
  const valid =
    typeof key === 'object' &&
    key !== null &&
    !Array.isArray(key) &&
    Object.keys(key).sort().join() === expected.join() &&
    Object.values(key).every((value) => typeof value === 'string' && value !== '') &&
    (key as Record<string, string>)[index.partitionKey] === partition;
  if (!valid) throw new ValidationError('nextToken does not belong to this listing; start again without it.');
  return key as Record<string, string>;
}
