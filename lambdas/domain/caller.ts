import { ForbiddenError } from './errors.ts';
import type { Actor } from './transfer.ts';

/** Who calls the portal API, from the claims the JWT authorizer verified. */
export type Caller =
  | { kind: 'partner'; partnerId: string; subject: string }
  | { kind: 'operator'; subject: string };

export interface ClaimNames {
  partnerClaim: string;
  rolesClaim: string;
}

/** The role that marks a provider operator; it must be a whole role value, never part of one. */
export const OPERATOR_ROLE = 'operator';

/**
 * The caller's roles, each a whole value, from the roles claim as it reaches a function:
 * - a JSON array (a claim handed over as is): each string element is one role;
 * - a string holding a JSON array (`'["a","b"]'`, as identity providers that only put strings
 *   into tokens write it): each string element is one role;
 * - API Gateway's flattening of an array claim, `"[a b]"`: the elements joined by spaces, without
 *   quotes. It is ambiguous: `["support", "operator"]` and `["support operator"]` both arrive as
 *   `"[support operator]"`. A word of it may be a fragment of a role, so only a single-word list
 *   (`"[operator]"`) is read as one role; a longer one is kept whole, as one value that names no
 *   role of ours. Send roles as a space-separated string, or as a JSON-text array, for an
 *   operator with several roles.
 * - any other string: roles separated by spaces (DESIGN §4).
 */
export function parseRoles(value: unknown): string[] {
  if (Array.isArray(value)) return elements(value);
  if (typeof value !== 'string') return [];
  const trimmed = value.trim();
  if (trimmed.startsWith('[') && trimmed.endsWith(']')) {
    const parsed = parseJson(trimmed);
    if (Array.isArray(parsed)) return elements(parsed);
    const flattened = trimmed.slice(1, -1);
    return flattened === '' ? [] : [flattened];
  }
  return trimmed.split(/\s+/).filter(Boolean);
}

/** The elements of an array claim, each whole; numbers and booleans as API Gateway writes them, anything else left out. */
function elements(values: readonly unknown[]): string[] {
  return values.flatMap((role) => (typeof role === 'string' ? [role] : typeof role === 'number' || typeof role === 'boolean' ? [String(role)] : []));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function callerFromClaims(claims: Record<string, unknown>, names: ClaimNames): Caller {
  const subject = typeof claims.sub === 'string' && claims.sub ? claims.sub : 'unknown';
  if (parseRoles(claims[names.rolesClaim]).includes(OPERATOR_ROLE)) return { kind: 'operator', subject };
  const partnerId = claims[names.partnerClaim];
  if (typeof partnerId !== 'string' || partnerId.trim() === '') {
    throw new ForbiddenError('The token names no partner and no operator role.');
  }
  return { kind: 'partner', partnerId, subject };
}

export function actorOf(caller: Caller): Actor {
  return caller.kind === 'operator'
    ? { kind: 'operator', name: caller.subject }
    : { kind: 'partner', partnerId: caller.partnerId, name: caller.subject };
}
