import { sesMailer } from '../../adapters/ses-mailer.ts';
import { snsAlerts } from '../../adapters/sns-alerts.ts';
import * as z from '../../domain/zod.ts';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';

/** The DevOps step: moves ownership only; idempotent, so a retry or a redrive finishes what is left. */
export const handler = stepHandler({ mailer: sesMailer, alerts: snsAlerts }, z.object({ transferId: z.string().check(z.minLength(1)) }), async (input, { steps }) => {
  const result = await steps.rehomeCustomers(input);
  logger.info('Customers re-homed', { outcomes: result.outcomes });
  return result;
});
