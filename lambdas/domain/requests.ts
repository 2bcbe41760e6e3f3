import * as z from './zod.ts';
import { isCalendarDate } from './dates.ts';
import { DECLINE_REASON_CODES } from './decline-reasons.ts';
import { ValidationError } from './errors.ts';
import { EVENT_TYPES } from './events.ts';

/**
 * A schema made on its first use and kept. A function's cold start makes none of them, and a
 * function makes only those it parses with: making every schema at start took several ms.
 */
export type Schema<T extends z.ZodMiniType> = () => T;

function once<T extends z.ZodMiniType>(make: () => T): Schema<T> {
  let made: T | undefined;
  return () => (made ??= make());
}

const identifier = once(() =>
  z
    .string()
    .check(
      z.minLength(1, 'must not be empty'),
      z.maxLength(64, 'must be at most 64 characters'),
      z.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'may hold only letters, digits and . _ : -'),
    ),
);

const calendarDate = once(() => z.string().check(z.refine(isCalendarDate, 'must be a calendar date written YYYY-MM-DD')));
const dateOrImmediate = once(() =>
  z.union([z.literal('immediate'), calendarDate()], {
    error: 'must be a date written YYYY-MM-DD or "immediate"',
  }),
);

/** Printable text on one line: names and ids end up in email subjects and records. */
const singleLine = (max: number) =>
  z.string().check(
    z.trim(),
    z.maxLength(max, `must be at most ${max} characters`),
    // eslint-disable-next-line no-control-regex
    z.refine((s) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s), 'must be a single line of text'),
  );

const signedBy = once(() => z.pipe(singleLine(120), z.string().check(z.minLength(2, 'must be the full name of the person signing'))));
const reason = once(() =>
  z.string().check(z.trim(), z.minLength(3, 'must say why, in a few words'), z.maxLength(1000, 'must be at most 1000 characters')),
);
/** A decline's ground; its `reason` text is required with OTHER (and when no code is given, which means OTHER). */
const reasonCode = once(() => z.enum(DECLINE_REASON_CODES, { error: `must be one of ${DECLINE_REASON_CODES.join(', ')}` }));
const ticketId = once(() => z.pipe(singleLine(64), z.string().check(z.minLength(1, 'must not be empty'))));
const note = once(() => z.string().check(z.trim(), z.maxLength(1000, 'must be at most 1000 characters')));

/** POST /transfers, and POST /transfers/check with the same body. */
export const createTransferBody = once(() =>
  z.strictObject({
    customerIds: z
      .array(identifier())
      .check(
        z.minLength(1, 'must name at least one customer'),
        z.maxLength(50, 'may name at most 50 customers'),
        z.refine((ids) => new Set(ids).size === ids.length, 'must not name a customer twice'),
      ),
    toPartnerId: identifier(),
    requestedDate: z.optional(dateOrImmediate()),
    ticketId: z.optional(ticketId()),
    note: z.optional(note()),
    release: z.optional(z.strictObject({ transferDate: dateOrImmediate(), signedBy: signedBy() })),
    /** Operators only: transfer customers still in their post-transfer lock, saying why. */
    lockOverride: z.optional(z.strictObject({ reason: reason() })),
  }),
);
export type CreateTransferBody = z.infer<ReturnType<typeof createTransferBody>>;

const declineDecision = once(() =>
  z.strictObject({
    decision: z.literal('decline'),
    reasonCode: z.optional(reasonCode()),
    reason: z.optional(reason()),
    signedBy: signedBy(),
    ticketId: z.optional(ticketId()),
  }),
);

export const releaseDecisionBody = once(() =>
  z.discriminatedUnion(
    'decision',
    [
      z.strictObject({ decision: z.literal('release'), transferDate: dateOrImmediate(), signedBy: signedBy(), ticketId: z.optional(ticketId()) }),
      declineDecision(),
    ],
    { error: 'decision must be "release" or "decline"' },
  ),
);
export type ReleaseDecisionBody = z.infer<ReturnType<typeof releaseDecisionBody>>;

export const acceptanceDecisionBody = once(() =>
  z.discriminatedUnion(
    'decision',
    [
      z.strictObject({ decision: z.literal('accept'), signedBy: signedBy(), ticketId: z.optional(ticketId()) }),
      declineDecision(),
    ],
    { error: 'decision must be "accept" or "decline"' },
  ),
);
export type AcceptanceDecisionBody = z.infer<ReturnType<typeof acceptanceDecisionBody>>;

