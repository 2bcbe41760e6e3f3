import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, IConstruct } from 'constructs';
import { LIVE_ALIAS } from '../../lambdas/handlers/catalog.ts';
import { acknowledge } from '../acknowledgements.ts';
import { cdkBundling } from '../bundling.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../business-metrics.ts';

/** The repository root (the parent of `lib/`): entries, the lockfile and esbuild's working directory hang off it. */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * What every function is told about its deployment. Each field becomes exactly one environment
 * variable (see {@link environmentVariables}); the handlers' composition root reads those names.
 */
export interface TransferFunctionEnvironment {
  /** `TABLE_NAME`: the single DynamoDB table. */
  readonly tableName: string;
  /** `STATE_MACHINE_ARN`: built from the fixed state machine name, never a reference to the resource (cycles). */
  readonly stateMachineArn: string;
  /** `SENDER_EMAIL`: the SES identity emails are sent from. */
  readonly senderEmail: string;
  /** `SES_CONFIGURATION_SET`: the configuration set every email is sent through. */
  readonly sesConfigurationSet: string;
  /** `DEVOPS_EMAIL`: where scheduled transfers are escalated. */
  readonly devopsEmail: string;
  /** `ALERT_TOPIC_ARN`: the operators' SNS topic. */
  readonly alertTopicArn: string;
  /**
   * `APPROVAL_LINK_KEY_SECRET_ARN`: the Secrets Manager secret approval-link secrets are derived from.
   * Only its ARN: the value is read at run time, by the functions granted to read it.
   */
  readonly approvalLinkKeySecretArn: string;
  /** `PUBLIC_BASE_URL`: the origin approval links point at, without a trailing slash. */
  readonly publicBaseUrl: string;
  /** `TRANSFER_TIMEZONE`: the IANA zone in which a transfer date starts at 00:00. */
  readonly timeZone: string;
  /** `TRANSFER_APPROVAL_WINDOW_SECONDS`: how long each waiting step waits. */
  readonly approvalWindowSeconds: number;
  /** `TRANSFER_REMINDER_INTERVAL_SECONDS`: how often a silent party is reminded. */
  readonly reminderIntervalSeconds: number;
  /** `TRANSFER_LOCK_DAYS`: how long a moved customer cannot move again. */
  readonly lockDays: number;
  /** `TRANSFER_RETENTION_DAYS`: how long a closed transfer is kept before the table's TTL removes it. */
  readonly retentionDays: number;
  /** `JWT_PARTNER_CLAIM`: the JWT claim naming the caller's partner. */
  readonly partnerClaim: string;
  /** `JWT_ROLES_CLAIM`: the JWT claim holding the caller's roles. */
  readonly rolesClaim: string;
}

/** The environment variables for a {@link TransferFunctionEnvironment}; the names the handlers read. */
export function environmentVariables(environment: TransferFunctionEnvironment): Record<string, string> {
  return {
    TABLE_NAME: environment.tableName,
    STATE_MACHINE_ARN: environment.stateMachineArn,
    SENDER_EMAIL: environment.senderEmail,
    SES_CONFIGURATION_SET: environment.sesConfigurationSet,
    DEVOPS_EMAIL: environment.devopsEmail,
    ALERT_TOPIC_ARN: environment.alertTopicArn,
    APPROVAL_LINK_KEY_SECRET_ARN: environment.approvalLinkKeySecretArn,
    PUBLIC_BASE_URL: environment.publicBaseUrl,
    TRANSFER_TIMEZONE: environment.timeZone,
    TRANSFER_APPROVAL_WINDOW_SECONDS: String(environment.approvalWindowSeconds),
    TRANSFER_REMINDER_INTERVAL_SECONDS: String(environment.reminderIntervalSeconds),
    TRANSFER_LOCK_DAYS: String(environment.lockDays),
    TRANSFER_RETENTION_DAYS: String(environment.retentionDays),
    JWT_PARTNER_CLAIM: environment.partnerClaim,
    JWT_ROLES_CLAIM: environment.rolesClaim,
  };
}

