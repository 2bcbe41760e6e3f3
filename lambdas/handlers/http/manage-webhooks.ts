import { approvalLinkKey } from '../../adapters/link-key.ts';
import { sqsDeliveryQueue } from '../../adapters/sqs-delivery-queue.ts';
import { webhookTargets } from '../../adapters/webhook-transport.ts';
import { logger } from '../logger.ts';
import { apiHandler, callerOf, json, jsonBody, pathParameter } from './api.ts';

/**
 * Partner webhooks: POST /webhooks (the secret shown once), GET /webhooks (with recent failures),
 * DELETE /webhooks/{id} and POST /webhooks/{id}/test. Operators name a partner and cite a ticket: in
 * the body of POST /webhooks, as `?partnerId=` and `?ticketId=` on the others.
 */
export const handler = apiHandler({ linkKey: approvalLinkKey, deliveryQueue: sqsDeliveryQueue, webhookTargets }, async (event, services) => {
  const caller = callerOf(event, services);
  const query = event.queryStringParameters ?? {};
  switch (event.routeKey) {
    case 'POST /webhooks': {
      const webhook = await services.webhooks.register(caller, jsonBody(event));
      logger.info('Webhook registered', { webhookId: webhook.id, partnerId: webhook.partnerId });
      return json(201, webhook);
    }
    case 'GET /webhooks':
      return json(200, await services.webhooks.list(caller, query));
    case 'DELETE /webhooks/{id}': {
      const id = pathParameter(event, 'id');
      await services.webhooks.remove(caller, id, query);
      logger.info('Webhook removed', { webhookId: id });
      return { statusCode: 204, headers: { 'cache-control': 'no-store' } };
    }
    case 'POST /webhooks/{id}/test': {
      const id = pathParameter(event, 'id');
      const queued = await services.webhooks.test(caller, id, query);
      logger.info('Webhook test queued', { webhookId: id, eventId: queued.eventId });
      return json(202, queued);
    }
    default:
      throw new Error(`manage-webhooks has no route ${event.routeKey}.`);
  }
});
