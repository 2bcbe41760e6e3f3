import { isTimeZone } from './domain/dates.ts';
import { DEFAULT_POLICY } from './domain/policy.ts';
import { DEFAULT_RETENTION_DAYS } from './domain/retention.ts';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, parseRetrySchedule } from './domain/webhook-dispatch.ts';
import * as z from './domain/zod.ts';

// The functions' settings, apart from composition.ts, so that the adapters can name them without
// importing the module that imports them.

const text = (fallback: string) => z._default(z.string(), fallback);
const positiveInt = (fallback: number) => z._default(z.coerce.number().check(z.int(), z.positive()), fallback);

/** Every setting the functions read, from the environment, checked once at start. */
const configSchema = z.object({
  TABLE_NAME: z.string().check(z.minLength(3)),
  STATE_MACHINE_ARN: text(''),
  SENDER_EMAIL: text('transfers@example.com'),
  /** The SES configuration set every email is sent through (suppression, reputation, bounce events); none when empty. */
  SES_CONFIGURATION_SET: text(''),
  DEVOPS_EMAIL: text('devops@example.com'),
  PUBLIC_BASE_URL: text('http://127.0.0.1:3000'),
  TRANSFER_TIMEZONE: z._default(z.string().check(z.refine(isTimeZone, 'must be an IANA time zone')), DEFAULT_POLICY.timeZone),
  TRANSFER_APPROVAL_WINDOW_SECONDS: positiveInt(DEFAULT_POLICY.approvalWindowSeconds),
  TRANSFER_REMINDER_INTERVAL_SECONDS: positiveInt(DEFAULT_POLICY.reminderIntervalSeconds),
  TRANSFER_LOCK_DAYS: z._default(z.coerce.number().check(z.int(), z.gte(0)), DEFAULT_POLICY.lockDays),
  /** Days a closed transfer is kept (with its history and records) before the table's TTL removes it. */
  TRANSFER_RETENTION_DAYS: positiveInt(DEFAULT_RETENTION_DAYS),
  JWT_PARTNER_CLAIM: text('partner_id'),
  JWT_ROLES_CLAIM: text('roles'),
  ALERT_TOPIC_ARN: text(''),
  /** The EventBridge bus the relay publishes transfer events to. */
  EVENT_BUS_NAME: text(''),
  /** The queue that wakes the webhook dispatcher. */
  WEBHOOK_QUEUE_URL: text(''),
  /** Seconds before each retry of a webhook delivery, comma-separated. */
  WEBHOOK_RETRY_SCHEDULE_SECONDS: z._default(
    z.string().check(z.refine((value) => parseRetrySchedule(value) !== undefined, 'must be whole seconds (at least 1) separated by commas')),
    DEFAULT_RETRY_SCHEDULE_SECONDS.join(','),
  ),
  /** `true` (the local stack) also lets webhooks reach http and loopback targets; never on AWS. */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: z._default(z.enum(['true', 'false']), 'false'),
  /** The approval-link key itself (local runs), or the Secrets Manager secret holding it (AWS). */
  APPROVAL_LINK_KEY: z.optional(z.string().check(z.minLength(32))),
  APPROVAL_LINK_KEY_SECRET_ARN: z.optional(z.string()),
});
export type Config = z.infer<typeof configSchema>;

export function readConfig(env: NodeJS.ProcessEnv): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    throw new Error(`Invalid configuration: ${result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  }
  return result.data;
}
