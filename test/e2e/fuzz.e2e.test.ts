import { Agent, request as httpRequest } from 'node:http';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dateAt } from '../../lambdas/domain/dates.ts';
import { acceptanceDecisionBody, approvalForm, cancelBody, createTransferBody, extendBody, releaseDecisionBody, remindBody } from '../../lambdas/domain/requests.ts';
import { TRANSFER_STATUSES } from '../../lambdas/domain/transfer.ts';
import { HTTP_ROUTES, type HttpRoute } from '../../lambdas/handlers/catalog.ts';
import type { TransferView } from '../../local/local-client.ts';
import { startTestStack, TEST_DIRECTORY, type TestStack } from './local-stack.ts';
import { documentClient, emailIds, executionStates, sfnClient, withoutRelayMarks } from './support.ts';

/**
 * An API fuzz on the real local stack: random methods, paths, ids, query strings, headers, tokens
 * and bodies on every route, including form posts on live approval links. No request may be
 * answered with a 5xx, every JSON error of the product has the contract's shape, and nothing is
 * written: no item, no email, no execution. Requests that could be valid are made invalid on
 * purpose before they are sent (see `neutralize`), so every request to a route that writes must be
 * refused with a 4xx.
 *
 * A failure prints the request (shrunk) with the seed and path. Replay with
 * `FC_SEED=<seed> FC_PATH=<path> npx vitest run test/e2e/fuzz.e2e.test.ts`; FC_RUNS sets the number of requests
 * (with FC_TIME_BUDGET_MS and a longer `--testTimeout` for a long hunt).
 */

const SEED = process.env.FC_SEED === undefined || process.env.FC_SEED === '' ? undefined : Number(process.env.FC_SEED);
const PATH = process.env.FC_PATH === undefined || process.env.FC_PATH === '' ? undefined : process.env.FC_PATH;
const RUNS = Number(process.env.FC_RUNS ?? 300);
/** The fuzz stops generating new requests after this long (shrinking a failure may take longer); FC_TIME_BUDGET_MS for longer hunts. */
const TIME_BUDGET_MS = Number(process.env.FC_TIME_BUDGET_MS ?? 30_000);

type Who = 'operator' | 'P-ACME' | 'P-BLUE' | 'P-CORAL' | 'P-DUNE' | 'P-NOBODY' | 'p-acme' | 'no-partner';
const WHO: readonly Who[] = ['operator', 'P-ACME', 'P-BLUE', 'P-CORAL', 'P-DUNE', 'P-NOBODY', 'p-acme', 'no-partner'];
const PARTNERS = ['P-ACME', 'P-BLUE', 'P-CORAL', 'P-DUNE'] as const;
/** Callers that are party to none of the transfers the fuzz can reach. */
const OUTSIDERS: readonly Who[] = ['P-DUNE', 'P-NOBODY', 'p-acme', 'no-partner'];

let t: TestStack;
let db: DynamoDBDocumentClient;
let sfn: SFNClient;
const agent = new Agent({ keepAlive: true, maxSockets: 4 });
const tokens = new Map<Who, string>();
/** Transfers set up before the fuzz, one waiting for its release and one for its acceptance, with their live link secrets. */
const live = { transferIds: [] as string[], secrets: [] as string[] };
const today = dateAt(new Date(), 'America/New_York');

// ---------------------------------------------------------------------------------------------
// What the fuzz sends and how it is printed.

type BodyKind = 'create' | 'release' | 'acceptance' | 'cancel' | 'remind' | 'extend' | 'form' | 'none';

interface Target {
  method: string;
  /** A path template; `{id}` and `{secret}` are replaced by generated segments. */
  path: string;
  kind: BodyKind;
}

interface AuthChoice {
  header: string | null;
  /** Whether the JWT authorizer accepts it. */
  valid: boolean;
  /** Whose token it is, when valid. */
  who: Who | null;
  label: string;
}

interface FuzzRequest {
  method: string;
  /** The request target exactly as sent: path and query, percent-encoding untouched. */
  target: string;
  headers: [string, string][];
  body: string | null;
  auth: AuthChoice;
  /** What was changed so that a request that could have been valid is not. */
  neutralized: string | null;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}

function describeRequest(request: FuzzRequest): string {
  // A bearer token is never printed: only its length says which one it was.
  const shown = (name: string, value: string) => (/^authorization$/i.test(name) && /^\s*bearer\s+\S/i.test(value) ? `Bearer <a token of ${tokenFrom(value).length} characters>` : clip(value, 160));
  const headers = request.headers.map(([name, value]) => `\n    ${name}: ${shown(name, value)}`).join('');
  const body = request.body === null ? 'none' : clip(JSON.stringify(request.body), 800);
  return (
    `\n  ${request.method} ${clip(request.target, 400)}` +
    `\n  auth: ${request.auth.label} (${request.auth.valid ? 'accepted by the authorizer' : 'rejected by the authorizer'})` +
    `${request.neutralized ? `\n  made invalid: ${request.neutralized}` : ''}` +
    `\n  headers:${headers || ' none'}` +
    `\n  body: ${body}\n`
  );
}

// ---------------------------------------------------------------------------------------------
// How the local HTTP API routes a request, mirrored from API Gateway's rules (and local/http-api/server.ts).

type Classified = { kind: 'no-route' } | { kind: 'bad-path' } | { kind: 'route'; route: HttpRoute; params: Record<string, string> };

