import * as z from '../lambdas/domain/zod.ts';

/**
 * Stages: `-c stage=NAME` deploys the stack `CustomerTransfer-NAME` with the settings of
 * `stages.NAME` in cdk.json, each overridden by a `-c key=value` of the same name. Without a stage
 * (or with `local`) the stack is `CustomerTransfer` with the offline defaults.
 */

/** The keys a stage must set (in cdk.json or with -c), each to a real value. */
export const STAGE_REQUIRED_KEYS = ['senderEmail', 'jwtIssuer', 'jwtAudience', 'devopsEmail', 'alarmEmail'] as const;

/** The stage that means "no stage": the local defaults. */
export const LOCAL_STAGE = 'local';

/** The stack's construct id (and so its CloudFormation name) for a stage. */
export function stackIdFor(stage: string | undefined): string {
  return stage === undefined || stage === LOCAL_STAGE ? 'CustomerTransfer' : `CustomerTransfer-${stage}`;
}

const STAGE_NAME = /^[a-z][a-z0-9-]{0,19}$/;

const wholeNumber = (least: number) => z.int().check(z.minimum(least));

/** The retention periods CloudWatch Logs offers, in days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;
/** How long the stack's log groups keep their logs without a setting. */
export const DEFAULT_LOG_RETENTION_DAYS = 30;
const text = z.string().check(z.trim(), z.minLength(1));

/**
 * What `stages.NAME` in cdk.json may hold: the settings of `TransferSettings` and the stage's own
 * (the alarm address, how long logs are kept). Unknown keys are refused, so a misspelt key is not ignored.
 */
export const stageSchema = z.strictObject({
  senderEmail: z.optional(z.email()),
  jwtIssuer: z.optional(z.url({ protocol: /^https$/ })),
  jwtAudience: z.optional(text),
  jwtPartnerClaim: z.optional(text),
  jwtRolesClaim: z.optional(text),
  devopsEmail: z.optional(z.email()),
  alarmEmail: z.optional(z.email()),
  publicBaseUrl: z.optional(z.url({ protocol: /^https?$/ })),
  transferTimezone: z.optional(text),
  approvalWindowSeconds: z.optional(wholeNumber(1)),
  reminderIntervalSeconds: z.optional(wholeNumber(1)),
  lockDays: z.optional(wholeNumber(0)),
  retentionDays: z.optional(wholeNumber(1)),
  runbookUrl: z.optional(z.url({ protocol: /^https?$/ })),
  portalOrigins: z.optional(z.union([z.array(text), text])),
  webhookRetrySchedule: z.optional(z.union([z.array(wholeNumber(1)), text])),
  senderDomain: z.optional(text),
  logRetentionDays: z.optional(
    z.number().check(z.refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), { message: `must be one of ${LOG_RETENTION_DAYS.join(', ')}` })),
  ),
});

export type StageSettings = z.infer<typeof stageSchema>;

/** Whether a value is (or names) an address of the example domains, which reach nobody. */
export function isExampleValue(value: string): boolean {
  const host = value.includes('@') ? value.slice(value.lastIndexOf('@') + 1) : URL.canParse(value) ? new URL(value).hostname : value;
  return /(^|\.)example\.(com|org)\.?$/i.test(host.trim());
}

/** A stage's name and its settings as cdk.json gives them, or the problems that stop its synth. */
export type StageChoice =
  | { stage: undefined; settings: Record<string, unknown> }
  | { stage: string; settings: Record<string, unknown> }
  | { problem: string };

/**
 * Reads `stage` and `stages.NAME` from the context: `context(key)` answers a `-c` flag or a cdk.json
 * value. A stage other than `local` must set each of {@link STAGE_REQUIRED_KEYS}, to no example
 * address; every problem is named on one line.
 */
export function chooseStage(context: (key: string) => unknown): StageChoice {
  const stage = context('stage');
  if (stage === undefined || stage === LOCAL_STAGE) return { stage: undefined, settings: {} };
  if (typeof stage !== 'string' || !STAGE_NAME.test(stage)) {
    return { problem: `Context stage must be a lower-case name of at most 20 letters, digits or dashes, starting with a letter, got ${JSON.stringify(stage)}.` };
  }
  const stages = context('stages');
  const declared = typeof stages === 'object' && stages !== null && !Array.isArray(stages) ? (stages as Record<string, unknown>)[stage] : undefined;
  const problems: string[] = [];
  let settings: Record<string, unknown> = {};
  if (declared !== undefined) {
    const parsed = stageSchema.safeParse(declared);
    if (parsed.success) settings = parsed.data;
    else {
      problems.push(...parsed.error.issues.map((issue) => describeIssue(stage, issue)));
      // Still read for the required keys, so each problem is named once.
      if (typeof declared === 'object' && declared !== null) settings = declared as Record<string, unknown>;
    }
  }
  const missing = STAGE_REQUIRED_KEYS.flatMap((key) => {
    const value = context(key) ?? settings[key];
    if (value === undefined || (typeof value === 'string' && value.trim() === '')) return [`${key} (missing)`];
    if (typeof value === 'string' && isExampleValue(value)) return [`${key} (an example address: ${value})`];
    return [];
  });
  if (missing.length > 0) problems.unshift(`set ${missing.join(', ')}`);
  if (problems.length === 0) return { stage, settings };
  const where = declared === undefined ? `cdk.json has no stages.${stage}; add it or give -c key=value` : `in cdk.json stages.${stage} or with -c key=value`;
  return { problem: `Stage ${stage} cannot be synthesized: ${problems.join('; ')} (${where}).` };
}

function describeIssue(stage: string, issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `stages.${stage} has unknown ${issue.keys.length > 1 ? 'keys' : 'key'} ${issue.keys.join(', ')}`;
  return `stages.${stage}.${issue.path.join('.')}: ${issue.message}`;
}
