import type { WorkflowFunctionKey } from '../catalog.ts';
import * as z from '../../domain/zod.ts';

const transferId = z.string().check(z.minLength(1));
const step = z.enum(['release', 'acceptance']);
const seconds = z.number().check(z.int(), z.positive());

/**
 * What each workflow step accepts from the state machine. An execution may sleep for weeks (until the
 * transfer date, or while a partner decides) and then call the version of the function deployed at
 * that moment with the input its own definition built: a schema may accept more over time, never
 * less. test/infra/step-inputs.test.ts holds every input shape a definition has sent.
 */
export const STEP_INPUTS = {
  requestApproval: z.object({ transferId, step, taskToken: z.string().check(z.minLength(1)), approvalWindowSeconds: seconds }),
  remindOrExpire: z.object({ transferId, step, reminderIntervalSeconds: seconds }),
  scheduleTransfer: z.object({ transferId }),
  rehomeCustomers: z.object({ transferId }),
  sendConfirmations: z.object({ transferId }),
  recordOutcome: z.object({
    transferId,
    outcome: z.enum(['DECLINED', 'CONFIRMATION_FAILED']),
    failure: z.optional(z.object({ Error: z.optional(z.string()), Cause: z.optional(z.string()) })),
  }),
} as const satisfies Record<WorkflowFunctionKey, z.ZodMiniType<{ transferId: string }>>;
