import * as z from '../domain/zod.ts';
import { DECLINE_REASON_CODES } from '../domain/decline-reasons.ts';
import { EVENT_TYPES, WEBHOOK_TEST_EVENT } from '../domain/events.ts';
import { TRANSFER_STATUSES } from '../domain/transfer.ts';

/**
 * What the HTTP API answers, as zod schemas mirroring the types the handlers return (domain/transfer.ts,
 * ports.ts, directory.ts, billing.ts): the OpenAPI document's response schemas are made from them, and
 * the contract tests hold every answer of the local stack to them. Made on first use, like the request
 * schemas, so that a function that imports one for its type makes none at start.
 */
export type Schema<T extends z.ZodMiniType> = () => T;

function once<T extends z.ZodMiniType>(make: () => T): Schema<T> {
  let made: T | undefined;
  return () => (made ??= make());
}

/** "YYYY-MM-DD", a day in the provider's time zone. */
const calendarDate = once(() => z.iso.date().check(z.describe("A day, YYYY-MM-DD, in the provider's time zone.")));
/** An instant, ISO 8601 in UTC (`toISOString()`). */
const instant = once(() => z.iso.datetime().check(z.describe('An instant, ISO 8601 in UTC.')));
const sha256Hex = once(() => z.string().check(z.regex(/^[0-9a-f]{64}$/), z.describe('A SHA-256 hash, hex.')));

export const billingAdvice = once(() =>
  z.strictObject({
    fromPartnerNextInvoiceDate: calendarDate(),
    toPartnerNextInvoiceDate: calendarDate(),
    recommendedDate: calendarDate(),
    /** Whether the chosen date is the current partner's invoice date; null while no date is chosen. */
    aligned: z.nullable(z.boolean()),
    advice: z.string(),
  }).check(z.describe('When to transfer so that the customer is billed once: billing has no proration.')),
);

export const partyRef = once(() => z.strictObject({ id: z.string(), name: z.string() }));

export const actor = once(() =>
  z.strictObject({
    kind: z.enum(['partner', 'operator', 'system']),
    partnerId: z.optional(z.string()),
    name: z.optional(z.string()),
  }),
);

export const customerSummary = once(() =>
  z.strictObject({ id: z.string(), name: z.string(), domainCount: z.number().check(z.int(), z.gte(0)) }),
);

export const transferCustomer = once(() =>
  z.strictObject({
    id: z.string(),
    name: z.string(),
    domainCount: z.number().check(z.int(), z.gte(0)),
    domains: z.array(z.string()),
    domainsTruncated: z.boolean().check(z.describe('True when `domains` holds fewer than `domainCount`; GET /customers/{id} pages through them all.')),
  }),
);

export const historyEvent = once(() =>
  z.strictObject({
    at: instant(),
    type: z.string(),
    actor: actor(),
    detail: z.record(z.string(), z.unknown()).check(z.describe("What happened, by event type (a consent's statement, signer, IP and user agent; a reason; recipients).")),
    // The hash chain; absent on events written before transfers were chained.
    seq: z.optional(z.number().check(z.int(), z.gte(1))),
    prevHash: z.optional(sha256Hex()),
    hash: z.optional(sha256Hex()),
  }),
);

export const declineSummary = once(() =>
  z.strictObject({
    step: z.enum(['release', 'acceptance']),
    reasonCode: z.enum(DECLINE_REASON_CODES),
    reason: z.nullable(z.string()),
    signedBy: z.string(),
    at: instant(),
  }),
);

export const customerOutcome = once(() =>
  z.strictObject({
    customerId: z.string(),
    outcome: z.enum(['moved', 'already-moved', 'failed']),
    reason: z.optional(z.string()),
  }),
);

/** The fields every transfer answer has, whatever its customers and history look like. */
function transferFields() {
  return {
    id: z.string(),
    status: z.enum(TRANSFER_STATUSES),
    fromPartner: partyRef(),
    toPartner: partyRef(),
    requestedDate: z.nullable(calendarDate()),
    transferDate: z.nullable(calendarDate()),
    immediate: z.boolean(),
    acceptedDate: z.nullable(z.union([calendarDate(), z.literal('immediate')])),
    outcomes: z.optional(z.array(customerOutcome())),
    billing: billingAdvice(),
    ticketId: z.nullable(z.string()),
    note: z.nullable(z.string()),
    decline: z.optional(declineSummary()),
    requestedBy: actor(),
    createdAt: instant(),
    updatedAt: instant(),
  };
}

/** A transfer as listings show it: customers without their domains, no history. */
export const transferSummary = once(() => z.strictObject({ ...transferFields(), customers: z.array(customerSummary()) }));

/** A transfer with its customers' domain snapshots and its history (GET /transfers/{id} and every change). */
export const transfer = once(() =>
  z.strictObject({ ...transferFields(), customers: z.array(transferCustomer()), history: z.array(historyEvent()) }),
);

export const transferPage = once(() =>
  z.strictObject({ items: z.array(transferSummary()), nextToken: z.optional(z.string()) }),
);

export const customerUser = once(() => z.strictObject({ email: z.string(), settings: z.record(z.string(), z.unknown()) }));

