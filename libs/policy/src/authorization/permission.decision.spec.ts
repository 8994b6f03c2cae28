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
    const decision = decidePermission(policy, principal({ roles: ['operator'], scopes: ['agents:read'] }), 'agent.read', ['agents:read']);
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
      const decision = decidePermission(policy, principal({ roles: ['customer'], scopes: ['agents:write'] }), 'agent.delete', [
        'agents:write',
      ]);
      expect(decision).toMatchObject({ allowed: false, code: 'forbidden', recordScope: {} });
      expect(decision.missingScopes).toBeUndefined();
    });

    it('answers forbidden, not insufficient_scope, when scopes are missing too', () => {
      const decision = decidePermission(policy, principal({ roles: ['customer'], scopes: [] }), 'agent.delete', ['agents:write']);
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
      const decision = decidePermission(policy, principal({ roles: ['operator'], scopes: ['agents:read'] }), 'agent.update', [
        'agents:write',
        'agents:read',
        'sessions:read',
      ]);
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
      const decision = decidePermission(policy, principal({ roles: ['operator'], scopes: ['admin'] }), 'session.delete', [
        'sessions:write',
        'audit:read',
      ]);
      expect(decision.allowed).toBe(true);
    });

    it('does not let read imply write', () => {
      const decision = decidePermission(policy, principal({ roles: ['operator'], scopes: ['agents:read'] }), 'agent.create', [
        'agents:write',
      ]);
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
