import { sesMailer } from '../../adapters/ses-mailer.ts';
import { snsAlerts } from '../../adapters/sns-alerts.ts';
import * as z from '../../domain/zod.ts';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';

export const handler = stepHandler(
  { mailer: sesMailer, alerts: snsAlerts },
  z.object({
    transferId: z.string().check(z.minLength(1)),
    outcome: z.enum(['DECLINED', 'CONFIRMATION_FAILED']),
    failure: z.optional(z.object({ Error: z.optional(z.string()), Cause: z.optional(z.string()) })),
  }),
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
