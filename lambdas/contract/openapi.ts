import * as z from '../domain/zod.ts';
import { isCalendarDate } from '../domain/dates.ts';
import {
  acceptanceDecisionBody,
  approvalForm,
  cancelBody,
  createTransferBody,
  createWebhookBody,
  customerQuery,
  extendBody,
  listTransfersQuery,
  releaseDecisionBody,
  remindBody,
  webhookActionQuery,
  webhookListQuery,
} from '../domain/requests.ts';
import { HTTP_ROUTES, type HttpRoute } from '../handlers/catalog.ts';
import * as example from './examples.ts';
import * as answers from './responses.ts';

/**
 * The portal's contract: an OpenAPI 3.1 document of every route of the catalog, its request schemas
 * made from the very zod schemas that parse requests (domain/requests.ts) and its answers from
 * contract/responses.ts. A route of the catalog without an operation here fails to build.
 */

export type JsonObject = { [key: string]: unknown };

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: Array<{ url: string; description?: string }>;
  tags: Array<{ name: string; description: string }>;
  paths: Record<string, Record<string, JsonObject>>;
  components: {
    schemas: Record<string, JsonObject>;
    responses: Record<string, JsonObject>;
    securitySchemes: Record<string, JsonObject>;
  };
}

/** The version of the contract, not of the code: raised when an answer or a request changes shape. */
export const CONTRACT_VERSION = '1.0.0';
export const SECURITY_SCHEME = 'portalJwt';
/** The header of POST /transfers that makes a repeat safe (adapters/idempotency.ts, not imported: it bundles DynamoDB). */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

const schemaRef = (id: string): JsonObject => ({ $ref: `#/components/schemas/${id}` });
const responseRef = (id: string): JsonObject => ({ $ref: `#/components/responses/${id}` });

// ---------------------------------------------------------------------------------------------
// Schemas

/** The answers, by component name. */
const RESPONSE_SCHEMAS = {
  BillingAdvice: answers.billingAdvice,
  PartyRef: answers.partyRef,
  Actor: answers.actor,
  CustomerSummary: answers.customerSummary,
  TransferCustomer: answers.transferCustomer,
  HistoryEvent: answers.historyEvent,
  Decline: answers.declineSummary,
  CustomerOutcome: answers.customerOutcome,
  TransferSummary: answers.transferSummary,
  Transfer: answers.transfer,
  TransferPage: answers.transferPage,
  CustomerUser: answers.customerUser,
  CustomerPage: answers.customerPage,
  EligibilityAnswer: answers.eligibilityAnswer,
  Webhook: answers.webhook,
  NewWebhook: answers.newWebhook,
  WebhookDelivery: answers.webhookDelivery,
  WebhookList: answers.webhookList,
  WebhookTestQueued: answers.webhookTestQueued,
  Error: answers.errorBody,
  GatewayError: answers.gatewayError,
  Health: answers.health,
  OpenApiDocument: answers.openApiObject,
} satisfies Record<string, () => z.ZodMiniType>;

/** The request bodies, by component name: the schemas the handlers parse with. */
const REQUEST_SCHEMAS = {
  CreateTransferRequest: createTransferBody,
  ReleaseDecision: releaseDecisionBody,
  AcceptanceDecision: acceptanceDecisionBody,
  CancelRequest: cancelBody,
  RemindRequest: remindBody,
  ExtendRequest: extendBody,
  ApprovalForm: approvalForm,
  CreateWebhookRequest: createWebhookBody,
} satisfies Record<string, () => z.ZodMiniType>;

type SchemaName = keyof typeof RESPONSE_SCHEMAS | keyof typeof REQUEST_SCHEMAS;

interface OverrideContext {
  zodSchema: { _zod: { def: unknown } };
  jsonSchema: JsonObject;
}

