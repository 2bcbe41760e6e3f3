import { Duration } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ApprovalLinkKey } from './approval-link-key.ts';
import { HTTP_FUNCTIONS, HTTP_ROUTES, handlerEntry, type HttpFunctionName } from '../../lambdas/handlers/catalog.ts';
import { acknowledge, acknowledgeWildcardResources } from '../acknowledgements.ts';
import { PORTAL_CORS } from '../cors.ts';
import type { Mailer } from './mailer.ts';
import { constructIdFor, TransferFunction, type TransferFunctionEnvironment } from './transfer-function.ts';
import { grantTableAccess, grantWebhookAccess } from './transfer-table.ts';
import { grantStartExecution, grantStopExecution, grantTaskResponse, transferExecutionArns } from './workflow.ts';

/** What each HTTP function may do beyond writing its own logs. */
interface HttpAccess {
  /** `webhooks`: only what managing webhooks needs (`WEBHOOK_ACTIONS.manage`). */
  readonly table?: 'read' | 'readWrite' | 'webhooks';
  readonly startExecution?: true;
  readonly stopExecution?: true;
  readonly taskResponse?: true;
  readonly sendEmail?: true;
  /** Reads the approval-link key, to send a link again or derive a webhook's secret. */
  readonly linkKey?: true;
  readonly description: string;
}

const HTTP_ACCESS: Record<HttpFunctionName, HttpAccess> = {
  health: { description: 'Answers 200 when the API is ready' },
  openapi: { description: "Serves the API's OpenAPI 3.1 document" },
  'create-transfer': {
    // Read/write also covers its idempotency records (Powertools, same table).
    table: 'readWrite',
    startExecution: true,
    description: 'Files a transfer request and starts its workflow',
  },
  'check-transfer': { table: 'read', description: 'Tells whether a transfer request would be accepted, writing nothing' },
  'list-transfers': { table: 'read', description: "Lists the caller's transfers" },
  'get-transfer': { table: 'read', description: 'Shows one transfer with its history' },
  'get-record': { table: 'read', description: 'Renders the consent record of a transfer as HTML or PDF' },
  decide: {
    table: 'readWrite',
    taskResponse: true,
    description: 'Records a written release or acceptance (or a decline) from the portal',
  },
  'cancel-transfer': {
    table: 'readWrite',
    stopExecution: true,
    sendEmail: true,
    description: 'Cancels a pending transfer, stops its workflow and emails both partners',
  },
  'operate-transfer': {
    table: 'readWrite',
    sendEmail: true,
    linkKey: true,
    description: 'Lets an operator remind the silent party (same link) or extend a waiting step, citing a ticket',
  },
  'get-customer': { table: 'read', description: 'Shows a customer to its owning partner' },
  'manage-webhooks': {
    // Webhooks, their failures and test deliveries; queueing a test is granted by WebhookDelivery.grantManage.
    table: 'webhooks',
    // Each webhook's signing secret is derived from the key, to be shown once at registration.
    linkKey: true,
    description: "Registers, lists and removes a partner's webhooks, and sends them a test event",
  },
  'approval-page': {
    table: 'readWrite',
    taskResponse: true,
    description: 'Shows the approval page of an emailed link and records its decision',
  },
};

/**
 * The handlers whose routes have no authorizer, each with why (cdk-nag AwsSolutions-APIG4 is
 * acknowledged on exactly those routes). A public route of any other handler fails synthesis.
 */
const PUBLIC_ROUTES: Partial<Record<HttpFunctionName, string>> = {
  health:
    'Health check for uptime probes: it takes no input, reads no data and answers only {"status":"ok"}, so it needs no caller identity.',
  openapi:
    'The OpenAPI document describes the public contract of the API for portal developers; it takes no input and holds no data of any partner or transfer.',
  'approval-page':
    'Approval links are opened by partners who have no portal account or JWT; the unguessable secret in the path (HMAC-derived, stored only as a SHA-256 hash, expiring) is the credential, and the handler checks it.',
};

/**
 * One access log line per request. The route key, not the path: approval paths carry the link's
 * secret. No headers either, so the bearer token never lands in a log.
 */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    requestTime: '$context.requestTime',
    sourceIp: '$context.identity.sourceIp',
    routeKey: '$context.routeKey',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    responseLatency: '$context.responseLatency',
    integrationStatus: '$context.integrationStatus',
    integrationLatency: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    authorizerError: '$context.authorizer.error',
  }),
);

/** The API's CORS configuration: {@link PORTAL_CORS} for the given origins, none without any. */
function corsPreflightFor(origins: readonly string[] | undefined): apigw.CorsPreflightOptions | undefined {
  if (origins === undefined || origins.length === 0) return undefined;
  return {
    allowOrigins: [...origins],
    allowHeaders: [...PORTAL_CORS.allowHeaders],
    allowMethods: PORTAL_CORS.allowMethods.map((method) => apigw.CorsHttpMethod[method]),
    exposeHeaders: [...PORTAL_CORS.exposeHeaders],
    maxAge: Duration.seconds(PORTAL_CORS.maxAgeSeconds),
  };
}