function classify(method: string, target: string): Classified {
  const queryAt = target.indexOf('?');
  const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
  if (!rawPath.startsWith('/')) return { kind: 'bad-path' };
  const parts = rawPath.slice(1).split('/');
  for (const route of HTTP_ROUTES) {
    if (route.method !== method) continue;
    const segments = route.path.slice(1).split('/');
    const params: Record<string, string> = {};
    let matches = true;
    for (const [index, segment] of segments.entries()) {
      const part = parts[index];
      const param = /^\{(\w+)\}$/.exec(segment);
      if (part === undefined || (param === null && part !== segment) || (param !== null && part === '')) {
        matches = false;
        break;
      }
      if (param !== null) {
        try {
          params[param[1] ?? ''] = decodeURIComponent(part);
        } catch {
          // The gateway refuses a malformed percent-encoding in a path parameter outright.
          return { kind: 'bad-path' };
        }
      }
    }
    if (matches && parts.length === segments.length) return { kind: 'route', route, params };
  }
  return { kind: 'no-route' };
}

/** The schemas of the routes that write, so that a body they would accept can be spoiled; any other POST route gets an unknown field. */
const WRITE_SCHEMAS = new Map<string, () => { safeParse(value: unknown): { success: boolean } }>([
  ['POST /transfers', createTransferBody],
  ['POST /transfers/{id}/release', releaseDecisionBody],
  ['POST /transfers/{id}/acceptance', acceptanceDecisionBody],
  ['POST /transfers/{id}/cancel', cancelBody],
  ['POST /transfers/{id}/remind', remindBody],
  ['POST /transfers/{id}/extend', extendBody],
]);
/** Routes only an operator may use: any partner's valid body is refused (403) before anything is read or written. */
const OPERATOR_ONLY = new Set(['POST /transfers/{id}/remind', 'POST /transfers/{id}/extend']);
/** Every POST route may write; GET and HEAD never do. */
/** Every POST writes, but the eligibility check: it is fuzzed with nearly valid requests as they are, and must still write nothing. */
const writes = (route: HttpRoute): boolean => route.method === 'POST' && route.path !== '/transfers/check';
const routeKey = (route: HttpRoute): string => `${route.method} ${route.path}`;

// ---------------------------------------------------------------------------------------------
// Making a possibly valid request invalid, with the product's own schemas.

/** The body as the handler reads it: sent as UTF-8, decoded as UTF-8 (lone surrogates become U+FFFD). */
const asReceived = (body: string): string => Buffer.from(body, 'utf8').toString('utf8');

function parsedJson(body: string | null): { ok: true; value: unknown } | { ok: false } {
  if (body === null || asReceived(body).trim() === '') return { ok: false };
  try {
    return { ok: true, value: JSON.parse(asReceived(body)) as unknown };
  } catch {
    return { ok: false };
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Whatever the fuzz generated, a request to a route that writes must not be valid: a body the
 * route's schema accepts gets an unknown field (or, for a request, unknown customers), and a form
 * the approval page would accept on a live link loses its acknowledgement.
 */
function neutralize(request: FuzzRequest, unknownCustomers: boolean): FuzzRequest {
  const classified = classify(request.method, request.target);
  if (classified.kind !== 'route' || !writes(classified.route)) return request;
  const key = routeKey(classified.route);
  if (key === 'POST /approvals/{secret}') {
    if (!live.secrets.includes(classified.params.secret ?? '') || request.body === null) return request;
    const fields = Object.fromEntries(new URLSearchParams(asReceived(request.body)));
    if (!approvalForm().safeParse(fields).success || !fields.acknowledge) return request;
    const kept = [...new URLSearchParams(asReceived(request.body))].filter(([name]) => name !== 'acknowledge');
    return { ...request, body: new URLSearchParams(kept).toString(), neutralized: 'removed the acknowledgement from a form a live link would accept' };
  }
  if (classified.route.auth === 'jwt' && !request.auth.valid) return request;
  const schema = WRITE_SCHEMAS.get(key);
  // A partner of neither live transfer (or a token naming no partner) cannot decide or cancel: its valid bodies stay as they are.
  if (schema !== undefined && key !== 'POST /transfers' && request.auth.who !== null && OUTSIDERS.includes(request.auth.who)) return request;
  if (OPERATOR_ONLY.has(key) && request.auth.who !== 'operator') return request;
  const parsed = parsedJson(request.body);
  if (!parsed.ok || !isRecord(parsed.value)) return request;
  // A route the fuzz has no schema for (added later) relies on strict schemas, as every route of the product has.
  if (schema !== undefined && !schema().safeParse(parsed.value).success) return request;
  if (key === 'POST /transfers' && unknownCustomers) {
    return { ...request, body: JSON.stringify({ ...parsed.value, customerIds: ['C-FUZZ-UNKNOWN'] }), neutralized: 'replaced the customers by an unknown one' };
  }
  return { ...request, body: JSON.stringify({ ...parsed.value, fuzzNeutralized: true }), neutralized: 'added an unknown field to a body the route might accept' };
}

// ---------------------------------------------------------------------------------------------
// Arbitraries.

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** Percent-encodes a string's UTF-8 bytes, except unreserved characters (or all of them). */
function percentEncode(value: string, all = false): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return !all && UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

const printable = fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code));
/** What Node lets a header value carry: printable ASCII and Latin-1. */
const headerChar = fc.oneof({ weight: 9, arbitrary: printable }, { weight: 1, arbitrary: fc.integer({ min: 0xa0, max: 0xff }).map((code) => String.fromCharCode(code)) });
const headerValue = (maxLength: number) => fc.string({ unit: headerChar, maxLength });

const SPECIAL_SEGMENTS = [
  '%00', '..', '.', '%2e%2e', '%2E', '%2F', '%2f..%2f', '%5C', '%ZZ', '%', '%E2%80%AE', '%ED%A0%80', '%C0%AE', '%F0%9F%98%80', '%FF',
  'null', 'undefined', '__proto__', 'constructor', 'toString', '%20', '+', '*', '$', '~', '%3Cscript%3E', "'", ';', ',', '@', ':', '!',
  '(', ')', '=', '&', '{id}', '%7Bid%7D', '#frag', 'TR-nope', 'TR-20261124-0000000000', 'C-ZZZ', 'LINK', 'PARTNER#P-ACME', 'TRANSFER#x',
];

