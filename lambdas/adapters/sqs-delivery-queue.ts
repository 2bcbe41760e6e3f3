import { SendMessageBatchCommand, SQSClient, type SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import type { Config } from '../config.ts';
import { TransientError } from '../domain/errors.ts';
import { MAX_QUEUE_DELAY_SECONDS, type DeliveryQueuePort, type DeliveryWake } from '../domain/webhooks.ts';
import { asTransient } from './transient.ts';

/** SendMessageBatch takes at most 10 entries. */
const SQS_BATCH = 10;
/** Sends of entries SQS refused (throttled, briefly failing) before the wake is reported as failed. */
const SEND_ATTEMPTS = 3;

/** The deliveries queue named by WEBHOOK_QUEUE_URL. */
export function sqsDeliveryQueue(config: Pick<Config, 'WEBHOOK_QUEUE_URL'>): DeliveryQueuePort {
  if (!config.WEBHOOK_QUEUE_URL) return { wake: () => Promise.reject(new Error('Set WEBHOOK_QUEUE_URL to deliver webhooks.')) };
  return new SqsDeliveryQueue(new SQSClient({}), config.WEBHOOK_QUEUE_URL);
}

/** Wakes as SQS messages (the body names the delivery and its tries), each delayed as asked. */
export class SqsDeliveryQueue implements DeliveryQueuePort {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async wake(wakes: readonly DeliveryWake[], delaySeconds: number): Promise<void> {
    const delay = Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(0, Math.round(delaySeconds)));
    const batches: SendMessageBatchRequestEntry[][] = [];
    wakes.forEach((wake, index) => {
      const entry: SendMessageBatchRequestEntry = {
        Id: String(index),
        MessageBody: JSON.stringify({
          webhookId: wake.webhookId,
          eventId: wake.eventId,
          transferId: wake.transferId,
          attempt: wake.attempt,
          // A try put off for a busy endpoint waits longer each time: the count travels with the message.
          ...(wake.deferrals ? { deferrals: wake.deferrals } : {}),
        }),
        DelaySeconds: delay,
      };
      if (index % SQS_BATCH === 0) batches.push([]);
      batches.at(-1)?.push(entry);
    });
    await Promise.all(batches.map((batch) => this.send(batch)));
  }

  private async send(entries: SendMessageBatchRequestEntry[]): Promise<void> {
    let pending = entries;
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      if (attempt > SEND_ATTEMPTS) throw new TransientError();
      const batch = pending;
      const result = await asTransient(() => this.client.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: batch })));
      const failed = new Set((result.Failed ?? []).map((entry) => entry.Id));
      // An entry refused for its own content would be refused again: only the service's faults are sent again.
      const senderFault = (result.Failed ?? []).find((entry) => entry.SenderFault);
      if (senderFault) throw new Error(`SQS refused a webhook wake: ${senderFault.Code ?? 'unknown'} ${senderFault.Message ?? ''}`.trim());
      pending = batch.filter((entry) => failed.has(entry.Id));
    }
  }
}

/** A queue message's wake, or undefined for a body that is not one (it is dropped). */
export function wakeOf(body: string): DeliveryWake | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { webhookId, eventId, transferId, attempt, deferrals } = parsed as Record<string, unknown>;
  if (typeof webhookId !== 'string' || typeof eventId !== 'string' || !(typeof transferId === 'string' || transferId === null)) return undefined;
  if (typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 0) return undefined;
  const putOff = typeof deferrals === 'number' && Number.isInteger(deferrals) && deferrals > 0 ? { deferrals } : {};
  return { webhookId, eventId, transferId, attempt, ...putOff };
}
