import * as z from 'zod';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';

/** Invoked by a waitForTaskToken task: stores the token server-side and emails the approval link. */
export const handler = stepHandler(
  z.object({
    transferId: z.string().min(1),
    step: z.enum(['release', 'acceptance']),
    taskToken: z.string().min(1),
    approvalWindowSeconds: z.number().int().positive(),
  }),
  async (input, { steps }) => {
    await steps.requestApproval(input);
    logger.info('Approval requested', { step: input.step });
  },
);
