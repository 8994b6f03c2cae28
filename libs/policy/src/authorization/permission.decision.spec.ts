import { describe, expect, it } from '@jest/globals';
import type { Principal } from '../authentication/principal.interface';
import { compilePolicy } from './compiled-policy';
import { decidePermission } from './permission.decision';

const policy = compilePolicy({
  operations: ['thing.list'],
  roles: {
    admin: { operations: ['*'] },
    operator: { operations: ['agent.*', 'session.*'] },
    customer: { operations: ['session.create', 'session.read', 'event.create', 'event.list'], own: true },
    member: { operations: ['session.read'], own: true },
  },
  scopes: {
    'agents:write': { implies: ['agents:read'] },
    'sessions:write': { implies: ['sessions:read'] },
    admin: { implies: ['*'] },
  },
});

const principal = (overrides: Partial<Principal> = {}): Principal => ({
  id: 'user-1',
  type: 'user',
  tenantId: 't1',
  roles: [],
  scopes: [],
  tier: null,
  tokenId: null,
  ...overrides,
});

describe('decidePermission', () => {
  it('allows when a role allows and every required scope is granted', () => {
    const decision = decidePermission(
      policy,
      principal({ roles: ['operator'], scopes: ['agents:read'] }),
      'agent.read',
      ['agents:read'],
    );
    expect(decision.allowed).toBe(true);
    expect(decision.code).toBeUndefined();
    expect(decision.missingScopes).toBeUndefined();
    expect(decision.recordScope).toEqual({ tenantId: 't1' });
    expect(decision.reasons.join(' ')).toMatch(/operator/);
  });

  it('allows with no required scopes', () => {
    expect(decidePermission(policy, principal({ roles: ['operator'] }), 'agent.delete', []).allowed).toBe(true);
  });

  describe('role check comes first', () => {
    it('denies with forbidden when no role allows the operation', () => {
      const decision = decidePermission(
        policy,
        principal({ roles: ['customer'], scopes: ['agents:write'] }),
        'agent.delete',
        ['agents:write'],
      );
      expect(decision).toMatchObject({ allowed: false, code: 'forbidden', recordScope: {} });
      expect(decision.missingScopes).toBeUndefined();
    });

    it('answers forbidden, not insufficient_scope, when scopes are missing too', () => {
      const decision = decidePermission(policy, principal({ roles: ['customer'], scopes: [] }), 'agent.delete', [
        'agents:write',
      ]);
      expect(decision.allowed).toBe(false);
      expect(decision.code).toBe('forbidden');
      expect(decision.missingScopes).toBeUndefined();
    });

    it.each([[[]], [['superuser']], [['ghost', 'nobody']]])('denies a principal holding only %j', (roles) => {
      const decision = decidePermission(policy, principal({ roles, scopes: ['*'] }), 'agent.read', []);
      expect(decision).toMatchObject({ allowed: false, code: 'forbidden' });
    });

    it('denies an unknown operation even to an admin holding every scope', () => {
      const decision = decidePermission(policy, principal({ roles: ['admin'], scopes: ['*'] }), 'agent.fly', []);
      expect(decision).toMatchObject({ allowed: false, code: 'forbidden', recordScope: {} });
      expect(decision.reasons.join(' ')).toMatch(/agent\.fly/);
    });

    it('allows an app operation declared in the policy', () => {
      expect(decidePermission(policy, principal({ roles: ['admin'] }), 'thing.list', []).allowed).toBe(true);
    });
  });

  describe('scope check comes second', () => {
    it('denies with insufficient_scope and lists the missing scopes', () => {
      const decision = decidePermission(
        policy,
        principal({ roles: ['operator'], scopes: ['agents:read'] }),
        'agent.update',
        ['agents:write', 'agents:read', 'sessions:read'],
      );
      expect(decision).toMatchObject({
        allowed: false,
        code: 'insufficient_scope',
        missingScopes: ['agents:write', 'sessions:read'],
        recordScope: {},
      });
      expect(decision.reasons.join(' ')).toMatch(/agents:write/);
    });

    it('honours implies (write implies read)', () => {
      const p = principal({ roles: ['operator'], scopes: ['agents:write'] });
      expect(decidePermission(policy, p, 'agent.read', ['agents:read']).allowed).toBe(true);
      expect(decidePermission(policy, p, 'session.read', ['sessions:read']).code).toBe('insufficient_scope');
    });

    it('honours admin implying "*"', () => {
      const decision = decidePermission(
        policy,
        principal({ roles: ['operator'], scopes: ['admin'] }),
        'session.delete',
        ['sessions:write', 'audit:read'],
      );
      expect(decision.allowed).toBe(true);
    });

    it('does not let read imply write', () => {
      const decision = decidePermission(
        policy,
        principal({ roles: ['operator'], scopes: ['agents:read'] }),
        'agent.create',
        ['agents:write'],
      );
      expect(decision).toMatchObject({ code: 'insufficient_scope', missingScopes: ['agents:write'] });
    });

    it('honours ns:* on whole segments only', () => {
      const p = principal({ roles: ['operator'], scopes: ['agents:*'] });
      expect(decidePermission(policy, p, 'agent.create', ['agents:write']).allowed).toBe(true);
      expect(decidePermission(policy, p, 'agent.create', ['agentsX:write']).code).toBe('insufficient_scope');
    });
  });

  describe('ownership', () => {
    it('limits a principal whose only allowing role is own to its records', () => {
      const decision = decidePermission(policy, principal({ roles: ['customer'] }), 'session.read', []);
      expect(decision.allowed).toBe(true);
      expect(decision.recordScope).toEqual({ tenantId: 't1', ownerId: 'user-1' });
    });

    it('keeps owner-only when every allowing role is own', () => {
      const decision = decidePermission(policy, principal({ roles: ['customer', 'member'] }), 'session.read', []);
      expect(decision.recordScope).toEqual({ tenantId: 't1', ownerId: 'user-1' });
    });

    it('drops owner-only when a non-own role also allows the operation (customer + operator)', () => {
      const p = principal({ roles: ['customer', 'operator'] });
      for (const op of ['session.read', 'session.create']) {
        const decision = decidePermission(policy, p, op, []);
        expect(decision.allowed).toBe(true);
        expect(decision.recordScope).toEqual({ tenantId: 't1' });
        expect(decision.recordScope.ownerId).toBeUndefined();
      }
    });

    it('keeps owner-only when the non-own role held does not allow the operation', () => {
      const decision = decidePermission(policy, principal({ roles: ['customer', 'operator'] }), 'event.create', []);
      expect(decision.recordScope).toEqual({ tenantId: 't1', ownerId: 'user-1' });
    });

    it('puts no tenant restriction on a principal without tenant', () => {
      const decision = decidePermission(policy, principal({ roles: ['operator'], tenantId: null }), 'agent.read', []);
      expect(decision.recordScope).toEqual({});
    });
  });
});

