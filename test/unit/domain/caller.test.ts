import { describe, expect, it } from 'vitest';
import { actorOf, callerFromClaims, parseRoles } from '../../../lambdas/domain/caller.ts';
import { ForbiddenError } from '../../../lambdas/domain/errors.ts';

const NAMES = { partnerClaim: 'partner_id', rolesClaim: 'roles' };

describe('parseRoles', () => {
  it.each([
    ['an array', ['operator', 'viewer'], ['operator', 'viewer']],
    ['an array, each element whole', ['Read only operator', 'viewer'], ['Read only operator', 'viewer']],
    ['an array, leaving out what is not a string', ['viewer', 7, null, { role: 'operator' }], ['viewer', '7']],
    ['a space-separated string', 'viewer operator', ['viewer', 'operator']],
    ['a comma in a plain string, which is part of one value', 'viewer,operator', ['viewer,operator']],
    ['a JSON-text array', '["viewer","operator"]', ['viewer', 'operator']],
    ['a JSON-text array, each element whole', '["Read only operator"]', ['Read only operator']],
    ['a single flattened role "[operator]"', '[operator]', ['operator']],
    // "[viewer operator]" is ["viewer", "operator"] or ["viewer operator"]: kept whole, never split.
    ['API Gateway\'s flattened array of several words, kept whole', '[viewer operator]', ['viewer operator']],
    ['surrounding spaces', '  operator  ', ['operator']],
    ['a flattened role with surrounding spaces', ' [operator] ', ['operator']],
    ['an array with a boolean, as API Gateway writes it', ['viewer', true], ['viewer', 'true']],
    ['an opening bracket alone, which is part of the value', '[operator', ['[operator']],
    ['a closing bracket alone, which is part of the value', 'operator]', ['operator]']],
    ['an empty flattened array', '[]', []],
    ['an empty string', '', []],
    ['a number', 42, []],
    ['nothing', undefined, []],
  ])('%s', (_label, value, expected) => {
    expect(parseRoles(value)).toEqual(expected);
  });
});

describe('an operator role, matched as a whole value only', () => {
  it.each([
    ['an array element with spaces', ['Read only operator']],
    ['a JSON-text array element with spaces', '["Read only operator"]'],
    ['API Gateway\'s flattening of ["Read only operator"]', '[Read only operator]'],
    // Also the flattening of ["support", "operator"]: the two cannot be told apart, so neither grants it.
    ['API Gateway\'s flattening of ["support operator"]', '[support operator]'],
    ['a flattened element with a space before it', '[ operator]'],
    ['an array element with spaces around it', [' operator ']],
    ['a role containing the word', 'operators notoperator'],
    ['a comma-joined string', 'viewer,operator'],
  ])('is not granted by %s', (_label, roles) => {
    expect(() => callerFromClaims({ sub: 'x', roles }, NAMES)).toThrow(ForbiddenError);
    expect(callerFromClaims({ sub: 'x', roles, partner_id: 'P-NORTH' }, NAMES).kind).toBe('partner');
  });

  it.each([
    ['a plain string', 'operator'],
    ['a space-separated string', 'support operator'],
    ['an array', ['support', 'operator']],
    ['a JSON-text array', '["support","operator"]'],
    ['API Gateway\'s flattening of ["operator"]', '[operator]'],
  ])('is granted by %s', (_label, roles) => {
    expect(callerFromClaims({ sub: 'ops-1', roles }, NAMES)).toEqual({ kind: 'operator', subject: 'ops-1' });
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

  it.each([['operator'], [['operator']], ['[operator]'], ['support operator'], ['["support","operator"]']])('an operator from roles %j', (roles) => {
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

  it('a token whose subject is not a string is "unknown"', () => {
    expect(callerFromClaims({ sub: 42, partner_id: 'P-NORTH' }, NAMES)).toEqual({ kind: 'partner', partnerId: 'P-NORTH', subject: 'unknown' });
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
