import { randomBytes } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConflictError } from '../domain/errors.ts';
import type { Delivery, DeliveryRef, EndpointSlot, EndpointSlotsPort, StoredWebhook, WebhookStorePort } from '../domain/webhooks.ts';
import { queryPartition } from './query-partition.ts';
import { DELIVERY_PREFIX, SLOT_PREFIX, keys } from './table-keys.ts';
import { TTL_ATTRIBUTE } from './table-schema.ts';
import { asTransient, transientOr } from './transient.ts';

/** How long an endpoint's slot is kept after its last lease: its last try's duration tells the next dispatcher how fast the endpoint answers. */
const SLOT_KEPT_SECONDS = 3600;

/** How long deliveries and failures are kept for the operator view and `GET /webhooks`. */
export const DELIVERY_RETENTION_SECONDS = 30 * 86_400;

const expiry = (from: string) => Math.floor(Date.parse(from) / 1000) + DELIVERY_RETENTION_SECONDS;

function isConditionFailure(error: unknown): boolean {
  if (error instanceof TransactionCanceledException) return (error.CancellationReasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed');
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

function webhookOf(item: Record<string, unknown>): StoredWebhook {
  return item.webhook as StoredWebhook;
}

function deliveryOf(item: Record<string, unknown>): Delivery {
  const { pk: _pk, sk: _sk, kind: _kind, [TTL_ATTRIBUTE]: _ttl, ...delivery } = item;
  return delivery as unknown as Delivery;
}

/** Webhooks (an item by id and one under the owner), their deliveries and their endpoints' slots, in the single table. */
export class DynamoWebhookStore implements WebhookStorePort, EndpointSlotsPort {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async add(webhook: StoredWebhook, limit: number): Promise<void> {
    const owned = await this.owned(webhook.partnerId);
    const same = owned.find((other) => other.url === webhook.url);
    if (same) throw new ConflictError('WEBHOOK_EXISTS', 'A webhook with this URL is already registered.', { id: same.id });
    if (owned.length >= limit) {
      throw new ConflictError('TOO_MANY_WEBHOOKS', `At most ${limit} webhooks may be registered; remove one first.`, { limit });
    }
    const item = { kind: 'webhook', webhook };
    await asTransient(() =>
      this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.tableName, Item: { ...keys.webhook(webhook.id), ...item }, ConditionExpression: 'attribute_not_exists(pk)' } },
            { Put: { TableName: this.tableName, Item: { ...keys.ownedWebhook(webhook.partnerId, webhook.id), ...item }, ConditionExpression: 'attribute_not_exists(pk)' } },
          ],
        }),
      ),
    );
  }

  async owned(partnerId: string | null): Promise<StoredWebhook[]> {
    const { pk, prefix } = keys.ownerWebhooks(partnerId);
    return (await queryPartition(this.db, this.tableName, pk, prefix)).map(webhookOf);
  }

  async find(id: string): Promise<StoredWebhook | undefined> {
    const result = await asTransient(() => this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.webhook(id), ConsistentRead: true })));
    return result.Item ? webhookOf(result.Item) : undefined;
  }

  async remove(webhook: StoredWebhook): Promise<void> {
    await asTransient(() =>
      this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Delete: { TableName: this.tableName, Key: keys.webhook(webhook.id) } },
            { Delete: { TableName: this.tableName, Key: keys.ownedWebhook(webhook.partnerId, webhook.id) } },
          ],
        }),
      ),
    );
  }

  async recentFailures(partnerId: string | null, limit: number): Promise<Delivery[]> {
    const { pk, prefix } = keys.ownerFailures(partnerId);
    const items = await queryPartition(this.db, this.tableName, pk, prefix);
    return items.slice(-limit).reverse().map((item) => item.delivery as Delivery);
  }

  async subscribersOf(partnerIds: readonly string[]): Promise<StoredWebhook[]> {
    const owners = [...partnerIds, null];
    return (await Promise.all(owners.map((owner) => this.owned(owner)))).flat();
  }

  async addDeliveries(deliveries: readonly Delivery[]): Promise<void> {
    // Each on its own condition: a delivery written by an earlier run of the relay keeps its state.
    await Promise.all(
      deliveries.map(async (delivery) => {
        try {
          await this.db.send(
            new PutCommand({
              TableName: this.tableName,
              Item: { ...keys.delivery(delivery), kind: 'delivery', ...delivery, [TTL_ATTRIBUTE]: expiry(delivery.createdAt) },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
        } catch (error) {
          if (!isConditionFailure(error)) throw transientOr(error);
        }
      }),
    );
  }

  async delivery(ref: DeliveryRef): Promise<Delivery | undefined> {
    const result = await asTransient(() => this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.delivery(ref), ConsistentRead: true })));
    return result.Item ? deliveryOf(result.Item) : undefined;
  }

  async siblings(ref: DeliveryRef): Promise<Delivery[]> {
    if (ref.transferId === null) return [];
    const { pk } = keys.delivery(ref);
    return (await queryPartition(this.db, this.tableName, pk, `${DELIVERY_PREFIX}${ref.webhookId}#`)).map(deliveryOf);
  }

  async deliveriesOf(transferId: string): Promise<Delivery[]> {
    return (await queryPartition(this.db, this.tableName, keys.transfer(transferId).pk, DELIVERY_PREFIX)).map(deliveryOf);
  }

  async slots(webhookId: string, now: Date): Promise<EndpointSlot[]> {
    const { pk } = keys.endpointSlot(webhookId, 0);
    const at = now.toISOString();
    return (await queryPartition(this.db, this.tableName, pk, SLOT_PREFIX)).map((item) => ({
      slot: Number(String(item.sk).slice(SLOT_PREFIX.length)),
      leasedAt: typeof item.leaseUntil === 'string' && item.leaseUntil >= at && typeof item.leasedAt === 'string' ? new Date(item.leasedAt) : null,
      lastTry: typeof item.lastTryMs === 'number' && typeof item.lastTryEndedAt === 'string' ? { ms: item.lastTryMs, endedAt: new Date(item.lastTryEndedAt) } : null,
    }));
  }

  async take(webhookId: string, slot: number, until: Date, now: Date): Promise<string | undefined> {
    const lease = randomBytes(8).toString('hex');
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.endpointSlot(webhookId, slot),
          UpdateExpression: 'SET #kind = :kind, #lease = :lease, #leasedAt = :now, #leaseUntil = :until, #ttl = :ttl',
          ConditionExpression: 'attribute_not_exists(#leaseUntil) OR #leaseUntil < :now',
          ExpressionAttributeNames: { '#kind': 'kind', '#lease': 'lease', '#leasedAt': 'leasedAt', '#leaseUntil': 'leaseUntil', '#ttl': TTL_ATTRIBUTE },
          ExpressionAttributeValues: {
            ':kind': 'webhook-slot',
            ':lease': lease,
            ':now': now.toISOString(),
            ':until': until.toISOString(),
            ':ttl': Math.floor(until.getTime() / 1000) + SLOT_KEPT_SECONDS,
          },
        }),
      );
      return `${slot}:${lease}`;
    } catch (error) {
      if (!isConditionFailure(error)) throw transientOr(error);
      return undefined;
    }
  }

  async release(webhookId: string, held: string, tryMs: number, now: Date): Promise<void> {
    const [slot, lease] = held.split(':');
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.endpointSlot(webhookId, Number(slot)),
          UpdateExpression: 'SET #lastTryMs = :ms, #lastTryEndedAt = :now REMOVE #lease, #leasedAt, #leaseUntil',
          // A lease that ran out may be another try's slot by now.
          ConditionExpression: '#lease = :lease',
          ExpressionAttributeNames: { '#lease': 'lease', '#leasedAt': 'leasedAt', '#leaseUntil': 'leaseUntil', '#lastTryMs': 'lastTryMs', '#lastTryEndedAt': 'lastTryEndedAt' },
          ExpressionAttributeValues: { ':lease': lease, ':ms': tryMs, ':now': now.toISOString() },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw transientOr(error);
    }
  }

  async claim(ref: DeliveryRef, seen: number, at: string, nextAttemptAt: string | null): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.delivery(ref),
          UpdateExpression: 'SET attempts = :next, triedAt = :at, nextAttemptAt = :due',
          ConditionExpression: 'attribute_exists(pk) AND #status = :pending AND attempts = :seen',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':next': seen + 1, ':at': at, ':due': nextAttemptAt, ':pending': 'pending', ':seen': seen },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw transientOr(error);
    }
  }

  async settle(delivery: Delivery, change: Pick<Delivery, 'status' | 'lastAttempt' | 'settledAt'> & { note?: string }): Promise<void> {
    const update = {
      TableName: this.tableName,
      Key: keys.delivery(delivery),
      UpdateExpression: `SET #status = :status, lastAttempt = :last, settledAt = :settled${change.note ? ', note = :note' : ''}`,
      // Only the try it tells of: a later try (another wake) has its own outcome to write.
      ConditionExpression: 'attribute_exists(pk) AND #status = :pending AND attempts = :attempts',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':status': change.status,
        ':last': change.lastAttempt,
        ':settled': change.settledAt,
        ':pending': 'pending',
        ':attempts': delivery.attempts,
        ...(change.note ? { ':note': change.note } : {}),
      },
    };
    try {
      if (change.status === 'failed' && change.settledAt !== null) {
        // The failure is listed under the webhook's owner in the same write, so none goes unlisted.
        const { body: _body, ...failed } = { ...delivery, ...change };
        await this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              { Update: update },
              {
                Put: {
                  TableName: this.tableName,
                  Item: {
                    ...keys.webhookFailure(delivery.partnerId, change.settledAt, delivery.eventId, delivery.webhookId),
                    kind: 'webhook-failure',
                    delivery: failed,
                    [TTL_ATTRIBUTE]: expiry(change.settledAt),
                  },
                },
              },
            ],
          }),
        );
      } else {
        await this.db.send(new UpdateCommand(update));
      }
    } catch (error) {
      if (isConditionFailure(error)) return;
      throw transientOr(error);
    }
  }
}
