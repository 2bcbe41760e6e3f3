import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PowertoolsMetrics } from '../../../lambdas/adapters/powertools-metrics.ts';

type Emf = { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } } & Record<string, unknown>;

let lines: string[] = [];

beforeEach(() => {
  // POWERTOOLS_DEV sends EMF to the global console, where the test can read it.
  vi.stubEnv('POWERTOOLS_DEV', 'true');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  lines = [];
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    lines.push(String(line));
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

function emitted(): Emf[] {
  return lines.filter((line) => line.includes('CloudWatchMetrics')).map((line) => JSON.parse(line) as Emf);
}

describe('business metrics in embedded metric format', () => {
  it('counts a transfer per status, with the status as its own dimension', () => {
    const port = new PowertoolsMetrics(new Metrics({ namespace: 'CustomerTransfer', serviceName: 'test' }));
    port.transferStatus('COMPLETED');
    const [emf] = emitted();
    expect(emf?._aws.CloudWatchMetrics[0]?.Namespace).toBe('CustomerTransfer');
    expect(emf?._aws.CloudWatchMetrics[0]?.Dimensions[0]).toContain('Status');
    expect(emf?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([{ Name: 'Transfers', Unit: 'Count' }]);
    expect(emf?.Status).toBe('COMPLETED');
    expect(emf?.Transfers).toBe(1);
  });

  it('records approval latency in seconds per step', () => {
    const port = new PowertoolsMetrics(new Metrics({ namespace: 'CustomerTransfer', serviceName: 'test' }));
    port.approvalLatency('acceptance', 42.5);
    const [emf] = emitted();
    expect(emf?.Step).toBe('acceptance');
    expect(emf?.ApprovalLatency).toBe(42.5);
    expect(emf?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([{ Name: 'ApprovalLatency', Unit: 'Seconds' }]);
  });

  it('keeps re-homing errors and email failures for the end of the invocation', () => {
    const metrics = new Metrics({ namespace: 'CustomerTransfer', serviceName: 'test' });
    const port = new PowertoolsMetrics(metrics);
    port.rehomeErrors(2);
    port.emailFailure();
    expect(emitted()).toHaveLength(0);
    metrics.publishStoredMetrics();
    const [emf] = emitted();
    expect(emf?.RehomeErrors).toBe(2);
    expect(emf?.EmailFailures).toBe(1);
  });
});

describe('declines', () => {
  it('counts each decline under its reason code, as its own dimension', () => {
    const port = new PowertoolsMetrics(new Metrics({ namespace: 'CustomerTransfer', serviceName: 'test' }));
    port.decline('OUTSTANDING_BALANCE');
    const [emf] = emitted();
    expect(emf?._aws.CloudWatchMetrics[0]?.Dimensions[0]).toContain('ReasonCode');
    expect(emf?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([{ Name: 'Declines', Unit: 'Count' }]);
    expect(emf?.ReasonCode).toBe('OUTSTANDING_BALANCE');
    expect(emf?.Declines).toBe(1);
  });
});