function segmentArb(realValues: readonly string[], realWeight: number): fc.Arbitrary<string> {
  const real = fc.constantFrom(...realValues);
  return fc.oneof(
    { weight: realWeight, arbitrary: real },
    { weight: 1, arbitrary: real.map((value) => percentEncode(value, true)) },
    { weight: 1, arbitrary: fc.tuple(real, fc.constantFrom('x', '%00', '/', '/..', '%2F', '.json', '~1')).map(([value, suffix]) => value + suffix) },
    { weight: 1, arbitrary: fc.tuple(real, fc.nat()).map(([value, at]) => `${value.slice(0, at % value.length)}${value.slice((at % value.length) + 1)}`) },
    { weight: 3, arbitrary: fc.constantFrom(...SPECIAL_SEGMENTS) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map((value) => percentEncode(value)) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }).map((value) => percentEncode(value)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.integer({ min: 65, max: 7000 }), fc.constantFrom('T', 'A-', '%C3%A9', '%00', '..', '%F0%9F%98%80', 'TR-'))
        .map(([length, piece]) => piece.repeat(Math.max(1, Math.floor(length / piece.length)))),
    },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.~!$&\'()*+,;=:@'), minLength: 1, maxLength: 30 }) },
    { weight: 1, arbitrary: fc.array(fc.constantFrom(...SPECIAL_SEGMENTS), { minLength: 2, maxLength: 4 }).map((pieces) => pieces.join('')) },
  );
}

const queryValue = fc.oneof(
  fc.constantFrom(...TRANSFER_STATUSES, 'awaiting_release', 'FOO', '', '1', '0', '-1', '1.5', '100', '101', '1e3', 'Infinity', 'NaN', '0x10', '%205', '+5', '%00', '%ZZ'),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map((value) => percentEncode(value)),
  fc.integer({ min: 1, max: 3000 }).map((length) => 'A'.repeat(length)),
  fc.jsonValue({ maxDepth: 2 }).map((value) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url')),
);
const queryArb = fc.oneof(
  fc.array(fc.tuple(fc.constantFrom('status', 'limit', 'nextToken', 'STATUS', 'x', '', '__proto__', 'limit[]'), queryValue), { minLength: 1, maxLength: 4 }).map((pairs) =>
    pairs.map(([name, value]) => `${name}=${value}`).join('&'),
  ),
  fc.constantFrom('', '&&', '=', '%ZZ', 'status', 'limit=', 'a=%00', '?'),
);

const dateValue = fc.oneof(
  fc.constantFrom('immediate', today, addDays(today, 7), addDays(today, 180), addDays(today, 181), addDays(today, -1), '2026-02-30', '2026-13-01', 'tomorrow', '', 'Immediate', `${today}T00:00:00Z`),
  fc.jsonValue({ maxDepth: 1 }),
);
const hugeString = fc
  .tuple(fc.integer({ min: 1000, max: 100_000 }), fc.constantFrom('x', 'é', '\u0000', '"', '\\', '\n', '😀', 'Alice '))
  .map(([length, piece]) => piece.repeat(Math.max(1, Math.floor(length / piece.length))));
const signer = fc.oneof(
  fc.constantFrom('Alice Smith', 'Dana Lee', 'A', '  ', 'Alice\nSmith', 'Alice\u0000Smith', 'Ål Ünïcode', '\u202eevil', '<script>alert(1)</script>'),
  fc.string({ maxLength: 150 }),
  hugeString,
  fc.jsonValue({ maxDepth: 1 }),
);
const reason = fc.oneof(fc.constantFrom('No longer needed', 'no', '', '   ', 'Changed our mind, sorry'), fc.string({ maxLength: 1100 }), hugeString, fc.jsonValue({ maxDepth: 1 }));
const ticket = fc.oneof(fc.constantFrom('SUP-1', '', 'SUP\n1', 'SUP-1234567'), fc.string({ maxLength: 80 }), fc.jsonValue({ maxDepth: 1 }));
const CUSTOMERS = ['C-A01', 'C-A02', 'C-A05', 'C-A20', 'C-A21', 'C-B01', 'C-B02', 'C-C01', 'C-D01', 'C-ZZZ'];
const customerIds = fc.oneof(
  fc.uniqueArray(fc.constantFrom(...CUSTOMERS), { maxLength: 4 }),
  fc.array(fc.constantFrom(...CUSTOMERS), { maxLength: 4 }),
  fc.array(fc.string({ maxLength: 70 }), { maxLength: 3 }),
  fc.integer({ min: 51, max: 60 }).map((n) => Array.from({ length: n }, (_, i) => `C-A${String((i % 40) + 1).padStart(2, '0')}`)),
  fc.jsonValue({ maxDepth: 2 }),
);
const partnerId = fc.oneof(fc.constantFrom(...PARTNERS, 'P-NOBODY', '', 'p-blue', 'P-BLUE '), fc.jsonValue({ maxDepth: 1 }));
const unknownFields = fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'status', 'fromPartnerId', 'id')), fc.jsonValue({ maxDepth: 2 }), {
  maxKeys: 2,
});

