import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { Principal } from '../authentication/principal.interface';
import { ENGINE_POLICY_NAME, PolicyEngine } from './policy.engine';
import type { Policy, PolicyInput, PolicyVerdict } from './policy.interface';

const principal: Principal = {
  id: 'user-1',
  type: 'user',
  tenantId: 't1',
  roles: ['operator'],
  scopes: [],
  tier: null,
  tokenId: null,
};
const input: PolicyInput = { principal, operation: 'agent.update' };

type Behaviour = 'ALLOW' | 'DENY' | 'REQUIRE_APPROVAL' | 'ABSTAIN' | 'throw' | 'async-throw';
const BEHAVIOURS: Behaviour[] = ['ALLOW', 'DENY', 'REQUIRE_APPROVAL', 'ABSTAIN', 'throw', 'async-throw'];
const SECRET_ERROR = 'connection to postgres://admin:hunter2@db failed';

function policy(name: string, priority: number, behaviour: Behaviour): Policy {
  return {
    name,
    priority,
    evaluate(): PolicyVerdict | Promise<PolicyVerdict> {
      if (behaviour === 'throw') throw new Error(SECRET_ERROR);
      if (behaviour === 'async-throw') return Promise.reject(new Error(SECRET_ERROR));
      const verdict: PolicyVerdict = {
        outcome: behaviour,
        reason: `${name} says ${behaviour}`,
        ...(behaviour === 'DENY' ? { code: 'insufficient_scope' } : {}),
      };
      // Alternate sync and async answers so both paths are exercised.
      return priority % 2 === 0 ? Promise.resolve(verdict) : verdict;
    },
  };
}

/** What each behaviour counts as once failures are turned into denials. */
const effective = (b: Behaviour) => (b === 'throw' || b === 'async-throw' ? 'DENY' : b);
const RANK = { DENY: 3, REQUIRE_APPROVAL: 2, ALLOW: 1, ABSTAIN: 0 } as const;

