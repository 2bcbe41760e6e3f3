import { idempotencyKeyOf, idempotentRequests } from '../../adapters/idempotency.ts';
import { stepFunctionsWorkflow } from '../../adapters/sfn-workflow.ts';
import { createTransferBody, parseInput } from '../../domain/requests.ts';
import type { TransferWithHistory } from '../../domain/transfer.ts';
import { logger } from '../logger.ts';
import { apiHandler, callerOf, json, jsonBody, requestMeta, type ApiResult } from './api.ts';

export const handler = apiHandler({ workflow: stepFunctionsWorkflow, idempotency: idempotentRequests }, async (event, services) => {
  const caller = callerOf(event, services);
  const key = idempotencyKeyOf(event.headers);
  const body = jsonBody(event);
  // Refused before any Idempotency-Key record: the record hashes the body recursively, and a body
  // nested thousands deep overflowed the stack there (a 500) instead of answering 400.
  parseInput(createTransferBody, body, 'request');
  const create = async (): Promise<{ transfer: TransferWithHistory; result: ApiResult }> => {
    const transfer = await services.transfers.create(caller, body, requestMeta(event));
    logger.appendKeys({ transferId: transfer.id });
    logger.info('Transfer requested', { customers: transfer.customers.length, status: transfer.status });
    return { transfer, result: json(201, transfer, { location: `/transfers/${transfer.id}` }) };
  };
  if (key === undefined) return (await create()).result;

  // With an Idempotency-Key the answer is remembered, so a repeat gets the same status, body and
  // Location. Its customers' domain snapshots are left out of the record (50 customers' domains pass
  // DynamoDB's 400 KB item size) and read back on a repeat: they never change once filed.
  let full: ApiResult | undefined;
  const answer = await services.idempotency.answerOnce({ operation: 'POST /transfers', caller, key, body }, async (): Promise<RememberedAnswer> => {
    const { transfer, result } = await create();
    full = result;
    return { transfer: { ...transfer, customers: transfer.customers.map(({ domains: _domains, ...customer }) => customer) } };
  });
  if (!answer.recorded) logger.warn('Transfer requested, but its Idempotency-Key record could not be completed');
  if (full !== undefined) return full;
  const remembered = answer.value.transfer;
  logger.info('Answered a repeated request from its Idempotency-Key record', { transferId: remembered.id });
  const { customers } = await services.transfers.getVisible(caller, remembered.id);
  return json(201, { ...remembered, customers }, { location: `/transfers/${remembered.id}` });
});

/** What an Idempotency-Key record keeps of the first answer (a 201): the transfer but its customers' domains. */
interface RememberedAnswer {
  transfer: Omit<TransferWithHistory, 'customers'> & { customers: Array<Omit<TransferWithHistory['customers'][number], 'domains'>> };
}
