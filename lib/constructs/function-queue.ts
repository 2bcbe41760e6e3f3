import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** How long either queue keeps a message: the most SQS allows, so a message waits out an outage of the function. */
const RETENTION = Duration.days(14);

/** Receives of a message its function failed on before it goes to the dead-letter queue. */
export const MAX_RECEIVES = 5;

/**
 * The queue a function is fed from, and its dead-letter queue (construct ids `Queue` and
 * `DeadLetterQueue` in `scope`): both encrypted with SQS-managed keys, TLS only, keeping messages
 * 14 days. A message is hidden for 6 × the function's timeout once handed out (AWS's advice for a
 * Lambda-fed queue: not handed out again mid-batch), and moves to the dead-letter queue after
 * {@link MAX_RECEIVES} receives.
 */
export function functionQueue(scope: Construct, functionTimeout: Duration): { queue: sqs.Queue; deadLetterQueue: sqs.Queue } {
  const secured = { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: RETENTION };
  const deadLetterQueue = new sqs.Queue(scope, 'DeadLetterQueue', secured);
  const queue = new sqs.Queue(scope, 'Queue', {
    ...secured,
    visibilityTimeout: Duration.seconds(6 * functionTimeout.toSeconds()),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: MAX_RECEIVES },
  });
  return { queue, deadLetterQueue };
}
