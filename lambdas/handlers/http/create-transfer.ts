import { logger } from '../logger.ts';
import { apiHandler, callerOf, json, jsonBody, requestMeta } from './api.ts';

export const handler = apiHandler(async (event, services) => {
  const caller = callerOf(event, services);
  const transfer = await services.transfers.create(caller, jsonBody(event), requestMeta(event));
  logger.appendKeys({ transferId: transfer.id });
  logger.info('Transfer requested', { customers: transfer.customers.length, status: transfer.status });
  return json(201, transfer, { location: `/transfers/${transfer.id}` });
});
