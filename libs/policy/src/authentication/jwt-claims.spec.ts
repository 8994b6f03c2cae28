import { describe, expect, it } from '@jest/globals';
import { principalFromClaims, type PolicyJwtClaims } from './jwt-claims';
import type { Principal } from './principal.interface';

const exp = Math.floor(Date.now() / 1000) + 3600;

function principal(claims: PolicyJwtClaims): Principal {
  const result = principalFromClaims({ sub: 'user-1', exp, ...claims });
  if (typeof result === 'string') throw new Error(`expected a principal, got "${result}"`);
  return result;
}

describe('principalFromClaims', () => {
  it('builds a user principal from minimal claims', () => {
    expect(principalFromClaims({ sub: 'user-1', exp })).toEqual({
      id: 'user-1',
      type: 'user',
      tenantId: null,
      roles: [],
      scopes: [],
      tier: null,
      tokenId: null,
      apiKeyId: null,
    });
  });

  it('maps every claim', () => {
    expect(
      principal({
        sub: 'svc-1',
        scope: 'agents:read agents:write',
        roles: ['operator', 'customer'],
        tenant_id: 't1',
        tier: 'pro',
        token_type: 'm2m',
        jti: 'jti-1',
      }),
    ).toEqual({
      id: 'svc-1',
      type: 'service',
      tenantId: 't1',
      roles: ['operator', 'customer'],
      scopes: ['agents:read', 'agents:write'],
      tier: 'pro',
      tokenId: 'jti-1',
      apiKeyId: null,
    });
  });

  it.each([[undefined], [''], [42], [null], [['user-1']]])('refuses a token whose sub is %p', (sub) => {
    const result = principalFromClaims({ sub, exp });
    expect(typeof result).toBe('string');
    expect(result).toMatch(/subject/);
  });

  it.each([[undefined], ['1700000000'], [null]])('refuses a token whose exp is %p', (badExp) => {
    const result = principalFromClaims({ sub: 'user-1', exp: badExp });
    expect(result).toBe('token has no expiry');
  });

  describe('scopes', () => {
    it.each([
      ['agents:read', ['agents:read']],
      ['agents:read agents:write  tools:*', ['agents:read', 'agents:write', 'tools:*']],
      [' agents:read ', ['agents:read']],
      ['', []],
    ])('splits scope %p on spaces', (scope, expected) => {
      expect(principal({ scope }).scopes).toEqual(expected);
    });

    it('accepts an scp array, keeping only non-empty strings', () => {
      expect(principal({ scp: ['agents:read', 7, '', null, 'tools:invoke'] }).scopes).toEqual(['agents:read', 'tools:invoke']);
    });

    it('prefers scope over scp when both are present', () => {
      expect(principal({ scope: 'a b', scp: ['c'] }).scopes).toEqual(['a', 'b']);
    });

    it('ignores scope of the wrong type and falls back to scp', () => {
      expect(principal({ scope: ['a'], scp: ['c'] }).scopes).toEqual(['c']);
      expect(principal({ scp: 'agents:read' }).scopes).toEqual([]);
    });
  });

  it('keeps only string roles', () => {
    expect(principal({ roles: ['admin', 1, { name: 'x' }, null, '', 'operator'] }).roles).toEqual(['admin', 'operator']);
    expect(principal({ roles: 'admin' }).roles).toEqual([]);
  });

  it.each([
    ['t1', 't1'],
    ['', null],
    [5, null],
    [null, null],
  ])('tenant_id %p → tenantId %p', (tenant_id, expected) => {
    expect(principal({ tenant_id }).tenantId).toBe(expected);
  });

  it.each([
    ['pro', 'pro'],
    [3, null],
    [undefined, null],
  ])('tier %p → %p', (tier, expected) => {
    expect(principal({ tier }).tier).toBe(expected);
  });

  it.each([
    ['m2m', 'service'],
    ['user', 'user'],
    ['M2M', 'user'],
    [undefined, 'user'],
  ])('token_type %p → type %s', (token_type, expected) => {
    expect(principal({ token_type }).type).toBe(expected);
  });

  it.each([
    ['abc', 'abc'],
    [123, null],
    [undefined, null],
  ])('jti %p → tokenId %p', (jti, expected) => {
    expect(principal({ jti }).tokenId).toBe(expected);
  });

  it('returns a frozen principal whose fields and lists cannot be changed', () => {
    const p = principal({ roles: ['customer'], scope: 'sessions:read', tenant_id: 't1' });
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.roles)).toBe(true);
    expect(Object.isFrozen(p.scopes)).toBe(true);
    // Spec files are compiled as strict-mode modules: writing to a frozen object throws.
    expect(() => {
      (p as unknown as { roles: string[] }).roles = ['admin'];
    }).toThrow(TypeError);
    expect(() => {
      (p as { tenantId: string | null }).tenantId = 't2';
    }).toThrow(TypeError);
    expect(() => (p.roles as string[]).push('admin')).toThrow(TypeError);
    expect(() => (p.scopes as string[]).push('*')).toThrow(TypeError);
    expect(p).toMatchObject({ roles: ['customer'], scopes: ['sessions:read'], tenantId: 't1' });
  });

  it('does not share the claims arrays with the principal', () => {
    const roles = ['customer'];
    const p = principal({ roles });
    roles.push('admin');
    expect(p.roles).toEqual(['customer']);
  });
});

describe('claims holding a NUL character', () => {
  it.each([{ sub: 'evil\u0000' }, { tenant_id: 't\u0000' }, { roles: ['admin', 'x\u0000'] }, { scope: 'a\u0000' }, { scp: ['a\u0000'] }, { jti: 'j\u0000' }, { tier: 'p\u0000' }])(
    'refuses %p',
    (claims) => {
      const result = principalFromClaims({ sub: 'user', exp: Math.floor(Date.now() / 1000) + 60, ...claims });
      expect(result).toBe('token has a claim with a NUL character');
    },
  );
});
