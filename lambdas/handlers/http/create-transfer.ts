import { idempotencyKeyOf, idempotentRequests } from '../../adapters/idempotency.ts';
import { stepFunctionsWorkflow } from '../../adapters/sfn-workflow.ts';
import { createTransferBody, parseInput } from '../../domain/requests.ts';
import { logger } from '../logger.ts';
import { apiHandler, callerOf, json, jsonBody, requestMeta, type ApiResult } from './api.ts';

export const handler = apiHandler({ workflow: stepFunctionsWorkflow, idempotency: idempotentRequests }, async (event, services) => {
  const caller = callerOf(event, services);
  const key = idempotencyKeyOf(event.headers);
  const body = jsonBody(event);
  // Refused before any Idempotency-Key record: the record hashes the body recursively, and a body
  // nested thousands deep overflowed the stack there (a 500) instead of answering 400.
  parseInput(createTransferBody, body, 'request');
  const create = async (): Promise<ApiResult> => {
    const transfer = await services.transfers.create(caller, body, requestMeta(event));
    logger.appendKeys({ transferId: transfer.id });
    logger.info('Transfer requested', { customers: transfer.customers.length, status: transfer.status });
    return json(201, transfer, { location: `/transfers/${transfer.id}` });
  };
  if (key === undefined) return create();

  // With an Idempotency-Key the whole answer is remembered, so a repeat gets the same status, body and Location.
  const answer = await services.idempotency.answerOnce({ operation: 'POST /transfers', caller, key, body }, create);
  if (answer.replayed) logger.info('Answered a repeated request from its Idempotency-Key record', { location: answer.value.headers?.location });
  if (!answer.recorded) logger.warn('Transfer requested, but its Idempotency-Key record could not be completed');
  return answer.value;
});
