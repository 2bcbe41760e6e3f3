import { Annotations, Aspects, CfnOutput, CfnRule, Fn, Stack, Tags, type IAspect, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, IConstruct } from 'constructs';
import { WORKFLOW_FUNCTIONS, type FunctionName, type WorkflowFunctionKey } from '../lambdas/handlers/catalog.ts';
import { AlertTopic, OperatorAlarms } from './constructs/alarms.ts';
import { TransferApi } from './constructs/api.ts';
import { ApprovalLinkKey } from './constructs/approval-link-key.ts';
import { OperationsDashboard } from './constructs/dashboard.ts';
import { EventRelay, TransferEventBus } from './constructs/events.ts';
import { MailFeedback } from './constructs/mail-feedback.ts';
import { domainOfAddress, Mailer } from './constructs/mailer.ts';
import type { TransferFunction, TransferFunctionEnvironment } from './constructs/transfer-function.ts';
import { CanaryRollouts } from './constructs/rollouts.ts';
import { TransferTable } from './constructs/transfer-table.ts';
import { DEFAULT_WEBHOOK_RETRY_SCHEDULE, parseWebhookRetrySchedule, WebhookDelivery } from './constructs/webhooks.ts';
import { TransferWorkflow, transferStateMachineArn } from './constructs/workflow.ts';
import { DEFAULT_RETENTION_DAYS } from '../lambdas/domain/retention.ts';
import { parsePortalOrigins } from './cors.ts';
import { chooseStage, DEFAULT_LOG_RETENTION_DAYS, LOG_RETENTION_DAYS } from './stages.ts';

/** The deployment's settings, read from CDK context (`cdk.json` or `cdk deploy -c key=value`). */
export interface TransferSettings {
  /**
   * The stage (`-c stage=NAME`) whose settings `stages.NAME` of cdk.json gave; every resource is tagged with it.
   * @default - no stage: the local defaults
   */
  readonly stage?: string;
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
   * The sender's domain, made an SES identity by the stack with Easy DKIM (its three DKIM CNAME records
   * are outputs to publish in DNS); `senderEmail` must be of this domain or one of its subdomains.
   * @default - the sender identity is set up outside the stack
   */
  readonly senderDomain?: string;
  /**
   * The DevOps team: scheduled transfers are escalated here.
   * @default 'devops@example.com'
   */
  readonly devopsEmail: string;
  /**
   * Subscribed (by email) to the alert topic: alarms and failed transfers.
   * @default - devopsEmail
   */
  readonly alarmEmail: string;
  /**
   * Days the stack's log groups (functions, state machine, API access) keep their logs; one of
   * CloudWatch Logs' periods ({@link LOG_RETENTION_DAYS}).
   * @default 30
   */
  readonly logRetentionDays: number;
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
   * Days after a transfer closed (completed, declined, expired or cancelled) until the table's TTL removes
   * it with its history, consent records and customer audit entries (`TRANSFER_RETENTION_DAYS`).
   * @default 2557 (seven years)
   */
  readonly retentionDays: number;
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
  /**
   * Origins of portal pages that call the API from a browser (CORS), e.g. `https://portal.example.com`:
   * a list in cdk.json, or comma-separated with `-c portalOrigins=https://a.example,https://b.example`.
   * @default - no CORS: only same-origin pages and non-browser clients call the API
   */
  readonly portalOrigins?: readonly string[];
  /**
   * Seconds between a webhook delivery's tries, first retry first (`WEBHOOK_RETRY_SCHEDULE_SECONDS`): a list in
   * cdk.json, or comma-separated with `-c webhookRetrySchedule=5,30,120`; whole seconds of at least 1, adding up
   * to at most 13 days (`MAX_WEBHOOK_RETRY_SPAN_SECONDS` of lib/constructs/webhooks.ts).
   * @default [5, 30, 120, 600, 3600, 21600, 86400] ({@link DEFAULT_WEBHOOK_RETRY_SCHEDULE})
   */
  readonly webhookRetrySchedule: readonly number[];
}

/**
 * The example values `cdk synth` falls back on, so that it works offline; a deployment with any of
 * them cannot work, so `cdk deploy` refuses it (see {@link exampleDefaultsInUse}).
 */
export const EXAMPLE_DEFAULTS = {
  senderEmail: 'transfers@example.com',
  jwtIssuer: 'https://issuer.example.com/',
  devopsEmail: 'devops@example.com',
} as const satisfies Partial<Record<keyof TransferSettings, string>>;

