import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { SqsDeliveryQueue, sqsDeliveryQueue, wakeOf } from '../../../lambdas/adapters/sqs-delivery-queue.ts';
import { TransientError } from '../../../lambdas/domain/errors.ts';
import type { DeliveryWake } from '../../../lambdas/domain/webhooks.ts';
import './aws-matchers.ts';
import { failure, MOCKED_CLIENT_CONFIG, resetAfterEach } from './support.ts';

const sqs = mockClient(SQSClient);
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/webhook-deliveries';
const queue = new SqsDeliveryQueue(new SQSClient(MOCKED_CLIENT_CONFIG), QUEUE_URL);

resetAfterEach(sqs);

function wakes(count: number): DeliveryWake[] {
  return Array.from({ length: count }, (_, i) => ({
    webhookId: `wh_${String(i).padStart(32, '0')}`,
    eventId: `evt_${i}`,
    transferId: i % 2 === 0 ? `TR-${i}` : null,
    attempt: i % 3,
  }));
}

const bodyOf = (wake: DeliveryWake) => JSON.stringify({ webhookId: wake.webhookId, eventId: wake.eventId, transferId: wake.transferId, attempt: wake.attempt });

/** The entries of every SendMessageBatch sent, in order. */
const sentBatches = () => sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input.Entries ?? []);

describe('SqsDeliveryQueue', () => {
  it('sends the wakes in batches of ten, each body naming the delivery and its tries, all with the delay asked for', async () => {
    sqs.on(SendMessageBatchCommand, { QueueUrl: QUEUE_URL }).resolves({ Successful: [], Failed: [] });
    const all = wakes(23);

    await queue.wake(all, 5);

    expect(sqs).toHaveReceivedCommandTimes(SendMessageBatchCommand, 3);
    const batches = sentBatches();
    expect(batches.map((batch) => batch.length)).toEqual([10, 10, 3]);
    expect(batches.flat().map((entry) => entry.MessageBody)).toEqual(all.map(bodyOf));
    expect(batches.flat().every((entry) => entry.DelaySeconds === 5)).toBe(true);
    for (const batch of batches) expect(new Set(batch.map((entry) => entry.Id)).size).toBe(batch.length);
    expect(wakeOf(batches[0]?.[1]?.MessageBody ?? '')).toEqual(all[1]);
  });

  it.each([
    [1200, 900],
    [900, 900],
    [-3, 0],
    [0, 0],
    [2.4, 2],
  ])('sends a delay of %d s as DelaySeconds %d (SQS takes 0 to 900)', async (asked, sent) => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    await queue.wake(wakes(1), asked);
    expect(sqs).toHaveReceivedCommandWith(SendMessageBatchCommand, { QueueUrl: QUEUE_URL, Entries: [expect.objectContaining({ DelaySeconds: sent })] });
  });

  it('sends nothing for no wakes', async () => {
    await queue.wake([], 0);
    expect(sqs).not.toHaveReceivedAnyCommand();
  });

  it('sends again only the entries the service failed', async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolvesOnce({ Successful: [], Failed: [{ Id: '3', SenderFault: false, Code: 'InternalError' }, { Id: '7', SenderFault: false, Code: 'ServiceUnavailable' }] })
      .resolves({ Successful: [], Failed: [] });
    const all = wakes(10);

    await queue.wake(all, 30);

    const [first, again] = sentBatches();
    expect(first).toHaveLength(10);
    expect(again).toEqual([
      { Id: '3', MessageBody: bodyOf(all[3] as DeliveryWake), DelaySeconds: 30 },
      { Id: '7', MessageBody: bodyOf(all[7] as DeliveryWake), DelaySeconds: 30 },
    ]);
  });

  it('gives up with a TransientError when the service keeps failing an entry', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [{ Id: '0', SenderFault: false, Code: 'InternalError' }] });
    expect(await failure(queue.wake(wakes(1), 0))).toBeInstanceOf(TransientError);
    expect(sqs).toHaveReceivedCommandTimes(SendMessageBatchCommand, 3);
  });

  it('throws at once for an entry refused for its own content (a sender fault), without sending it again', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [{ Id: '0', SenderFault: true, Code: 'InvalidParameterValue', Message: 'Bad delay' }] });
    const error = await failure(queue.wake(wakes(2), 0));
    expect(error).not.toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/InvalidParameterValue Bad delay/);
    expect(sqs).toHaveReceivedCommandTimes(SendMessageBatchCommand, 1);
  });

  it('turns SQS throttling into a TransientError', async () => {
    sqs.on(SendMessageBatchCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    expect(await failure(queue.wake(wakes(1), 0))).toBeInstanceOf(TransientError);
  });

  it('refuses to wake anything without a queue URL', async () => {
    await expect(sqsDeliveryQueue({ WEBHOOK_QUEUE_URL: '' }).wake(wakes(1), 0)).rejects.toThrow(/WEBHOOK_QUEUE_URL/);
    expect(sqs).not.toHaveReceivedAnyCommand();
  });
});

describe('wakeOf', () => {
  it('reads a wake, of a transfer\'s event or of a test event', () => {
    expect(wakeOf('{"webhookId":"wh_1","eventId":"evt_1","transferId":"TR-1","attempt":3}')).toEqual({ webhookId: 'wh_1', eventId: 'evt_1', transferId: 'TR-1', attempt: 3 });
    expect(wakeOf('{"webhookId":"wh_1","eventId":"evt_1","transferId":null,"attempt":0,"extra":true}')).toEqual({ webhookId: 'wh_1', eventId: 'evt_1', transferId: null, attempt: 0 });
  });

  it('keeps how often a try was put off for a busy endpoint, from the message SqsDeliveryQueue sends', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const wake: DeliveryWake = { webhookId: 'wh_1', eventId: 'evt_1', transferId: 'TR-1', attempt: 2, deferrals: 3 };
    await queue.wake([wake], 4);
    expect(wakeOf(sentBatches()[0]?.[0]?.MessageBody ?? '')).toEqual(wake);
    expect(wakeOf('{"webhookId":"wh_1","eventId":"evt_1","transferId":null,"attempt":0,"deferrals":"3"}')).toEqual({ webhookId: 'wh_1', eventId: 'evt_1', transferId: null, attempt: 0 });
  });

  it.each([
    ['not JSON', '{webhookId:'],
    ['null', 'null'],
    ['a string', '"wh_1"'],
    ['an array', '[]'],
    ['no webhook id', '{"eventId":"evt_1","transferId":null,"attempt":0}'],
    ['a numeric event id', '{"webhookId":"wh_1","eventId":1,"transferId":null,"attempt":0}'],
    ['no transfer id at all', '{"webhookId":"wh_1","eventId":"evt_1","attempt":0}'],
    ['a numeric transfer id', '{"webhookId":"wh_1","eventId":"evt_1","transferId":7,"attempt":0}'],
    ['no attempt', '{"webhookId":"wh_1","eventId":"evt_1","transferId":null}'],
    ['a negative attempt', '{"webhookId":"wh_1","eventId":"evt_1","transferId":null,"attempt":-1}'],
    ['a fractional attempt', '{"webhookId":"wh_1","eventId":"evt_1","transferId":null,"attempt":1.5}'],
    ['an attempt as text', '{"webhookId":"wh_1","eventId":"evt_1","transferId":null,"attempt":"1"}'],
  ])('refuses %s', (_label, body) => {
    expect(wakeOf(body)).toBeUndefined();
  });
});
