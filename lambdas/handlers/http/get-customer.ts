import { apiHandler, callerOf, json, pathParameter } from './api.ts';

/** One page of a customer: `?limit=` users (1–100, default 100) and up to 1,000 domains; `?nextToken=` for the next. */
export const handler = apiHandler({}, async (event, services) =>
  json(200, await services.transfers.getCustomer(callerOf(event, services), pathParameter(event, 'id'), event.queryStringParameters ?? {})),
);
