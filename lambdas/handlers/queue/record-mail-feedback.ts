import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { snsAlerts } from '../../adapters/sns-alerts.ts';
import { feedbackOf } from '../../adapters/ses-feedback.ts';
import { composeMailFeedback } from '../../composition.ts';
import { logger } from '../logger.ts';

let recorder: ReturnType<typeof composeMailFeedback> | undefined;

/**
 * The mail feedback queue: each message an SES bounce or complaint (through the alert topic). Each is
 * recorded on its transfer; one that could not be (the table failing) is reported, so SQS hands it again,
 * and after five receives it goes to the dead-letter queue. Messages of no transfer are dropped.
 */
export const handler = middy<SQSEvent, SQSBatchResponse, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    const active = (recorder ??= composeMailFeedback(snsAlerts));
    const failures: { itemIdentifier: string }[] = [];
    let recorded = 0;
    let unreachable = 0;
    for (const record of event.Records) {
      const feedback = feedbackOf(record.body);
      if (feedback === undefined) continue;
      try {
        const result = await active.record(feedback);
        recorded += result.recorded.length;
        unreachable += result.unreachable.length;
      } catch (error) {
        logger.warn('Mail feedback could not be recorded', { transferId: feedback.transferId, errorName: error instanceof Error ? error.name : typeof error });
        failures.push({ itemIdentifier: record.messageId });
      }
    }
    logger.info('Mail feedback recorded', { messages: event.Records.length, addresses: recorded, unreachableParties: unreachable });
    return { batchItemFailures: failures };
  });