/** A construct id for a kebab-case function name (`create-transfer` → `CreateTransfer`), so consoles show readable names. */
export function constructIdFor(name: string): string {
  return name.replace(/(^|-)([a-z0-9])/g, (_match: string, _dash: string, letter: string) => letter.toUpperCase());
}

/** Properties of a {@link TransferFunction}. */
export interface TransferFunctionProps {
  /** The handler file relative to the repository root, e.g. `lambdas/handlers/http/health.ts`; it exports `handler`. */
  readonly entry: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** The deployment facts every function receives. */
  readonly environment: TransferFunctionEnvironment;
  /**
   * How long one invocation may run.
   * @default Duration.seconds(29) — API Gateway gives up after 30 s, so a longer run only costs money
   */
  readonly timeout?: Duration;
  /**
   * Memory in MB; on Lambda it also buys CPU, which shortens cold starts.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Powertools log level (`LOG_LEVEL`).
   * @default 'INFO'
   */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * How long the function's log lines are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Every Lambda of the product, with the defaults set once: Node.js 24 on ARM64, an ESM bundle
 * with source maps and the AWS SDK inside, its own log group with retention, X-Ray tracing, and
 * a role that may only write to that log group until a construct grants it more.
 */
export class TransferFunction extends NodejsFunction {
  /** The `live` alias ({@link LIVE_ALIAS}) on the version published from this deployment's code and settings. */
  readonly live: lambda.Alias;

  constructor(scope: Construct, id: string, props: TransferFunctionProps) {
    // The log group and role are the function's siblings (`<id>Logs`, `<id>Role`): both must exist before super().
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    // Our own role instead of the managed basic-execution policy, whose log actions cover every log group.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the ${id} function of the customer transfer workflow`,
    });
    logGroup.grantWrite(role);

    super(scope, id, {
      entry: path.join(REPO_ROOT, props.entry),
      handler: 'handler',
      description: props.description,
      // Set explicitly: NodejsFunction's default runtime lags behind.
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(29),
      memorySize: props.memorySize ?? 512,
      role,
      logGroup,
      tracing: lambda.Tracing.ACTIVE,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      environment: {
        ...environmentVariables(props.environment),
        // Powertools' logger and metrics: the service name (also the metrics' `service` dimension) and the
        // namespace the dashboard and alarms read.
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        LOG_LEVEL: props.logLevel ?? 'INFO',
      },
      bundling: cdkBundling(),
    });

    // Tracing puts xray:PutTraceSegments and xray:PutTelemetryRecords on this role's policy; neither
    // takes a resource ARN. Only that "*" is accepted: the IAM statements test allows "*" for no other action.
    acknowledge(
      this.rolePolicy,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so they are granted on "*"; every other statement of this role names its resources.',
    );

    // currentVersion publishes a version (under a new logical id) whenever the code or configuration
    // changes. CloudFormation deletes the old one only in its cleanup, after the alias has moved, so a
    // rollout in progress or a rollback still has it; versions do not pile up.
    this.live = new lambda.Alias(this, 'Live', {
      aliasName: LIVE_ALIAS,
      version: this.currentVersion,
      description: 'What every caller invokes: the HTTP API, the state machine and event source mappings',
    });
  }

  /** The policy of the function's role that grants land in; acknowledge a finding of a grant here, not on the role or function. */
  get rolePolicy(): IConstruct {
    const policy = this.role?.node.tryFindChild('DefaultPolicy');
    if (policy === undefined) throw new Error(`${this.node.path} has no role policy yet.`);
    return policy;
  }

  /**
   * Only the unqualified function: callers invoke the `live` alias, whose own grants name the alias
   * ARN, so a grant on the function itself never needs `<arn>:*` (every version and alias).
   */
  override get resourceArnsForGrantInvoke(): string[] {
    return [this.functionArn];
  }
}
