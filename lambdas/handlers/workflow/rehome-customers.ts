import { sesMailer } from '../../adapters/ses-mailer.ts';
import { snsAlerts } from '../../adapters/sns-alerts.ts';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';
import { STEP_INPUTS } from './step-inputs.ts';

/** The DevOps step: moves ownership only; idempotent, so a retry or a redrive finishes what is left. */
export const handler = stepHandler({ mailer: sesMailer, alerts: snsAlerts }, STEP_INPUTS.rehomeCustomers, async (input, { steps }) => {
  const result = await steps.rehomeCustomers(input);
  logger.info('Customers re-homed', { outcomes: result.outcomes });
  return result;
});
