import { sesMailer } from '../../adapters/ses-mailer.ts';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';
import { STEP_INPUTS } from './step-inputs.ts';

export const handler = stepHandler({ mailer: sesMailer }, STEP_INPUTS.scheduleTransfer, async (input, { steps }) => {
  const schedule = await steps.scheduleTransfer(input);
  logger.info('Transfer scheduled', schedule);
  return schedule;
});
