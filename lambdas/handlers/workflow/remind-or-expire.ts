import { approvalLinkKey } from '../../adapters/link-key.ts';
import { sesMailer } from '../../adapters/ses-mailer.ts';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';
import { STEP_INPUTS } from './step-inputs.ts';

/** Runs when an approval wait times out: a reminder with the same link, or the expiry once the window closed. */
export const handler = stepHandler(
  { mailer: sesMailer, linkKey: approvalLinkKey },
  STEP_INPUTS.remindOrExpire,
  async (input, { steps }) => {
    const next = await steps.remindOrExpire(input);
    logger.info(next.expired ? 'Approval window closed' : 'Reminder sent', { step: input.step, nextWaitSeconds: next.seconds });
    return next;
  },
);
