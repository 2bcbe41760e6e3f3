import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { DynamoDirectory } from './adapters/dynamo-directory.ts';
import { DynamoTransferStore } from './adapters/dynamo-transfer-store.ts';
import { IdempotentRequests } from './adapters/idempotency.ts';
import { SecretsManagerLinkKey, StaticLinkKey } from './adapters/link-key.ts';
import { PowertoolsMetrics } from './adapters/powertools-metrics.ts';
import { SesMailer } from './adapters/ses-mailer.ts';
import { SnsAlerts } from './adapters/sns-alerts.ts';
import { StepFunctionsWorkflow } from './adapters/sfn-workflow.ts';
import { ApprovalLinks } from './domain/approval-links.ts';
import type { ClaimNames } from './domain/caller.ts';
import { isTimeZone } from './domain/dates.ts';
import { DEFAULT_POLICY, type Policy } from './domain/policy.ts';
import type { MailerPort } from './domain/ports.ts';
import { metrics as functionMetrics } from './handlers/metrics.ts';
import { TransferService } from './domain/transfer-service.ts';
import { OperatorActions } from './domain/operator-actions.ts';
import { WorkflowSteps } from './domain/workflow-steps.ts';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Every setting the functions read, from the environment, checked once at start. */
const configSchema = z.object({
  TABLE_NAME: z.string().min(3),
  STATE_MACHINE_ARN: z.string().default(''),
  SENDER_EMAIL: z.string().default('transfers@example.com'),
  DEVOPS_EMAIL: z.string().default('devops@example.com'),
  PUBLIC_BASE_URL: z.string().default('http://127.0.0.1:3000'),
  TRANSFER_TIMEZONE: z.string().refine(isTimeZone, 'must be an IANA time zone').default(DEFAULT_POLICY.timeZone),
  TRANSFER_APPROVAL_WINDOW_SECONDS: positiveInt(DEFAULT_POLICY.approvalWindowSeconds),
  TRANSFER_REMINDER_INTERVAL_SECONDS: positiveInt(DEFAULT_POLICY.reminderIntervalSeconds),
  TRANSFER_LOCK_DAYS: z.coerce.number().int().min(0).default(DEFAULT_POLICY.lockDays),
  JWT_PARTNER_CLAIM: z.string().default('partner_id'),
  JWT_ROLES_CLAIM: z.string().default('roles'),
  ALERT_TOPIC_ARN: z.string().default(''),
  /** The approval-link key itself (local runs), or the Secrets Manager secret holding it (AWS). */
  APPROVAL_LINK_KEY: z.string().min(32).optional(),
  APPROVAL_LINK_KEY_SECRET_ARN: z.string().optional(),
});
export type Config = z.infer<typeof configSchema>;

export function readConfig(env: NodeJS.ProcessEnv): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    throw new Error(`Invalid configuration: ${result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  }
  return result.data;
}

export interface Services {
  config: Config;
  claims: ClaimNames;
  transfers: TransferService;
  links: ApprovalLinks;
  steps: WorkflowSteps;
  operators: OperatorActions;
  directory: DynamoDirectory;
  /** Idempotency-Key records (Powertools), in the same table. */
  idempotency: IdempotentRequests;
}

/** Wires the adapters; the only place that chooses them. SDK endpoints come from AWS_ENDPOINT_URL_* when set. */
export function compose(env: NodeJS.ProcessEnv = process.env): Services {
  const config = readConfig(env);
  const policy: Policy = {
    ...DEFAULT_POLICY,
    timeZone: config.TRANSFER_TIMEZONE,
    approvalWindowSeconds: config.TRANSFER_APPROVAL_WINDOW_SECONDS,
    reminderIntervalSeconds: config.TRANSFER_REMINDER_INTERVAL_SECONDS,
    lockDays: config.TRANSFER_LOCK_DAYS,
  };
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  const store = new DynamoTransferStore(db, config.TABLE_NAME);
  const directory = new DynamoDirectory(db, config.TABLE_NAME);
  const workflow = new StepFunctionsWorkflow(new SFNClient({}), config.STATE_MACHINE_ARN);
  const metrics = new PowertoolsMetrics(functionMetrics);
  const ses = new SesMailer(new SESv2Client({}), config.SENDER_EMAIL);
  const mailer: MailerPort = {
    send: (message) =>
      ses.send(message).catch((error: unknown) => {
        metrics.emailFailure();
        throw error;
      }),
  };
  const clock = { now: () => new Date() };
  const transfers = new TransferService({ store, directory, workflow, mailer, clock, policy, metrics });
  const linkKey = config.APPROVAL_LINK_KEY
    ? new StaticLinkKey(config.APPROVAL_LINK_KEY)
    : config.APPROVAL_LINK_KEY_SECRET_ARN
      ? new SecretsManagerLinkKey(new SecretsManagerClient({}), config.APPROVAL_LINK_KEY_SECRET_ARN)
      : { key: () => Promise.reject(new Error('Set APPROVAL_LINK_KEY or APPROVAL_LINK_KEY_SECRET_ARN to send approval links.')) };
  const steps = new WorkflowSteps({
    store,
    directory,
    mailer,
    alerts: new SnsAlerts(new SNSClient({}), config.ALERT_TOPIC_ARN),
    linkKey,
    transfers,
    clock,
    policy,
    metrics,
    publicBaseUrl: config.PUBLIC_BASE_URL,
    devopsEmail: config.DEVOPS_EMAIL,
  });
  return {
    config,
    claims: { partnerClaim: config.JWT_PARTNER_CLAIM, rolesClaim: config.JWT_ROLES_CLAIM },
    transfers,
    links: new ApprovalLinks(store, transfers, clock, policy.maxDaysAhead),
    steps,
    operators: new OperatorActions({ store, steps, transfers, clock }),
    directory,
    idempotency: new IdempotentRequests(new DynamoDBClient({}), config.TABLE_NAME),
  };
}

let services: Services | undefined;

/** The services of this process, composed on first use (once per Lambda container). */
export function getServices(): Services {
  services ??= compose();
  return services;
}