describe('PolicyEngine', () => {
  beforeAll(() => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterAll(() => {
    jest.restoreAllMocks();
  });

  const pairs = BEHAVIOURS.flatMap((first) => BEHAVIOURS.map((second) => [first, second] as const));

  it.each(pairs)('combines %s then %s', async (first, second) => {
    const engine = new PolicyEngine([policy('second', 2, second), policy('first', 1, first)]);
    const decision = await engine.evaluate(input);

    const strongest = [effective(first), effective(second)].sort((a, b) => RANK[b] - RANK[a])[0];
    const expected = strongest === 'ABSTAIN' ? 'DENY' : strongest;
    expect(decision.outcome).toBe(expected);

    const ran = effective(first) === 'DENY' ? ['first'] : ['first', 'second'];
    const listed = decision.reasons.map((r) => r.policy);
    expect(listed).toEqual(strongest === 'ABSTAIN' ? [...ran, ENGINE_POLICY_NAME] : ran);

    if (expected === 'DENY') {
      const denier =
        effective(first) === 'DENY' ? 'first' : effective(second) === 'DENY' ? 'second' : ENGINE_POLICY_NAME;
      expect(decision.deniedBy).toBe(denier);
      const deniedBehaviour = denier === 'first' ? first : denier === 'second' ? second : 'ABSTAIN';
      expect(decision.code).toBe(deniedBehaviour === 'DENY' ? 'insufficient_scope' : 'forbidden');
      if (deniedBehaviour === 'throw' || deniedBehaviour === 'async-throw') {
        expect(decision.reasons.find((r) => r.policy === denier)?.reason).toBe(`policy ${denier} failed`);
      }
    } else {
      expect(decision.deniedBy).toBeUndefined();
    }
    if (expected === 'REQUIRE_APPROVAL') expect(decision.code).toBe('approval_required');
    expect(JSON.stringify(decision)).not.toContain('hunter2');
  });

  it('denies when no policy is registered (fail closed)', async () => {
    const decision = await new PolicyEngine().evaluate(input);
    expect(decision).toEqual({
      outcome: 'DENY',
      deniedBy: ENGINE_POLICY_NAME,
      code: 'forbidden',
      reasons: [
        { policy: ENGINE_POLICY_NAME, outcome: 'DENY', reason: 'no policy allowed the operation', code: 'forbidden' },
      ],
    });
  });

  it('runs policies by priority, lower first, keeping registration order for ties', async () => {
    const order: string[] = [];
    const tracking = (name: string, priority: number): Policy => ({
      name,
      priority,
      evaluate: () => {
        order.push(name);
        return { outcome: 'ALLOW', reason: name };
      },
    });
    const engine = new PolicyEngine([tracking('c', 10), tracking('a', -5), tracking('b1', 3)]);
    engine.register(tracking('b2', 3));
    const decision = await engine.evaluate(input);
    expect(order).toEqual(['a', 'b1', 'b2', 'c']);
    expect(decision.reasons.map((r) => r.reason)).toEqual(['a', 'b1', 'b2', 'c']);
    expect(engine.policies.map((p) => p.name)).toEqual(['a', 'b1', 'b2', 'c']);
  });

  it('stops at the first denial but lists every policy that ran', async () => {
    const later = jest.fn(() => ({ outcome: 'ALLOW' as const, reason: 'later' }));
    const engine = new PolicyEngine([
      policy('allow', 1, 'ALLOW'),
      policy('deny', 3, 'DENY'),
      { name: 'later', priority: 5, evaluate: later },
    ]);
    const decision = await engine.evaluate(input);
    expect(decision.outcome).toBe('DENY');
    expect(decision.reasons).toEqual([
      { policy: 'allow', outcome: 'ALLOW', reason: 'allow says ALLOW' },
      { policy: 'deny', outcome: 'DENY', reason: 'deny says DENY', code: 'insufficient_scope' },
    ]);
    expect(later).not.toHaveBeenCalled();
  });

  it.each([
    ['null', null],
    ['a string', 'ALLOW'],
    ['an unknown outcome', { outcome: 'MAYBE', reason: 'x' }],
    ['a verdict without reason', { outcome: 'ALLOW' }],
  ])('denies when a policy answers %s instead of a verdict', async (_label, answer) => {
    const broken = { name: 'broken', priority: 1, evaluate: () => answer as unknown as PolicyVerdict };
    const decision = await new PolicyEngine([broken, policy('allow', 2, 'ALLOW')]).evaluate(input);
    expect(decision).toMatchObject({ outcome: 'DENY', deniedBy: 'broken', code: 'forbidden' });
    expect(decision.reasons).toEqual([
      { policy: 'broken', outcome: 'DENY', reason: 'policy broken failed', code: 'forbidden' },
    ]);
  });

  it('logs a failing policy without the secrets in its error', async () => {
    const log = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const failing: Policy = {
      name: 'leaky',
      priority: 1,
      evaluate: () => {
        throw new Error(`bad token ${jwt}`);
      },
    };
    await new PolicyEngine([failing]).evaluate(input);
    const logged = log.mock.calls.map((call) => String(call[0])).join('\n');
    expect(logged).toContain('Policy "leaky" failed');
    expect(logged).not.toContain(jwt);
  });

  it.each([
    ['no name', { name: '', priority: 1, evaluate: () => ({ outcome: 'ALLOW', reason: '' }) }, /non-empty "name"/],
    [
      'a NaN priority',
      { name: 'p', priority: Number.NaN, evaluate: () => ({ outcome: 'ALLOW', reason: '' }) },
      /"p" needs a finite numeric "priority"/,
    ],
    ['no evaluate', { name: 'p', priority: 1 }, /"p" has no evaluate/],
  ])('refuses a policy with %s', (_label, candidate, message) => {
    expect(() => new PolicyEngine().register(candidate as unknown as Policy)).toThrow(message);
  });

  it('refuses two policies with the same name', () => {
    const engine = new PolicyEngine([policy('same', 1, 'ALLOW')]);
    expect(() => engine.register(policy('same', 2, 'DENY'))).toThrow('A policy named "same" is already registered');
  });
});
