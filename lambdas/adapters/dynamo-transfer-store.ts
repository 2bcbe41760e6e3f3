import { TransactionCanceledException, type CancellationReason } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  PutCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { ConflictError, ValidationError } from '../domain/errors.ts';
import type {
  ApprovalLink,
  ApprovalStep,
  CustomerMove,
  Decision,
  NewTransfer,
  OpenStep,
  StatusChange,
  TransferPage,
  TransferStorePort,
} from '../domain/ports.ts';
import { canTransition, type HistoryEvent, type Step, type Transfer, type TransferStatus, type TransferWithHistory } from '../domain/transfer.ts';
import { TABLE_INDEXES, TABLE_KEYS } from './table-schema.ts';
import { keys } from './table-keys.ts';
import { queryPartition } from './query-partition.ts';
import { asTransient } from './transient.ts';

type TransactItem = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number];

const [BY_PARTY, BY_PARTY_STATUS] = TABLE_INDEXES;
const KEY_ATTRIBUTES = ['pk', 'sk', 'kind', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'];

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
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create({ transfer, events }: NewTransfer): Promise<void> {
    const items: TransactItem[] = [
      {
        Put: {
          TableName: this.tableName,
          Item: {
            ...keys.transfer(transfer.id),
            kind: 'transfer',
            ...withoutCustomers(transfer),
            gsi1pk: 'ALL',
            gsi1sk: listSortKey(transfer),
            gsi2pk: `ALL#${transfer.status}`,
            gsi2sk: listSortKey(transfer),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      // The customers (with all their domains) live apart, so that status changes rewrite only a small item.
      { Put: { TableName: this.tableName, Item: { ...keys.transferCustomers(transfer.id), kind: 'customers', customers: transfer.customers } } },
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
      ...events.map((event) => ({ Put: { TableName: this.tableName, Item: eventItem(transfer.id, event) } })),
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
      await asTransient(() => this.db.send(new TransactWriteCommand({ TransactItems: items })));
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (!reasons) throw error;
      const busy = transfer.customers
        .filter((_, index) => reasons[claimOffset + index]?.Code === 'ConditionalCheckFailed')
        .map((c) => c.id);
      if (busy.length > 0) {
        throw new ConflictError(
          'CUSTOMER_BUSY',
          `Customer${busy.length > 1 ? 's' : ''} ${busy.join(', ')} ${busy.length > 1 ? 'are' : 'is'} already in another active transfer.`,
          { customerIds: busy },
        );
      }
      throw error;
    }
  }

  async discard(transfer: Transfer): Promise<void> {
    const items: TransactItem[] = [
      { Delete: { TableName: this.tableName, Key: keys.transfer(transfer.id) } },
      { Delete: { TableName: this.tableName, Key: keys.transferCustomers(transfer.id) } },
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
    // History events of a discarded request go too, so a rejected request leaves nothing behind.
    const events = await queryPartition(this.db, this.tableName, `TRANSFER#${transfer.id}`, 'EVENT#');
    for (const event of events) {
      await asTransient(() => this.db.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: event.pk, sk: event.sk } })));
    }
  }

  async get(id: string): Promise<TransferWithHistory | undefined> {
    const items = await queryPartition(this.db, this.tableName, keys.transfer(id).pk);
    const transferItem = items.find((item) => item.kind === 'transfer');
    if (!transferItem) return undefined;
    const history = items.filter((item) => item.kind === 'event').map((item) => strip<HistoryEvent>(item));
    return { ...assemble(transferItem, items.find((item) => item.kind === 'customers')), history };
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
    const transfers = await this.batchGetTransfers(ids);
    return {
      items: ids.map((id) => transfers.get(id)).filter((t): t is Transfer => t !== undefined),
      ...(result.LastEvaluatedKey ? { nextToken: encodeToken(result.LastEvaluatedKey) } : {}),
    };
  }

  async getStep(transferId: string, step: Step): Promise<ApprovalStep | undefined> {
    const result = await asTransient(() =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.step(transferId, step), ConsistentRead: true })),
    );
    if (!result.Item) return undefined;
    const item = result.Item;
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

  async openStep(input: OpenStep): Promise<boolean> {
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
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
    }
    if (input.event) items.push({ Put: { TableName: this.tableName, Item: eventItem(input.transferId, input.event) } });
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
    try {
      await asTransient(() => this.db.send(new TransactWriteCommand({ TransactItems: items })));
      return true;
    } catch (error) {
      if (cancellationReasons(error)?.[0]?.Code === 'ConditionalCheckFailed') return false;
      throw error;
    }
  }

  async getLink(hash: string): Promise<ApprovalLink | undefined> {
    const result = await asTransient(() =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.link(hash), ConsistentRead: true })),
    );
    if (!result.Item) return undefined;
    return { hash, ...strip<Omit<ApprovalLink, 'hash'>>(result.Item) };
  }

  async decide(decision: Decision): Promise<void> {
    const transfer = await this.getTransferItem(decision.transferId);
    const items: TransactItem[] = [
      ...this.statusUpdates(transfer, [decision.from], decision.to, decision.at, decision.changes),
      {
        Update: {
          TableName: this.tableName,
          Key: keys.step(decision.transferId, decision.step),
          UpdateExpression: 'SET decision = :decision, workflowSignal = :signal, decidedAt = :at, kind = :kind, partnerId = if_not_exists(partnerId, :partner)',
          ConditionExpression: 'attribute_not_exists(decision)',
          ExpressionAttributeValues: {
            ':decision': decision.consent,
            ':signal': decision.signal,
            ':at': decision.at,
            ':kind': 'step',
            ':partner': decision.step === 'release' ? transfer.fromPartner.id : transfer.toPartner.id,
          },
        },
      },
      { Put: { TableName: this.tableName, Item: eventItem(decision.transferId, decision.event) } },
      ...(decision.releaseClaims ? this.claimReleases(transfer) : []),
    ];
    if (decision.linkHash) {
      items.push({
        Update: {
          TableName: this.tableName,
          Key: keys.link(decision.linkHash),
          UpdateExpression: 'SET #state = :used, usedAt = :at',
          ConditionExpression: '#state = :open',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':used': 'used', ':open': 'open', ':at': decision.at },
        },
      });
    }
    try {
      await asTransient(() => this.db.send(new TransactWriteCommand({ TransactItems: items })));
    } catch (error) {
      if (cancellationReasons(error)?.some((r) => r.Code === 'ConditionalCheckFailed')) {
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
    const transfer = await this.getTransferItem(change.transferId);
    const items: TransactItem[] = [
      ...this.statusUpdates(transfer, change.from, change.to, change.at, change.changes ?? {}),
      { Put: { TableName: this.tableName, Item: eventItem(change.transferId, change.event) } },
      ...(change.releaseClaims ? this.claimReleases(transfer) : []),
    ];
    try {
      await asTransient(() => this.db.send(new TransactWriteCommand({ TransactItems: items })));
    } catch (error) {
      if (cancellationReasons(error)?.[0]?.Code === 'ConditionalCheckFailed') {
        const now = await this.getTransferItem(change.transferId);
        throw new ConflictError('INVALID_STATE', `The transfer is ${now.status}; it cannot become ${change.to}.`, {
          status: now.status,
        });
      }
      throw error;
    }
  }

  async appendEvent(transferId: string, event: HistoryEvent): Promise<void> {
    await asTransient(() => this.db.send(new PutCommand({ TableName: this.tableName, Item: eventItem(transferId, event) })));
  }

  async moveCustomer(move: CustomerMove): Promise<'moved' | 'already-moved' | 'not-movable'> {
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
      { Put: { TableName: this.tableName, Item: eventItem(move.transferId, move.event) } },
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
    try {
      await asTransient(() => this.db.send(new TransactWriteCommand({ TransactItems: items })));
      return 'moved';
    } catch (error) {
      if (!cancellationReasons(error)?.some((r) => r.Code === 'ConditionalCheckFailed')) throw error;
      const owner = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: keys.ownership(move.customerId), ConsistentRead: true }),
      );
      const movedByThis = owner.Item?.partnerId === move.toPartnerId && owner.Item?.lastTransferId === move.transferId;
      return movedByThis ? 'already-moved' : 'not-movable';
    }
  }

  async extendStep(input: { transferId: string; step: Step; linkHash: string; from: string; to: string; event: HistoryEvent }): Promise<void> {
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
          UpdateExpression: 'SET expiresAt = :to',
          ConditionExpression: '#state = :open',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':to': input.to, ':open': 'open' },
        },
      },
      { Put: { TableName: this.tableName, Item: eventItem(input.transferId, input.event) } },
    ];
    try {
      await asTransient(() => this.db.send(new TransactWriteCommand({ TransactItems: items })));
    } catch (error) {
      if (cancellationReasons(error)?.some((r) => r.Code === 'ConditionalCheckFailed')) {
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
    transfer: Transfer,
    from: TransferStatus[],
    to: TransferStatus,
    at: string,
    changes: Record<string, unknown>,
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
          UpdateExpression: ['SET #status = :to', 'updatedAt = :at', 'gsi2pk = :gsi2pk', ...sets].join(', '),
          ConditionExpression: `#status IN (${Object.keys(fromValues).join(', ')})`,
          ExpressionAttributeNames: { '#status': 'status', ...names },
          ExpressionAttributeValues: { ':to': to, ':at': at, ':gsi2pk': `ALL#${to}`, ...values, ...fromValues },
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
  private claimReleases(transfer: Transfer): TransactItem[] {
    return transfer.customers.map((customer) => ({
      Delete: {
        TableName: this.tableName,
        Key: keys.claim(customer.id),
        ConditionExpression: 'attribute_not_exists(pk) OR transferId = :transfer',
        ExpressionAttributeValues: { ':transfer': transfer.id },
      },
    }));
  }

  private async getTransferItem(id: string): Promise<Transfer> {
    const [transfer, customers] = await Promise.all(
      [keys.transfer(id), keys.transferCustomers(id)].map((Key) =>
        asTransient(() => this.db.send(new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true }))),
      ),
    );
    if (!transfer?.Item) throw new ConflictError('UNKNOWN_TRANSFER', `Transfer ${id} does not exist.`);
    return assemble(transfer.Item, customers?.Item);
  }

  private async batchGetTransfers(ids: string[]): Promise<Map<string, Transfer>> {
    const transfers = new Map<string, Record<string, unknown>>();
    const customers = new Map<string, Record<string, unknown>>();
    const wanted = ids.flatMap((id) => [keys.transfer(id), keys.transferCustomers(id)]);
    for (let start = 0; start < wanted.length; start += 100) {
      let pending = wanted.slice(start, start + 100);
      for (let attempt = 0; pending.length > 0 && attempt < 8; attempt += 1) {
        const result = await asTransient(() =>
          this.db.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending } } })),
        );
        for (const item of result.Responses?.[this.tableName] ?? []) {
          (item.kind === 'customers' ? customers : transfers).set(String(item.pk), item);
        }
        pending = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as typeof pending;
      }
    }
    const found = new Map<string, Transfer>();
    for (const [pk, item] of transfers) found.set(String(item.id), assemble(item, customers.get(pk)));
    return found;
  }
}

function withoutCustomers(transfer: Transfer): Omit<Transfer, 'customers'> {
  const { customers: _customers, ...rest } = transfer;
  return rest;
}

/** A transfer from its item and its customers item. */
function assemble(transferItem: Record<string, unknown>, customersItem: Record<string, unknown> | undefined): Transfer {
  return { ...strip<Omit<Transfer, 'customers'>>(transferItem), customers: (customersItem?.customers as Transfer['customers'] | undefined) ?? [] };
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
