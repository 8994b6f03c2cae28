import { describe, expect, it } from '@jest/globals';
import type { Principal } from '../authentication/principal.interface';
import type { BudgetConfig } from '../policy-module-options.interface';
import { buildBudgetPlan } from './budget.plan';

const principal = (over: Partial<Principal> = {}): Principal => ({
  id: 'user-1',
  type: 'user',
  tenantId: null,
  roles: [],
  scopes: [],
  tier: null,
  tokenId: null,
  ...over,
});

const config: BudgetConfig = {
  principal: { day: { cost: 5, requests: 1_000 } },
  'api-key': { hour: { tokens: 10_000 } },
  tenant: { month: { cost: 500 } },
  global: { week: { cost: 10_000 } },
};
const now = Date.parse('2026-11-23T10:15:00Z');
const charge = { costMicro: 1_234, tokens: 300, requests: 1 };

describe('buildBudgetPlan', () => {
  it('plans principal and global counters for a plain user', () => {
    const plan = buildBudgetPlan(principal(), config, now, charge);
    expect(plan.map((c) => c.key)).toEqual([
      'principal:-%3Auser-1:day:2026-11-23:cost',
      'principal:-%3Auser-1:day:2026-11-23:requests',
      'global:*:week:2026-W48:cost',
    ]);
    expect(plan[0]).toEqual({
      scope: 'principal',
      scopeId: '-:user-1',
      period: 'day',
      unit: 'cost',
      key: 'principal:-%3Auser-1:day:2026-11-23:cost',
      limit: 5_000_000,
      amount: 1_234,
      windowStart: Date.parse('2026-11-23T00:00:00Z'),
      resetAt: Date.parse('2026-11-24T00:00:00Z'),
    });
    expect(plan[1]).toMatchObject({ limit: 1_000, amount: 1 });
  });

  it('adds the api-key scope when the caller used a key, and keeps the principal scope on the principal id', () => {
    const plan = buildBudgetPlan(
      principal({ id: 'apikey:k1', type: 'api-key', apiKeyId: 'k1', tenantId: 't-9' }),
      config,
      now,
      charge,
    );
    expect(plan.map((c) => c.key)).toEqual([
      'principal:t.t-9%3Aapikey%3Ak1:day:2026-11-23:cost',
      'principal:t.t-9%3Aapikey%3Ak1:day:2026-11-23:requests',
      'api-key:k1:hour:2026-11-23T10:tokens',
      'tenant:t-9:month:2026-11:cost',
      'global:*:week:2026-W48:cost',
    ]);
    expect(plan[2]).toMatchObject({ amount: 300, limit: 10_000, resetAt: Date.parse('2026-11-23T11:00:00Z') });
  });

  it('encodes ids so that one cannot forge another counter key', () => {
    const [counter] = buildBudgetPlan(principal({ id: 'a:day:2026-11-23:cost' }), config, now, charge);
    expect(counter.key).toBe('principal:-%3Aa%3Aday%3A2026-11-23%3Acost:day:2026-11-23:cost');
  });

  it('plans nothing without configured budgets, and zero amounts without a charge', () => {
    expect(buildBudgetPlan(principal(), undefined, now, charge)).toEqual([]);
    expect(buildBudgetPlan(principal(), {}, now, charge)).toEqual([]);
    expect(buildBudgetPlan(principal(), config, now).every((c) => c.amount === 0)).toBe(true);
  });

  it('moves to new counters when the window rolls over', () => {
    const before = buildBudgetPlan(principal(), config, Date.parse('2026-11-23T23:59:59.999Z'));
    const after = buildBudgetPlan(principal(), config, Date.parse('2026-11-24T00:00:00.000Z'));
    expect(before[0].key).toBe('principal:-%3Auser-1:day:2026-11-23:cost');
    expect(after[0].key).toBe('principal:-%3Auser-1:day:2026-11-24:cost');
    expect(after[2].key).toBe(before[2].key); // same ISO week
  });

  it('keys the principal budget by tenant: the same sub in two tenants spends two budgets', () => {
    const t1 = buildBudgetPlan(principal({ id: 'alice', tenantId: 't1' }), config, now, charge)[0];
    const t2 = buildBudgetPlan(principal({ id: 'alice', tenantId: 't2' }), config, now, charge)[0];
    const none = buildBudgetPlan(principal({ id: 'alice', tenantId: null }), config, now, charge)[0];
    const forged = buildBudgetPlan(principal({ id: 't1:alice', tenantId: null }), config, now, charge)[0];
    expect(new Set([t1.key, t2.key, none.key, forged.key]).size).toBe(4);
  });

  it("charges an API key to its creator's principal budget when the key shares its creator's account", () => {
    const creator = buildBudgetPlan(principal({ id: 'alice', tenantId: 't1' }), config, now, charge)[0];
    const key = buildBudgetPlan(
      principal({ id: 'apikey:k1', type: 'api-key', apiKeyId: 'k1', tenantId: 't1', accountId: 'alice' }),
      config,
      now,
      charge,
    );
    expect(key[0].key).toBe(creator.key);
    expect(key.map((c) => c.scope)).toContain('api-key');
  });
});
