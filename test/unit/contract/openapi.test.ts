import { validate, compileErrors } from '@readme/openapi-parser';
import openapiTS, { astToString } from 'openapi-typescript';
import { describe, expect, it } from 'vitest';
import { openApiDocument, SECURITY_SCHEME, type JsonObject } from '../../../lambdas/contract/openapi.ts';
import type { EligibilityAnswer, Schema } from '../../../lambdas/contract/responses.ts';
import type * as responses from '../../../lambdas/contract/responses.ts';
import type { BillingAdvice } from '../../../lambdas/domain/billing.ts';
import type { CustomerPage } from '../../../lambdas/domain/directory.ts';
import type { Eligibility } from '../../../lambdas/domain/eligibility.ts';
import type { TransferPage } from '../../../lambdas/domain/ports.ts';
import type { TransferWithHistory } from '../../../lambdas/domain/transfer.ts';
import type { Webhook, WebhookService } from '../../../lambdas/domain/webhooks.ts';
import type * as z from '../../../lambdas/domain/zod.ts';
import { HTTP_ROUTES } from '../../../lambdas/handlers/catalog.ts';
import { handler } from '../../../lambdas/handlers/http/openapi.ts';
import { contractAjv, errorLines, pointer } from '../../contract/answers.ts';

const document = openApiDocument();
const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace'];

type Operation = { operationId: string; security: Array<Record<string, string[]>>; responses: Record<string, JsonObject>; requestBody?: JsonObject };

function operations(): Array<{ key: string; path: string; method: string; operation: Operation }> {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, operation: operation as Operation })),
  );
}

/** A response, its `$ref` into components.responses followed, with its JSON pointer. */
function resolved(response: JsonObject, at: string): { response: JsonObject; at: string } {
  if (typeof response.$ref !== 'string') return { response, at };
  const name = response.$ref.replace('#/components/responses/', '');
  const target = document.components.responses[name];
  if (!target) throw new Error(`unresolved ${response.$ref}`);
  return { response: target, at: pointer('components', 'responses', name) };
}