describe('decidePermission: kept decisions and untrusted names', () => {
  const frozen = (overrides: Partial<Principal> = {}): Principal => {
    const p = principal(overrides);
    return Object.freeze({ ...p, roles: Object.freeze([...p.roles]), scopes: Object.freeze([...p.scopes]) });
  };
  const plain = (d: ReturnType<typeof decidePermission>) => ({
    allowed: d.allowed,
    code: d.code,
    reasons: [...d.reasons],
    missingScopes: d.missingScopes ? [...d.missingScopes] : undefined,
    recordScope: { ...d.recordScope },
  });

  it('gives a frozen principal, asked again, the same answers as a plain one, for every role set × operation × scopes', () => {
    const holders: Partial<Principal>[] = [
      { roles: ['admin'], scopes: ['admin'] },
      { roles: ['operator'], scopes: ['agents:write'], tenantId: null },
      { roles: ['customer', 'member'], scopes: ['sessions:read'] },
      { roles: ['customer', 'operator'], scopes: ['sessions:*', 'agents:read'] },
      { roles: ['ghost', 'operator'], scopes: ['*'] },
      { roles: [], scopes: [] },
    ];
    const ops = [
      'agent.read',
      'agent.delete',
      'session.read',
      'session.create',
      'event.create',
      'thing.list',
      'agent.fly',
    ];
    const required = [[], ['agents:read'], ['agents:write', 'sessions:read'], ['sessions:write']];
    holders.forEach((h, i) => {
      const f = frozen({ ...h, id: `kept-${i}` });
      for (let round = 0; round < 2; round++) {
        for (const op of ops) {
          for (const req of required) {
            const expected = plain(decidePermission(policy, principal({ ...h, id: `kept-${i}` }), op, req));
            expect(plain(decidePermission(policy, f, op, [...req]))).toEqual(expected);
          }
        }
      }
    });
  });

  it('follows the roles, scopes and tenant of a new principal object under the same id', () => {
    const before = frozen({ id: 'same-id', roles: ['operator'], scopes: ['agents:write'] });
    expect(decidePermission(policy, before, 'agent.delete', ['agents:write']).allowed).toBe(true);
    // The token is issued again without the role: the earlier grant must not stick.
    const demoted = frozen({ id: 'same-id', roles: ['member'], scopes: ['agents:write'] });
    expect(decidePermission(policy, demoted, 'agent.delete', ['agents:write'])).toMatchObject({
      allowed: false,
      code: 'forbidden',
    });
    const narrowed = frozen({ id: 'same-id', roles: ['operator'], scopes: ['agents:read'] });
    expect(decidePermission(policy, narrowed, 'agent.delete', ['agents:write'])).toMatchObject({
      code: 'insufficient_scope',
      missingScopes: ['agents:write'],
    });
    const moved = frozen({ id: 'same-id', roles: ['operator'], scopes: ['agents:write'], tenantId: 't9' });
    expect(decidePermission(policy, moved, 'agent.delete', ['agents:write']).recordScope).toEqual({ tenantId: 't9' });
    // The first object again: its own content decides.
    expect(decidePermission(policy, before, 'agent.delete', ['agents:write']).recordScope).toEqual({ tenantId: 't1' });
  });

  it('answers by the content of the required scopes, not the array object', () => {
    const p = frozen({ id: 'req-content', roles: ['operator'], scopes: ['agents:read'] });
    const required = ['agents:read'];
    expect(decidePermission(policy, p, 'agent.read', required).allowed).toBe(true);
    required[0] = 'agents:write';
    expect(decidePermission(policy, p, 'agent.read', required)).toMatchObject({
      code: 'insufficient_scope',
      missingScopes: ['agents:write'],
    });
  });

  it('never lets a plain (unfrozen) principal changed in place reuse an earlier answer', () => {
    const p = principal({ id: 'mutable', roles: ['operator'], scopes: ['agents:write'] }) as {
      roles: string[];
    } & Principal;
    expect(decidePermission(policy, p, 'agent.delete', []).allowed).toBe(true);
    p.roles.splice(0, 1, 'member');
    expect(decidePermission(policy, p, 'agent.delete', []).allowed).toBe(false);
  });

  it('hands out decisions that cannot be changed for the next caller', () => {
    const p = frozen({ id: 'sealed', roles: ['customer'] });
    const first = decidePermission(policy, p, 'session.read', []);
    expect(Object.isFrozen(first) && Object.isFrozen(first.recordScope) && Object.isFrozen(first.reasons)).toBe(true);
    expect(() => {
      (first.recordScope as { ownerId?: string }).ownerId = undefined;
    }).toThrow(TypeError);
    expect(decidePermission(policy, p, 'session.read', []).recordScope).toEqual({ tenantId: 't1', ownerId: 'sealed' });
    const denied = decidePermission(policy, frozen({ id: 'sealed-2', roles: ['member'] }), 'agent.delete', []);
    expect(Object.isFrozen(denied)).toBe(true);
  });

  it('stays right past the number of principals it keeps', () => {
    for (let i = 0; i < 5000; i++) {
      const roles = i % 2 === 0 ? ['operator'] : ['member'];
      const d = decidePermission(policy, frozen({ id: `many-${i}`, roles, scopes: ['agents:read'] }), 'agent.read', [
        'agents:read',
      ]);
      expect(d.allowed).toBe(i % 2 === 0);
    }
    expect(decidePermission(policy, frozen({ id: 'many-0', roles: ['member'] }), 'agent.read', []).allowed).toBe(false);
  });

  it('names unknown roles held in a denial', () => {
    const d = decidePermission(policy, frozen({ id: 'ghost', roles: ['ghost', 'member'] }), 'agent.delete', []);
    expect(d.reasons.join(' ')).toMatch(/ghost/);
    expect(d.reasons.join(' ')).toMatch(/member/);
  });

  it('reports every missing scope of a principal holding none', () => {
    const d = decidePermission(policy, frozen({ id: 'no-scopes', roles: ['admin'], scopes: [] }), 'agent.update', [
      'agents:write',
      'agents:read',
    ]);
    expect(d).toMatchObject({ code: 'insufficient_scope', missingScopes: ['agents:write', 'agents:read'] });
  });

  it('lets a denial at any step override an allowing role', () => {
    const admin = frozen({ id: 'deny-overrides', roles: ['admin', 'operator'], scopes: ['agents:read'] });
    expect(decidePermission(policy, admin, 'agent.fly', []).code).toBe('forbidden');
    expect(decidePermission(policy, admin, 'agent.delete', ['agents:write']).code).toBe('insufficient_scope');
    expect(decidePermission(policy, admin, 'agent.delete', ['agents:read']).allowed).toBe(true);
  });

  describe('prototype-ish names are plain names', () => {
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];

    it.each(names)('a role %s the policy does not define allows nothing', (name) => {
      for (const p of [
        principal({ roles: [name], scopes: ['*'] }),
        frozen({ id: `proto-role-${name}`, roles: [name], scopes: ['*'] }),
      ]) {
        expect(decidePermission(policy, p, 'agent.read', [])).toMatchObject({ allowed: false, code: 'forbidden' });
      }
    });

    it.each(names)('an operation %s is unknown', (name) => {
      expect(decidePermission(policy, frozen({ id: 'proto-op', roles: ['admin'] }), name, [])).toMatchObject({
        allowed: false,
        code: 'forbidden',
      });
    });

    it.each(names)('a scope %s covers only itself', (name) => {
      const p = frozen({ id: `proto-scope-${name}`, roles: ['operator'], scopes: [name] });
      expect(decidePermission(policy, p, 'agent.read', [name]).allowed).toBe(true);
      expect(decidePermission(policy, p, 'agent.read', ['agents:read'])).toMatchObject({
        missingScopes: ['agents:read'],
      });
      const other = frozen({ id: `proto-scope-other-${name}`, roles: ['operator'], scopes: ['agents:read'] });
      expect(decidePermission(policy, other, 'agent.read', [name])).toMatchObject({ missingScopes: [name] });
    });

    it('roles and scopes the policy defines under such names work as any other', () => {
      const odd = compilePolicy({
        roles: JSON.parse(
          '{"__proto__": {"operations": ["agent.read"]}, "constructor": {"operations": ["agent.list"], "inherits": ["__proto__"]}}',
        ),
        scopes: JSON.parse('{"__proto__": {"implies": ["agents:read"]}, "constructor": {"implies": ["__proto__"]}}'),
      });
      const p = frozen({ id: 'odd', roles: ['constructor'], scopes: ['constructor'] });
      expect(decidePermission(odd, p, 'agent.read', ['agents:read']).allowed).toBe(true);
      expect(decidePermission(odd, p, 'agent.list', ['__proto__']).allowed).toBe(true);
      expect(decidePermission(odd, p, 'agent.delete', [])).toMatchObject({ allowed: false, code: 'forbidden' });
      expect(
        decidePermission(odd, frozen({ id: 'odd-2', roles: ['__proto__'], scopes: [] }), 'agent.list', []).allowed,
      ).toBe(false);
    });
  });

  it('handles a policy of more roles than a bit mask holds', () => {
    const roles: Record<string, { operations: string[]; own?: boolean }> = {};
    for (let i = 0; i < 40; i++)
      roles[`r${i}`] = { operations: i === 35 ? ['agent.*'] : ['session.read'], own: i === 36 };
    const wide = compilePolicy({ roles });
    for (const p of [principal({ roles: ['r1', 'r35'] }), frozen({ id: 'wide', roles: ['r35', 'r1'] })]) {
      expect(decidePermission(wide, p, 'agent.delete', []).allowed).toBe(true);
      expect(decidePermission(wide, p, 'session.delete', []).allowed).toBe(false);
    }
    expect(decidePermission(wide, frozen({ id: 'wide-own', roles: ['r36'] }), 'session.read', []).recordScope).toEqual({
      tenantId: 't1',
      ownerId: 'wide-own',
    });
  });

  it('matches wildcards on whole segments only', () => {
    const dotted = compilePolicy({ operations: ['agents.read'], roles: { operator: { operations: ['agent.*'] } } });
    const p = frozen({ id: 'segments', roles: ['operator'] });
    expect(decidePermission(dotted, p, 'agent.read', []).allowed).toBe(true);
    expect(decidePermission(dotted, p, 'agents.read', []).allowed).toBe(false);
  });
});
