import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { openApiDocument, type JsonObject, type OpenApiDocument } from '../../lambdas/contract/openapi.ts';
import type { LocalHttpAnswer } from '../../local/http-api/server.ts';

/**
 * Holds answers of the local HTTP API to the OpenAPI document: the status must be one the route
 * declares, a declared required header present, the content type one the status declares, and a JSON
 * body valid against its schema (ajv, JSON Schema 2020-12, as OpenAPI 3.1 means it). HTML and PDF are
 * checked by content type only.
 */

/** Where OpenAPI documents are registered in an {@link contractAjv}: `$ref`s resolve as `openapi.json#/…`. */
export const DOCUMENT_ID = 'openapi.json';

/** The OpenAPI document's top-level fields, which ajv must take as annotations to hold the whole document. */
const DOCUMENT_FIELDS = ['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags', 'externalDocs'];

/** An ajv (2020-12, with formats, strict) holding the document, so that any schema in it compiles by its JSON pointer. */
export function contractAjv(document: OpenApiDocument = openApiDocument()): { ajv: Ajv2020; validatorAt(pointer: string): ValidateFunction } {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
  // ajv-formats is CommonJS: Node hands its module object, whose `default` is the plugin.
  addFormats.default(ajv);
  ajv.addVocabulary(DOCUMENT_FIELDS);
  ajv.addSchema(structuredClone(document) as object, DOCUMENT_ID);
  const compiled = new Map<string, ValidateFunction>();
  return {
    ajv,
    validatorAt(pointer) {
      let validate = compiled.get(pointer);
      if (validate === undefined) {
        validate = ajv.compile({ $ref: `${DOCUMENT_ID}#${pointer}` });
        compiled.set(pointer, validate);
      }
      return validate;
    },
  };
}

