import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_REASON_LENGTH } from '../../lib/acknowledgements.ts';
import { TransferStack } from '../../lib/transfer-stack.ts';
import { featureFlags } from './synth.ts';

/** One finding of a rule on one resource. */
interface Finding {
  rule: string;
  severity: string;
  path: string;
  description: string;
}

/** One `Validations.of(construct).acknowledge(...)`. */
interface Acknowledgement {
  path: string;
  id: string;
  reason: string;
}

interface CheckedApp {
  app: App;
  stack: TransferStack;
  outdir: string;
  /** What `app.synth()` threw: with the checks registered, an unacknowledged error fails synthesis. */
  synthError: unknown;
}

const outdirs: string[] = [];

/** Synthesizes the stack (bundling skipped) with the checks `bin/app.ts` registers; `change` edits the stack first. */
function checkedApp(change?: (stack: TransferStack) => void): CheckedApp {
  const outdir = mkdtempSync(path.join(tmpdir(), 'nag-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: { ...featureFlags(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new TransferStack(app, 'TransferTest');
  change?.(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let synthError: unknown;
  try {
    app.synth();
  } catch (error) {
    synthError = error;
  }
  return { app, stack, outdir, synthError };
}

/**
 * The AwsSolutions findings in `scope`, errors and warnings alike. cdk-nag leaves out acknowledged
 * ones; with `includeAcknowledged` it is made to report them too (cdk-nag 3 has no option for it).
 */
function findingsIn(scope: IConstruct, includeAcknowledged = false): Finding[] {
  const pack = new AwsSolutionsChecks();
  if (includeAcknowledged) {
    if (!('isAcknowledged' in pack)) throw new Error('cdk-nag no longer has NagPack.isAcknowledged: update findingsIn');
    Object.defineProperty(pack, 'isAcknowledged', { value: () => false });
  }
  return pack.validateScope(scope).violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => ({
      rule: violation.ruleName,
      severity: violation.severity ?? 'unknown',
      path: resource.constructPath ?? '(no path)',
      description: violation.description,
    })),
  );
}

/** Every acknowledgement recorded in the tree under `root`. */
function acknowledgementsIn(root: IConstruct): Acknowledgement[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          // Stored qualified (`Annotation::AwsSolutions-S1`); cdk-nag matches without the namespace.
          id: id.replace(/^[A-Za-z-]+::/, ''),
          reason,
        })),
      ),
  );
}

/** The AwsSolutions violations in the validation report CDK writes to the cloud assembly. */
function reportedViolations(outdir: string): { ruleName: string; severity: string }[] {
  const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: { pluginName: string; violations: { ruleName: string; severity: string }[] }[];
  };
  return report.pluginReports.filter((plugin) => plugin.pluginName === 'AwsSolutions').flatMap((plugin) => plugin.violations);
}

const covers = (acknowledgement: Acknowledgement, finding: Finding): boolean =>
  finding.rule === acknowledgement.id && (finding.path === acknowledgement.path || finding.path.startsWith(`${acknowledgement.path}/`));

const listFindings = (findings: Finding[]): string =>
  findings.map((finding) => `  ${finding.severity.toUpperCase()} ${finding.rule} at ${finding.path}: ${finding.description}`).join('\n');

let checked: CheckedApp;
let acknowledgements: Acknowledgement[];

beforeAll(() => {
  checked = checkedApp();
  acknowledgements = acknowledgementsIn(checked.app);
  const lines = acknowledgements.map(
    (acknowledgement) => `  ${acknowledgement.id}\n    on ${acknowledgement.path}\n    because ${acknowledgement.reason}`,
  );
  console.log(`cdk-nag AwsSolutions acknowledgements (${acknowledgements.length}):\n${lines.join('\n')}`);
});

afterAll(() => {
  for (const outdir of outdirs) rmSync(outdir, { recursive: true, force: true });
});

