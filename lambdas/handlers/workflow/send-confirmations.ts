import { sesMailer } from '../../adapters/ses-mailer.ts';
import * as z from '../../domain/zod.ts';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';

export const handler = stepHandler({ mailer: sesMailer }, z.object({ transferId: z.string().check(z.minLength(1)) }), async (input, { steps }) => {
  await steps.sendConfirmations(input);
  logger.info('Confirmations sent');
});
