import { describe, expect, it } from '@jest/globals';
import type { Principal } from '../authentication/principal.interface';
import { compilePolicy } from '../authorization/compiled-policy';
import { builtinPolicies, decisionMissingScopes, decisionRecordScope } from './builtin.policies';
import { PolicyEngine } from './policy.engine';
import type { Policy } from './policy.interface';

const compiled = compilePolicy({
  operations: ['thing.list'],
  roles: {
    admin: { operations: ['*'] },
    operator: { operations: ['agent.*', 'session.*'] },
    customer: { operations: ['session.create', 'session.read'], own: true },
  },
  scopes: { 'agents:write': { implies: ['agents:read'] }, admin: { implies: ['*'] } },
  approvals: { operations: ['agent.delete'] },
});

const principal = (roles: string[], scopes: string[]): Principal => ({
  id: 'user-1',
  type: 'user',
  tenantId: 't1',
  roles,
  scopes,
  tier: null,
  tokenId: null,
});

const cases: [string[], string[], string, string[]][] = [
  [['admin'], [], 'thing.list', []],
  [['operator'], ['agents:write'], 'agent.read', ['agents:read']],
  [['operator'], [], 'agent.read', ['agents:read']],
  [['operator'], [], 'thing.list', []],
  [['customer'], [], 'session.read', []],
  [['customer', 'operator'], [], 'session.read', []],
  [[], [], 'session.read', []],
  [['admin'], [], 'no.such', []],
  [['admin'], [], 'agent.delete', []],
];

describe('the built-in policies and their compiled fast path', () => {
  const slow = () => new PolicyEngine(builtinPolicies(compiled).policies);
  const fast = () => {
    const { policies, fastPath } = builtinPolicies(compiled);
    return new PolicyEngine(policies).useFastPath(fastPath);
  };

  it.each(cases)('decides %j %j %s %j as the evaluators do', async (roles, scopes, operation, requiredScopes) => {
    const input = { principal: principal(roles, scopes), operation, context: { requiredScopes } };
    expect(await fast().evaluate(input)).toEqual(await slow().evaluate(input));
  });

  it('gives the record scope of the allowing roles and the missing scopes', async () => {
    const own = await fast().evaluate({ principal: principal(['customer'], []), operation: 'session.read' });
    expect(decisionRecordScope(own, principal(['customer'], []))).toEqual({ tenantId: 't1', ownerId: 'user-1' });
    const missing = await fast().evaluate({
      principal: principal(['operator'], []),
      operation: 'agent.read',
      context: { requiredScopes: ['agents:read'] },
    });
    expect(missing.code).toBe('insufficient_scope');
    expect(decisionMissingScopes(missing)).toEqual(['agents:read']);
  });

  it('leaves the fast path once another policy is registered', async () => {
    const { policies, fastPath } = builtinPolicies(compiled);
    const engine = new PolicyEngine(policies).useFastPath(fastPath);
    const denyAll: Policy = {
      name: 'deny-all',
      priority: 500,
      evaluate: () => ({ outcome: 'DENY', reason: 'closed' }),
    };
    engine.register(denyAll);
    const decision = await engine.evaluate({ principal: principal(['admin'], []), operation: 'thing.list' });
    expect(decision).toMatchObject({ outcome: 'DENY', deniedBy: 'deny-all' });
  });

  it('never writes while deciding an operation behind an approval: it only says REQUIRE_APPROVAL', async () => {
    const decision = await fast().evaluate({ principal: principal(['admin'], []), operation: 'agent.delete' });
    expect(decision).toMatchObject({ outcome: 'REQUIRE_APPROVAL', code: 'approval_required' });
  });
});
