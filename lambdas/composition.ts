import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDirectory } from './adapters/dynamo-directory.ts';
import { DynamoOutbox } from './adapters/dynamo-outbox.ts';
import { DynamoRetention } from './adapters/dynamo-retention.ts';
import { DynamoTransferStore } from './adapters/dynamo-transfer-store.ts';
import { DynamoWebhookStore } from './adapters/dynamo-webhooks.ts';
import type { IdempotencyPort } from './adapters/idempotency.ts';
import { PowertoolsMetrics } from './adapters/powertools-metrics.ts';
import { readConfig, type Config } from './config.ts';
import { ApprovalLinks } from './domain/approval-links.ts';
import { EventRelay, type EventPublisherPort } from './domain/event-relay.ts';
import type { TransferEvent } from './domain/events.ts';
import { retireClosed } from './domain/retention.ts';
import type { ClaimNames } from './domain/caller.ts';
import { MailFeedbackRecorder } from './domain/mail-feedback.ts';
import { DEFAULT_POLICY, type Policy } from './domain/policy.ts';
import type { AlertPort, LinkKeyPort, MailerPort, WorkflowPort } from './domain/ports.ts';
import { metrics as functionMetrics } from './handlers/metrics.ts';
import { TransferService } from './domain/transfer-service.ts';
import { OperatorActions } from './domain/operator-actions.ts';
import { WorkflowSteps } from './domain/workflow-steps.ts';
import { parseRetrySchedule, WebhookDispatcher } from './domain/webhook-dispatch.ts';
import { WebhookFanOut, WebhookService, type DeliveryQueuePort, type WebhookTargetsPort, type WebhookTransportPort } from './domain/webhooks.ts';

export { readConfig, type Config } from './config.ts';
export type { IdempotencyPort } from './adapters/idempotency.ts';

/**
 * The adapters a function is wired with besides DynamoDB, each made from the configuration. A
 * handler passes those of the AWS services its role may call (lib/constructs/api.ts and
 * workflow.ts grant them), and only those are in its bundle: esbuild leaves out every adapter, and
 * its SDK client, that no import reaches. A port left out answers every call with an error that
 * says so. `test/infra/bundle.test.ts` checks each bundle against its function's grants.
 */
export interface Adapters {
  /** Step Functions: start, stop and answer executions. */
  workflow?: (config: Config) => WorkflowPort;
  /** SES: every notice, rendered as an email with its times in TRANSFER_TIMEZONE. */
  mailer?: (config: Config) => MailerPort;
  /** SNS: operator alerts. */
  alerts?: (config: Config) => AlertPort;
  /** The approval-link key (Secrets Manager, or the local key). */
  linkKey?: (config: Config) => LinkKeyPort;
  /** Powertools idempotency records for the Idempotency-Key header. */
  idempotency?: (config: Config) => IdempotencyPort;
  /** SQS: wakes the webhook dispatcher. */
  deliveryQueue?: (config: Config) => DeliveryQueuePort;
  /** Whether a webhook URL may be registered (DNS). */
  webhookTargets?: (config: Config) => WebhookTargetsPort;
}

/** A port this function was not wired with: a call is a programming error, named as such. */
function notWired(port: keyof Adapters): () => Promise<never> {
  return () => Promise.reject(new Error(`This function is not wired with the ${port} adapter; its handler names the adapters it uses.`));
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
  idempotency: IdempotencyPort;
  webhooks: WebhookService;
}

/** Sockets the DynamoDB client may hold open at once (the SDK's default is 50). */
const DYNAMODB_SOCKETS = 128;

