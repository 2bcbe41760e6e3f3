import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { DeclineReasonCode } from '../lambdas/domain/decline-reasons.ts';
import { STEP_STATUS, TRANSFER_STATUSES, type Step, type TransferStatus } from '../lambdas/domain/transfer.ts';

/**
 * The CloudWatch namespace of the functions' business metrics: every function gets it as
 * `POWERTOOLS_METRICS_NAMESPACE`, and the dashboard and alarms read from it.
 */
export const METRICS_NAMESPACE = 'CustomerTransfer';

/**
 * One service name for every function (`POWERTOOLS_SERVICE_NAME`), so a transfer's log lines and
 * traces group together. Powertools also puts it on every business metric as the `service` dimension.
 */
export const SERVICE_NAME = 'customer-transfer';

/** The metric names the functions emit (`lambdas/adapters/powertools-metrics.ts`). */
export const METRIC_NAMES = {
  transfers: 'Transfers',
  approvalLatency: 'ApprovalLatency',
  rehomeErrors: 'RehomeErrors',
  emailFailures: 'EmailFailures',
  declines: 'Declines',
} as const;

/** The two approval steps whose latency is measured, in workflow order. */
export const APPROVAL_STEPS = Object.keys(STEP_STATUS) as Step[];

/** Every transfer status, each a value of the `Status` dimension of `Transfers`. */
export const STATUSES: readonly TransferStatus[] = TRANSFER_STATUSES;

/** How a business metric is read: the period defaults to 5 minutes, the statistic to the sum. */
export type BusinessMetricOptions = Pick<cloudwatch.MetricOptions, 'period' | 'statistic' | 'label' | 'color'>;

/**
 * A business metric as Powertools emits it: `service` is a default dimension, so it is part of
 * every dimension set, also of a `singleMetric()` that adds its own (`Status`, `Step`).
 * No unit filter: CloudWatch then reads every datum of the stream.
 */
function businessMetric(metricName: string, dimensions: Record<string, string>, options: BusinessMetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME, ...dimensions },
    period: Duration.minutes(5),
    statistic: cloudwatch.Stats.SUM,
    ...options,
  });
}

/** Transfers entering `status` (dimensions `service`, `Status`). */
export function transfersMetric(status: TransferStatus, options: BusinessMetricOptions = {}): cloudwatch.Metric {
  return businessMetric(METRIC_NAMES.transfers, { Status: status }, options);
}

/** Seconds from asking a partner to its written decision (dimensions `service`, `Step`); read it as a percentile. */
export function approvalLatencyMetric(step: Step, options: BusinessMetricOptions = {}): cloudwatch.Metric {
  return businessMetric(METRIC_NAMES.approvalLatency, { Step: step }, options);
}

/** Customers that could not be moved in one re-homing attempt (dimension `service`). */
export function rehomeErrorsMetric(options: BusinessMetricOptions = {}): cloudwatch.Metric {
  return businessMetric(METRIC_NAMES.rehomeErrors, {}, options);
}

/** Declines on one ground (dimensions `service`, `ReasonCode`). */
export function declinesMetric(reasonCode: DeclineReasonCode, options: BusinessMetricOptions = {}): cloudwatch.Metric {
  return businessMetric(METRIC_NAMES.declines, { ReasonCode: reasonCode }, options);
}

/** Emails that could not be sent (dimension `service`). */
export function emailFailuresMetric(options: BusinessMetricOptions = {}): cloudwatch.Metric {
  return businessMetric(METRIC_NAMES.emailFailures, {}, options);
}
