/**
 * How the table's stream feeds the relay of outbox events: read by the CDK stack (the event source
 * mapping) and by the local stack (its stream poller), so that both hand the relay the same records.
 */
export const RELAY_EVENT_SOURCE = {
  /** Records per invocation. */
  batchSize: 25,
  /** How long the stream gathers records before it invokes, at most. */
  maxBatchingWindowSeconds: 1,
  /** Tries of a failing batch (split in halves on each error) before its records go to the dead-letter queue. */
  retryAttempts: 10,
  /** Only new outbox items: the stream also carries every other write of the table, and the outbox items' later updates and expiry. */
  filterPattern: { eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['outbox'] } } } },
} as const;

/** The bus events are published to: `<stack name>-events`. */
export function eventBusName(stackName: string): string {
  return `${stackName}-events`;
}
