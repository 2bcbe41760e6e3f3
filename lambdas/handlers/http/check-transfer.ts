import { logger } from '../logger.ts';
import { apiHandler, callerOf, json, jsonBody } from './api.ts';

/** Whether POST /transfers would accept this body now, and why not; writes nothing. */
export const handler = apiHandler({}, async (event, services) => {
  const answer = await services.transfers.check(callerOf(event, services), jsonBody(event));
  logger.info('Transfer request checked', {
    eligible: answer.eligible,
    customers: answer.customers.length,
    codes: [...new Set([...answer.customers.flatMap((c) => c.reasons.map((r) => r.code)), ...answer.problems.map((p) => p.code)])],
  });
  return json(200, answer);
});