/** Every schema the answer may take names the error body, ours or API Gateway's. */
function namesAnErrorSchema(schema: unknown): boolean {
  const text = JSON.stringify(schema);
  return text.includes('"#/components/schemas/Error"') || text.includes('"#/components/schemas/GatewayError"');
}

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await validate(structuredClone(document) as unknown as Parameters<typeof validate>[0]);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(result.specification).toBe('OpenAPI');
    expect(document.openapi).toMatch(/^3\.1\./);
  });

  it('describes every route of the catalog, HEAD included, and nothing else', () => {
    const described = operations().map((o) => o.key).sort();
    const routes = HTTP_ROUTES.map((route) => `${route.method} ${route.path}`).sort();
    expect(described).toEqual(routes);
    expect(described).toContain('HEAD /approvals/{secret}');
    expect(described).toContain('POST /transfers/check');
    expect(described).toContain('GET /transfers/{id}/record');
  });

  it('gives every operation a unique operationId', () => {
    const ids = operations().map((o) => o.operation.operationId);
    expect(ids.every((id) => /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('puts the bearer JWT on every jwt route and no security on the public ones', () => {
    expect(document.components.securitySchemes[SECURITY_SCHEME]).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }));
    for (const route of HTTP_ROUTES) {
      const operation = document.paths[route.path]?.[route.method.toLowerCase()] as Operation;
      if (route.auth === 'jwt') {
        expect(operation.security, `${route.method} ${route.path}`).toEqual([{ [SECURITY_SCHEME]: [] }]);
        expect(Object.keys(operation.responses), `${route.method} ${route.path}`).toContain('401');
      } else {
        expect(operation.security, `${route.method} ${route.path}`).toEqual([]);
        expect(Object.keys(operation.responses), `${route.method} ${route.path}`).not.toContain('401');
      }
    }
  });

  it('answers every operation with a 2xx and with errors in the error shape', () => {
    for (const { key, path, method, operation } of operations()) {
      const statuses = Object.keys(operation.responses);
      expect(statuses.some((s) => s.startsWith('2')), key).toBe(true);
      const errors = statuses.filter((s) => Number(s) >= 400);
      expect(errors, key).toEqual(expect.arrayContaining(['429', '500', '503']));
      if (method === 'post') expect(errors, key).toEqual(expect.arrayContaining(['413']));
      for (const status of errors) {
        const { response } = resolved(operation.responses[status] as JsonObject, pointer('paths', path, method, 'responses', status));
        const content = response.content as Record<string, JsonObject> | undefined;
        // HEAD answers carry no body; the approval pages answer HTML.
        if (method === 'head') continue;
        expect(content, `${key} ${status}`).toBeDefined();
        const json = content?.['application/json'];
        if (path.startsWith('/approvals/') && !json) {
          expect(content?.['text/html'], `${key} ${status}`).toBeDefined();
          continue;
        }
        expect(namesAnErrorSchema(json?.schema), `${key} ${status}`).toBe(true);
      }
    }
  });

  it('declares the headers of the contract: Idempotency-Key in, Location out', () => {
    const create = document.paths['/transfers']?.post as Operation & { parameters: JsonObject[] };
    expect(create.parameters).toEqual([expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false })]);
    expect(create.responses['201']).toEqual(expect.objectContaining({ headers: { Location: expect.objectContaining({ required: true }) } }));
    const check = document.paths['/transfers/check']?.post as Operation;
    expect(check.requestBody).toEqual(create.requestBody);
    expect(Object.keys(check.responses['200']?.content as object)).toEqual(['application/json']);
    const record = document.paths['/transfers/{id}/record']?.get as Operation;
    expect(Object.keys(record.responses['200']?.content as object).sort()).toEqual(['application/pdf', 'text/html']);
    const form = document.paths['/approvals/{secret}']?.post as Operation;
    expect(Object.keys((form.requestBody as { content: object }).content)).toEqual(['application/x-www-form-urlencoded']);
  });

  it('has the request schemas the handlers parse with, refinements dropped and bounds kept', () => {
    const create = document.components.schemas.CreateTransferRequest as { properties: Record<string, JsonObject>; additionalProperties: boolean };
    expect(create.additionalProperties).toBe(false);
    expect(create.properties.customerIds).toEqual(expect.objectContaining({ minItems: 1, maxItems: 50 }));
    // The calendar date's refinement says as much as JSON Schema can: a date.
    expect(JSON.stringify(create.properties.requestedDate)).toContain('"format":"date"');
    // A trimmed name's bounds: at most 120 characters as sent, at least 2 once trimmed.
    const release = create.properties.release as { properties: Record<string, JsonObject> };
    expect(release.properties.signedBy).toEqual(expect.objectContaining({ minLength: 2, maxLength: 120 }));
  });

  it('holds an example per route that validates against its schema', () => {
    const { validatorAt } = contractAjv(document);
    let checked = 0;
    const covered = new Set<string>();
    const checkExamples = (key: string, content: Record<string, JsonObject>, at: string) => {
      for (const [mediaType, media] of Object.entries(content)) {
        for (const [name, value] of Object.entries((media.examples ?? {}) as Record<string, { value: unknown }>)) {
          const validate = validatorAt(`${at}${pointer('content', mediaType, 'schema')}`);
          expect(validate(value.value), `${key} ${at} ${mediaType} example ${name}: ${errorLines(validate.errors).join('; ')}`).toBe(true);
          checked += 1;
          covered.add(key);
        }
      }
    };
    for (const { key, path, method, operation } of operations()) {
      const base = pointer('paths', path, method);
      if (operation.requestBody) {
        const content = (operation.requestBody as { content: Record<string, JsonObject> }).content;
        expect(Object.values(content).every((media) => media.examples !== undefined), `${key} request example`).toBe(true);
        checkExamples(key, content, `${base}/requestBody`);
      }
      for (const [status, raw] of Object.entries(operation.responses)) {
        const { response, at } = resolved(raw, `${base}${pointer('responses', status)}`);
        // HEAD answers and 204 (No Content) have no body to show.
        if (status.startsWith('2') && status !== '204' && method !== 'head') {
          const withExamples = Object.values((response.content ?? {}) as Record<string, JsonObject>).filter((media) => media.examples !== undefined);
          expect(withExamples.length, `${key} ${status} example`).toBeGreaterThan(0);
        }
        if (response.content) checkExamples(key, response.content as Record<string, JsonObject>, at);
      }
    }
    // HEAD answers have no body to show.
    expect([...covered].sort()).toEqual(HTTP_ROUTES.filter((route) => route.method !== 'HEAD').map((route) => `${route.method} ${route.path}`).sort());
    expect(checked).toBeGreaterThan(30);
  });

  it('refuses what the schemas refuse: an example that breaks its schema fails', () => {
    const { validatorAt } = contractAjv(document);
    const transfer = validatorAt(pointer('components', 'schemas', 'Transfer'));
    expect(transfer({ id: 'TR-1' })).toBe(false);
    const eligibility = validatorAt(pointer('components', 'schemas', 'EligibilityAnswer'));
    expect(eligibility({ eligible: true, customers: [{ id: 'C-1', eligible: false, reasons: [{ code: 'NOPE', message: 'x' }] }], problems: [] })).toBe(false);
    expect(eligibility({ eligible: true, customers: [], problems: [], surprise: 1 })).toBe(false);
  });

  it('generates TypeScript for a portal with openapi-typescript', async () => {
    const ast = await openapiTS(structuredClone(document) as unknown as Parameters<typeof openapiTS>[0]);
    const source = astToString(ast);
    expect(source).toContain('export interface paths');
    expect(source).toContain('"/transfers/check"');
    expect(source).toContain('EligibilityAnswer:');
    expect(source).toMatch(/checkTransfer: \{/);
  });

  it('is served at GET /openapi.json to anyone, cacheable', async () => {
    const result = await handler();
    expect(result.statusCode).toBe(200);
    expect(result.headers).toEqual(expect.objectContaining({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'public, max-age=300' }));
    expect(JSON.parse(result.body ?? '')).toEqual(document);
  });
});

// The response schemas mirror the handlers' types: each side must be assignable to the other.
type Output<S> = S extends Schema<infer T> ? z.output<T> : never;
type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const mirrors: {
  transfer: Mutual<Output<typeof responses.transfer>, TransferWithHistory>;
  transferPage: Mutual<Output<typeof responses.transferPage>, TransferPage>;
  customerPage: Mutual<Output<typeof responses.customerPage>, CustomerPage>;
  billing: Mutual<Output<typeof responses.billingAdvice>, BillingAdvice>;
  eligibility: Mutual<EligibilityAnswer, Eligibility>;
  webhook: Mutual<Output<typeof responses.webhook>, Webhook>;
  newWebhook: Mutual<Output<typeof responses.newWebhook>, Awaited<ReturnType<WebhookService['register']>>>;
  webhookList: Mutual<Output<typeof responses.webhookList>, Awaited<ReturnType<WebhookService['list']>>>;
  webhookTest: Mutual<Output<typeof responses.webhookTestQueued>, Awaited<ReturnType<WebhookService['test']>>>;
} = { transfer: true, transferPage: true, customerPage: true, billing: true, eligibility: true, webhook: true, newWebhook: true, webhookList: true, webhookTest: true };
void mirrors;