/** A JSON pointer from its parts (RFC 6901). */
export function pointer(...parts: Array<string | number>): string {
  return parts.map((part) => `/${String(part).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** ajv's errors as lines a person reads: where, what, and the offending detail. */
export function errorLines(errors: readonly ErrorObject[] | null | undefined, max = 20): string[] {
  const lines = (errors ?? []).slice(0, max).map((e) => `${e.instancePath || '(body)'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
  const more = (errors?.length ?? 0) - max;
  return more > 0 ? [...lines, `… and ${more} more`] : lines;
}

export interface ContractViolation {
  routeKey: string;
  status: number;
  contentType: string | null;
  problems: string[];
}

export interface RouteTally {
  /** Answers held to the document (violations included). */
  answers: number;
  statuses: Record<string, number>;
}

export interface ContractSummary {
  /** Per route of the document: how many of its answers were checked, by status. */
  routes: Record<string, RouteTally>;
  /** Routes of the document that got no request. */
  unexercised: string[];
  /** Answers of routes the document does not describe (the local operator view). */
  outsideContract: number;
  violations: ContractViolation[];
}

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;

function headerValue(headers: LocalHttpAnswer['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The answers of one local stack, checked as they come. */
export class AnswerContract {
  readonly #document: OpenApiDocument;
  readonly #validatorAt: (pointer: string) => ValidateFunction;
  readonly #routes = new Map<string, RouteTally>();
  readonly #violations: ContractViolation[] = [];
  #outside = 0;

  constructor(document: OpenApiDocument = openApiDocument()) {
    this.#document = document;
    this.#validatorAt = contractAjv(document).validatorAt;
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of Object.keys(item)) this.#routes.set(`${method.toUpperCase()} ${path}`, { answers: 0, statuses: {} });
    }
  }

  /** Checks one answer; its violation, if any, is also kept for {@link failure}. */
  check(answer: LocalHttpAnswer): ContractViolation | undefined {
    const tally = this.#routes.get(answer.routeKey);
    if (tally === undefined) {
      this.#outside += 1;
      return undefined;
    }
    tally.answers += 1;
    tally.statuses[answer.status] = (tally.statuses[answer.status] ?? 0) + 1;
    const contentType = headerValue(answer.headers, 'content-type') ?? null;
    const problems = this.#problems(answer, contentType);
    if (problems.length === 0) return undefined;
    const violation = { routeKey: answer.routeKey, status: answer.status, contentType, problems };
    this.#violations.push(violation);
    return violation;
  }

  #problems(answer: LocalHttpAnswer, contentType: string | null): string[] {
    const [method = '', path = ''] = answer.routeKey.split(' ', 2);
    const operation = this.#document.paths[path]?.[method.toLowerCase()] as { responses: Record<string, JsonObject> };
    const declared = operation.responses[String(answer.status)];
    if (declared === undefined) {
      return [`status ${answer.status} is not declared (declared: ${Object.keys(operation.responses).join(', ')})`];
    }
    const [response, at] = this.#resolve(declared, pointer('paths', path, method.toLowerCase(), 'responses', answer.status));
    const problems: string[] = [];
    for (const [name, header] of Object.entries((response.headers ?? {}) as Record<string, JsonObject>)) {
      if (header.required === true && headerValue(answer.headers, name) === undefined) problems.push(`required header ${name} is missing`);
    }
    // A HEAD answer's body is never sent.
    if (method === 'HEAD') return problems;
    const content = response.content as Record<string, JsonObject> | undefined;
    if (content === undefined) {
      if (answer.body.length > 0) problems.push(`a body (${contentType ?? 'no content type'}) where the status declares none`);
      return problems;
    }
    const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (content[mediaType] === undefined) {
      problems.push(`content type ${contentType ?? '(none)'} is not declared (declared: ${Object.keys(content).join(', ')})`);
      return problems;
    }
    if (!JSON_MEDIA_TYPE.test(mediaType)) return problems;
    let body: unknown;
    try {
      body = JSON.parse(answer.body.toString('utf8'));
    } catch {
      return [...problems, 'the body is not JSON'];
    }
    const validate = this.#validatorAt(`${at}${pointer('content', mediaType, 'schema')}`);
    if (!validate(body)) problems.push(...errorLines(validate.errors));
    return problems;
  }

  /** A response object, following a `$ref` into components.responses, with its pointer in the document. */
  #resolve(response: JsonObject, at: string): [JsonObject, string] {
    const ref = response.$ref;
    if (typeof ref !== 'string') return [response, at];
    const name = ref.replace('#/components/responses/', '');
    const resolved = (this.#document.components.responses as Record<string, JsonObject>)[name];
    if (resolved === undefined) throw new Error(`Unresolvable response ${ref}`);
    return [resolved, pointer('components', 'responses', name)];
  }

  get violations(): readonly ContractViolation[] {
    return this.#violations;
  }

  summary(): ContractSummary {
    const routes = Object.fromEntries([...this.#routes].map(([key, tally]) => [key, { answers: tally.answers, statuses: { ...tally.statuses } }]));
    return {
      routes,
      unexercised: [...this.#routes].filter(([, tally]) => tally.answers === 0).map(([key]) => key),
      outsideContract: this.#outside,
      violations: [...this.#violations],
    };
  }

  /** A report of every violation (route, status, ajv's first errors), or undefined when every answer held. */
  failure(): string | undefined {
    if (this.#violations.length === 0) return undefined;
    const checked = [...this.#routes.values()].reduce((sum, tally) => sum + tally.answers, 0);
    const lines = this.#violations.slice(0, 20).map((v) => `- ${v.routeKey} → ${v.status} (${v.contentType ?? 'no content type'}):\n    ${v.problems.join('\n    ')}`);
    const more = this.#violations.length > 20 ? [`… and ${this.#violations.length - 20} more violations`] : [];
    return [`${this.#violations.length} of ${checked} answers broke the OpenAPI contract (lambdas/contract/):`, ...lines, ...more].join('\n');
  }

  /** Writes the {@link summary} as JSON. */
  async writeSummary(file: string): Promise<void> {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(this.summary(), null, 2)}\n`);
  }
}