const checked = once(() => z.enum(['on', 'true', 'yes', '1']));

/** The approval page's form, as posted (application/x-www-form-urlencoded). */
export const approvalForm = once(() =>
  z.strictObject({
    decision: z.enum(['release', 'accept', 'decline'], { error: 'choose whether to agree or decline' }),
    transferDate: z.optional(z.union([z.literal(''), calendarDate()])),
    immediate: z.optional(checked()),
    signedBy: signedBy(),
    acknowledge: z.optional(checked()),
    reasonCode: z.optional(z.union([z.literal(''), reasonCode()])),
    reason: z.optional(note()),
  }),
);
export type ApprovalForm = z.infer<ReturnType<typeof approvalForm>>;

export const cancelBody = once(() => z.strictObject({ reason: reason(), ticketId: z.optional(ticketId()) }));
export type CancelBody = z.infer<ReturnType<typeof cancelBody>>;

export const remindBody = once(() => z.strictObject({ ticketId: ticketId() }));
export const extendBody = once(() =>
  z.strictObject({
    ticketId: ticketId(),
    days: z
      .number({ error: 'must be a whole number of days' })
      .check(z.int('must be a whole number of days'), z.gte(1, 'must be at least 1'), z.lte(30, 'may be at most 30')),
  }),
);

export const listTransfersQuery = once(() =>
  z.strictObject({
    status: z.optional(
      z.enum(['AWAITING_RELEASE', 'AWAITING_ACCEPTANCE', 'SCHEDULED', 'IN_PROGRESS', 'COMPLETED', 'DECLINED', 'EXPIRED', 'CANCELLED', 'FAILED']),
    ),
    limit: z.optional(z.coerce.number().check(z.int('must be a whole number'), z.gte(1), z.lte(100))),
    nextToken: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
  }),
);

/** POST /webhooks: the endpoint and the event types it receives (all when left out). */
export const createWebhookBody = once(() =>
  z.strictObject({
    url: z.string().check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(2048, 'must be at most 2048 characters')),
    events: z.optional(
      z
        .array(z.enum(EVENT_TYPES, { error: `must be one of ${EVENT_TYPES.join(', ')}` }))
        .check(
          z.minLength(1, 'must name at least one event type (leave it out for all)'),
          z.refine((types) => new Set(types).size === types.length, 'must not name an event type twice'),
        ),
    ),
    /** Operators: the partner the webhook is for; left out, the provider's own (every transfer). */
    partnerId: z.optional(identifier()),
    ticketId: z.optional(ticketId()),
  }),
);
export type CreateWebhookBody = z.infer<ReturnType<typeof createWebhookBody>>;

/** GET /webhooks: an operator names the partner whose webhooks to list (none: the provider's). */
export const webhookListQuery = once(() => z.strictObject({ partnerId: z.optional(identifier()) }));
/** DELETE /webhooks/{id} and POST /webhooks/{id}/test: an operator cites a ticket. */
export const webhookActionQuery = once(() => z.strictObject({ ticketId: z.optional(ticketId()) }));

/** How much of a customer one page of GET /customers/{id} holds, so that no answer can pass Lambda's 6 MB. */
export const CUSTOMER_PAGE = {
  /** Users per page unless `?limit=` says otherwise (1 to maxUsers). */
  defaultUsers: 100,
  maxUsers: 100,
  /** Domains per page (each name at most 253 characters). */
  domains: 1000,
} as const;

/** GET /customers/{id}: `limit` users per page, `nextToken` from the page before. */
export const customerQuery = once(() =>
  z.strictObject({
    limit: z.optional(z.coerce.number().check(z.int('must be a whole number'), z.gte(1), z.lte(CUSTOMER_PAGE.maxUsers))),
    nextToken: z.optional(z.string().check(z.minLength(1), z.maxLength(4096))),
  }),
);

/** Parses input with a schema, turning every issue into one readable 400. */
export function parseInput<T extends z.ZodMiniType>(schema: Schema<T>, value: unknown, what: string): z.infer<T> {
  // A missing field says so, rather than "expected string, received undefined".
  const result = schema().safeParse(value, { error: (issue) => (issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : undefined) });
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    field: issue.path.join('.') || what,
    message: issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}` : issue.message,
  }));
  const summary = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
  throw new ValidationError(`The ${what} is not valid. ${summary}.`, { issues });
}