/** Bodies each route would accept; the fuzz mutates them a little, so that many pass the schema and reach the domain. */
const VALID_BODIES: Record<Exclude<BodyKind, 'none'>, Record<string, unknown>[]> = {
  create: [
    { customerIds: ['C-A05'], toPartnerId: 'P-BLUE' },
    { customerIds: ['C-A05', 'C-A06'], toPartnerId: 'P-CORAL', requestedDate: addDays(today, 7), note: 'Fuzz' },
    { customerIds: ['C-B01'], toPartnerId: 'P-ACME', release: { transferDate: 'immediate', signedBy: 'Bea Blue' } },
    { customerIds: ['C-A05'], toPartnerId: 'P-DUNE', ticketId: 'SUP-1', lockOverride: { reason: 'Customer asked twice' } },
  ],
  release: [
    { decision: 'release', transferDate: addDays(today, 7), signedBy: 'Alice Smith' },
    { decision: 'release', transferDate: 'immediate', signedBy: 'Alice Smith', ticketId: 'SUP-1' },
    { decision: 'decline', reason: 'Not this time', signedBy: 'Alice Smith' },
  ],
  acceptance: [
    { decision: 'accept', signedBy: 'Dana Lee' },
    { decision: 'decline', reason: 'Not this time', signedBy: 'Dana Lee', ticketId: 'SUP-1' },
  ],
  cancel: [{ reason: 'No longer needed' }, { reason: 'No longer needed', ticketId: 'SUP-1' }],
  remind: [{ ticketId: 'SUP-1' }],
  extend: [{ ticketId: 'SUP-1', days: 7 }, { ticketId: 'SUP-2', days: 30 }],
  form: [
    { decision: 'release', transferDate: addDays(today, 7), signedBy: 'Alice Smith', acknowledge: 'on' },
    { decision: 'release', immediate: 'on', signedBy: 'Alice Smith', acknowledge: 'on' },
    { decision: 'accept', signedBy: 'Dana Lee', acknowledge: 'on' },
    { decision: 'decline', reason: 'Not this time', signedBy: 'Dana Lee', acknowledge: 'yes' },
  ],
};

type Mutation = { op: 'delete'; field: number } | { op: 'set'; field: number; value: unknown } | { op: 'add'; name: string; value: unknown };

/** Wrong types and wrong values for known fields, and unknown fields. */
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), field: fc.nat() }),
  fc.record({ op: fc.constant('set' as const), field: fc.nat(), value: fc.oneof(dateValue, signer, reason, ticket, customerIds, partnerId, fc.integer({ min: -5, max: 40 })) }),
  fc.record({ op: fc.constant('add' as const), name: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'status', 'acknowledge', 'immediate')), value: fc.jsonValue({ maxDepth: 2 }) }),
);

function nearlyValid(kind: Exclude<BodyKind, 'none'>): fc.Arbitrary<Record<string, unknown>> {
  const mutations = fc.oneof(fc.constant([]), fc.array(mutationArb, { minLength: 1, maxLength: 2 }));
  return fc.tuple(fc.constantFrom(...VALID_BODIES[kind]), mutations).map(([base, mutations]) => {
    const body: Record<string, unknown> = { ...base };
    for (const mutation of mutations) {
      const names = Object.keys(body);
      if (mutation.op === 'add') Object.defineProperty(body, mutation.name, { value: mutation.value, enumerable: true, configurable: true, writable: true });
      else if (names.length > 0) {
        const name = names[mutation.field % names.length] ?? '';
        if (mutation.op === 'delete') delete body[name];
        else body[name] = mutation.value;
      }
    }
    return body;
  });
}

function shapedBody(kind: BodyKind): fc.Arbitrary<unknown> {
  return kind === 'none' || kind === 'form' ? randomShapedBody(kind) : fc.oneof({ weight: 3, arbitrary: nearlyValid(kind) }, { weight: 1, arbitrary: randomShapedBody(kind) });
}

function randomShapedBody(kind: BodyKind): fc.Arbitrary<unknown> {
  const withExtras = (arb: fc.Arbitrary<Record<string, unknown>>) =>
    fc.tuple(arb, fc.option(unknownFields, { nil: undefined })).map(([body, extra]) => (extra ? { ...body, ...extra } : body));
  switch (kind) {
    case 'create':
      return withExtras(
        fc.record(
          {
            customerIds,
            toPartnerId: partnerId,
            requestedDate: dateValue,
            ticketId: ticket,
            note: fc.oneof(fc.string({ maxLength: 1100 }), hugeString, fc.jsonValue({ maxDepth: 1 })),
            release: fc.oneof(fc.record({ transferDate: dateValue, signedBy: signer }, { requiredKeys: [] }), fc.jsonValue({ maxDepth: 1 })),
            lockOverride: fc.oneof(fc.record({ reason }, { requiredKeys: [] }), fc.jsonValue({ maxDepth: 1 })),
          },
          { requiredKeys: [] },
        ),
      );
    case 'release':
    case 'acceptance':
      return withExtras(
        fc.record(
          {
            decision: fc.oneof(fc.constantFrom('release', 'accept', 'decline', 'RELEASE', ''), fc.jsonValue({ maxDepth: 1 })),
            transferDate: dateValue,
            signedBy: signer,
            reason,
            ticketId: ticket,
          },
          { requiredKeys: [] },
        ),
      );
    case 'cancel':
      return withExtras(fc.record({ reason, ticketId: ticket }, { requiredKeys: [] }));
    case 'remind':
    case 'extend':
      return withExtras(
        fc.record({ ticketId: ticket, days: fc.oneof(fc.integer({ min: -5, max: 40 }), fc.double(), fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: [] }),
      );
    case 'form':
    case 'none':
      return fc.jsonValue({ maxDepth: 3 });
  }
}

const formFieldText = (value: unknown): string => (typeof value === 'string' ? value : (JSON.stringify(value) ?? ''));
const nearlyValidForm = nearlyValid('form').map((fields) => new URLSearchParams(Object.entries(fields).map(([name, value]): [string, string] => [name, formFieldText(value)])).toString());

const randomForm = fc
  .tuple(
    fc.record(
      {
        decision: fc.constantFrom('release', 'accept', 'decline', '', 'RELEASE', 'x'),
        transferDate: fc.oneof(fc.constantFrom('', today, addDays(today, 7), addDays(today, 181), addDays(today, -1), '2026-02-30'), fc.string({ maxLength: 12 })),
        immediate: fc.constantFrom('on', 'true', 'yes', '1', 'off', '0', ''),
        signedBy: fc.oneof(fc.constantFrom('Alice Smith', 'Dana Lee', 'A', 'Alice\nSmith', ''), fc.string({ maxLength: 150 }), hugeString),
        acknowledge: fc.constantFrom('on', 'true', 'yes', '1', 'off', ''),
        reason: fc.oneof(fc.constantFrom('Not now', 'no', ''), fc.string({ maxLength: 1100 }), hugeString),
      },
      { requiredKeys: [] },
    ),
    fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'decision', 'csrf', 'submit')), fc.string({ maxLength: 20 })), { maxLength: 2 }),
    fc.constantFrom('urlencoded', 'raw', 'json'),
  )
  .map(([fields, extra, encoding]) => {
    const pairs: [string, string][] = [...Object.entries(fields), ...extra];
    if (encoding === 'json') return JSON.stringify(Object.fromEntries(pairs));
    if (encoding === 'raw') return pairs.map(([name, value]) => `${name}=${value}`).join('&');
    return new URLSearchParams(pairs).toString();
  });
