import * as z from 'zod';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';

export const handler = stepHandler(z.object({ transferId: z.string().min(1) }), async (input, { steps }) => {
  const schedule = await steps.scheduleTransfer(input);
  logger.info('Transfer scheduled', schedule);
  return schedule;
});
