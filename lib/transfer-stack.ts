import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { WORKFLOW_FUNCTIONS, type WorkflowFunctionKey } from '../lambdas/handlers/catalog.ts';
import { AlertTopic, OperatorAlarms } from './constructs/alarms.ts';
import { TransferApi } from './constructs/api.ts';
import { ApprovalLinkKey } from './constructs/approval-link-key.ts';
import { OperationsDashboard } from './constructs/dashboard.ts';
import { Mailer } from './constructs/mailer.ts';
import type { TransferFunction, TransferFunctionEnvironment } from './constructs/transfer-function.ts';
import { TransferTable } from './constructs/transfer-table.ts';
import { TransferWorkflow, transferStateMachineArn } from './constructs/workflow.ts';

/** The deployment's settings, read from CDK context (`cdk.json` or `cdk deploy -c key=value`). */
export interface TransferSettings {
  /**
   * Issuer (`iss`) of portal JWTs; API Gateway fetches its OIDC discovery document, so it must be https.
   * @default 'https://issuer.example.com/'
   */
  readonly jwtIssuer: string;
  /**
   * Audience (`aud`) portal JWTs must carry.
   * @default 'transfer-portal'
   */
  readonly jwtAudience: string;
  /**
   * JWT claim naming the caller's partner.
   * @default 'partner_id'
   */
  readonly jwtPartnerClaim: string;
  /**
   * JWT claim holding the caller's roles (`operator` marks a provider operator).
   * @default 'roles'
   */
  readonly jwtRolesClaim: string;
  /**
   * Address emails are sent from; it (or its domain) must be a verified SES identity.
   * @default 'transfers@example.com'
   */
  readonly senderEmail: string;
  /**
   * The DevOps team: scheduled transfers are escalated here, and it is subscribed to the alert topic.
   * @default 'devops@example.com'
   */
  readonly devopsEmail: string;
  /**
   * Origin of approval links, e.g. a custom domain in front of the API; without a trailing slash.
   * @default - the HTTP API's own endpoint
   */
  readonly publicBaseUrl?: string;
  /**
   * IANA time zone in which a transfer date starts at 00:00.
   * @default 'America/New_York'
   */
  readonly transferTimezone: string;
  /**
   * How long each waiting step (release, acceptance) waits before the transfer expires.
   * @default 1209600 (14 days)
   */
  readonly approvalWindowSeconds: number;
  /**
   * How often the party that has not answered is reminded.
   * @default 259200 (3 days)
   */
  readonly reminderIntervalSeconds: number;
  /**
   * Days after a completed transfer during which the customer cannot move again.
   * @default 30
   */
  readonly lockDays: number;
  /**
   * Where the README's "Runbook" heading is published (e.g. `https://github.com/<org>/<repo>#runbook`),
   * linked from the operations dashboard.
   * @default - the dashboard names the heading without a link
   */
  readonly runbookUrl?: string;
}

/** Reads and checks {@link TransferSettings}; values given on the command line arrive as strings. */
export function readTransferSettings(scope: Construct): TransferSettings {
  const raw = (key: string): unknown => scope.node.tryGetContext(key);
  const text = (key: string, fallback: string): string => {
    const value = raw(key) ?? fallback;
    if (typeof value !== 'string' || value.trim() === '') throw new Error(`Context ${key} must be a non-empty string.`);
    return value.trim();
  };
  const count = (key: string, fallback: number): number => {
    const value = raw(key) ?? fallback;
    const parsed = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
    if (typeof parsed !== 'number' || !Number.isSafeInteger(parsed) || parsed <= 0) {
      throw new Error(`Context ${key} must be a positive whole number, got ${JSON.stringify(value)}.`);
    }
    return parsed;
  };
  const email = (key: string, fallback: string): string => {
    const value = text(key, fallback);
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) throw new Error(`Context ${key} must be an email address, got "${value}".`);
    return value;
  };
  const url = (key: string, fallback: string | undefined, protocols: readonly string[]): string | undefined => {
    if (raw(key) === undefined && fallback === undefined) return undefined;
    const value = text(key, fallback ?? '');
    if (!URL.canParse(value) || !protocols.includes(new URL(value).protocol)) {
      throw new Error(`Context ${key} must be a ${protocols.join(' or ')} URL, got "${value}".`);
    }
    return value;
  };

  const timeZone = text('transferTimezone', 'America/New_York');
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new Error(`Context transferTimezone must be an IANA time zone, got "${timeZone}".`);
  }
  const jwtIssuer = url('jwtIssuer', 'https://issuer.example.com/', ['https:']) ?? 'https://issuer.example.com/';
  // Handlers append paths to it, so a trailing slash would double up.
  const publicBaseUrl = url('publicBaseUrl', undefined, ['https:', 'http:'])?.replace(/\/+$/, '');

  return {
    jwtIssuer,
    jwtAudience: text('jwtAudience', 'transfer-portal'),
    jwtPartnerClaim: text('jwtPartnerClaim', 'partner_id'),
    jwtRolesClaim: text('jwtRolesClaim', 'roles'),
    senderEmail: email('senderEmail', 'transfers@example.com'),
    devopsEmail: email('devopsEmail', 'devops@example.com'),
    publicBaseUrl,
    transferTimezone: timeZone,
    approvalWindowSeconds: count('approvalWindowSeconds', 1_209_600),
    reminderIntervalSeconds: count('reminderIntervalSeconds', 259_200),
    lockDays: count('lockDays', 30),
    runbookUrl: url('runbookUrl', undefined, ['https:', 'http:']),
  };
}

