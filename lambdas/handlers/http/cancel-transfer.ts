import { sesMailer } from '../../adapters/ses-mailer.ts';
import { stepFunctionsWorkflow } from '../../adapters/sfn-workflow.ts';
import { logger } from '../logger.ts';
import { apiHandler, callerOf, json, jsonBody, pathParameter, requestMeta } from './api.ts';

export const handler = apiHandler({ workflow: stepFunctionsWorkflow, mailer: sesMailer }, async (event, services) => {
  const id = pathParameter(event, 'id');
  logger.appendKeys({ transferId: id });
  const transfer = await services.transfers.cancel(callerOf(event, services), id, jsonBody(event), requestMeta(event));
  logger.info('Transfer cancelled');
  return json(200, transfer);
});
