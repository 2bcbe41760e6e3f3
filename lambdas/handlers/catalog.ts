/**
 * Every Lambda handler of the product, read by the CDK stack and by the local stack alike,
 * so that both deploy and run the same functions behind the same routes.
 */

/** Functions the state machine invokes; entry `lambdas/handlers/workflow/<name>.ts`, export `handler`. */
export const WORKFLOW_FUNCTIONS = {
  requestApproval: 'request-approval',
  remindOrExpire: 'remind-or-expire',
  scheduleTransfer: 'schedule-transfer',
  rehomeCustomers: 'rehome-customers',
  sendConfirmations: 'send-confirmations',
  recordOutcome: 'record-outcome',
} as const;
export type WorkflowFunctionKey = keyof typeof WORKFLOW_FUNCTIONS;
export type WorkflowFunctionName = (typeof WORKFLOW_FUNCTIONS)[WorkflowFunctionKey];

/** Functions behind the HTTP API; entry `lambdas/handlers/http/<name>.ts`, export `handler`. */
export const HTTP_FUNCTIONS = [
  'health',
  'openapi',
  'create-transfer',
  'check-transfer',
  'list-transfers',
  'get-transfer',
  'get-record',
  'decide',
  'cancel-transfer',
  'operate-transfer',
  'get-customer',
  'approval-page',
  'manage-webhooks',
] as const;
export type HttpFunctionName = (typeof HTTP_FUNCTIONS)[number];

/** Functions fed by the table's stream; entry `lambdas/handlers/stream/<name>.ts`, export `handler`. */
export const STREAM_FUNCTIONS = {
  /** Publishes each outbox event once: to EventBridge on AWS. */
  relayEvents: 'relay-events',
} as const;
export type StreamFunctionName = (typeof STREAM_FUNCTIONS)[keyof typeof STREAM_FUNCTIONS];

/** Functions fed by an SQS queue; entry `lambdas/handlers/queue/<name>.ts`, export `handler`. */
export const QUEUE_FUNCTIONS = {
  /** Delivers partner webhooks, one try per message, and queues the next try. */
  deliverWebhooks: 'deliver-webhooks',
  /** Records SES bounces and complaints on their transfers, and alerts when a party cannot be reached. */
  recordMailFeedback: 'record-mail-feedback',
} as const;
export type QueueFunctionName = (typeof QUEUE_FUNCTIONS)[keyof typeof QUEUE_FUNCTIONS];

export type FunctionName = HttpFunctionName | WorkflowFunctionName | StreamFunctionName | QueueFunctionName;
export type FunctionKind = 'http' | 'workflow' | 'stream' | 'queue';

/**
 * The alias every caller of a function invokes (the HTTP API, the state machine, event source mappings).
 * It points at the function's current version; for the API functions CodeDeploy moves it to a new
 * version step by step.
 */
export const LIVE_ALIAS = 'live';

/** A handler's file, relative to the repository root: `lambdas/handlers/<kind>/<name>.ts`, exporting `handler`. */
export function handlerEntry(kind: FunctionKind, name: FunctionName): string {
  return `lambdas/handlers/${kind}/${name}.ts`;
}

/** Every function of the product, HTTP ones first, with its handler's file. */
export function allFunctions(): Array<{ name: FunctionName; entry: string }> {
  return [
    ...HTTP_FUNCTIONS.map((name) => ({ name, entry: handlerEntry('http', name) })),
    ...Object.values(WORKFLOW_FUNCTIONS).map((name) => ({ name, entry: handlerEntry('workflow', name) })),
    ...Object.values(STREAM_FUNCTIONS).map((name) => ({ name, entry: handlerEntry('stream', name) })),
    ...Object.values(QUEUE_FUNCTIONS).map((name) => ({ name, entry: handlerEntry('queue', name) })),
  ];
}

export interface HttpRoute {
  method: 'GET' | 'HEAD' | 'POST' | 'DELETE';
  path: string;
  /** `jwt`: portal calls behind the JWT authorizer; `none`: public (approval links, health). */
  auth: 'jwt' | 'none';
  handler: HttpFunctionName;
}

export const HTTP_ROUTES: readonly HttpRoute[] = [
  { method: 'GET', path: '/health', auth: 'none', handler: 'health' },
  // The portal's contract, for anyone building against the API.
  { method: 'GET', path: '/openapi.json', auth: 'none', handler: 'openapi' },
  { method: 'POST', path: '/transfers', auth: 'jwt', handler: 'create-transfer' },
  // Whether a request would be accepted, before it is filed; writes nothing.
  { method: 'POST', path: '/transfers/check', auth: 'jwt', handler: 'check-transfer' },
  { method: 'GET', path: '/transfers', auth: 'jwt', handler: 'list-transfers' },
  { method: 'GET', path: '/transfers/{id}', auth: 'jwt', handler: 'get-transfer' },
  // The consent record: printable HTML, or PDF with Accept: application/pdf.
  { method: 'GET', path: '/transfers/{id}/record', auth: 'jwt', handler: 'get-record' },
  { method: 'POST', path: '/transfers/{id}/release', auth: 'jwt', handler: 'decide' },
  { method: 'POST', path: '/transfers/{id}/acceptance', auth: 'jwt', handler: 'decide' },
  { method: 'POST', path: '/transfers/{id}/cancel', auth: 'jwt', handler: 'cancel-transfer' },
  // Operators on a stuck approval, citing a ticket.
  { method: 'POST', path: '/transfers/{id}/remind', auth: 'jwt', handler: 'operate-transfer' },
  { method: 'POST', path: '/transfers/{id}/extend', auth: 'jwt', handler: 'operate-transfer' },
  { method: 'GET', path: '/customers/{id}', auth: 'jwt', handler: 'get-customer' },
  // Partner webhooks (Standard Webhooks): a partner manages its own; operators act citing a ticket.
  { method: 'POST', path: '/webhooks', auth: 'jwt', handler: 'manage-webhooks' },
  { method: 'GET', path: '/webhooks', auth: 'jwt', handler: 'manage-webhooks' },
  { method: 'DELETE', path: '/webhooks/{id}', auth: 'jwt', handler: 'manage-webhooks' },
  { method: 'POST', path: '/webhooks/{id}/test', auth: 'jwt', handler: 'manage-webhooks' },
  // Mail scanners open links with GET and HEAD; both only show the page.
  { method: 'GET', path: '/approvals/{secret}', auth: 'none', handler: 'approval-page' },
  { method: 'HEAD', path: '/approvals/{secret}', auth: 'none', handler: 'approval-page' },
  { method: 'POST', path: '/approvals/{secret}', auth: 'none', handler: 'approval-page' },
];

/** Errors the workflow functions raise by name, matched by the state machine's Retry and Catch. */
export const WORKFLOW_ERRORS = {
  declined: 'TransferDeclined',
  cancelled: 'TransferCancelled',
  transient: 'TransientError',
  rehomeFailed: 'RehomeFailed',
} as const;
