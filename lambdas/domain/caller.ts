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

/**
 * Roles arrive as an array, a space-separated string, or (through API Gateway, which flattens
 * array claims) as "[a b]".
 */
export function parseRoles(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string') return [];
  const trimmed = value.trim();
  if (trimmed.startsWith('[') && trimmed.endsWith(']')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed)) return parsed.map(String);
    } catch {
      return trimmed.slice(1, -1).split(/[\s,]+/).filter(Boolean);
    }
  }
  return trimmed.split(/[\s,]+/).filter(Boolean);
}

export function callerFromClaims(claims: Record<string, unknown>, names: ClaimNames): Caller {
  const subject = typeof claims.sub === 'string' && claims.sub ? claims.sub : 'unknown';
  if (parseRoles(claims[names.rolesClaim]).includes('operator')) return { kind: 'operator', subject };
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
