import { Metrics } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';

/** One metrics instance per function. */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'CustomerTransfer',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'customer-transfer',
});

/**
 * Publishes what an invocation recorded when it ends, failed or not. Unlike Powertools' own
 * `logMetrics`, it stays quiet when there is nothing to publish (most invocations record nothing).
 */
export function publishMetrics<E, R>(): MiddlewareObj<E, R> {
  const publish = (): void => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return { after: publish, onError: publish };
}
