/**
 * The operator view's routes on the local HTTP API (local only: not in the deployed route table):
 * the page, public because it holds no data, and its JSON routes behind the JWT authorizer, for
 * operators only (401 without a valid token, 403 for a partner's).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Caller } from '../../lambdas/domain/caller.ts';
import { DomainError, ForbiddenError, NotFoundError, TransientError } from '../../lambdas/domain/errors.ts';
import type { ApiEvent } from '../../lambdas/handlers/http/api.ts';
import type { Services } from '../../lambdas/composition.ts';
import type { LocalRoute } from '../http-api/server.ts';
import { LOCAL_REGION } from '../lambda-context.ts';
import { TableEventDeliveries, type EventDeliveriesSource } from './event-deliveries.ts';
import { localSfnClient, OperatorOverview, type ListQuery, type TransferSource } from './overview.ts';
import { OPERATOR_PAGE_HEADERS, operatorPage } from './page.ts';

export interface OperatorRouteOptions {
  /** The local Step Functions API (AWS_ENDPOINT_URL_SFN of the stack). */
  sfnEndpoint: string;
  stateMachineArn: string;
  /** DynamoDB Local as the stack's functions reach it (AWS_ENDPOINT_URL_DYNAMODB), for the outbox and deliveries. */
  dynamodbEndpoint: string;
  tableName: string;
}

export const OPERATOR_PAGE_PATH = '/operator';
export const OPERATOR_API_PATH = '/operator/api/executions';

type HttpApiModule = typeof import('../../lambdas/handlers/http/api.ts');
type RouteHandler = LocalRoute['handler'];

/**
 * The handler module (its logger, metrics and services) is loaded on the first request, as the
 * product's own handlers are, so that it reads the settings the stack has put in the environment.
 */
function lazy(build: (api: HttpApiModule) => RouteHandler): RouteHandler {
  let built: Promise<RouteHandler> | undefined;
  return async (event, context) => {
    built ??= import('../../lambdas/handlers/http/api.ts').then(build);
    return (await built)(event, context);
  };
}

function requireOperator(api: HttpApiModule, event: ApiEvent, services: Services): Caller {
  const caller = api.callerOf(event, services);
  if (caller.kind !== 'operator') throw new ForbiddenError('Only provider operators may use the operator view.');
  return caller;
}

/** The transfers as the product itself reads them for this operator (the service behind GET /transfers). */
function serviceSource(services: Services, caller: Caller): TransferSource {
  return {
    list: (query) => services.transfers.list(caller, { ...query }),
    get: async (id) => {
      try {
        return await services.transfers.getVisible(caller, id);
      } catch (error) {
        if (error instanceof NotFoundError) return null;
        throw error;
      }
    },
  };
}

function listQuery(event: ApiEvent): ListQuery {
  const query = event.queryStringParameters ?? {};
  return {
    ...(query.status ? { status: query.status } : {}),
    ...(query.limit ? { limit: query.limit } : {}),
    ...(query.nextToken ? { nextToken: query.nextToken } : {}),
  };
}

export function operatorRoutes(options: OperatorRouteOptions): LocalRoute[] {
  let sfn: SFNClient | undefined;
  let events: EventDeliveriesSource | undefined;
  const overview = (services: Services, caller: Caller) => {
    sfn ??= localSfnClient(options.sfnEndpoint);
    events ??= new TableEventDeliveries(
      DynamoDBDocumentClient.from(new DynamoDBClient({
        endpoint: options.dynamodbEndpoint,
        region: LOCAL_REGION,
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 2,
      })),
      options.tableName,
    );
    return new OperatorOverview(sfn, options.stateMachineArn, serviceSource(services, caller), events);
  };
  /** The product's own errors keep their status; anything else (the local Step Functions API or DynamoDB Local gone) is a 503. */
  const reading = async <T>(read: Promise<T>): Promise<T> => {
    try {
      return await read;
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw new TransientError('The operator view could not read the local Step Functions API or DynamoDB Local; try again.');
    }
  };
  const list = lazy((api) => {
    // Reads only: no adapter beyond DynamoDB.
    const handler = api.apiHandler({}, async (event, services) => {
      const caller = requireOperator(api, event, services);
      return api.json(200, await reading(overview(services, caller).list(listQuery(event))));
    });
    return (event, context) => handler(event, context);
  });
  const detail = lazy((api) => {
    // Reads only: no adapter beyond DynamoDB.
    const handler = api.apiHandler({}, async (event, services) => {
      const caller = requireOperator(api, event, services);
      const name = api.pathParameter(event, 'name');
      const view = await reading(overview(services, caller).detail(name));
      if (!view) throw new NotFoundError(`Transfer ${name} was not found.`);
      return api.json(200, view);
    });
    return (event, context) => handler(event, context);
  });
  return [
    {
      method: 'GET',
      path: OPERATOR_PAGE_PATH,
      auth: 'none',
      functionName: 'local-operator-page',
      handler: () => Promise.resolve({ statusCode: 200, headers: { ...OPERATOR_PAGE_HEADERS }, body: operatorPage() }),
    },
    { method: 'GET', path: OPERATOR_API_PATH, auth: 'jwt', functionName: 'local-operator-executions', handler: list },
    { method: 'GET', path: `${OPERATOR_API_PATH}/{name}`, auth: 'jwt', functionName: 'local-operator-execution', handler: detail },
  ];
}
