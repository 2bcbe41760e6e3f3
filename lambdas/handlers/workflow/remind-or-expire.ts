import * as z from 'zod';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';

/** Runs when an approval wait times out: a reminder with the same link, or the expiry once the window closed. */
export const handler = stepHandler(
  z.object({
    transferId: z.string().min(1),
    step: z.enum(['release', 'acceptance']),
    reminderIntervalSeconds: z.number().int().positive(),
  }),
  async (input, { steps }) => {
    const next = await steps.remindOrExpire(input);
    logger.info(next.expired ? 'Approval window closed' : 'Reminder sent', { step: input.step, nextWaitSeconds: next.seconds });
    return next;
  },
);
