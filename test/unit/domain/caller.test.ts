import { describe, expect, it } from 'vitest';
import { actorOf, callerFromClaims, parseRoles } from '../../../lambdas/domain/caller.ts';
import { ForbiddenError } from '../../../lambdas/domain/errors.ts';

const NAMES = { partnerClaim: 'partner_id', rolesClaim: 'roles' };

describe('parseRoles', () => {
  it.each([
    ['an array', ['operator', 'viewer'], ['operator', 'viewer']],
    ['a space-separated string', 'viewer operator', ['viewer', 'operator']],
    ['a comma-separated string', 'viewer,operator', ['viewer', 'operator']],
    ['API Gateway\'s flattened array "[a b]"', '[viewer operator]', ['viewer', 'operator']],
    ['a single flattened role "[operator]"', '[operator]', ['operator']],
    ['a JSON array string', '["viewer","operator"]', ['viewer', 'operator']],
    ['surrounding spaces', '  operator  ', ['operator']],
    ['an empty flattened array', '[]', []],
    ['an empty string', '', []],
    ['a number', 42, []],
    ['nothing', undefined, []],
  ])('%s', (_label, value, expected) => {
    expect(parseRoles(value)).toEqual(expected);
  });
});

describe('callerFromClaims', () => {
  it('a partner from its partner claim', () => {
    expect(callerFromClaims({ sub: 'alice@northwind', partner_id: 'P-NORTH', roles: 'partner-admin' }, NAMES)).toEqual({
      kind: 'partner',
      partnerId: 'P-NORTH',
      subject: 'alice@northwind',
    });
  });

  it.each([['operator'], [['operator']], ['[operator]'], ['support operator'], ['[support operator]']])('an operator from roles %j', (roles) => {
    expect(callerFromClaims({ sub: 'ops-1', roles }, NAMES)).toEqual({ kind: 'operator', subject: 'ops-1' });
  });

  it('the operator role wins over a partner claim', () => {
    expect(callerFromClaims({ sub: 'ops-1', partner_id: 'P-NORTH', roles: ['operator'] }, NAMES).kind).toBe('operator');
  });

  it('a role merely containing "operator" does not make an operator', () => {
    expect(() => callerFromClaims({ sub: 'x', roles: 'operators notoperator' }, NAMES)).toThrow(ForbiddenError);
  });

  it('uses the configured claim names', () => {
    const names = { partnerClaim: 'custom:partner', rolesClaim: 'cognito:groups' };
    expect(callerFromClaims({ sub: 'bob', 'custom:partner': 'P-SOUTH' }, names)).toEqual({ kind: 'partner', partnerId: 'P-SOUTH', subject: 'bob' });
    expect(callerFromClaims({ sub: 'ops', 'cognito:groups': '[operator]' }, names).kind).toBe('operator');
    expect(() => callerFromClaims({ sub: 'bob', partner_id: 'P-SOUTH' }, names)).toThrow(ForbiddenError);
  });

  it.each([
    ['no partner claim', { sub: 'bob', roles: 'viewer' }],
    ['an empty partner claim', { sub: 'bob', partner_id: '' }],
    ['a blank partner claim', { sub: 'bob', partner_id: '   ' }],
    ['a non-string partner claim', { sub: 'bob', partner_id: 7 }],
  ])('%s: 403', (_label, claims) => {
    let caught: unknown;
    try {
      callerFromClaims(claims, NAMES);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ForbiddenError);
    expect(caught).toMatchObject({ status: 403, code: 'FORBIDDEN', message: 'The token names no partner and no operator role.' });
  });

  it('a token without a subject is "unknown"', () => {
    expect(callerFromClaims({ partner_id: 'P-NORTH' }, NAMES)).toEqual({ kind: 'partner', partnerId: 'P-NORTH', subject: 'unknown' });
  });
});

describe('actorOf', () => {
  it('records who acted', () => {
    expect(actorOf({ kind: 'partner', partnerId: 'P-NORTH', subject: 'alice' })).toEqual({ kind: 'partner', partnerId: 'P-NORTH', name: 'alice' });
    expect(actorOf({ kind: 'operator', subject: 'ops-1' })).toEqual({ kind: 'operator', name: 'ops-1' });
  });
});