type CheckDef = { check?: string; fn?: unknown };
type SchemaDef = { type?: string; checks?: Array<{ _zod: { def: CheckDef } }>; in?: z.ZodMiniType; out?: z.ZodMiniType };

/**
 * What a custom check says that JSON Schema can say too. Other refinements (no control characters,
 * no duplicate ids, a reason with OTHER) are dropped: the document states what it can, the handler
 * still checks everything.
 */
function expressRefinements(def: SchemaDef, json: JsonObject): void {
  if (def.type === 'string' && def.checks?.some((check) => check._zod.def.check === 'custom' && check._zod.def.fn === isCalendarDate)) {
    json.format = 'date';
  }
  // zod spells a date's format out as a regular expression several lines long; the format says it.
  if (json.format === 'date' || json.format === 'date-time') delete json.pattern;
}

/**
 * A pipe (trim, then check the result) shows its input side only; the bounds of its output side hold
 * for the input too (trimming only shortens), so they are added.
 */
function withOutputBounds(def: SchemaDef, json: JsonObject): void {
  if (def.type !== 'pipe' || def.out === undefined || json.type !== 'string') return;
  const out = z.toJSONSchema(def.out, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' }) as JsonObject;
  if (out.type !== 'string') return;
  if (typeof out.minLength === 'number') json.minLength = Math.max(out.minLength, typeof json.minLength === 'number' ? json.minLength : 0);
  if (typeof out.maxLength === 'number') json.maxLength = Math.min(out.maxLength, typeof json.maxLength === 'number' ? json.maxLength : Infinity);
}

/** JSON Schemas (2020-12, as OpenAPI 3.1 takes them) of named zod schemas, sharing named parts by $ref. */
function jsonSchemas(named: Record<string, () => z.ZodMiniType>, io: 'input' | 'output'): Record<string, JsonObject> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema(), { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    // Refinements are dropped, never fatal; anything else zod cannot express becomes {}.
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
    override: (ctx) => {
      const { zodSchema, jsonSchema } = ctx as unknown as OverrideContext;
      const def = zodSchema._zod.def as SchemaDef;
      expressRefinements(def, jsonSchema);
      if (io === 'input') withOutputBounds(def, jsonSchema);
    },
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _dialect, $id: _id, ...rest } = schema as JsonObject;
      return [id, rest];
    }),
  );
}

/** Query parameters from a query schema: one parameter per property. */
function queryParameters(schema: () => z.ZodMiniType, descriptions: Record<string, string>): JsonObject[] {
  const json = z.toJSONSchema(schema(), { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as JsonObject;
  const properties = (json.properties ?? {}) as Record<string, JsonObject>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: required.has(name),
    ...(descriptions[name] ? { description: descriptions[name] } : {}),
    schema: property,
  }));
}

// ---------------------------------------------------------------------------------------------
// Responses

const JSON_TYPE = 'application/json';
const HTML_TYPE = 'text/html';
const FORM_TYPE = 'application/x-www-form-urlencoded';

const STATUS_TEXT: Record<number, string> = {
  400: 'The request is malformed or not valid; nothing was written.',
  403: 'The token is valid, but its holder may not do this.',
  404: 'Not found, or not visible to the caller (ids cannot be probed).',
  409: 'A conflict with the state of the transfer or its customers; nothing was written.',
  422: 'Well-formed, but not allowed; nothing was written.',
  503: 'A dependency was briefly unavailable (or API Gateway gave up on the function); nothing was changed unless the code says so. Send the same request again.',
};

/** The error body narrowed to the codes a route answers with that status. */
function errorSchema(codes: readonly string[]): JsonObject {
  return {
    allOf: [
      schemaRef('Error'),
      { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: [...codes] } } } } },
    ],
  };
}

