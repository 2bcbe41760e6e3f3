/**
 * Webhook deliveries of a real transfer's events, written straight into the local stack's table
 * through the product's own store (no endpoint is called), for the operator view and
 * `npm run transfers -- show`: one delivered, one failed for good with hostile error text, one
 * still being retried; plus an event the relay has not published yet.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoWebhookStore } from '../../lambdas/adapters/dynamo-webhooks.ts';
import { queryPartition } from '../../lambdas/adapters/query-partition.ts';
import { keys, OUTBOX_PREFIX } from '../../lambdas/adapters/table-keys.ts';
import { EVENT_TYPES, newEventId, type TransferEvent } from '../../lambdas/domain/events.ts';
import type { WebhookAttempt } from '../../lambdas/domain/webhook-targets.ts';
import { newDelivery, type Delivery, type StoredWebhook } from '../../lambdas/domain/webhooks.ts';
import type { LocalStack } from '../../local/stack.ts';
import { poll } from './support.ts';

/** A partner's token in its URL's query string: never to be shown. */
export const QUERY_SECRET = 'partner-query-secret-7f3a';
/** The answer a partner gave, and the body sent: never to be shown either. */
export const ANSWER_EXCERPT = 'partner-answer-excerpt-9c1d';
export const HOSTILE_ERROR = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'"> The connection was refused.';

export interface SeededDeliveries {
  /** The transfer's first event (transfer.requested), published by the stack's relay. */
  event: TransferEvent;
  /** An event written to the outbox that the relay has not published. */
  held: TransferEvent;
  delivered: Delivery;
  failed: Delivery;
  retrying: Delivery;
}

function hook(serial: number, partnerId: string | null, url: string): StoredWebhook {
  return {
    id: `wh_${serial.toString(16).padStart(32, '0')}`,
    partnerId,
    url,
    events: [...EVENT_TYPES],
    createdAt: new Date().toISOString(),
    createdBy: { kind: 'partner', name: 'dev@example.test', ticketId: null },
    nonce: `nonce-${serial}`,
  };
}

const seconds = (from: string, n: number) => new Date(Date.parse(from) + n * 1000).toISOString();

/** Writes the deliveries (and the held event) for `transferId`, once its first event is published. */
export async function seedDeliveries(stack: LocalStack, transferId: string): Promise<SeededDeliveries> {
  const client = new DynamoDBClient({ endpoint: stack.urls.dynamodb, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const db = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  try {
    const store = new DynamoWebhookStore(db, stack.tableName);
    const event = await poll('the transfer.requested event published by the relay', async () => {
      const items = await queryPartition(db, stack.tableName, keys.transfer(transferId).pk, OUTBOX_PREFIX);
      const requested = items.find((item) => (item.event as TransferEvent | undefined)?.type === 'transfer.requested');
      return typeof requested?.relayedAt === 'string' ? (requested.event as TransferEvent) : undefined;
    });
    const at = seconds(event.occurredAt, 2);
    const attempt = (result: WebhookAttempt, when: string) => ({ ...result, at: when });

    const delivered = newDelivery(hook(0xa1, 'P-ACME', `http://127.0.0.1:4100/hooks/acme?token=${QUERY_SECRET}`), event, at);
    const failed = newDelivery(hook(0xb2, 'P-BLUE', `https://user:pass@hooks.bluewave.example/in/transfers?sig=${QUERY_SECRET}#frag`), event, at);
    const retrying = newDelivery(hook(0xc3, null, `https://ops.provider.example/events?api_key=${QUERY_SECRET}`), event, at);
    await store.addDeliveries([delivered, failed, retrying]);

    await store.claim(delivered, 0, seconds(at, 1), seconds(at, 6));
    await store.settle({ ...delivered, attempts: 1 }, {
      status: 'delivered',
      lastAttempt: attempt({ ok: true, status: 204, error: null, excerpt: ANSWER_EXCERPT, durationMs: 35 }, seconds(at, 1)),
      settledAt: seconds(at, 1),
    });

    await store.claim(failed, 0, seconds(at, 1), null);
    await store.settle({ ...failed, attempts: 1 }, {
      status: 'failed',
      lastAttempt: attempt({ ok: false, status: null, error: HOSTILE_ERROR, excerpt: ANSWER_EXCERPT, durationMs: 12 }, seconds(at, 1)),
      settledAt: seconds(at, 2),
    });

    await store.claim(retrying, 0, seconds(at, 1), seconds(at, 6));
    await store.settle({ ...retrying, attempts: 1 }, {
      status: 'pending',
      lastAttempt: attempt({ ok: false, status: 500, error: 'The endpoint answered 500.', excerpt: ANSWER_EXCERPT, durationMs: 80 }, seconds(at, 1)),
      settledAt: null,
    });
    await store.claim(retrying, 1, seconds(at, 6), seconds(at, 3600));
    await store.settle({ ...retrying, attempts: 2 }, {
      status: 'pending',
      lastAttempt: attempt({ ok: false, status: 503, error: 'The endpoint answered 503.', excerpt: ANSWER_EXCERPT, durationMs: 90 }, seconds(at, 6)),
      settledAt: null,
    });

    // Written under another kind first and then turned into an outbox item (a MODIFY the relay ignores), so it stays unpublished.
    const held: TransferEvent = { ...event, id: newEventId(), type: 'transfer.failed', occurredAt: seconds(event.occurredAt, 60) };
    const key = keys.outbox(transferId, held.id);
    await db.send(new PutCommand({ TableName: stack.tableName, Item: { ...key, kind: 'outbox-held', event: held } }));
    await db.send(new UpdateCommand({ TableName: stack.tableName, Key: key, UpdateExpression: 'SET kind = :outbox', ExpressionAttributeValues: { ':outbox': 'outbox' } }));

    const read = async (d: Delivery) => {
      const found = await store.delivery(d);
      if (found === undefined) throw new Error(`delivery ${d.webhookId} was not written`);
      return found;
    };
    return { event, held, delivered: await read(delivered), failed: await read(failed), retrying: await read(retrying) };
  } finally {
    client.destroy();
  }
}
