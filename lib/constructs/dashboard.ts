import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  APPROVAL_STEPS,
  STATUSES,
  approvalLatencyMetric,
  declinesMetric,
  emailFailuresMetric,
  rehomeErrorsMetric,
  transfersMetric,
} from '../business-metrics.ts';
import { DECLINE_REASON_CODES } from '../../lambdas/domain/decline-reasons.ts';

/** Properties of an {@link OperationsDashboard}. */
export interface OperationsDashboardProps {
  /** The transfer workflow: executions started, succeeded, failed and timed out. */
  readonly stateMachine: sfn.IStateMachine;
  /** Every function by its kebab-case name: errors and throttles, one line each. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /**
   * Alarms whose state the dashboard shows at the top.
   * @default - no alarm widget
   */
  readonly alarms?: readonly cloudwatch.IAlarm[];
  /**
   * Where the README's "Runbook" heading is published (e.g. the repository page with `#runbook`).
   * @default - the text widget names the heading without a link
   */
  readonly runbookUrl?: string;
  /**
   * The dashboard's name: letters, digits, `-` and `_`.
   * @default `<stack name>-operations`
   */
  readonly dashboardName?: string;
  /**
   * The period each metric is summed (or its percentiles taken) over; the alarms look at 5 minutes too.
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
}

/** Graph sizes on the dashboard's 24-column grid. */
const HALF = { width: 12, height: 6 } as const;
const THIRD = { width: 8, height: 6 } as const;

/**
 * The operators' CloudWatch dashboard: the business metrics the functions emit through Powertools
 * (transfers by status, declines by reason, approval latency per step, re-home errors, email failures), the workflow's
 * executions, each function's errors and throttles, the alarms' state and a link to the runbook.
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  /** The dashboard's name (a reference to the dashboard). */
  readonly dashboardName: string;
  /** The dashboard in the CloudWatch console (commercial AWS partition). */
  readonly dashboardUrl: string;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const period = props.period ?? Duration.minutes(5);
    const sum = (label: string) => ({ period, statistic: cloudwatch.Stats.SUM, label });
    const counts = (label: string): cloudwatch.YAxisProps => ({ min: 0, label, showUnits: false });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `${stack.stackName}-operations`,
      defaultInterval: Duration.days(7),
    });
    this.dashboardName = this.dashboard.dashboardName;
    const region = stack.region;
    this.dashboardUrl = `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${this.dashboardName}`;

    this.dashboard.addWidgets(
      ...(props.alarms && props.alarms.length > 0
        ? [
            new cloudwatch.TextWidget({ markdown: introduction(props.runbookUrl), width: 8, height: 6 }),
            new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 16, height: 6 }),
          ]
        : [new cloudwatch.TextWidget({ markdown: introduction(props.runbookUrl), width: 24, height: 3 })]),
    );

    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Transfers entering each status',
        left: STATUSES.map((status) => transfersMetric(status, sum(status))),
        leftYAxis: counts('transfers'),
        ...THIRD,
      }),
      new cloudwatch.GraphWidget({
        title: 'Declines by reason',
        left: DECLINE_REASON_CODES.map((code) => declinesMetric(code, sum(code))),
        leftYAxis: counts('declines'),
        ...THIRD,
      }),
      new cloudwatch.GraphWidget({
        title: 'Approval latency (p50, p90)',
        left: APPROVAL_STEPS.flatMap((step) =>
          [50, 90].map((percentile) =>
            approvalLatencyMetric(step, { period, statistic: cloudwatch.Stats.percentile(percentile), label: `${step} p${percentile}` }),
          ),
        ),
        leftYAxis: { min: 0, label: 'seconds', showUnits: false },
        ...THIRD,
      }),
    );

    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Re-home errors (customers not moved)',
        left: [rehomeErrorsMetric(sum('RehomeErrors'))],
        leftYAxis: counts('customers'),
        ...THIRD,
      }),
      new cloudwatch.GraphWidget({
        title: 'Email failures',
        left: [emailFailuresMetric(sum('EmailFailures'))],
        leftYAxis: counts('emails'),
        ...THIRD,
      }),
      new cloudwatch.GraphWidget({
        title: 'Workflow executions',
        left: [
          props.stateMachine.metricStarted(sum('started')),
          props.stateMachine.metricSucceeded(sum('succeeded')),
          props.stateMachine.metricFailed(sum('failed')),
          props.stateMachine.metricTimedOut(sum('timed out')),
        ],
        leftYAxis: counts('executions'),
        ...THIRD,
      }),
    );

    const functions = Object.entries(props.functions);
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Lambda errors',
        left: functions.map(([name, fn]) => fn.metricErrors(sum(name))),
        leftYAxis: counts('invocations'),
        ...HALF,
      }),
      new cloudwatch.GraphWidget({
        title: 'Lambda throttles',
        left: functions.map(([name, fn]) => fn.metricThrottles(sum(name))),
        leftYAxis: counts('invocations'),
        ...HALF,
      }),
    );
  }
}

/** The text at the top: what the dashboard shows and where the runbook is. */
function introduction(runbookUrl: string | undefined): string {
  const runbook =
    runbookUrl === undefined
      ? 'the **Runbook** heading of the repository README (`README.md#runbook`)'
      : `the [Runbook](${runbookUrl.replace(/\(/g, '%28').replace(/\)/g, '%29')})`;
  return [
    '# Customer transfers',
    'Business metrics come from the functions (Powertools); every alarm goes to the alert topic.',
    `What each alarm means and what to do about it: ${runbook}.`,
  ].join('\n\n');
}