const formBody = fc.oneof(nearlyValidForm, randomForm);

function bodyArb(kind: BodyKind): fc.Arbitrary<string | null> {
  const nonJson = fc.oneof(
    fc.constantFrom('{', '[', '{"a":', "{'reason': 'x'}", '<xml/>', 'a=b&c=d', ' ', '\n\t', 'undefined', 'NaN', '{"a":1}{"b":2}', '\u0000', '\ufeff{}'),
    fc.string({ unit: 'grapheme', maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 50 }),
  );
  const json = fc.oneof(
    fc.constantFrom('null', 'true', '0', '""', '{}', '[]', '{"__proto__":{"status":"COMPLETED"}}', '{"constructor":{"prototype":{"x":1}}}', '1e400', '-0'),
    fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value) ?? 'null'),
  );
  const randomObject = fc.dictionary(fc.string({ maxLength: 15 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }).map((value) => JSON.stringify(value));
  const nested = fc.tuple(fc.integer({ min: 1, max: 5000 }), fc.constantFrom('[', '{"a":')).map(([depth, open]) => open.repeat(depth) + (open === '[' ? ']' : '1}').repeat(depth));
  const huge = fc.oneof(hugeString, hugeString.map((value) => JSON.stringify({ reason: value, signedBy: value })));
  const shaped = kind === 'form' ? formBody : shapedBody(kind).map((value) => JSON.stringify(value) ?? 'null');
  return fc.option(
    fc.oneof(
      { weight: 6, arbitrary: shaped },
      { weight: 1, arbitrary: nonJson },
      { weight: 1, arbitrary: json },
      { weight: 1, arbitrary: randomObject },
      { weight: 1, arbitrary: nested },
      { weight: 1, arbitrary: huge },
    ),
    { nil: null, freq: 8 },
  );
}

/** Tokens the authorizer rejects, built from real ones: tampered, truncated, re-signed by no one, wrongly presented. */
function invalidAuth(token: string, variant: number, garbage: string): { header: string; label: string } {
  const [header = '', payload = '', signature = ''] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  const escalated = Buffer.from(JSON.stringify({ ...claims, roles: ['operator'], partner_id: 'P-BLUE' })).toString('base64url');
  const unsigned = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: 'local' })).toString('base64url');
  const variants: { header: string; label: string }[] = [
    { header: `Bearer ${token}x`, label: 'a signature with an extra character' },
    { header: `Bearer ${token.slice(0, -4)}`, label: 'a truncated signature' },
    { header: `Bearer ${header}.${escalated}.${signature}`, label: 'claims rewritten to operator, signature kept' },
    { header: `Bearer ${unsigned}.${payload}.`, label: 'alg "none"' },
    { header: `Bearer ${header}.${payload}`, label: 'no signature part' },
    { header: `Basic ${Buffer.from('user:password').toString('base64')}`, label: 'Basic credentials' },
    { header: `Token ${token}`, label: 'the token under another scheme' },
    { header: `Bearer ${token} ${token}`, label: 'two tokens' },
    { header: 'Bearer', label: 'the scheme alone' },
    { header: '', label: 'an empty header' },
    { header: `Bearer ${garbage}`, label: 'a garbage bearer token' },
    { header: garbage, label: 'garbage' },
  ];
  return variants[variant % variants.length] ?? { header: garbage, label: 'garbage' };
}

function tokenOf(who: Who): string {
  const token = tokens.get(who);
  if (token === undefined) throw new Error(`no token for ${who}`);
  return token;
}

function authArb(): fc.Arbitrary<AuthChoice> {
  const who = fc.constantFrom(...WHO);
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant<AuthChoice>({ header: null, valid: false, who: null, label: 'no Authorization header' }) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(who, fc.constantFrom('Bearer ', 'bearer ', 'BEARER   ', '', ' Bearer '))
        .map(([name, prefix]): AuthChoice => ({ header: `${prefix}${tokenOf(name)}`, valid: true, who: name, label: `a valid token of ${name}${prefix.trim() === '' ? ', bare' : `, as "${prefix}"`}` })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(who, fc.nat(), fc.string({ unit: printable, minLength: 1, maxLength: 300 })).map(([name, variant, garbage]): AuthChoice => {
        const bad = invalidAuth(tokenOf(name), variant, garbage);
        return { header: bad.header, valid: false, who: null, label: `${bad.label} (from ${name}'s token)` };
      }),
    },
  );
}

