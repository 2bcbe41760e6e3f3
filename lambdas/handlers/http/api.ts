import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { callerFromClaims, type Caller } from '../../domain/caller.ts';
import { DomainError, ValidationError } from '../../domain/errors.ts';
import type { RequestMeta } from '../../domain/transfer-service.ts';
import { getServices, type Adapters, type Services } from '../../composition.ts';
import { logger } from '../logger.ts';
import { publishMetrics } from '../metrics.ts';

/** An HTTP API event; routes behind the JWT authorizer carry its verified claims. */
export type ApiEvent = APIGatewayProxyEventV2 & {
  requestContext: { authorizer?: { jwt?: { claims?: Record<string, string | number | boolean | string[]> } } };
};
export type ApiResult = APIGatewayProxyStructuredResultV2;

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** Maps every error to the contract's body, in one place. A 5xx never carries details. */
function apiErrors(): MiddlewareObj<ApiEvent, ApiResult> {
  return {
    onError: (request) => {
      const error = request.error;
      if (error instanceof DomainError) {
        if (error.status >= 500) logger.warn('Request failed for a transient reason', { errorName: error.name });
        request.response = json(error.status, {
          error: { code: error.code, message: error.message, ...(error.details !== undefined && error.status < 500 ? { details: error.details } : {}) },
        });
        return;
      }
      logger.error('Unhandled error', { errorName: error instanceof Error ? error.name : typeof error, errorMessage: error instanceof Error ? error.message : '' });
      request.response = json(500, { error: { code: 'INTERNAL', message: 'Something went wrong on our side. Please try again later.' } });
    },
  };
}

/**
 * Wraps a route function: logger context, the services composed with the `adapters` the function
 * uses (see {@link Adapters}), and the error mapping.
 */
export function apiHandler(adapters: Adapters, fn: (event: ApiEvent, services: Services) => Promise<ApiResult>) {
  return middy<ApiEvent, ApiResult, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(publishMetrics())
    .use(apiErrors())
    .handler((event) => fn(event, getServices(adapters)));
}

export function callerOf(event: ApiEvent, services: Services): Caller {
  return callerFromClaims(event.requestContext.authorizer?.jwt?.claims ?? {}, services.claims);
}

export function pathParameter(event: ApiEvent, name: string): string {
  const value = event.pathParameters?.[name];
  if (!value) throw new ValidationError(`The path lacks its ${name}.`);
  return value;
}

export function rawBody(event: ApiEvent): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

export function jsonBody(event: ApiEvent): unknown {
  const text = rawBody(event);
  if (text.trim() === '') throw new ValidationError('The request needs a JSON body.');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError('The body is not valid JSON.');
  }
}

export function requestMeta(event: ApiEvent): RequestMeta {
  return {
    sourceIp: event.requestContext.http.sourceIp ?? null,
    userAgent: event.requestContext.http.userAgent ?? event.headers['user-agent'] ?? null,
  };
}
