import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { allFunctions } from '../../lambdas/handlers/catalog.ts';
import { STEP_STATUS, TRANSFER_STATUSES } from '../../lambdas/domain/transfer.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/business-metrics.ts';
import { DECLINE_REASON_CODES } from '../../lambdas/domain/decline-reasons.ts';
import { resolveIntrinsics } from '../../lib/render-definition.ts';
import { PSEUDO_REFS, resourcesOf, synthesize, type SynthesizedStack, type TemplateResource } from './synth.ts';

const ALL_FUNCTIONS = allFunctions().map(({ name }) => name);
const STEPS = Object.keys(STEP_STATUS);

/** One CloudWatch metric stream: namespace, name and dimensions. */
interface MetricId {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
}

/** A metric line of a dashboard graph: `[namespace, name, dim1, value1, ..., { stat, label, period }]`. */
interface GraphLine extends MetricId {
  stat: string;
  label: string | undefined;
}

interface Widget {
  type: string;
  width: number;
  height: number;
  properties: { title?: string; markdown?: string; alarms?: string[]; metrics?: unknown[][] };
}

const key = (metric: MetricId): string =>
  JSON.stringify([metric.namespace, metric.name, Object.entries(metric.dimensions).sort(([a], [b]) => a.localeCompare(b))]);

let synthesized: SynthesizedStack;
let stateMachineId: string;
let topicId: string;
let dashboardId: string;
let widgets: Widget[];
let alarms: Record<string, unknown>[];
/** Every metric stream the functions' own Powertools code emits, with the environment the stack gives them. */
let emitted: MetricId[];

/** Refs and GetAtts resolve to `ref:<logical id>` and `arn:<logical id>`, so they stay recognizable. */
function refsOf(template: SynthesizedStack['template']): Record<string, string> {
  const ids = Object.keys(resourcesOf(template));
  return {
    ...PSEUDO_REFS,
    ...Object.fromEntries(ids.flatMap((id) => [[id, `ref:${id}`], [`${id}.Arn`, `arn:${id}`]])),
  };
}

function graphLines(widget: Widget): GraphLine[] {
  return (widget.properties.metrics ?? []).map((line) => {
    const last = line.at(-1);
    const options = typeof last === 'object' && last !== null ? (last as { stat?: string; label?: string }) : {};
    const [namespace, name, ...rest] = (typeof last === 'object' ? line.slice(0, -1) : line) as string[];
    const dimensions: Record<string, string> = {};
    for (let i = 0; i < rest.length; i += 2) dimensions[rest[i] ?? ''] = rest[i + 1] ?? '';
    return { namespace: namespace ?? '', name: name ?? '', dimensions, stat: options.stat ?? 'Average', label: options.label };
  });
}

function widgetTitled(title: string): Widget {
  const widget = widgets.find((candidate) => candidate.properties.title === title);
  if (widget === undefined) throw new Error(`No widget "${title}"; there are ${widgets.map((w) => w.properties.title).join(', ')}`);
  return widget;
}

/** The metric stream an alarm watches. */
function watchedBy(alarm: Record<string, unknown>): MetricId {
  const dimensions = (alarm.Dimensions ?? []) as { Name: string; Value: string }[];
  return {
    namespace: String(alarm.Namespace),
    name: String(alarm.MetricName),
    dimensions: Object.fromEntries(dimensions.map((dimension) => [dimension.Name, dimension.Value])),
  };
}

/** The one alarm on a business metric stream. */
function alarmOn(name: string, dimensions: Record<string, string>): Record<string, unknown> {
  const wanted = key({ namespace: METRICS_NAMESPACE, name, dimensions });
  const found = alarms.filter((alarm) => key(watchedBy(alarm)) === wanted);
  expect(found, wanted).toHaveLength(1);
  return found[0] ?? {};
}

/** Runs the functions' metrics module and adapter with `environment`, and returns the metric streams of the EMF they print. */
async function emittedMetrics(environment: Record<string, unknown>): Promise<MetricId[]> {
  vi.stubEnv('POWERTOOLS_DEV', 'true');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', String(environment.POWERTOOLS_METRICS_NAMESPACE));
  vi.stubEnv('POWERTOOLS_SERVICE_NAME', String(environment.POWERTOOLS_SERVICE_NAME));
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    lines.push(String(line));
  });
  try {
    vi.resetModules();
    const { metrics } = await import('../../lambdas/handlers/metrics.ts');
    const { PowertoolsMetrics } = await import('../../lambdas/adapters/powertools-metrics.ts');
    const port = new PowertoolsMetrics(metrics);
    for (const status of TRANSFER_STATUSES) port.transferStatus(status);
    for (const step of Object.keys(STEP_STATUS) as (keyof typeof STEP_STATUS)[]) port.approvalLatency(step, 3600);
    port.rehomeErrors(2);
    port.emailFailure();
    for (const code of DECLINE_REASON_CODES) port.decline(code);
    metrics.publishStoredMetrics();
  } finally {
    log.mockRestore();
    vi.unstubAllEnvs();
  }
  type Emf = { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } } & Record<string, unknown>;
  return lines
    .filter((line) => line.includes('CloudWatchMetrics'))
    .map((line) => JSON.parse(line) as Emf)
    .flatMap((emf) =>
      emf._aws.CloudWatchMetrics.flatMap((directive) =>
        directive.Dimensions.flatMap((set) =>
          directive.Metrics.map((metric) => ({
            namespace: directive.Namespace,
            name: metric.Name,
            dimensions: Object.fromEntries(set.map((dimension) => [dimension, String(emf[dimension])])),
          })),
        ),
      ),
    );
}

