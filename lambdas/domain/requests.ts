import * as z from 'zod';
import { isCalendarDate } from './dates.ts';
import { ValidationError } from './errors.ts';

const identifier = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'may hold only letters, digits and . _ : -');

const calendarDate = z.string().refine(isCalendarDate, 'must be a calendar date written YYYY-MM-DD');
const dateOrImmediate = z.union([z.literal('immediate'), calendarDate], {
  error: 'must be a date written YYYY-MM-DD or "immediate"',
});

/** Printable text on one line: names and ids end up in email subjects and records. */
const singleLine = (max: number) =>
  z
    .string()
    .trim()
    .max(max, `must be at most ${max} characters`)
    // eslint-disable-next-line no-control-regex
    .refine((s) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s), 'must be a single line of text');

const signedBy = singleLine(120).pipe(z.string().min(2, 'must be the full name of the person signing'));
const reason = z.string().trim().min(3, 'must say why, in a few words').max(1000, 'must be at most 1000 characters');
const ticketId = singleLine(64).pipe(z.string().min(1, 'must not be empty'));

export const createTransferBody = z.strictObject({
  customerIds: z
    .array(identifier)
    .min(1, 'must name at least one customer')
    .max(50, 'may name at most 50 customers')
    .refine((ids) => new Set(ids).size === ids.length, 'must not name a customer twice'),
  toPartnerId: identifier,
  requestedDate: dateOrImmediate.optional(),
  ticketId: ticketId.optional(),
  note: z.string().trim().max(1000, 'must be at most 1000 characters').optional(),
  release: z.strictObject({ transferDate: dateOrImmediate, signedBy }).optional(),
  /** Operators only: transfer customers still in their post-transfer lock, saying why. */
  lockOverride: z.strictObject({ reason }).optional(),
});
export type CreateTransferBody = z.infer<typeof createTransferBody>;

export const releaseDecisionBody = z.discriminatedUnion(
  'decision',
  [
    z.strictObject({ decision: z.literal('release'), transferDate: dateOrImmediate, signedBy, ticketId: ticketId.optional() }),
    z.strictObject({ decision: z.literal('decline'), reason, signedBy, ticketId: ticketId.optional() }),
  ],
  { error: 'decision must be "release" or "decline"' },
);
export type ReleaseDecisionBody = z.infer<typeof releaseDecisionBody>;

export const acceptanceDecisionBody = z.discriminatedUnion(
  'decision',
  [
    z.strictObject({ decision: z.literal('accept'), signedBy, ticketId: ticketId.optional() }),
    z.strictObject({ decision: z.literal('decline'), reason, signedBy, ticketId: ticketId.optional() }),
  ],
  { error: 'decision must be "accept" or "decline"' },
);
export type AcceptanceDecisionBody = z.infer<typeof acceptanceDecisionBody>;

const checked = z.enum(['on', 'true', 'yes', '1']);

/** The approval page's form, as posted (application/x-www-form-urlencoded). */
export const approvalForm = z.strictObject({
  decision: z.enum(['release', 'accept', 'decline'], { error: 'choose whether to agree or decline' }),
  transferDate: z.union([z.literal(''), calendarDate]).optional(),
  immediate: checked.optional(),
  signedBy,
  acknowledge: checked.optional(),
  reason: z.string().trim().max(1000, 'must be at most 1000 characters').optional(),
});
export type ApprovalForm = z.infer<typeof approvalForm>;

export const cancelBody = z.strictObject({ reason, ticketId: ticketId.optional() });
export type CancelBody = z.infer<typeof cancelBody>;

export const remindBody = z.strictObject({ ticketId });
export const extendBody = z.strictObject({
  ticketId,
  days: z.number({ error: 'must be a whole number of days' }).int('must be a whole number of days').min(1, 'must be at least 1').max(30, 'may be at most 30'),
});

export const listTransfersQuery = z.strictObject({
  status: z
    .enum(['AWAITING_RELEASE', 'AWAITING_ACCEPTANCE', 'SCHEDULED', 'IN_PROGRESS', 'COMPLETED', 'DECLINED', 'EXPIRED', 'CANCELLED', 'FAILED'])
    .optional(),
  limit: z.coerce.number().int('must be a whole number').min(1).max(100).optional(),
  nextToken: z.string().min(1).max(2048).optional(),
});

/** Parses input with a schema, turning every issue into one readable 400. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  // A missing field says so, rather than "expected string, received undefined".
  const result = schema.safeParse(value, { error: (issue) => (issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : undefined) });
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    field: issue.path.join('.') || what,
    message: issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}` : issue.message,
  }));
  const summary = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
  throw new ValidationError(`The ${what} is not valid. ${summary}.`, { issues });
}