/** Wires the adapters; the only place that assembles them. SDK endpoints come from AWS_ENDPOINT_URL_* when set. */
export function compose(adapters: Adapters, env: NodeJS.ProcessEnv = process.env): Services {
  const config = readConfig(env);
  const policy: Policy = {
    ...DEFAULT_POLICY,
    timeZone: config.TRANSFER_TIMEZONE,
    approvalWindowSeconds: config.TRANSFER_APPROVAL_WINDOW_SECONDS,
    reminderIntervalSeconds: config.TRANSFER_REMINDER_INTERVAL_SECONDS,
    lockDays: config.TRANSFER_LOCK_DAYS,
  };
  // A request for 50 customers reads their domains in one round of 50 queries, beside a partner read:
  // more than the SDK's default pool of 50 sockets, which would queue the rest behind a second round trip.
  const dynamodb = new DynamoDBClient({ requestHandler: { httpAgent: { maxSockets: DYNAMODB_SOCKETS }, httpsAgent: { maxSockets: DYNAMODB_SOCKETS } } });
  const db = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
  const store = new DynamoTransferStore(db, config.TABLE_NAME);
  const directory = new DynamoDirectory(db, config.TABLE_NAME);
  const workflow: WorkflowPort = adapters.workflow?.(config) ?? { start: notWired('workflow'), signal: notWired('workflow'), stop: notWired('workflow') };
  const metrics = new PowertoolsMetrics(functionMetrics);
  const ses: MailerPort = adapters.mailer?.(config) ?? { send: notWired('mailer') };
  const mailer: MailerPort = {
    send: (notice) =>
      ses.send(notice).catch((error: unknown) => {
        metrics.emailFailure();
        throw error;
      }),
  };
  const clock = { now: () => new Date() };
  const linkKey: LinkKeyPort = adapters.linkKey?.(config) ?? { key: notWired('linkKey') };
  const transfers = new TransferService({ store, directory, workflow, mailer, clock, policy, metrics });
  const steps = new WorkflowSteps({
    store,
    directory,
    mailer,
    alerts: adapters.alerts?.(config) ?? { publish: notWired('alerts') },
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
    idempotency: adapters.idempotency?.(config) ?? { answerOnce: notWired('idempotency') },
    webhooks: new WebhookService({
      store: new DynamoWebhookStore(db, config.TABLE_NAME),
      queue: adapters.deliveryQueue?.(config) ?? { wake: notWired('deliveryQueue') },
      targets: adapters.webhookTargets?.(config) ?? { check: notWired('webhookTargets') },
      linkKey,
      clock,
    }),
  };
}

function documentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
}

const composed = new WeakMap<Adapters, Services>();

/**
 * The services of a handler, composed on its first invocation: once per Lambda container, and once
 * per handler where the local stack runs them all in one process.
 */
export function getServices(adapters: Adapters): Services {
  let services = composed.get(adapters);
  if (services === undefined) {
    services = compose(adapters);
    composed.set(adapters, services);
  }
  return services;
}

/**
 * The relay of outbox events (the table's stream function): the outbox, the publisher its handler
 * passes (EventBridge) and the webhook fan-out onto the queue it passes, nothing else, so that no
 * other function's bundle holds a publisher.
 */
export function composeRelay(
  publisher: (config: Config) => EventPublisherPort,
  queue: (config: Config) => DeliveryQueuePort,
  env: NodeJS.ProcessEnv = process.env,
): EventRelay {
  const config = readConfig(env);
  const db = documentClient();
  const clock = { now: () => new Date() };
  const fanOut = new WebhookFanOut({ store: new DynamoWebhookStore(db, config.TABLE_NAME), queue: queue(config), clock });
  return new EventRelay(new DynamoOutbox(db, config.TABLE_NAME), publisher(config), clock, fanOut);
}

/** The retention of closed transfers, run by the relay on the events that close them: answers how many items it stamped. */
export function composeRetention(env: NodeJS.ProcessEnv = process.env): (events: readonly TransferEvent[]) => Promise<number> {
  const config = readConfig(env);
  const retention = new DynamoRetention(documentClient(), config.TABLE_NAME);
  return (events) => retireClosed(events, config.TRANSFER_RETENTION_DAYS, retention);
}

/** The recorder of SES bounces and complaints (the mail feedback queue's function), with the alerts its handler passes. */
export function composeMailFeedback(alerts: (config: Config) => AlertPort, env: NodeJS.ProcessEnv = process.env): MailFeedbackRecorder {
  const config = readConfig(env);
  const db = documentClient();
  return new MailFeedbackRecorder({ store: new DynamoTransferStore(db, config.TABLE_NAME), directory: new DynamoDirectory(db, config.TABLE_NAME), alerts: alerts(config) });
}

/** The webhook dispatcher (the deliveries queue's function), with the adapters its handler passes. */
export function composeDispatcher(
  adapters: {
    queue: (config: Config) => DeliveryQueuePort;
    transport: (config: Config) => WebhookTransportPort;
    linkKey: (config: Config) => LinkKeyPort;
  },
  env: NodeJS.ProcessEnv = process.env,
): WebhookDispatcher {
  const config = readConfig(env);
  const store = new DynamoWebhookStore(documentClient(), config.TABLE_NAME);
  return new WebhookDispatcher({
    store,
    slots: store,
    queue: adapters.queue(config),
    transport: adapters.transport(config),
    linkKey: adapters.linkKey(config),
    clock: { now: () => new Date() },
    // readConfig has checked it.
    retrySchedule: parseRetrySchedule(config.WEBHOOK_RETRY_SCHEDULE_SECONDS) ?? [],
  });
}
