import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { MetricUnit as Unit } from '@aws-lambda-powertools/metrics/types';
import type { DeclineReasonCode } from '../domain/decline-reasons.ts';
import type { MetricsPort } from '../domain/ports.ts';
import type { Step, TransferStatus } from '../domain/transfer.ts';

/** Business metrics as CloudWatch embedded metric format, through Powertools (namespace and service from env). */
export class PowertoolsMetrics implements MetricsPort {
  constructor(private readonly metrics: Metrics) {}

  transferStatus(status: TransferStatus): void {
    this.dimensioned('Status', status, 'Transfers', MetricUnit.Count, 1);
  }

  approvalLatency(step: Step, seconds: number): void {
    this.dimensioned('Step', step, 'ApprovalLatency', MetricUnit.Seconds, seconds);
  }

  rehomeErrors(customers: number): void {
    this.metrics.addMetric('RehomeErrors', MetricUnit.Count, customers);
  }

  emailFailure(): void {
    this.metrics.addMetric('EmailFailures', MetricUnit.Count, 1);
  }

  decline(reasonCode: DeclineReasonCode): void {
    this.dimensioned('ReasonCode', reasonCode, 'Declines', MetricUnit.Count, 1);
  }

  /** A metric with its own dimension goes out on its own, so it does not tag the function's other metrics. */
  private dimensioned(dimension: string, value: string, name: string, unit: Unit, amount: number): void {
    const single = this.metrics.singleMetric();
    single.addDimension(dimension, value);
    single.addMetric(name, unit, amount);
  }
}