describe('cdk-nag AwsSolutions checks', () => {
  it('leave no unacknowledged error or warning', () => {
    const findings = findingsIn(checked.app);
    expect(findings.filter((finding) => finding.severity === 'error'), `Unacknowledged errors:\n${listFindings(findings)}`).toEqual([]);
    expect(findings, `Unacknowledged warnings:\n${listFindings(findings)}`).toEqual([]);
  });

  it('let the app synthesize with the checks registered, reporting nothing', () => {
    expect(checked.synthError).toBeUndefined();
    expect(reportedViolations(checked.outdir)).toEqual([]);
  });

  it('are acknowledged only with a specific reason, on a resource, never on the stack or app', () => {
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const acknowledgement of acknowledgements) {
      expect(acknowledgement.id, acknowledgement.path).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(acknowledgement.reason.trim().length, `${acknowledgement.id} on ${acknowledgement.path}`).toBeGreaterThanOrEqual(MIN_REASON_LENGTH);
      expect([checked.app.node.path, checked.stack.node.path], acknowledgement.id).not.toContain(acknowledgement.path);
    }
    // IAM5 is acknowledged finding by finding: never the bare rule, which cdk-nag 3 would not match anyway.
    expect(acknowledgements.filter((acknowledgement) => /^AwsSolutions-IAM[45]$/.test(acknowledgement.id))).toEqual([]);
  });

  it('are acknowledged only where they are found, so that no acknowledgement outlives its finding', () => {
    const all = findingsIn(checked.app, true);
    const stale = acknowledgements.filter((acknowledgement) => !all.some((finding) => covers(acknowledgement, finding)));
    expect(stale).toEqual([]);
    // Conversely, every finding is covered by an acknowledgement (the first test, seen from the other side).
    expect(all.filter((finding) => !acknowledgements.some((acknowledgement) => covers(acknowledgement, finding)))).toEqual([]);
  });

  it('are acknowledged only for what is public, resource-less, rotated by hand or a dead-letter queue by design', () => {
    const summary = [...new Set(acknowledgements.map((acknowledgement) => `${acknowledgement.id.replace(/\[.*$/, '')} ${acknowledgement.path.split('/').slice(1, 3).join('/')}`))];
    expect(summary.sort()).toEqual(
      [
        'AwsSolutions-APIG4 Api/HttpApi',
        'AwsSolutions-SMG4 ApprovalLinkKey/Secret',
        // X-Ray on every function role; StopExecution's execution ARNs on cancel-transfer's.
        ...[
          'Health',
          'Openapi',
          'CreateTransfer',
          'CheckTransfer',
          'ListTransfers',
          'GetTransfer',
          'GetRecord',
          'Decide',
          'CancelTransfer',
          'OperateTransfer',
          'GetCustomer',
          'ApprovalPage',
          'ManageWebhooks',
        ].map(
          (id) => `AwsSolutions-IAM5 Api/${id}Role`,
        ),
        ...['RequestApproval', 'RemindOrExpire', 'ScheduleTransfer', 'RehomeCustomers', 'SendConfirmations', 'RecordOutcome'].map(
          (id) => `AwsSolutions-IAM5 Workflow/${id}Role`,
        ),
        'AwsSolutions-IAM5 EventRelay/RelayEventsRole',
        'AwsSolutions-IAM5 Webhooks/DeliverWebhooksRole',
        'AwsSolutions-IAM5 MailFeedback/RecordMailFeedbackRole',
        // Log delivery and X-Ray of the state machine.
        'AwsSolutions-IAM5 Workflow/StateMachine',
        // The relay's on-failure destination, which cdk-nag does not see as a dead-letter queue.
        'AwsSolutions-SQS3 EventRelay/DeadLetterQueue',
      ].sort(),
    );
    const publicRoutes = acknowledgements.filter((acknowledgement) => acknowledgement.id === 'AwsSolutions-APIG4').map((a) => a.path.split('/')[3]);
    expect(publicRoutes.sort()).toEqual(['GET--approvals--{secret}', 'GET--health', 'GET--openapi.json', 'HEAD--approvals--{secret}', 'POST--approvals--{secret}']);
  });

  it('report a finding the stack gains, even on a policy that has an acknowledged one', () => {
    const changed = checkedApp((stack) => {
      new s3.Bucket(stack, 'Unchecked');
      // The health role's policy has Resource::* acknowledged (X-Ray): a wildcard action still shows.
      stack.api.functions.health.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:Get*'], resources: [stack.table.table.tableArn] }));
    });
    const findings = findingsIn(changed.app);
    expect(findings.map((finding) => `${finding.rule} ${finding.path}`).sort()).toEqual([
      'AwsSolutions-IAM5[Action::dynamodb:Get*] TransferTest/Api/HealthRole/DefaultPolicy/Resource',
      'AwsSolutions-S1 TransferTest/Unchecked/Resource',
      'AwsSolutions-S10 TransferTest/Unchecked/Resource',
    ]);
    // `cdk synth` fails on them, as it does in bin/app.ts.
    expect(String(changed.synthError)).toMatch(/ValidationFailed/);
    expect(reportedViolations(changed.outdir).map((violation) => violation.ruleName).sort()).toEqual([
      'AwsSolutions-IAM5[Action::dynamodb:Get*]',
      'AwsSolutions-S1',
      'AwsSolutions-S10',
    ]);
  });
});