/** One page of a customer: the next slice of its domains and users, and a token while either has more. */
export const customerPage = once(() =>
  z.strictObject({
    id: z.string(),
    name: z.string(),
    partnerId: z.string(),
    domains: z.array(z.string()),
    settings: z.record(z.string(), z.unknown()),
    users: z.array(customerUser()),
    nextToken: z.optional(z.string()),
  }),
);

export const ELIGIBILITY_REASON_CODES = ['UNKNOWN_CUSTOMER', 'BUSY', 'LOCKED', 'NOT_TRANSFERABLE_BY_CALLER'] as const;
export const ELIGIBILITY_PROBLEM_CODES = ['UNKNOWN_PARTNER', 'SAME_PARTNER', 'MIXED_PARTNERS', 'FORBIDDEN'] as const;

/** POST /transfers/check: whether the request would be accepted, customer by customer; nothing is written. */
export const eligibilityAnswer = once(() =>
  z.strictObject({
    eligible: z.boolean(),
    customers: z.array(
      z.strictObject({
        id: z.string(),
        eligible: z.boolean(),
        reasons: z.array(
          z.strictObject({
            code: z.enum(ELIGIBILITY_REASON_CODES),
            message: z.string(),
            /** With LOCKED: the last locked day. */
            until: z.optional(calendarDate()),
          }),
        ),
      }),
    ),
    problems: z.array(z.strictObject({ code: z.enum(ELIGIBILITY_PROBLEM_CODES), message: z.string() })),
    billing: z.optional(billingAdvice()),
  }),
);
export type EligibilityAnswer = z.infer<ReturnType<typeof eligibilityAnswer>>;

const webhookFields = () => ({
  id: z.string().check(z.regex(/^wh_[0-9a-f]{32}$/)),
  partnerId: z.nullable(z.string()).check(z.describe("The partner whose transfers it hears of; null: the provider's own, for every transfer.")),
  url: z.string(),
  events: z.array(z.enum(EVENT_TYPES)),
  createdAt: instant(),
  createdBy: z.strictObject({ kind: z.enum(['partner', 'operator']), name: z.string(), ticketId: z.nullable(z.string()) }),
});

/** A registered webhook (never its secret). */
export const webhook = once(() => z.strictObject(webhookFields()));

/** POST /webhooks: the webhook and its signing secret, shown this once. */
export const newWebhook = once(() =>
  z.strictObject({
    ...webhookFields(),
    secret: z.string().check(z.regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/), z.describe('The Standard Webhooks signing secret. Shown only in this answer: keep it.')),
  }),
);

const webhookAttempt = once(() =>
  z.strictObject({
    at: instant(),
    ok: z.boolean(),
    status: z.nullable(z.number().check(z.int())),
    error: z.nullable(z.string()),
    excerpt: z.string().check(z.describe("The start of the endpoint's answer (at most 256 bytes).")),
    durationMs: z.number().check(z.gte(0)),
  }),
);

/** One event's delivery to one webhook, as `GET /webhooks` lists failures. */
export const webhookDelivery = once(() =>
  z.strictObject({
    webhookId: z.string(),
    eventId: z.string().check(z.describe('The `webhook-id` header of every try.')),
    transferId: z.nullable(z.string()),
    partnerId: z.nullable(z.string()),
    url: z.string(),
    eventType: z.enum([...EVENT_TYPES, WEBHOOK_TEST_EVENT]),
    order: z.string(),
    status: z.enum(['pending', 'delivered', 'failed', 'dropped']),
    attempts: z.number().check(z.int(), z.gte(0)),
    createdAt: instant(),
    triedAt: z.nullable(instant()),
    nextAttemptAt: z.nullable(instant()),
    lastAttempt: z.nullable(webhookAttempt()),
    settledAt: z.nullable(instant()),
    note: z.optional(z.string()),
  }),
);

export const webhookList = once(() =>
  z.strictObject({
    webhooks: z.array(webhook()),
    failures: z.array(webhookDelivery()).check(z.describe('Deliveries that failed after their last try, newest first (at most 20, kept 30 days).')),
  }),
);

export const webhookTestQueued = once(() => z.strictObject({ eventId: z.string().check(z.describe('The id of the `webhook.test` event, its `webhook-id`.')) }));

/** Every error our functions answer (handlers/http/api.ts); a 5xx never carries details. */
export const errorBody = once(() =>
  z.strictObject({
    error: z.strictObject({ code: z.string(), message: z.string(), details: z.optional(z.unknown()) }),
  }),
);

/** What API Gateway itself answers (authorizer, throttling, payload quota, a function that failed or timed out). */
export const gatewayError = once(() => z.strictObject({ message: z.string() }));

export const health = once(() => z.strictObject({ status: z.literal('ok') }));

/** The OpenAPI document itself, as far as a client relies on it. */
export const openApiObject = once(() =>
  z.looseObject({
    openapi: z.string().check(z.regex(/^3\.1\.\d+$/)),
    info: z.looseObject({ title: z.string(), version: z.string() }),
    paths: z.record(z.string(), z.record(z.string(), z.unknown())),
  }),
);
