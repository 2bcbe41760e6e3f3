import * as z from 'zod';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';

/** The DevOps step: moves ownership only; idempotent, so a retry or a redrive finishes what is left. */
export const handler = stepHandler(z.object({ transferId: z.string().min(1) }), async (input, { steps }) => {
  const result = await steps.rehomeCustomers(input);
  logger.info('Customers re-homed', { outcomes: result.outcomes });
  return result;
});
