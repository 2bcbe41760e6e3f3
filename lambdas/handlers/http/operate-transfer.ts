import { approvalLinkKey } from '../../adapters/link-key.ts';
import { sesMailer } from '../../adapters/ses-mailer.ts';
import { logger } from '../logger.ts';
import { apiHandler, callerOf, json, jsonBody, pathParameter } from './api.ts';

/** Operators on a stuck approval: POST /transfers/{id}/remind and POST /transfers/{id}/extend, each citing a ticket. */
export const handler = apiHandler({ mailer: sesMailer, linkKey: approvalLinkKey }, async (event, services) => {
  const id = pathParameter(event, 'id');
  logger.appendKeys({ transferId: id });
  const caller = callerOf(event, services);
  const remind = event.routeKey.endsWith('/remind');
  const transfer = remind
    ? await services.operators.remind(caller, id, jsonBody(event))
    : await services.operators.extend(caller, id, jsonBody(event));
  logger.info(remind ? 'Reminder sent by an operator' : 'Approval window extended by an operator');
  return json(200, transfer);
});
