import { stepFunctionsWorkflow } from '../../adapters/sfn-workflow.ts';
import type { Step } from '../../domain/transfer.ts';
import { logger } from '../logger.ts';
import { apiHandler, callerOf, json, jsonBody, pathParameter, requestMeta } from './api.ts';

/** Serves both written decisions: POST /transfers/{id}/release and POST /transfers/{id}/acceptance. */
export const handler = apiHandler({ workflow: stepFunctionsWorkflow }, async (event, services) => {
  const step: Step = event.routeKey.endsWith('/release') ? 'release' : 'acceptance';
  const id = pathParameter(event, 'id');
  logger.appendKeys({ transferId: id });
  const result = await services.transfers.decideByCaller(callerOf(event, services), id, step, jsonBody(event), requestMeta(event));
  logger.info('Decision recorded', { step, decision: result.consent.decision, repeated: result.repeated });
  return json(200, result.transfer);
});
