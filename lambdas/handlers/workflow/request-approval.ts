import { approvalLinkKey } from '../../adapters/link-key.ts';
import { sesMailer } from '../../adapters/ses-mailer.ts';
import { stepFunctionsWorkflow } from '../../adapters/sfn-workflow.ts';
import * as z from '../../domain/zod.ts';
import { logger } from '../logger.ts';
import { stepHandler } from './step-handler.ts';

/** Invoked by a waitForTaskToken task: stores the token server-side and emails the approval link. */
export const handler = stepHandler(
  { workflow: stepFunctionsWorkflow, mailer: sesMailer, linkKey: approvalLinkKey },
  z.object({
    transferId: z.string().check(z.minLength(1)),
    step: z.enum(['release', 'acceptance']),
    taskToken: z.string().check(z.minLength(1)),
    approvalWindowSeconds: z.number().check(z.int(), z.positive()),
  }),
  async (input, { steps }) => {
    await steps.requestApproval(input);
    logger.info('Approval requested', { step: input.step });
  },
);
