import { apiHandler, callerOf, json } from './api.ts';

/** Transfer summaries (customers without their domains, no history), newest first. */
export const handler = apiHandler({}, async (event, services) =>
  json(200, await services.transfers.list(callerOf(event, services), event.queryStringParameters ?? {})),
);
