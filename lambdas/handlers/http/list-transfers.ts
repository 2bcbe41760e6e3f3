import { apiHandler, callerOf, json } from './api.ts';

export const handler = apiHandler({}, async (event, services) =>
  json(200, await services.transfers.list(callerOf(event, services), event.queryStringParameters ?? {})),
);
