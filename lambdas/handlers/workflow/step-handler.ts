import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type * as z from 'zod';
import { getServices, type Services } from '../../composition.ts';
import { logger } from '../logger.ts';
import { publishMetrics } from '../metrics.ts';

/**
 * Wraps a workflow step: validates the state machine's payload, tags logs with the transfer id,
 * and lets errors through by name so the state machine's Retry and Catch see them.
 */
export function stepHandler<S extends z.ZodType<{ transferId: string }>, R>(
  schema: S,
  run: (input: z.infer<S>, services: Services) => Promise<R>,
) {
  return middy()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(publishMetrics())
    .handler(async (event: unknown) => {
      const input = schema.parse(event);
      logger.appendKeys({ transferId: input.transferId });
      return run(input, getServices());
    });
}
