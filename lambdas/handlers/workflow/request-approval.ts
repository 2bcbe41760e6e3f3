import { approvalLinkKey } from '../../adapters/link-key.ts';
import { sesMailer } from '../../adapters/ses-mailer.ts';
import { stepFunctionsWorkflow } from '../../adapters/sfn-workflow.ts';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';
import { STEP_INPUTS } from './step-inputs.ts';

/** Invoked by a waitForTaskToken task: stores the token server-side and emails the approval link. */
export const handler = stepHandler(
  { workflow: stepFunctionsWorkflow, mailer: sesMailer, linkKey: approvalLinkKey },
  STEP_INPUTS.requestApproval,
  async (input, { steps }) => {
    await steps.requestApproval(input);
    logger.info('Approval requested', { step: input.step });
  },
);
