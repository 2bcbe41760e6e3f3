import { z } from 'zod';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';

export const handler = stepHandler(
  z.object({
    transferId: z.string().min(1),
    outcome: z.enum(['DECLINED', 'EXPIRED', 'FAILED', 'CONFIRMATION_FAILED']),
    error: z.string().optional(),
    cause: z.string().optional(),
  }),
  async (input, { steps }) => {
    await steps.recordOutcome(input);
    logger.info('Outcome recorded', { outcome: input.outcome });
  },
);
