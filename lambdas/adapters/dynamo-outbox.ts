import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { OutboxPort, OutboxState } from '../domain/event-relay.ts';
import type { TransferEvent } from '../domain/events.ts';
import { batchGetAll } from './batch.ts';
import { keys } from './table-keys.ts';
import { asTransient } from './transient.ts';

/** The outbox items of the table (in each transfer's partition), as the relay reads and marks them. */
export class DynamoOutbox implements OutboxPort {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async states(events: readonly TransferEvent[]): Promise<Map<string, OutboxState>> {
    if (events.length === 0) return new Map();
    const items = await batchGetAll(this.db, this.tableName, events.map((event) => keys.outbox(event.transferId, event.id)), { consistent: true });
    const found = new Map(items.map((item) => [(item.event as TransferEvent | undefined)?.id ?? '', item]));
    return new Map(
      events.map((event): [string, OutboxState] => {
        const item = found.get(event.id);
        return [event.id, item === undefined ? 'gone' : typeof item.relayedAt === 'string' ? 'relayed' : 'pending'];
      }),
    );
  }

  async markRelayed(events: readonly TransferEvent[], at: string): Promise<void> {
    await Promise.all(
      events.map((event) =>
        asTransient(() =>
          this.db.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: keys.outbox(event.transferId, event.id),
              // The first mark stands: a replay that published again does not move it.
              UpdateExpression: 'SET relayedAt = if_not_exists(relayedAt, :at)',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeValues: { ':at': at },
            }),
          ),
        ),
      ),
    );
  }
}
