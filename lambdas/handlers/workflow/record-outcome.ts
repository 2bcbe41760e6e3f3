import * as z from 'zod';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';

export const handler = stepHandler(
  z.object({
    transferId: z.string().min(1),
    outcome: z.enum(['DECLINED', 'CONFIRMATION_FAILED']),
    failure: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
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
