import { apiHandler, callerOf, json, pathParameter } from './api.ts';

export const handler = apiHandler({}, async (event, services) =>
  json(200, await services.transfers.getVisible(callerOf(event, services), pathParameter(event, 'id'))),
);
