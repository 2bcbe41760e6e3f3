import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RetentionPort } from '../domain/retention.ts';
import { inPool } from './batch.ts';
import { queryPartition } from './query-partition.ts';
import { keys } from './table-keys.ts';
import { TTL_ATTRIBUTE } from './table-schema.ts';
import { asTransient } from './transient.ts';

/** Updates in flight at once while a transfer's items are stamped. */
const STAMP_CONCURRENCY = 8;

/**
 * A closed transfer's retention in the table: every item of its partition gets the TTL attribute, the
 * transfer item first, so that a history event appended meanwhile either sees the expiry and carries it,
 * or is written before the partition is read and is stamped with the rest (see `appendEvent` of the store).
 */
export class DynamoRetention implements RetentionPort {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async retire(transferId: string, expiresAtEpoch: number): Promise<number> {
    const transfer = keys.transfer(transferId);
    if (!(await this.stamp(transfer, expiresAtEpoch))) return 0;
    const others = (await queryPartition(this.db, this.tableName, transfer.pk)).filter((item) => item.sk !== transfer.sk);
    const stamped = await inPool(
      others.map((item) => () => this.stamp({ pk: item.pk, sk: item.sk }, expiresAtEpoch)),
      STAMP_CONCURRENCY,
    );
    return 1 + stamped.filter(Boolean).length;
  }

  /** Sets the item's expiry unless it expires sooner already (outbox events, deliveries) or is gone; answers whether it did. */
  private async stamp(key: Record<string, unknown>, expiresAtEpoch: number): Promise<boolean> {
    try {
      await asTransient(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: 'SET #ttl = :ttl',
            ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#ttl) OR #ttl >= :ttl)',
            ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
            ExpressionAttributeValues: { ':ttl': expiresAtEpoch },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
