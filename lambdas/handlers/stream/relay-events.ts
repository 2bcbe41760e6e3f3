import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import middy from '@middy/core';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { eventBridgePublisher } from '../../adapters/eventbridge-publisher.ts';
import { sqsDeliveryQueue } from '../../adapters/sqs-delivery-queue.ts';
import { composeRelay, composeRetention } from '../../composition.ts';
import type { TransferEvent } from '../../domain/events.ts';
import { logger } from '../logger.ts';

let relay: ReturnType<typeof composeRelay> | undefined;
let retire: ReturnType<typeof composeRetention> | undefined;

/** An outbox event written by a change: an INSERT of an `outbox` item (the event source's filter keeps only those). */
function outboxEvent(record: DynamoDBRecord): TransferEvent | undefined {
  const image = record.dynamodb?.NewImage as Record<string, AttributeValue> | undefined;
  if (record.eventName !== 'INSERT' || !image) return undefined;
  const item = unmarshall(image);
  return item.kind === 'outbox' ? (item.event as TransferEvent) : undefined;
}

/**
 * The table's stream, filtered to new outbox items: makes each event's webhook deliveries and publishes
 * it once, in order; then gives each transfer the events close its retention expiry (every time they
 * are handed: it changes nothing the second time). A record that could not be published is reported
 * (with every later one), so the stream hands them again; a failed retention fails the whole batch.
 */
export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    relay ??= composeRelay(eventBridgePublisher, sqsDeliveryQueue);
    retire ??= composeRetention();
    const records = event.Records.map((record) => ({ record, event: outboxEvent(record) }));
    const events = records.flatMap(({ event: outbox }) => (outbox ? [outbox] : []));
    const result = await relay.relay(events);
    logger.info('Relayed outbox events', { published: result.published, skipped: result.skipped, unpublished: result.unpublished.length, deliveries: result.deliveries });
    // A transfer closed when its closing change was written, published or not.
    const stamped = await retire(events);
    if (stamped > 0) logger.info('Closed transfers given their retention expiry', { items: stamped });
    if (result.unpublished.length === 0) return { batchItemFailures: [] };
    // The stream hands the batch again from the first record still to publish (the relay may have
    // published in another order than the records': see inChangeOrder).
    const left = new Set(result.unpublished);
    const from = records.findIndex(({ event: outbox }) => outbox !== undefined && left.has(outbox.id));
    return {
      batchItemFailures: records.slice(from).map(({ record }) => ({ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' })),
    };
  });
