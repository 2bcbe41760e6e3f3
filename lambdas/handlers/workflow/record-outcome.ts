import { sesMailer } from '../../adapters/ses-mailer.ts';
import { snsAlerts } from '../../adapters/sns-alerts.ts';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';
import { STEP_INPUTS } from './step-inputs.ts';

export const handler = stepHandler(
  { mailer: sesMailer, alerts: snsAlerts },
  STEP_INPUTS.recordOutcome,
  async (input, { steps }) => {
    await steps.recordOutcome({
      transferId: input.transferId,
      outcome: input.outcome,
      error: input.failure?.Error,
      cause: input.failure?.Cause,
    });
    logger.info('Outcome recorded', { outcome: input.outcome });
  },
);