const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=latin1', 'text/plain', 'text/html',
  'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'multipart/form-data; boundary=----x',
  'application/octet-stream', 'application/merge-patch+json', 'application/xml', 'image/png', ';;;', 'json', '*/*', '',
];
const EXTRA_HEADER_NAMES = ['user-agent', 'accept', 'cookie', 'x-forwarded-for', 'origin', 'referer', 'accept-language', 'x-amzn-trace-id', 'x-request-id', 'x-api-key'];

const headersArb = fc.record({
  contentType: fc.option(fc.oneof(fc.constantFrom(...CONTENT_TYPES), headerValue(60)), { nil: null }),
  idempotency: fc.option(
    fc.tuple(
      fc.constantFrom('Idempotency-Key', 'idempotency-key', 'IDEMPOTENCY-KEY'),
      fc.oneof(fc.constantFrom('k-1', 'fuzz-key', '', ' ', 'k'.repeat(128), 'k'.repeat(129), 'clé', '00000000-0000-0000-0000-000000000000'), headerValue(200)),
    ),
    { nil: null, freq: 3 },
  ),
  extra: fc.array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...EXTRA_HEADER_NAMES), fc.stringMatching(/^x-[a-z0-9-]{1,20}$/)),
      headerValue(300),
    ),
    { maxLength: 3 },
  ),
});

function targetsOf(): { target: Target; weight: number }[] {
  const kindOf = (route: HttpRoute): BodyKind => {
    if (route.method !== 'POST') return 'none';
    if (route.path === '/transfers' || route.path === '/transfers/check') return 'create';
    if (route.path.endsWith('/release')) return 'release';
    if (route.path.endsWith('/acceptance')) return 'acceptance';
    if (route.path.endsWith('/cancel')) return 'cancel';
    if (route.path.endsWith('/remind')) return 'remind';
    if (route.path.endsWith('/extend')) return 'extend';
    return route.path.startsWith('/approvals/') ? 'form' : 'none';
  };
  const known = HTTP_ROUTES.map((route): Target => ({ method: route.method, path: route.path, kind: kindOf(route) }));
  const unknown: Target[] = [
    '/', '/transfers/', '/transfer', '/TRANSFERS', '/transfers/{id}/decline', '/transfers/{id}/release/{id}', '/transfers/{id}/', '/approvals',
    '/approvals/', '/approvals/{secret}/extra', '/customers', '/customers/{id}/users', '/health/', '//health', '/transfers/{id}/../cancel',
    '/%2e%2e/health', '/transfers/%2e%2e/transfers', '/transfers/{id}%2Frelease', '/Health',
  ].map((path) => ({ method: 'POST', path, kind: 'none' }));
  return [...known.map((target) => ({ target, weight: 10 })), ...unknown.map((target) => ({ target, weight: 1 }))];
}

/** Makes a request invalid where it could be valid, and printable as a counterexample. */
function finish(request: FuzzRequest, unknownCustomers: boolean): FuzzRequest {
  const safe = neutralize(request, unknownCustomers);
  return Object.assign(safe, { [fc.toStringMethod]: () => describeRequest(safe) });
}

/** Requests tried first on every run: inputs that once broke the product, and its edges. */
function knownRequests(): FuzzRequest[] {
  const as = (who: Who): AuthChoice => ({ header: `Bearer ${tokenOf(who)}`, valid: true, who, label: `a valid token of ${who}` });
  const json = (who: Who, target: string, body: string, key?: string): FuzzRequest =>
    finish(
      {
        method: 'POST',
        target,
        headers: [['Authorization', `Bearer ${tokenOf(who)}`], ['Content-Type', 'application/json'], ...(key === undefined ? [] : [['Idempotency-Key', key] as [string, string]])],
        body,
        auth: as(who),
        neutralized: null,
      },
      false,
    );
  const deepArray = '['.repeat(5000) + ']'.repeat(5000);
  const deepObject = '{"customerIds":'.repeat(3000) + '1' + '}'.repeat(3000);
  return [
    // Powertools' idempotency hashing recursed through the whole body: a stack overflow, answered 500.
    json('operator', '/transfers', deepArray, 'deep-array'),
    json('P-ACME', '/transfers', deepObject, 'deep-object'),
    json('P-ACME', '/transfers', deepArray),
    json('P-ACME', `/transfers/${live.transferIds[0] ?? ''}/cancel`, deepObject),
    json('P-ACME', `/transfers/${percentEncode('é'.repeat(1100))}/release`, '{}'),
  ];
}

function requestArb(): fc.Arbitrary<FuzzRequest> {
  const ids = [...live.transferIds, ...CUSTOMERS.slice(0, 5)];
  const idSegment = segmentArb(ids, 5);
  const secretSegment = segmentArb(live.secrets, 8);
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
  const perTarget = targetsOf().map(({ target, weight }) => ({
    weight,
    arbitrary: fc
      .record({
        method: fc.oneof({ weight: 9, arbitrary: fc.constant(target.method) }, { weight: 1, arbitrary: fc.constantFrom(...methods) }),
        ids: fc.array(idSegment, { minLength: 2, maxLength: 2 }),
        secret: secretSegment,
        query: fc.option(queryArb, { nil: null, freq: target.path === '/transfers' ? 1 : 6 }),
        auth: authArb(),
        headers: headersArb,
        body: bodyArb(target.kind),
        unknownCustomers: fc.boolean(),
      })
      .map(({ method, ids: [first = '', second = ''], secret, query, auth, headers, body, unknownCustomers }): FuzzRequest => {
        let idIndex = 0;
        const path = target.path.replace(/\{(id|secret)\}/g, (_, name: string) => (name === 'secret' ? secret : idIndex++ === 0 ? first : second));
        const list: [string, string][] = [];
        if (auth.header !== null) list.push(['Authorization', auth.header]);
        if (headers.contentType !== null) list.push(['Content-Type', headers.contentType]);
        else if (body !== null && target.kind !== 'form') list.push(['Content-Type', 'application/json']);
        else if (body !== null) list.push(['Content-Type', 'application/x-www-form-urlencoded']);
        if (headers.idempotency !== null) list.push(headers.idempotency);
        for (const [name, value] of headers.extra) if (!list.some(([existing]) => existing.toLowerCase() === name)) list.push([name, value]);
        const request: FuzzRequest = {
          method,
          // A request target carries no space, control or non-ASCII character unescaped.
          target: (query === null ? path : `${path}?${query}`).replace(/[^\x21-\x7e]/g, (char) => percentEncode(char, true)),
          headers: list,
          // Node sends no body with HEAD.
          body: method === 'HEAD' ? null : body,
          auth,
          neutralized: null,
        };
        return finish(request, unknownCustomers);
      }),
  }));
  return fc.oneof(...perTarget);
}