function errorResponse(status: number, codes: readonly string[], orGateway = false, exampleValue?: unknown): JsonObject {
  const schema = errorSchema(codes);
  return {
    description: `${STATUS_TEXT[status] ?? ''} Codes: ${codes.join(', ')}.`.trim(),
    content: {
      [JSON_TYPE]: {
        schema: orGateway ? { anyOf: [schema, schemaRef('GatewayError')] } : schema,
        ...(exampleValue !== undefined ? { examples: { [codes[0] ?? 'error']: { value: exampleValue } } } : {}),
      },
    },
  };
}

/** Answers every route may get, kept once under components.responses. */
const SHARED_RESPONSES: Record<string, JsonObject> = {
  Unauthorized: {
    description:
      "No bearer token, or one the JWT authorizer refuses (signature, issuer, audience, expiry). API Gateway answers `{\"message\":\"Unauthorized\"}`; the local stack's twin answers the error body with code UNAUTHORIZED.",
    content: {
      [JSON_TYPE]: {
        schema: { anyOf: [schemaRef('GatewayError'), errorSchema(['UNAUTHORIZED'])] },
        examples: { gateway: { value: example.unauthorized } },
      },
    },
  },
  PayloadTooLarge: {
    description: 'The body passes API Gateway\'s 10 MB payload quota; answered by API Gateway.',
    content: { [JSON_TYPE]: { schema: schemaRef('GatewayError'), examples: { gateway: { value: { message: 'Request Entity Too Large' } } } } },
  },
  TooManyRequests: {
    description: 'The stage\'s rate limit was passed; answered by API Gateway. Slow down and send the request again.',
    content: { [JSON_TYPE]: { schema: schemaRef('GatewayError'), examples: { gateway: { value: { message: 'Too Many Requests' } } } } },
  },
  ServiceUnavailable: {
    description: 'API Gateway gave up waiting for the function (or could not run it). Send the request again.',
    content: { [JSON_TYPE]: { schema: schemaRef('GatewayError'), examples: { gateway: { value: { message: 'Service Unavailable' } } } } },
  },
  InternalError: {
    description: 'Something failed on our side; the body never carries details.',
    content: {
      [JSON_TYPE]: {
        schema: { anyOf: [errorSchema(['INTERNAL']), schemaRef('GatewayError')] },
        examples: { internal: { value: { error: { code: 'INTERNAL', message: 'Something went wrong on our side. Please try again later.' } } } },
      },
    },
  },
};

function jsonContent(schema: SchemaName, exampleValue: unknown, exampleName = 'example'): JsonObject {
  return { [JSON_TYPE]: { schema: schemaRef(schema), examples: { [exampleName]: { value: exampleValue } } } };
}