beforeAll(async () => {
  synthesized = synthesize();
  [stateMachineId = ''] = Object.keys(resourcesOf(synthesized.template, 'AWS::StepFunctions::StateMachine'));
  [topicId = ''] = Object.keys(resourcesOf(synthesized.template, 'AWS::SNS::Topic'));
  const dashboards = Object.entries(resourcesOf(synthesized.template, 'AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const [id, dashboard] = dashboards[0] as [string, TemplateResource];
  dashboardId = id;
  const body = resolveIntrinsics(dashboard.Properties?.DashboardBody, refsOf(synthesized.template));
  expect(typeof body).toBe('string');
  widgets = (JSON.parse(body as string) as { widgets: Widget[] }).widgets;
  alarms = Object.values(resourcesOf(synthesized.template, 'AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties ?? {});
  const functions = resourcesOf(synthesized.template, 'AWS::Lambda::Function');
  const [anyFunction] = Object.values(functions);
  emitted = await emittedMetrics((anyFunction?.Properties?.Environment as { Variables: Record<string, unknown> }).Variables);
});

afterAll(() => {
  vi.unstubAllEnvs();
});

describe('the functions', () => {
  it('all publish their metrics to one namespace under one service name', () => {
    expect(METRICS_NAMESPACE).toBe('CustomerTransfer');
    for (const name of ALL_FUNCTIONS) {
      const fn = resourcesOf(synthesized.template)[synthesized.functionIds[name] ?? ''];
      expect((fn?.Properties?.Environment as { Variables: Record<string, unknown> }).Variables, name).toMatchObject({
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      });
    }
  });

  it('emit, with that environment, exactly the metric streams the dashboard and alarms read', () => {
    // Powertools puts its default `service` dimension into every dimension set, a singleMetric()'s too.
    const expected: MetricId[] = [
      ...TRANSFER_STATUSES.map((status) => ({ namespace: 'CustomerTransfer', name: 'Transfers', dimensions: { service: 'customer-transfer', Status: status } })),
      ...STEPS.map((step) => ({ namespace: 'CustomerTransfer', name: 'ApprovalLatency', dimensions: { service: 'customer-transfer', Step: step } })),
      { namespace: 'CustomerTransfer', name: 'RehomeErrors', dimensions: { service: 'customer-transfer' } },
      { namespace: 'CustomerTransfer', name: 'EmailFailures', dimensions: { service: 'customer-transfer' } },
      ...DECLINE_REASON_CODES.map((code) => ({ namespace: 'CustomerTransfer', name: 'Declines', dimensions: { service: 'customer-transfer', ReasonCode: code } })),
    ];
    expect(emitted.map(key).sort()).toEqual(expected.map(key).sort());
    const onDashboard = new Set(widgets.flatMap(graphLines).filter((line) => line.namespace === METRICS_NAMESPACE).map(key));
    expect([...onDashboard].sort()).toEqual(expected.map(key).sort());
  });
});

describe('the operations dashboard', () => {
  it('is named after the stack and output with its console URL', () => {
    const dashboard = resourcesOf(synthesized.template)[dashboardId];
    expect(dashboard?.Properties?.DashboardName).toBe('TransferTest-operations');
    const outputs = synthesized.template.findOutputs('*');
    expect(outputs.DashboardName?.Value).toEqual({ Ref: dashboardId });
    expect(resolveIntrinsics(outputs.DashboardUrl?.Value, { ...PSEUDO_REFS, [dashboardId]: 'TransferTest-operations' })).toBe(
      'https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/TransferTest-operations',
    );
  });

  it('graphs transfers entering each status, one summed line per status', () => {
    const lines = graphLines(widgetTitled('Transfers entering each status'));
    expect(lines).toEqual(
      TRANSFER_STATUSES.map((status) => ({
        namespace: 'CustomerTransfer',
        name: 'Transfers',
        dimensions: { service: 'customer-transfer', Status: status },
        stat: 'Sum',
        label: status,
      })),
    );
  });

  it('graphs declines by reason code, one summed line per code', () => {
    expect(graphLines(widgetTitled('Declines by reason'))).toEqual(
      DECLINE_REASON_CODES.map((code) => ({
        namespace: 'CustomerTransfer',
        name: 'Declines',
        dimensions: { service: 'customer-transfer', ReasonCode: code },
        stat: 'Sum',
        label: code,
      })),
    );
  });

  it('graphs approval latency at p50 and p90 for each step', () => {
    const lines = graphLines(widgetTitled('Approval latency (p50, p90)'));
    expect(lines.map((line) => [line.dimensions.Step, line.stat]).sort()).toEqual(
      STEPS.flatMap((step) => [
        [step, 'p50'],
        [step, 'p90'],
      ]).sort(),
    );
    for (const line of lines) {
      expect(line).toMatchObject({ namespace: 'CustomerTransfer', name: 'ApprovalLatency', dimensions: { service: 'customer-transfer', Step: line.dimensions.Step } });
      expect(Object.keys(line.dimensions).sort()).toEqual(['Step', 'service']);
    }
  });

  it('graphs the summed re-home errors and email failures', () => {
    for (const [title, name] of [
      ['Re-home errors (customers not moved)', 'RehomeErrors'],
      ['Email failures', 'EmailFailures'],
    ] as const) {
      expect(graphLines(widgetTitled(title))).toEqual([
        { namespace: 'CustomerTransfer', name, dimensions: { service: 'customer-transfer' }, stat: 'Sum', label: name },
      ]);
    }
  });

  it("graphs the state machine's executions started, succeeded, failed and timed out", () => {
    const lines = graphLines(widgetTitled('Workflow executions'));
    expect(lines.map((line) => line.name)).toEqual(['ExecutionsStarted', 'ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsTimedOut']);
    for (const line of lines) {
      expect(line).toMatchObject({ namespace: 'AWS/States', dimensions: { StateMachineArn: `ref:${stateMachineId}` }, stat: 'Sum' });
    }
  });

  it('graphs Lambda errors and throttles, one line per function', () => {
    for (const [title, name] of [
      ['Lambda errors', 'Errors'],
      ['Lambda throttles', 'Throttles'],
    ] as const) {
      const lines = graphLines(widgetTitled(title));
      expect(lines.map((line) => line.label).sort(), title).toEqual([...ALL_FUNCTIONS].sort());
      for (const line of lines) {
        expect(line).toEqual({
          namespace: 'AWS/Lambda',
          name,
          dimensions: { FunctionName: `ref:${synthesized.functionIds[line.label ?? '']}` },
          stat: 'Sum',
          label: line.label,
        });
      }
    }
  });

  it("shows every alarm's state", () => {
    const alarmIds = Object.keys(resourcesOf(synthesized.template, 'AWS::CloudWatch::Alarm'));
    const [widget] = widgets.filter((candidate) => candidate.type === 'alarm');
    expect(widget?.properties.alarms?.sort()).toEqual(alarmIds.map((id) => `arn:${id}`).sort());
  });

  it("points at the README's Runbook heading, linked when its published URL is given", () => {
    const text = (s: SynthesizedStack): string => {
      const [dashboard] = Object.values(resourcesOf(s.template, 'AWS::CloudWatch::Dashboard'));
      const body = JSON.parse(resolveIntrinsics(dashboard?.Properties?.DashboardBody, refsOf(s.template)) as string) as { widgets: Widget[] };
      return body.widgets.find((widget) => widget.type === 'text')?.properties.markdown ?? '';
    };
    expect(text(synthesized)).toMatch(/\*\*Runbook\*\* heading of the repository README \(`README\.md#runbook`\)/);
    const linked = synthesize({ runbookUrl: 'https://git.example.com/transfers/README.md#runbook' });
    expect(text(linked)).toContain('[Runbook](https://git.example.com/transfers/README.md#runbook)');
  });

  it('fits the 24-column grid', () => {
    for (const widget of widgets) expect(widget.width, widget.properties.title ?? widget.type).toBeLessThanOrEqual(24);
    const rowWidths = new Map<number, number>();
    for (const widget of widgets as (Widget & { y: number })[]) rowWidths.set(widget.y, (rowWidths.get(widget.y) ?? 0) + widget.width);
    for (const [y, width] of rowWidths) expect(width, `row at y=${y}`).toBeLessThanOrEqual(24);
  });
});

describe('business-metric alarms', () => {
  const common = () => ({
    Namespace: 'CustomerTransfer',
    Statistic: 'Sum',
    Period: 300,
    EvaluationPeriods: 1,
    TreatMissingData: 'notBreaching',
    AlarmActions: [{ Ref: topicId }],
  });

  it('fire on any re-home error in 5 minutes (> 0)', () => {
    expect(alarmOn('RehomeErrors', { service: 'customer-transfer' })).toMatchObject({
      ...common(),
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('fire on an email failure in 5 minutes (>= 1)', () => {
    expect(alarmOn('EmailFailures', { service: 'customer-transfer' })).toMatchObject({
      ...common(),
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('fire on a transfer that became FAILED (>= 1)', () => {
    expect(alarmOn('Transfers', { service: 'customer-transfer', Status: 'FAILED' })).toMatchObject({
      ...common(),
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('read streams the functions emit', () => {
    const emittedKeys = new Set(emitted.map(key));
    const business = alarms.filter((alarm) => alarm.Namespace === METRICS_NAMESPACE);
    expect(business).toHaveLength(3);
    for (const alarm of business) expect(emittedKeys.has(key(watchedBy(alarm))), String(alarm.MetricName)).toBe(true);
  });
});