/** What each example default breaks, for the refusal's one line. */
const EXAMPLE_DEFAULT_HARM: Record<keyof typeof EXAMPLE_DEFAULTS, string> = {
  senderEmail: 'send mail',
  jwtIssuer: 'verify portal tokens',
  devopsEmail: 'reach DevOps with alerts',
};

/** The context keys still at their example default, in the order of {@link EXAMPLE_DEFAULTS}. */
export function exampleDefaultsInUse(settings: TransferSettings): (keyof typeof EXAMPLE_DEFAULTS)[] {
  return (Object.keys(EXAMPLE_DEFAULTS) as (keyof typeof EXAMPLE_DEFAULTS)[]).filter((key) => settings[key] === EXAMPLE_DEFAULTS[key]);
}

/** The one line `cdk deploy` fails with while example defaults are in use. */
export function exampleDefaultsRefusal(keys: readonly (keyof typeof EXAMPLE_DEFAULTS)[]): string {
  const list = (items: readonly string[], last: string): string =>
    items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} ${last} ${items.at(-1) ?? ''}`;
  const flags = keys.map((key) => `-c ${key}=...`).join(' ');
  return `Set context ${list(keys, 'and')} (cdk deploy ${flags}): the example defaults cannot ${list(
    keys.map((key) => EXAMPLE_DEFAULT_HARM[key]),
    'or',
  )}`;
}

/** Reads and checks {@link TransferSettings}; values given on the command line arrive as strings. */
export function readTransferSettings(scope: Construct): TransferSettings {
  const context = (key: string): unknown => scope.node.tryGetContext(key);
  const choice = chooseStage(context);
  if ('problem' in choice) throw new Error(choice.problem);
  // A -c flag (or a top-level cdk.json value) overrides the stage's value.
  const raw = (key: string): unknown => context(key) ?? choice.settings[key];
  const text = (key: string, fallback: string): string => {
    const value = raw(key) ?? fallback;
    if (typeof value !== 'string' || value.trim() === '') throw new Error(`Context ${key} must be a non-empty string.`);
    return value.trim();
  };
  const count = (key: string, fallback: number, least = 1): number => {
    const value = raw(key) ?? fallback;
    const parsed = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
    if (typeof parsed !== 'number' || !Number.isSafeInteger(parsed) || parsed < least) {
      throw new Error(`Context ${key} must be a whole number of at least ${least}, got ${JSON.stringify(value)}.`);
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
  const devopsEmail = email('devopsEmail', EXAMPLE_DEFAULTS.devopsEmail);
  const senderEmail = email('senderEmail', EXAMPLE_DEFAULTS.senderEmail);
  const senderDomain = raw('senderDomain') === undefined ? undefined : text('senderDomain', '').toLowerCase().replace(/\.$/, '');
  if (senderDomain !== undefined) {
    if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(senderDomain)) {
      throw new Error(`Context senderDomain must be a domain name, got "${senderDomain}".`);
    }
    const domainOfSender = domainOfAddress(senderEmail);
    if (domainOfSender !== senderDomain && !domainOfSender.endsWith(`.${senderDomain}`)) {
      throw new Error(`Context senderEmail (${senderEmail}) must be an address of senderDomain (${senderDomain}) or of one of its subdomains.`);
    }
  }
  const logRetentionDays = count('logRetentionDays', DEFAULT_LOG_RETENTION_DAYS);
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays)) {
    throw new Error(`Context logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(', ')}, got ${logRetentionDays}.`);
  }
  const jwtIssuer = url('jwtIssuer', EXAMPLE_DEFAULTS.jwtIssuer, ['https:']) ?? EXAMPLE_DEFAULTS.jwtIssuer;
  const portalOrigins = parsePortalOrigins(raw('portalOrigins'), 'Context portalOrigins');
  // Handlers append paths to it, so a trailing slash would double up.
  const publicBaseUrl = url('publicBaseUrl', undefined, ['https:', 'http:'])?.replace(/\/+$/, '');

  return {
    stage: choice.stage,
    jwtIssuer,
    jwtAudience: text('jwtAudience', 'transfer-portal'),
    jwtPartnerClaim: text('jwtPartnerClaim', 'partner_id'),
    jwtRolesClaim: text('jwtRolesClaim', 'roles'),
    senderEmail,
    senderDomain,
    devopsEmail,
    alarmEmail: email('alarmEmail', devopsEmail),
    publicBaseUrl,
    transferTimezone: timeZone,
    approvalWindowSeconds: count('approvalWindowSeconds', 1_209_600),
    reminderIntervalSeconds: count('reminderIntervalSeconds', 259_200),
    // 0 turns the lock off, as TRANSFER_LOCK_DAYS=0 does for the functions.
    lockDays: count('lockDays', 30, 0),
    retentionDays: count('retentionDays', DEFAULT_RETENTION_DAYS),
    runbookUrl: url('runbookUrl', undefined, ['https:', 'http:']),
    portalOrigins: portalOrigins.length > 0 ? portalOrigins : undefined,
    logRetentionDays,
    webhookRetrySchedule: parseWebhookRetrySchedule(raw('webhookRetrySchedule') ?? DEFAULT_WEBHOOK_RETRY_SCHEDULE, 'Context webhookRetrySchedule'),
  };
}

/**
 * The Customer Transfer Workflow: table, approval-link key, HTTP API, Step Functions workflow, mail,
 * transfer events (bus, archive, relay), partner webhook delivery, alarms, canary rollouts and dashboard.
 * Settings come from context; see {@link TransferSettings}.
 */
export class TransferStack extends Stack {
  /** The settings this stack was synthesized with. */
  readonly settings: TransferSettings;
  readonly table: TransferTable;
  readonly alerts: AlertTopic;
  /** Who sends the emails, through which configuration set, with the sender's reputation alarms. */
  readonly mailer: Mailer;
  /** The key approval-link secrets are derived from. */
  readonly approvalLinkKey: ApprovalLinkKey;
  readonly api: TransferApi;
  readonly workflow: TransferWorkflow;
  /** The transfer events' bus, archive and example rule. */
  readonly events: TransferEventBus;
  /** The relay of outbox events from the table's stream to the bus and to webhook deliveries. */
  readonly eventRelay: EventRelay;
  /** The deliveries queue, its dead-letter queue and the deliver-webhooks function. */
  readonly webhooks: WebhookDelivery;
  /** Bounces and complaints recorded on their transfers: the feedback queue and the record-mail-feedback function. */
  readonly mailFeedback: MailFeedback;
  /** Every function of the catalog, by its kebab-case name. */
  readonly functions: Readonly<Record<FunctionName, TransferFunction>>;
  readonly alarms: OperatorAlarms;
  /** The API functions' canary rollouts through CodeDeploy, rolled back by their error alarms. */
  readonly rollouts: CanaryRollouts;
  readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const settings = readTransferSettings(this);
    this.settings = settings;
    const examples = exampleDefaultsInUse(settings);
    if (examples.length > 0) {
      const refusal = exampleDefaultsRefusal(examples);
      Annotations.of(this).addWarningV2('customer-transfer:example-defaults', refusal);
      // CloudFormation checks rules before it touches any resource, so `cdk deploy` stops on this
      // line while `cdk synth` (tests, offline) still works; the assertion is false on purpose.
      new CfnRule(this, 'RefuseExampleDefaults', {
        assertions: [{ assert: Fn.conditionEquals(examples.join(' '), 'none'), assertDescription: refusal }],
      });
    }

    if (settings.stage !== undefined) Tags.of(this).add('stage', settings.stage);

    this.table = new TransferTable(this, 'Transfers');
    this.alerts = new AlertTopic(this, 'Alerts', { email: settings.alarmEmail });
    this.approvalLinkKey = new ApprovalLinkKey(this, 'ApprovalLinkKey');
    const mailer = new Mailer(this, 'Mailer', { senderEmail: settings.senderEmail, senderDomain: settings.senderDomain, alertTopic: this.alerts.topic });
    this.mailer = mailer;
    const stateMachineArn = transferStateMachineArn(this);

    // Everything every function is told, set once; only the public base URL waits for the API.
    const environment: Omit<TransferFunctionEnvironment, 'publicBaseUrl'> = {
      tableName: this.table.table.tableName,
      stateMachineArn,
      senderEmail: settings.senderEmail,
      sesConfigurationSet: mailer.configurationSetName,
      devopsEmail: settings.devopsEmail,
      alertTopicArn: this.alerts.topic.topicArn,
      // Only the ARN; the functions granted to read the key fetch its value at run time.
      approvalLinkKeySecretArn: this.approvalLinkKey.secretArn,
      timeZone: settings.transferTimezone,
      approvalWindowSeconds: settings.approvalWindowSeconds,
      reminderIntervalSeconds: settings.reminderIntervalSeconds,
      lockDays: settings.lockDays,
      retentionDays: settings.retentionDays,
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
      portalOrigins: settings.portalOrigins,
    });
    this.workflow = new TransferWorkflow(this, 'Workflow', {
      environment: { ...environment, publicBaseUrl: this.api.publicBaseUrl },
      table: this.table.table,
      mailer,
      alertTopic: this.alerts.topic,
      approvalLinkKey: this.approvalLinkKey,
    });

    this.webhooks = new WebhookDelivery(this, 'Webhooks', {
      table: this.table.table,
      environment: { ...environment, publicBaseUrl: this.api.publicBaseUrl },
      approvalLinkKey: this.approvalLinkKey,
      alertTopic: this.alerts.topic,
      retrySchedule: settings.webhookRetrySchedule,
    });
    this.webhooks.grantManage(this.api.functions['manage-webhooks']);

    this.mailFeedback = new MailFeedback(this, 'MailFeedback', {
      table: this.table.table,
      environment: { ...environment, publicBaseUrl: this.api.publicBaseUrl },
      alertTopic: this.alerts.topic,
    });

    this.events = new TransferEventBus(this, 'Events', { alertTopic: this.alerts.topic });
    this.eventRelay = new EventRelay(this, 'EventRelay', {
      table: this.table.table,
      eventBus: this.events.bus,
      environment: { ...environment, publicBaseUrl: this.api.publicBaseUrl },
      alertTopic: this.alerts.topic,
      webhooks: this.webhooks,
    });

    const workflowFunctions = Object.entries(this.workflow.functions).map(
      ([key, fn]): [string, TransferFunction] => [WORKFLOW_FUNCTIONS[key as WorkflowFunctionKey], fn],
    );
    const functions = {
      ...this.api.functions,
      ...(Object.fromEntries(workflowFunctions) as Record<(typeof WORKFLOW_FUNCTIONS)[WorkflowFunctionKey], TransferFunction>),
      ...this.eventRelay.functions,
      ...this.webhooks.functions,
      ...this.mailFeedback.functions,
    };
    this.functions = functions;
    this.alarms = new OperatorAlarms(this, 'Alarms', {
      topic: this.alerts.topic,
      stateMachine: this.workflow.stateMachine,
      functions,
    });
    this.rollouts = new CanaryRollouts(this, 'Rollouts', { functions: this.api.functions, errorAlarms: this.alarms.functionErrors });
    this.dashboard = new OperationsDashboard(this, 'Operations', {
      stateMachine: this.workflow.stateMachine,
      functions,
      alarms: [...this.alarms.alarms, this.eventRelay.deadLetterAlarm, this.webhooks.deadLetterAlarm, this.mailFeedback.deadLetterAlarm, ...mailer.alarms],
      runbookUrl: settings.runbookUrl,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'StateMachineArn', {
      value: this.workflow.stateMachine.stateMachineArn,
      description: 'The transfer workflow',
    });
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName, description: 'The single DynamoDB table' });
    new CfnOutput(this, 'AlertTopicArn', { value: this.alerts.topic.topicArn, description: 'Operator alerts' });
    new CfnOutput(this, 'EventBusName', { value: this.events.bus.eventBusName, description: 'The EventBridge bus of transfer events' });
    new CfnOutput(this, 'EventBusArn', { value: this.events.bus.eventBusArn, description: 'The EventBridge bus of transfer events' });
    new CfnOutput(this, 'EventArchiveArn', {
      value: this.events.archive.archiveArn,
      description: 'Every transfer event, for aws events start-replay --event-source-arn',
    });
    new CfnOutput(this, 'WebhookQueueUrl', { value: this.webhooks.queue.queueUrl, description: 'The queue of webhook delivery tries' });
    new CfnOutput(this, 'WebhookDeadLetterQueueUrl', {
      value: this.webhooks.deadLetterQueue.queueUrl,
      description: 'Webhook delivery tries the dispatcher kept failing on; redrive them to WebhookQueueUrl once fixed',
    });
    mailer.dkimRecords.forEach((record, index) => {
      new CfnOutput(this, `SenderDkimRecord${index + 1}`, {
        value: Fn.join(' ', [record.name, 'CNAME', record.value]),
        description: `DKIM record ${index + 1} of 3 to publish in the sender domain's DNS (name CNAME value)`,
      });
    });
    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboardName, description: 'The operations dashboard' });
    new CfnOutput(this, 'DashboardUrl', { value: this.dashboard.dashboardUrl, description: 'The operations dashboard in the console' });

    Aspects.of(this).add(new LogRetention(settings.logRetentionDays));
  }
}

/** Gives every log group of the stack the same retention (the stage's `logRetentionDays`). */
class LogRetention implements IAspect {
  constructor(private readonly days: number) {}

  visit(node: IConstruct): void {
    if (node instanceof logs.CfnLogGroup) node.retentionInDays = this.days;
  }
}