/**
 * The Customer Transfer Workflow: table, approval-link key, HTTP API, Step Functions workflow, mail, alarms and dashboard.
 * Settings come from context; see {@link TransferSettings}.
 */
export class TransferStack extends Stack {
  /** The settings this stack was synthesized with. */
  readonly settings: TransferSettings;
  readonly table: TransferTable;
  readonly alerts: AlertTopic;
  /** The key approval-link secrets are derived from. */
  readonly approvalLinkKey: ApprovalLinkKey;
  readonly api: TransferApi;
  readonly workflow: TransferWorkflow;
  readonly alarms: OperatorAlarms;
  readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const settings = readTransferSettings(this);
    this.settings = settings;

    this.table = new TransferTable(this, 'Transfers');
    this.alerts = new AlertTopic(this, 'Alerts', { email: settings.devopsEmail });
    this.approvalLinkKey = new ApprovalLinkKey(this, 'ApprovalLinkKey');
    const mailer = new Mailer(this, 'Mailer', { senderEmail: settings.senderEmail });
    const stateMachineArn = transferStateMachineArn(this);

    // Everything every function is told, set once; only the public base URL waits for the API.
    const environment: Omit<TransferFunctionEnvironment, 'publicBaseUrl'> = {
      tableName: this.table.table.tableName,
      stateMachineArn,
      senderEmail: settings.senderEmail,
      devopsEmail: settings.devopsEmail,
      alertTopicArn: this.alerts.topic.topicArn,
      // Only the ARN; the functions granted to read the key fetch its value at run time.
      approvalLinkKeySecretArn: this.approvalLinkKey.secretArn,
      timeZone: settings.transferTimezone,
      approvalWindowSeconds: settings.approvalWindowSeconds,
      reminderIntervalSeconds: settings.reminderIntervalSeconds,
      lockDays: settings.lockDays,
      partnerClaim: settings.jwtPartnerClaim,
      rolesClaim: settings.jwtRolesClaim,
    };

    this.api = new TransferApi(this, 'Api', {
      environment,
      publicBaseUrl: settings.publicBaseUrl,
      table: this.table.table,
      mailer,
      approvalLinkKey: this.approvalLinkKey,
      stateMachineArn,
      jwtIssuer: settings.jwtIssuer,
      jwtAudience: [settings.jwtAudience],
    });
    this.workflow = new TransferWorkflow(this, 'Workflow', {
      environment: { ...environment, publicBaseUrl: this.api.publicBaseUrl },
      table: this.table.table,
      mailer,
      alertTopic: this.alerts.topic,
      approvalLinkKey: this.approvalLinkKey,
    });

    const workflowFunctions = Object.entries(this.workflow.functions).map(
      ([key, fn]): [string, TransferFunction] => [WORKFLOW_FUNCTIONS[key as WorkflowFunctionKey], fn],
    );
    const functions = { ...this.api.functions, ...Object.fromEntries(workflowFunctions) };
    this.alarms = new OperatorAlarms(this, 'Alarms', {
      topic: this.alerts.topic,
      stateMachine: this.workflow.stateMachine,
      functions,
    });
    this.dashboard = new OperationsDashboard(this, 'Operations', {
      stateMachine: this.workflow.stateMachine,
      functions,
      alarms: this.alarms.alarms,
      runbookUrl: settings.runbookUrl,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'StateMachineArn', {
      value: this.workflow.stateMachine.stateMachineArn,
      description: 'The transfer workflow',
    });
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName, description: 'The single DynamoDB table' });
    new CfnOutput(this, 'AlertTopicArn', { value: this.alerts.topic.topicArn, description: 'Operator alerts' });
    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboardName, description: 'The operations dashboard' });
    new CfnOutput(this, 'DashboardUrl', { value: this.dashboard.dashboardUrl, description: 'The operations dashboard in the console' });
  }
}
