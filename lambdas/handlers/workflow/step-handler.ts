import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type * as z from '../../domain/zod.ts';
import { getServices, type Adapters, type Services } from '../../composition.ts';
import { logger } from '../logger.ts';
import { publishMetrics } from '../metrics.ts';

/**
 * Wraps a workflow step: validates the state machine's payload, tags logs with the transfer id,
 * runs the step with the services composed with the `adapters` it uses (see {@link Adapters}),
 * and lets errors through by name so the state machine's Retry and Catch see them.
 */
export function stepHandler<S extends z.ZodMiniType<{ transferId: string }>, R>(
  adapters: Adapters,
  schema: S,
  run: (input: z.infer<S>, services: Services) => Promise<R>,
) {
  return middy()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(publishMetrics())
    .handler(async (event: unknown) => {
      const input = schema.parse(event);
      logger.appendKeys({ transferId: input.transferId });
      return run(input, getServices(adapters));
    });
}
