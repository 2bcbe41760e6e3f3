import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { approvalLinkKey } from '../../adapters/link-key.ts';
import { sqsDeliveryQueue, wakeOf } from '../../adapters/sqs-delivery-queue.ts';
import { webhookTransport } from '../../adapters/webhook-transport.ts';
import { composeDispatcher } from '../../composition.ts';
import type { DispatchOutcome } from '../../domain/webhook-dispatch.ts';
import { logger } from '../logger.ts';

let dispatcher: ReturnType<typeof composeDispatcher> | undefined;

/**
 * The deliveries queue: one try of each delivery its messages name, all of a batch at once (a slow
 * endpoint holds only its own message). A message whose try could not be recorded (the table or the
 * queue failing) is reported, so SQS hands it again; after five receives it goes to the dead-letter queue.
 */
export const handler = middy<SQSEvent, SQSBatchResponse, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    const active = (dispatcher ??= composeDispatcher({ queue: sqsDeliveryQueue, transport: webhookTransport, linkKey: approvalLinkKey }));
    const outcomes: Partial<Record<DispatchOutcome | 'malformed', number>> = {};
    const count = (outcome: DispatchOutcome | 'malformed') => (outcomes[outcome] = (outcomes[outcome] ?? 0) + 1);
    const failures = await Promise.all(
      event.Records.map(async (record) => {
        const wake = wakeOf(record.body);
        if (wake === undefined) {
          count('malformed');
          return [];
        }
        try {
          count(await active.dispatch(wake));
          return [];
        } catch (error) {
          logger.warn('A webhook delivery could not be processed', {
            webhookId: wake.webhookId,
            eventId: wake.eventId,
            errorName: error instanceof Error ? error.name : typeof error,
          });
          return [{ itemIdentifier: record.messageId }];
        }
      }),
    );
    logger.info('Webhook deliveries processed', { outcomes });
    return { batchItemFailures: failures.flat() };
  });
