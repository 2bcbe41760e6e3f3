import { approvalLinkKey } from '../../adapters/link-key.ts';
import { sesMailer } from '../../adapters/ses-mailer.ts';
import * as z from '../../domain/zod.ts';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';

/** Runs when an approval wait times out: a reminder with the same link, or the expiry once the window closed. */
export const handler = stepHandler(
  { mailer: sesMailer, linkKey: approvalLinkKey },
  z.object({
    transferId: z.string().check(z.minLength(1)),
    step: z.enum(['release', 'acceptance']),
    reminderIntervalSeconds: z.number().check(z.int(), z.positive()),
  }),
  async (input, { steps }) => {
    const next = await steps.remindOrExpire(input);
    logger.info(next.expired ? 'Approval window closed' : 'Reminder sent', { step: input.step, nextWaitSeconds: next.seconds });
    return next;
  },
);