// ---------------------------------------------------------------------------------------------
// Sending, and what must hold of every answer.

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function send(request: FuzzRequest): Promise<Answer> {
  const url = new URL(t.stack.urls.api);
  return new Promise((resolve, reject) => {
    const body = request.body === null ? undefined : Buffer.from(request.body, 'utf8');
    const headers: Record<string, string | number> = Object.fromEntries(request.headers);
    if (body !== undefined) headers['Content-Length'] = body.length;
    const req = httpRequest(
      { host: url.hostname, port: url.port, method: request.method, path: request.target, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', reject);
    req.end(body);
  });
}

function contentType(answer: Answer): string {
  const value = answer.headers['content-type'];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The contract's error body: `{"error": {"code", "message", "details"?}}` and nothing else. */
function contractErrorProblem(body: unknown): string | null {
  if (!isRecord(body)) return 'the body is not a JSON object';
  if (Object.keys(body).join() !== 'error') return `the body has the keys [${Object.keys(body).join(', ')}], not just "error"`;
  const error = body.error;
  if (!isRecord(error)) return '"error" is not an object';
  const extra = Object.keys(error).filter((key) => !['code', 'message', 'details'].includes(key));
  if (extra.length > 0) return `"error" has unexpected keys [${extra.join(', ')}]`;
  if (typeof error.code !== 'string' || !/^[A-Z][A-Z_]*$/.test(error.code)) return `"error.code" is ${JSON.stringify(error.code)}`;
  if (typeof error.message !== 'string' || error.message.trim() === '') return `"error.message" is ${JSON.stringify(error.message)}`;
  return null;
}

/** Every rule an answer must keep; a broken one throws, so fast-check shrinks and prints the request. */
function checkAnswer(request: FuzzRequest, answer: Answer): string {
  const classified = classify(request.method, request.target);
  const what = `answered ${answer.status} ${contentType(answer)}: ${clip(answer.text, 600)}`;
  const fail = (rule: string): never => {
    throw new Error(`${rule}; ${what}`);
  };
  if (answer.status >= 500) fail('a 5xx');
  const json = jsonOf(answer.text);
  const hasBody = request.method !== 'HEAD';
  if (request.auth.header !== null && request.auth.valid && answer.text.includes(tokenFrom(request.auth.header))) fail('the answer echoes the bearer token');

  if (classified.kind === 'bad-path') {
    // The gateway's own refusal of a malformed path, as API Gateway answers it.
    if (answer.status !== 400) fail('a malformed percent-encoding in a path parameter must be a 400');
    if (hasBody && JSON.stringify(json) !== '{"message":"Bad Request"}') fail('the gateway\'s 400 has its own fixed body');
    return 'gateway 400';
  }
  if (classified.kind === 'no-route') {
    if (answer.status !== 404) fail('a request that matches no route must be a 404');
    if (hasBody && JSON.stringify(json) !== '{"message":"Not Found"}') fail('the gateway\'s 404 has its own fixed body');
    return 'no route';
  }

  const key = routeKey(classified.route);
  if (classified.route.auth === 'jwt' && !request.auth.valid) {
    if (answer.status !== 401) fail('a portal route without a valid token must be a 401');
  }
  if (classified.route.auth === 'jwt' && request.auth.valid && answer.status === 401) fail('a valid token was refused');
  if (writes(classified.route) && (answer.status < 400 || answer.status >= 500)) fail('a request to a route that writes, made invalid on purpose, must be refused with a 4xx');
  if (classified.route.path.startsWith('/approvals/')) {
    if (!contentType(answer).startsWith('text/html')) fail('an approval page answers HTML');
    return key;
  }
  if (classified.route.path.endsWith('/record') && answer.status === 200) {
    if (!/^(text\/html|application\/pdf)\b/.test(contentType(answer))) fail('a consent record is HTML or PDF');
    return key;
  }
  if (!/^application\/json\b/.test(contentType(answer))) fail('a JSON route answers JSON');
  if (hasBody && answer.status >= 400) {
    const problem = contractErrorProblem(json);
    if (problem !== null) fail(`the error body breaks the contract: ${problem}`);
    if (answer.text.length > 20_000) fail('an error body echoes the (huge) input');
  }
  return key;
}

function tokenFrom(header: string): string {
  return header.trim().replace(/^bearer\s+/i, '');
}

// ---------------------------------------------------------------------------------------------
// What the table, the SES store and the executions hold.

async function tableItems(): Promise<Map<string, string>> {
  const items = new Map<string, string>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.send(new ScanCommand({ TableName: t.stack.tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const item of withoutRelayMarks(page.Items ?? [])) items.set(`${String(item.pk)} | ${String(item.sk)}`, JSON.stringify(item));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

function tableDifference(before: Map<string, string>, after: Map<string, string>): string[] {
  const changes: string[] = [];
  for (const [key, value] of after) {
    const was = before.get(key);
    if (was === undefined) changes.push(`added ${key}: ${clip(value, 300)}`);
    else if (was !== value) changes.push(`changed ${key}: ${clip(was, 300)} → ${clip(value, 300)}`);
  }
  for (const key of before.keys()) if (!after.has(key)) changes.push(`deleted ${key}`);
  return changes;
}

async function everything(): Promise<string> {
  return JSON.stringify({ table: [...(await tableItems())].sort(), emails: await emailIds(t), executions: await executionStates(sfn, t.stack.stateMachineArn) });
}

/** Waits until the set-up workflows have done all they do before a decision: a second with no change. */
async function settled(timeoutMs: number): Promise<void> {
  let last = '';
  let stableSince = Date.now();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const now = await everything();
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 1_000) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`The stack did not settle within ${timeoutMs / 1000} s`);
}

async function create(who: Who, body: Record<string, unknown>, status: string): Promise<string> {
  const answer = await t.client.call('POST', '/transfers', tokenOf(who), body);
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  expect((answer.body as TransferView).status).toBe(status);
  return (answer.body as TransferView).id;
}

const secretOf = (link: string): string => link.slice(link.lastIndexOf('/') + 1);

beforeAll(async () => {
  t = await startTestStack({ seedFile: TEST_DIRECTORY });
  db = documentClient(t.stack);
  sfn = sfnClient(t.stack);
  for (const who of WHO) {
    if (who === 'operator') tokens.set(who, await t.token('operator'));
    else tokens.set(who, await t.token({ partnerId: who === 'no-partner' ? '' : who }));
  }

  const since = Date.now() / 1000 - 1;
  live.transferIds.push(await create('P-ACME', { customerIds: ['C-A20'], toPartnerId: 'P-BLUE' }, 'AWAITING_RELEASE'));
  live.secrets.push(secretOf(await t.client.waitForLink('billing@acme-it.example', since)));
  live.transferIds.push(
    await create('P-ACME', { customerIds: ['C-A21'], toPartnerId: 'P-CORAL', release: { transferDate: 'immediate', signedBy: 'Alice Smith' } }, 'AWAITING_ACCEPTANCE'),
  );
  live.secrets.push(secretOf(await t.client.waitForLink('admin@coralcloud.example', since)));
  await settled(20_000);
}, 120_000);

afterAll(async () => {
  agent.destroy();
  db?.destroy();
  sfn?.destroy();
  await t?.stop();
});

describe('API fuzz on the local stack', () => {
  it('answers random requests on every route without a 5xx, with the contract\'s errors, and writes nothing', async () => {
    expect(live.secrets.every((secret) => /^[A-Za-z0-9_-]{43}$/.test(secret))).toBe(true);
    const before = await everything();
    const baselineTable = await tableItems();
    const baselineEmails = (await emailIds(t)).length;
    let table = baselineTable;
    const seen = new Map<string, number>();
    const statuses = new Map<number, number>();
    let sent = 0;
    const started = Date.now();

    await fc.assert(
      fc.asyncProperty(requestArb(), async (request) => {
        sent += 1;
        const answer = await send(request);
        const reached = checkAnswer(request, answer);
        seen.set(reached, (seen.get(reached) ?? 0) + 1);
        const classified = classify(request.method, request.target);
        if (classified.kind === 'route' && live.secrets.includes(classified.params.secret ?? '')) {
          const onLiveLink = `${classified.route.method} on a live link`;
          seen.set(onLiveLink, (seen.get(onLiveLink) ?? 0) + 1);
        }
        if (request.neutralized !== null) seen.set('made invalid on purpose', (seen.get('made invalid on purpose') ?? 0) + 1);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const now = await tableItems();
        const changes = tableDifference(table, now);
        // Compare the next request with what stands now, so that only the request that wrote is blamed.
        table = now;
        if (changes.length > 0) throw new Error(`The request wrote to the table (answered ${answer.status}):\n  ${changes.slice(0, 10).join('\n  ')}`);
        const emails = (await emailIds(t)).length;
        if (emails !== baselineEmails) throw new Error(`The request sent ${emails - baselineEmails} email(s) (answered ${answer.status})`);
      }),
      {
        numRuns: RUNS,
        ...(SEED === undefined ? {} : { seed: SEED }),
        ...(PATH === undefined ? {} : { path: PATH }),
        examples: knownRequests().map((request): [FuzzRequest] => [request]),
        plugins: [fc.interruptAfterTimeLimit(TIME_BUDGET_MS)],
      },
    );

    const summary = [...seen].sort(([a], [b]) => a.localeCompare(b)).map(([key, count]) => `${key}: ${count}`);
    console.log(
      `fuzz: ${sent} requests in ${((Date.now() - started) / 1000).toFixed(1)} s\n  ${summary.join('\n  ')}\n  statuses: ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}`,
    );
    // The fuzz must have reached every route, the gateway's refusals, and the live links' forms.
    if (sent >= 150) {
      for (const route of HTTP_ROUTES) expect(seen.get(routeKey(route)) ?? 0, `requests reaching ${routeKey(route)}`).toBeGreaterThan(0);
      expect(seen.get('no route') ?? 0).toBeGreaterThan(0);
      expect(seen.get('POST on a live link') ?? 0, 'form posts on a live link').toBeGreaterThan(0);
    }

    // Nothing happened later either: no item, no email, no execution.
    await settled(10_000);
    const after = await everything();
    expect(tableDifference(baselineTable, await tableItems())).toEqual([]);
    expect(after).toBe(before);
  }, TIME_BUDGET_MS + 75_000);
});