/** Properties of a {@link TransferApi}. */
export interface TransferApiProps {
  /** The deployment facts every function receives, except the public base URL (see `publicBaseUrl`). */
  readonly environment: Omit<TransferFunctionEnvironment, 'publicBaseUrl'>;
  /**
   * The origin approval links point at, e.g. a custom domain in front of the API.
   * @default - the API's own endpoint
   */
  readonly publicBaseUrl?: string;
  /** The single table. */
  readonly table: dynamodb.ITableV2;
  /** Scopes who may send email as the sender. */
  readonly mailer: Mailer;
  /** The key approval links are derived from; only functions that send links may read it. */
  readonly approvalLinkKey: ApprovalLinkKey;
  /** The transfer state machine's ARN, given by name so that no reference cycles through the API. */
  readonly stateMachineArn: string;
  /** The issuer portal JWTs must carry (`iss`). */
  readonly jwtIssuer: string;
  /** Audiences a portal JWT may carry (`aud`); one must match. */
  readonly jwtAudience: readonly string[];
  /**
   * Origins of portal pages that call the API from a browser; API Gateway answers their preflights
   * and adds the CORS headers of {@link PORTAL_CORS} to the answers.
   * @default - no CORS configuration
   */
  readonly portalOrigins?: readonly string[];
  /**
   * Request rate limits of the stage.
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly throttle?: apigw.ThrottleSettings;
  /**
   * How long access logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The HTTP API: one function per handler in `HTTP_FUNCTIONS`, one route per entry in
 * `HTTP_ROUTES`. Portal routes sit behind the JWT authorizer; approval links and health are public,
 * since their secret (or nothing) is the credential.
 */
export class TransferApi extends Construct {
  /** The HTTP API, without an implicit stage. */
  readonly httpApi: apigw.HttpApi;
  /** The `$default` stage, with access logs and throttling. */
  readonly stage: apigw.HttpStage;
  /** The API's endpoint, `https://{id}.execute-api.{region}.amazonaws.com`, without a trailing slash. */
  readonly url: string;
  /** Where approval links point: `publicBaseUrl` if given, else {@link url}. */
  readonly publicBaseUrl: string;
  /** The functions behind the routes, by handler name. */
  readonly functions: Readonly<Record<HttpFunctionName, TransferFunction>>;

  constructor(scope: Construct, id: string, props: TransferApiProps) {
    super(scope, id);
    // Our own stage rather than the implicit one, which takes neither access logs nor throttling.
    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'Customer transfer workflow: portal calls and approval links',
      createDefaultStage: false,
      corsPreflight: corsPreflightFor(props.portalOrigins),
    });
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 50, burstLimit: 100 },
      accessLogSettings: { destination: new apigw.LogGroupLogDestination(accessLogs), format: ACCESS_LOG_FORMAT },
    });
    // The API resource depends on nothing here, so functions may name its endpoint without a cycle.
    this.url = this.httpApi.apiEndpoint;
    this.publicBaseUrl = props.publicBaseUrl ?? this.url;

    const executionArns = transferExecutionArns(this);
    const functions = {} as Record<HttpFunctionName, TransferFunction>;
    const integrations = {} as Record<HttpFunctionName, HttpLambdaIntegration>;
    for (const name of HTTP_FUNCTIONS) {
      const access = HTTP_ACCESS[name];
      const fn = new TransferFunction(this, constructIdFor(name), {
        entry: handlerEntry('http', name),
        description: access.description,
        environment: { ...props.environment, publicBaseUrl: this.publicBaseUrl },
      });
      if (access.table === 'webhooks') grantWebhookAccess(props.table, fn, 'manage');
      else if (access.table !== undefined) grantTableAccess(props.table, fn, access.table);
      if (access.startExecution) grantStartExecution(fn, props.stateMachineArn);
      if (access.stopExecution) {
        grantStopExecution(fn, executionArns);
        acknowledgeWildcardResources(
          fn.rolePolicy,
          [executionArns],
          'states:StopExecution on executions of the transfer state machine only: execution ARNs are made at run time, one per transfer, so only the execution name after the state machine name is a wildcard.',
        );
      }
      if (access.taskResponse) grantTaskResponse(fn, props.stateMachineArn);
      if (access.sendEmail) props.mailer.grantSendEmail(fn);
      if (access.linkKey) props.approvalLinkKey.grantRead(fn);
      functions[name] = fn;
      // One integration per function, shared by all its routes; it invokes the function's `live` alias.
      integrations[name] = new HttpLambdaIntegration(`${constructIdFor(name)}Integration`, fn.live);
    }
    this.functions = functions;

    const jwt = new HttpJwtAuthorizer('PortalJwt', props.jwtIssuer, {
      jwtAudience: [...props.jwtAudience],
      identitySource: ['$request.header.Authorization'],
    });
    const none = new apigw.HttpNoneAuthorizer();
    for (const route of HTTP_ROUTES) {
      const routes = this.httpApi.addRoutes({
        path: route.path,
        methods: [apigw.HttpMethod[route.method]],
        integration: integrations[route.handler],
        authorizer: route.auth === 'jwt' ? jwt : none,
      });
      if (route.auth === 'none') {
        const reason = PUBLIC_ROUTES[route.handler];
        if (reason === undefined) throw new Error(`${route.method} ${route.path} is public, but ${route.handler} is not among PUBLIC_ROUTES.`);
        for (const added of routes) acknowledge(added, 'AwsSolutions-APIG4', reason);
      }
    }
  }
}
