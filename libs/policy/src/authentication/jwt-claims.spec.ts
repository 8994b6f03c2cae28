import { describe, expect, it } from '@jest/globals';
import { jwtHeaderProblem, principalFromClaims, type PolicyJwtClaims } from './jwt-claims';
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
    ])('splits scope %p on spaces', (scope, expected) => {
      expect(principal({ scope }).scopes).toEqual(expected);
    });

    it('accepts an scp array', () => {
      expect(principal({ scp: ['agents:read', 'tools:invoke'] }).scopes).toEqual(['agents:read', 'tools:invoke']);
    });

    it('prefers scope over scp when both are present', () => {
      expect(principal({ scope: 'a b', scp: ['c'] }).scopes).toEqual(['a', 'b']);
    });

    it('has no scopes when neither claim is present', () => {
      expect(principal({}).scopes).toEqual([]);
    });
  });

  it('maps string roles', () => {
    expect(principal({ roles: ['admin', 'operator'] }).roles).toEqual(['admin', 'operator']);
  });

  // A claim present with the wrong type, empty, too long or with control characters refuses the token: read as
  // absent, a broken tenant_id would mean "every tenant".
  const long = 'x'.repeat(257);
  it.each<[string, unknown]>([
    ['tenant_id', 42],
    ['tenant_id', ['t2']],
    ['tenant_id', ''],
    ['tenant_id', {}],
    ['tenant_id', true],
    ['tenant_id', null],
    ['tenant_id', long],
    ['tenant_id', 't1\u0000'],
    ['tenant_id', 't\n1'],
    ['roles', 'admin'],
    ['roles', []],
    ['roles', ['admin', 1]],
    ['roles', ['']],
    ['roles', [null]],
    ['roles', {}],
    ['roles', null],
    ['roles', [long]],
    ['roles', Array(101).fill('r')],
    ['scope', ['a']],
    ['scope', ''],
    ['scope', '   '],
    ['scope', 7],
    ['scope', null],
    ['scope', `a ${long}`],
    ['scp', 'agents:read'],
    ['scp', []],
    ['scp', ['agents:read', 7]],
    ['scp', ['']],
    ['scp', ['a b']],
    ['scp', null],
    ['tier', 3],
    ['tier', ''],
    ['tier', null],
    ['tier', ['pro']],
    ['token_type', 1],
    ['token_type', ''],
    ['token_type', null],
    ['token_type', { m2m: true }],
    ['jti', 123],
    ['jti', ''],
    ['jti', null],
    ['jti', long],
    ['sub', 'evil\u0000'],
    ['sub', long],
    ['iat', '1700000000'],
    ['iat', null],
    ['iat', -1],
  ])('refuses a token whose %s is %p', (claim, value) => {
    expect(typeof principalFromClaims({ sub: 'user-1', exp, [claim]: value })).toBe('string');
  });

  it.each([
    ['t1', 't1'],
    [undefined, null],
  ])('tenant_id %p → tenantId %p', (tenant_id, expected) => {
    expect(principal({ tenant_id }).tenantId).toBe(expected);
  });

  it.each([
    ['pro', 'pro'],
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
    [undefined, null],
  ])('jti %p → tokenId %p', (jti, expected) => {
    expect(principal({ jti }).tokenId).toBe(expected);
  });

  describe('time limits', () => {
    const nowMs = 1_800_000_000_000;
    const now = nowMs / 1000;
    const limits = { nowMs, maxLifetime: 86_400, iatLeeway: 5 };

    it('accepts iat now and a lifetime up to the maximum', () => {
      expect(typeof principalFromClaims({ sub: 'u', iat: now, exp: now + 86_400 }, limits)).toBe('object');
      expect(typeof principalFromClaims({ sub: 'u', iat: now + 5, exp: now + 600 }, limits)).toBe('object');
      expect(typeof principalFromClaims({ sub: 'u', exp: now + 86_400 }, limits)).toBe('object');
    });

    it('refuses iat in the future beyond the leeway', () => {
      expect(principalFromClaims({ sub: 'u', iat: now + 6, exp: now + 600 }, limits)).toBe(
        'token was issued in the future',
      );
      expect(principalFromClaims({ sub: 'u', iat: now + 3600, exp: now + 7200 }, limits)).toBe(
        'token was issued in the future',
      );
    });

    it.each([
      [{ iat: now, exp: now + 86_401 }],
      [{ exp: now + 86_401 }],
      [{ iat: now, exp: 1e308 }],
      [{ exp: 1e308 }],
      [{ iat: now - 100_000, exp: now + 600 }],
    ])('refuses a claimed lifetime over the maximum: %p', (times) => {
      expect(principalFromClaims({ sub: 'u', ...times }, limits)).toBe('token claims a lifetime over the maximum');
    });
  });

  it('refuses a crit header and accepts a plain one', () => {
    expect(jwtHeaderProblem({ alg: 'HS256', typ: 'JWT', crit: ['exp'] })).not.toBeNull();
    expect(jwtHeaderProblem({ alg: 'HS256', typ: 'JWT', crit: [] })).not.toBeNull();
    expect(jwtHeaderProblem({ alg: 'HS256', typ: 'JWT' })).toBeNull();
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
  it.each([
    { sub: 'evil\u0000' },
    { tenant_id: 't\u0000' },
    { roles: ['admin', 'x\u0000'] },
    { scope: 'a\u0000' },
    { scp: ['a\u0000'] },
    { jti: 'j\u0000' },
    { tier: 'p\u0000' },
  ])('refuses %p', (claims) => {
    const result = principalFromClaims({ sub: 'user', exp: Math.floor(Date.now() / 1000) + 60, ...claims });
    // Refused (a reason, never a principal), whichever check names it first.
    expect(typeof result).toBe('string');
  });
});