/** An HTML page, or API Gateway's JSON when it answers in the function's place. */
function pageResponse(description: string, exampleHtml?: string, orGateway = false): JsonObject {
  return {
    description,
    content: {
      [HTML_TYPE]: { schema: { type: 'string' }, ...(exampleHtml ? { examples: { page: { value: exampleHtml } } } : {}) },
      ...(orGateway ? { [JSON_TYPE]: { schema: schemaRef('GatewayError') } } : {}),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Operations

interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tag: 'Transfers' | 'Customers' | 'Webhooks' | 'Approval links' | 'Service';
  parameters?: JsonObject[];
  requestBody?: { schema: SchemaName; mediaType?: typeof JSON_TYPE | typeof FORM_TYPE; example: unknown; description?: string };
  /** The success answer(s), by status. */
  success: Record<number, JsonObject>;
  /** Error answers beyond those every route of its kind gets (see {@link operationObject}). */
  errors?: {
    400?: true;
    404?: true;
    409?: readonly string[];
    422?: readonly string[];
    503?: readonly string[];
  };
}

const TRANSFER_ID = { name: 'id', in: 'path', required: true, description: "The transfer's id, e.g. TR-20270210-7K2M9QH4XB3D5FZW.", schema: { type: 'string', minLength: 1 } };
const CUSTOMER_ID = { name: 'id', in: 'path', required: true, description: "The customer's id.", schema: { type: 'string', minLength: 1 } };
const LINK_SECRET = {
  name: 'secret',
  in: 'path',
  required: true,
  description: 'The secret of the approval link, exactly as emailed. It is the credential: never log or share it.',
  schema: { type: 'string', minLength: 1 },
};

const WEBHOOK_ID = { name: 'id', in: 'path', required: true, description: "The webhook's id (`wh_…`).", schema: { type: 'string', minLength: 1 } };

const transferAnswer = (description: string, exampleValue: unknown, status = 200): Record<number, JsonObject> => ({
  [status]: { description, content: jsonContent('Transfer', exampleValue) },
});

const DECISION_CONFLICTS = ['ALREADY_DECIDED', 'NOT_WAITING', 'EXPIRED', 'STEP_CHANGED'] as const;
const DECISION_UNAVAILABLE = ['TRY_AGAIN', 'DECISION_RECORDED'] as const;
const APPROVAL_PAGE_STATUSES = {
  404: 'The link is not recognised (copied incompletely?). Nothing was recorded.',
  409: 'The link was used already, or the transfer has moved on (its page says how it stands).',
  410: 'The link expired, or a newer link replaced it.',
};

/** Every route's operation, by route key; made when the document is. */
function operations(): Record<string, Operation> {
  return {
    'GET /health': {
      operationId: 'getHealth',
      summary: 'Whether the API is up',
      tag: 'Service',
      success: { 200: { description: 'The API is ready.', content: jsonContent('Health', { status: 'ok' }) } },
    },
    'GET /openapi.json': {
      operationId: 'getOpenApiDocument',
      summary: 'This document',
      description: 'The OpenAPI 3.1 contract of the API, generated from the schemas that parse requests. Cacheable for five minutes.',
      tag: 'Service',
      success: {
        200: {
          description: 'The OpenAPI document.',
          headers: { 'Cache-Control': { description: '`public, max-age=300`', schema: { type: 'string' } } },
          content: jsonContent('OpenApiDocument', { openapi: '3.1.0', info: { title: 'Customer Transfer API', version: CONTRACT_VERSION }, paths: {} }),
        },
      },
    },
    'POST /transfers': {
      operationId: 'createTransfer',
      summary: 'Request a transfer',
      description:
        'Files a request to move customers of one partner to another. Either partner may file it (the current partner may release at once with `release`); an operator files it citing `ticketId`. ' +
        `With an \`${IDEMPOTENCY_HEADER}\` header, a repeat with the same key and body gets the first answer again, and the same key with another body is a 422.`,
      tag: 'Transfers',
      parameters: [
        {
          name: IDEMPOTENCY_HEADER,
          in: 'header',
          required: false,
          description: 'Makes the request safe to send again: 1 to 128 printable ASCII characters, kept 24 hours per partner (or operator).',
          schema: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[\\x20-\\x7e]+$' },
        },
      ],
      requestBody: { schema: 'CreateTransferRequest', example: example.createTransferRequest },
      success: {
        201: {
          description: 'The transfer was filed and its workflow started.',
          headers: { Location: { description: 'The transfer: `/transfers/{id}`.', required: true, schema: { type: 'string' } } },
          content: jsonContent('Transfer', example.filedTransfer),
        },
      },
      errors: {
        400: true,
        409: ['LOCKED', 'CUSTOMER_BUSY', 'REQUEST_IN_PROGRESS'],
        422: ['UNKNOWN_CUSTOMER', 'MIXED_PARTNERS', 'SAME_PARTNER', 'UNKNOWN_PARTNER', 'IDEMPOTENCY_KEY_REUSED'],
        503: ['TRY_AGAIN'],
      },
    },
    'POST /transfers/check': {
      operationId: 'checkTransfer',
      summary: 'Whether a transfer request would be accepted',
      description:
        'Takes the body of `POST /transfers` and writes nothing. Answers, per customer, why it could not be transferred now, and what is wrong with the request as a whole. A malformed body is still a 400.',
      tag: 'Transfers',
      requestBody: { schema: 'CreateTransferRequest', example: example.createTransferRequest },
      success: { 200: { description: 'The verdict, customer by customer.', content: jsonContent('EligibilityAnswer', example.eligibilityAnswer) } },
      errors: { 400: true, 503: ['TRY_AGAIN'] },
    },
    'GET /transfers': {
      operationId: 'listTransfers',
      summary: 'List transfers',
      description: "A partner sees the transfers it is a party to, an operator all of them; newest first. Summaries: customers without domains, no history.",
      tag: 'Transfers',
      parameters: queryParameters(listTransfersQuery, {
        status: 'Only transfers in this status.',
        limit: 'Transfers per page (default 25).',
        nextToken: 'The `nextToken` of the page before.',
      }),
      success: { 200: { description: 'One page of transfers.', content: jsonContent('TransferPage', example.transferPage) } },
      errors: { 400: true, 503: ['TRY_AGAIN'] },
    },
    'GET /transfers/{id}': {
      operationId: 'getTransfer',
      summary: 'A transfer with its history',
      tag: 'Transfers',
      parameters: [TRANSFER_ID],
      success: transferAnswer('The transfer, its customers\' domain snapshots and its hash-chained history.', example.scheduledTransfer),
      errors: { 404: true, 503: ['TRY_AGAIN'] },
    },
    'GET /transfers/{id}/record': {
      operationId: 'getConsentRecord',
      summary: 'The consent record of a transfer',
      description:
        'A printable page with the transfer, each written consent (statement, signer, time, IP, user agent), every history event and the SHA-256 fingerprint of the record. Send `Accept: application/pdf` for a PDF.',
      tag: 'Transfers',
      parameters: [TRANSFER_ID],
      success: {
        200: {
          description: 'The consent record, as HTML or (with `Accept: application/pdf`) as PDF.',
          headers: {
            'X-Record-Fingerprint': { description: 'The SHA-256 fingerprint of the record (hex), as printed in it.', required: true, schema: { type: 'string' } },
          },
          content: {
            [HTML_TYPE]: { schema: { type: 'string' }, examples: { record: { value: example.consentRecordHtml } } },
            'application/pdf': { schema: { type: 'string', contentMediaType: 'application/pdf' } },
          },
        },
      },
      errors: { 404: true, 503: ['TRY_AGAIN'] },
    },
    'POST /transfers/{id}/release': {
      operationId: 'decideRelease',
      summary: 'Release (or decline) as the current partner',
      description:
        'The current partner\'s written decision; an operator decides on its behalf citing `ticketId`. Sending the recorded decision again answers it again; a different one is a 409 ALREADY_DECIDED. ' +
        'A 503 DECISION_RECORDED means the decision is kept: send the same decision again to finish.',
      tag: 'Transfers',
      parameters: [TRANSFER_ID],
      requestBody: { schema: 'ReleaseDecision', example: example.releaseRequest },
      success: transferAnswer('The transfer as it now stands.', example.releasedTransfer),
      errors: { 400: true, 404: true, 409: DECISION_CONFLICTS, 503: DECISION_UNAVAILABLE },
    },
    'POST /transfers/{id}/acceptance': {
      operationId: 'decideAcceptance',
      summary: 'Accept (or decline) as the new partner',
      description:
        'The new partner\'s written decision; an operator decides on its behalf citing `ticketId`. A decline carries `reasonCode` and, for OTHER, the `reason` in words.',
      tag: 'Transfers',
      parameters: [TRANSFER_ID],
      requestBody: { schema: 'AcceptanceDecision', example: example.acceptRequest },
      success: transferAnswer('The transfer as it now stands.', example.scheduledTransfer),
      errors: { 400: true, 404: true, 409: DECISION_CONFLICTS, 503: DECISION_UNAVAILABLE },
    },
    'POST /transfers/{id}/cancel': {
      operationId: 'cancelTransfer',
      summary: 'Withdraw a transfer',
      description: 'Either party, or an operator citing `ticketId`, before re-homing began; both partners are told.',
      tag: 'Transfers',
      parameters: [TRANSFER_ID],
      requestBody: { schema: 'CancelRequest', example: example.cancelRequest },
      success: transferAnswer('The cancelled transfer.', example.cancelledTransfer),
      errors: { 400: true, 404: true, 409: ['REHOMING_BEGAN', 'ALREADY_ENDED'], 503: ['TRY_AGAIN'] },
    },
    'POST /transfers/{id}/remind': {
      operationId: 'remindParty',
      summary: 'Email the waiting party its link again (operators)',
      tag: 'Transfers',
      parameters: [TRANSFER_ID],
      requestBody: { schema: 'RemindRequest', example: example.remindRequest },
      success: transferAnswer('The transfer with the reminder in its history.', example.filedTransfer),
      errors: { 400: true, 404: true, 409: ['NOT_WAITING', 'EXPIRED'], 503: ['TRY_AGAIN'] },
    },
    'POST /transfers/{id}/extend': {
      operationId: 'extendApprovalWindow',
      summary: 'Give the waiting party more days (operators)',
      tag: 'Transfers',
      parameters: [TRANSFER_ID],
      requestBody: { schema: 'ExtendRequest', example: example.extendRequest },
      success: transferAnswer('The transfer with the extension in its history.', example.filedTransfer),
      errors: { 400: true, 404: true, 409: ['NOT_WAITING', 'EXPIRED', 'STEP_CHANGED'], 503: ['TRY_AGAIN'] },
    },
    'GET /customers/{id}': {
      operationId: 'getCustomer',
      summary: 'A customer, page by page',
      description: 'Its owning partner or an operator; after a move the previous partner gets 404. Up to 1,000 domains and `limit` users per page.',
      tag: 'Customers',
      parameters: [
        CUSTOMER_ID,
        ...queryParameters(customerQuery, { limit: 'Users per page (default 100).', nextToken: 'The `nextToken` of the page before.' }),
      ],
      success: { 200: { description: 'One page of the customer.', content: jsonContent('CustomerPage', example.customerPage) } },
      errors: { 400: true, 404: true, 503: ['TRY_AGAIN'] },
    },
    'POST /webhooks': {
      operationId: 'registerWebhook',
      summary: 'Register a webhook',
      description:
        'Transfer events are POSTed to `url`, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). A partner hears of the transfers it is a party to; ' +
        'an operator, citing `ticketId`, registers one for `partnerId` or, without it, one of the provider\'s for every transfer. The `secret` is shown in this answer only. ' +
        'The URL must be https and resolve to public addresses. At most 10 per partner.',
      tag: 'Webhooks',
      requestBody: { schema: 'CreateWebhookRequest', example: example.createWebhookRequest },
      success: { 201: { description: 'The webhook, with its signing secret (shown once).', content: jsonContent('NewWebhook', example.newWebhook) } },
      errors: { 400: true, 409: ['WEBHOOK_EXISTS', 'TOO_MANY_WEBHOOKS'], 503: ['TRY_AGAIN'] },
    },
    'GET /webhooks': {
      operationId: 'listWebhooks',
      summary: "The caller's webhooks and their recent failed deliveries",
      description: "An operator names a partner with `partnerId`; without it, the provider's own webhooks.",
      tag: 'Webhooks',
      parameters: queryParameters(webhookListQuery, { partnerId: "Operators: whose webhooks (left out: the provider's)." }),
      success: { 200: { description: 'The webhooks (without secrets) and recent failures.', content: jsonContent('WebhookList', example.webhookList) } },
      // A partner naming another partner is told it is not found, as for any other id not its own.
      errors: { 400: true, 404: true, 503: ['TRY_AGAIN'] },
    },
    'DELETE /webhooks/{id}': {
      operationId: 'removeWebhook',
      summary: 'Remove a webhook',
      description: 'Its deliveries still pending are dropped. An operator cites `ticketId`.',
      tag: 'Webhooks',
      parameters: [WEBHOOK_ID, ...queryParameters(webhookActionQuery, { ticketId: 'Operators: the support ticket.' })],
      success: { 204: { description: 'Removed.' } },
      errors: { 400: true, 404: true, 503: ['TRY_AGAIN'] },
    },
    'POST /webhooks/{id}/test': {
      operationId: 'testWebhook',
      summary: 'Send a webhook.test event',
      description: 'Queues a `webhook.test` event for the webhook, delivered like any other. An operator cites `ticketId`.',
      tag: 'Webhooks',
      parameters: [WEBHOOK_ID, ...queryParameters(webhookActionQuery, { ticketId: 'Operators: the support ticket.' })],
      success: { 202: { description: 'The test event is queued.', content: jsonContent('WebhookTestQueued', { eventId: example.newWebhookTestEventId }) } },
      errors: { 400: true, 404: true, 503: ['TRY_AGAIN'] },
    },
    'GET /approvals/{secret}': {
      operationId: 'showApprovalPage',
      summary: 'The approval page of an emailed link',
      description: 'Shows the request, the billing advice and the form. Changes nothing (mail scanners open links).',
      tag: 'Approval links',
      parameters: [LINK_SECRET],
      success: { 200: pageResponse('The page with the form.', example.approvalPageHtml) },
    },
    'HEAD /approvals/{secret}': {
      operationId: 'checkApprovalPage',
      summary: 'The approval page\'s status and headers, without the page',
      tag: 'Approval links',
      parameters: [LINK_SECRET],
      success: { 200: { description: 'The link would show its form.' } },
    },
    'POST /approvals/{secret}': {
      operationId: 'submitApprovalForm',
      summary: 'Record the decision made on the approval page',
      description: 'The form as the page posts it. A form with mistakes comes back as the page with the mistakes marked (400).',
      tag: 'Approval links',
      parameters: [LINK_SECRET],
      requestBody: { schema: 'ApprovalForm', mediaType: FORM_TYPE, example: example.approvalForm },
      success: { 200: pageResponse('The decision is recorded (or was already, with the same decision).', example.decisionRecordedHtml) },
    },
  };
}

/** The operation of a catalog route, with the answers every route of its kind may get. */
function operationObject(route: HttpRoute, operation: Operation): JsonObject {
  const isPage = route.path.startsWith('/approvals/');
  const head = route.method === 'HEAD';
  const responses: Record<string, JsonObject> = {};
  for (const [status, response] of Object.entries(operation.success)) responses[status] = response;

  const errors = operation.errors ?? {};
  if (isPage) {
    const page = (description: string, orGateway = false) => (head ? { description } : pageResponse(description, undefined, orGateway));
    if (route.method === 'POST') responses[400] = page('The form has mistakes: the page again, with them marked. Nothing was recorded.');
    for (const [status, description] of Object.entries(APPROVAL_PAGE_STATUSES)) responses[status] = page(description);
    if (route.method === 'POST') responses[413] = head ? { description: 'Too large.' } : responseRef('PayloadTooLarge');
    responses[429] = head ? { description: 'Rate limited by API Gateway.' } : responseRef('TooManyRequests');
    responses[500] = page('Something failed on our side: a page saying to try again.', true);
    responses[503] = page('Briefly unavailable: a page saying to try again (or, after a decision was recorded, to submit it again).', true);
    return operationFields(route, operation, responses);
  }
  if (errors[400]) responses[400] = errorResponse(400, ['INVALID_REQUEST'], false, example.invalidRequest);
  if (route.auth === 'jwt') {
    responses[401] = responseRef('Unauthorized');
    responses[403] = errorResponse(403, ['FORBIDDEN']);
  }
  if (errors[404]) responses[404] = errorResponse(404, ['NOT_FOUND']);
  if (errors[409]) responses[409] = errorResponse(409, errors[409]);
  if (route.method === 'POST') responses[413] = responseRef('PayloadTooLarge');
  if (errors[422]) responses[422] = errorResponse(422, errors[422]);
  responses[429] = responseRef('TooManyRequests');
  responses[500] = responseRef('InternalError');
  responses[503] = errors[503] ? errorResponse(503, errors[503], true) : responseRef('ServiceUnavailable');
  return operationFields(route, operation, responses);
}

function operationFields(route: HttpRoute, operation: Operation, responses: Record<string, JsonObject>): JsonObject {
  const body = operation.requestBody;
  const mediaType = body?.mediaType ?? JSON_TYPE;
  return {
    operationId: operation.operationId,
    summary: operation.summary,
    ...(operation.description ? { description: operation.description } : {}),
    tags: [operation.tag],
    security: route.auth === 'jwt' ? [{ [SECURITY_SCHEME]: [] }] : [],
    ...(operation.parameters ? { parameters: operation.parameters } : {}),
    ...(body
      ? {
          requestBody: {
            required: true,
            ...(body.description ? { description: body.description } : {}),
            content: { [mediaType]: { schema: schemaRef(body.schema), examples: { example: { value: body.example } } } },
          },
        }
      : {}),
    responses,
  };
}

function build(): OpenApiDocument {
  const described = operations();
  const paths: OpenApiDocument['paths'] = {};
  for (const route of HTTP_ROUTES) {
    const key = `${route.method} ${route.path}`;
    const operation = described[key];
    if (!operation) throw new Error(`The OpenAPI document has no operation for ${key}: describe it in lambdas/contract/openapi.ts.`);
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operationObject(route, operation);
  }
  const routeKeys = new Set(HTTP_ROUTES.map((route) => `${route.method} ${route.path}`));
  const stale = Object.keys(described).filter((key) => !routeKeys.has(key));
  if (stale.length > 0) throw new Error(`The OpenAPI document describes routes the catalog does not have: ${stale.join(', ')}.`);

  return {
    openapi: '3.1.0',
    info: {
      title: 'Customer Transfer API',
      version: CONTRACT_VERSION,
      description:
        "Moves an email-security customer from one partner to another with both partners' written consent. " +
        'Portal calls carry a JWT bearer token; errors answer `{"error": {"code", "message", "details"?}}` (a 5xx never carries details). ' +
        'Dates are `YYYY-MM-DD` in the provider\'s time zone; instants are ISO 8601 in UTC. A rejected request writes nothing.',
    },
    servers: [{ url: '/', description: 'The API that served this document' }],
    tags: [
      { name: 'Transfers', description: 'Requests, written decisions and the record of a transfer.' },
      { name: 'Customers', description: 'Customers as their owning partner sees them.' },
      { name: 'Approval links', description: 'The pages behind the emailed approval links (no token: the link is the credential).' },
      { name: 'Service', description: 'Health and this contract.' },
    ],
    paths,
    components: {
      schemas: { ...jsonSchemas(RESPONSE_SCHEMAS, 'output'), ...jsonSchemas(REQUEST_SCHEMAS, 'input') },
      responses: SHARED_RESPONSES,
      securitySchemes: {
        [SECURITY_SCHEME]: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: "The portal's access token, checked by API Gateway's JWT authorizer (issuer, audience, expiry). It names the partner, or the operator role.",
        },
      },
    },
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

let document: OpenApiDocument | undefined;

/** The OpenAPI 3.1 document of the API, made once (frozen: copy it before changing anything). */
export function openApiDocument(): OpenApiDocument {
  return (document ??= deepFreeze(build()));
}
