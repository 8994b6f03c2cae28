/**
 * Shadow mode (SPEC §15): `mode: shadow` on a role, on `rateLimits` or on `budgets` audits what would have been
 * refused (outcome SHADOW_DENY) and lets the request pass; `rateLimits.headers` picks the rate-limit headers.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';
import type { PolicyDocument } from 'nest-agent-policy';

const bearer = (claims: Record<string, unknown>) => ({ Authorization: `Bearer ${signToken(claims)}` });

interface AuditItem {
  type: string;
  outcome: string;
  principalId: string | null;
  operation: string | null;
}

async function auditOf(h: Harness, type: string, principalId: string, count: number): Promise<AuditItem[]> {
  const admin = bearer({ sub: 'shadow-auditor', ...ADMIN });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await h.http().get(`/audit?type=${type}&principalId=${principalId}`).set(admin);
    expect(res.status).toBe(200);
    if (res.body.items.length >= count || Date.now() > deadline) return res.body.items as AuditItem[];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function start(adapter: 'express' | 'fastify', change: (policy: PolicyDocument) => void): Promise<Harness> {
  return startAgentApi({ adapter, configure: (config) => change(config.policy) });
}

describe.each(['express', 'fastify'] as const)('shadow mode (%s)', (adapter) => {
  describe('a role in shadow mode', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await start(adapter, (policy) => {
        policy.roles = { ...policy.roles, customer: { ...policy.roles.customer, mode: 'shadow' } };
      });
    });
    afterAll(() => h.close());

    it('lets what the role would refuse pass, audited as SHADOW_DENY, still inside its tenant and its own records', async () => {
      const other = bearer({ sub: 'shadow-t2-admin', ...ADMIN, tenant_id: 't2' });
      const foreign = await h.http().post('/agents').set(other).send({ name: 't2 agent' });
      expect(foreign.status).toBe(201);
      const customer = bearer({ sub: 'shadow-customer', roles: ['customer'], scope: 'agents:read', tenant_id: 't1' });
      const list = await h.http().get('/agents').set(customer);
      expect(list.status).toBe(200);
      // An own role: its records only, so the t2 agent (and any t1 agent it does not own) stays out of reach.
      expect(list.body.items).toEqual([]);
      expect((await h.http().get(`/agents/${foreign.body.id}`).set(customer)).status).toBe(404);
      const events = await auditOf(h, 'access.denied', 'shadow-customer', 2);
      expect(events.map((e) => [e.operation, e.outcome]).sort()).toEqual([
        ['agent.list', 'SHADOW_DENY'],
        ['agent.read', 'SHADOW_DENY'],
      ]);
    });

    it('leaves roles in enforce mode refusing', async () => {
      const operator = bearer({ sub: 'shadow-operator', roles: ['operator'], scope: 'agents:read' });
      const res = await h.http().post('/agents').set(operator).send({ name: 'x' });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('insufficient_scope');
      const [event] = await auditOf(h, 'access.denied', 'shadow-operator', 1);
      expect(event.outcome).toBe('DENY');
    });

    it('never shadows an operation that needs a human approval: the refusal stands', async () => {
      const admin = bearer({ sub: 'shadow-admin', ...ADMIN });
      const agent = await h.http().post('/agents').set(admin).send({ name: 'keep' });
      const customer = bearer({ sub: 'shadow-deleter', roles: ['customer'], scope: 'agents:write' });
      // agent.delete needs an approval in the shipped policy: shadow mode does not let it through without one.
      const res = await h.http().delete(`/agents/${agent.body.id}`).set(customer);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('forbidden');
      const [event] = await auditOf(h, 'access.denied', 'shadow-deleter', 1);
      expect(event.outcome).toBe('DENY');
      expect((await h.http().get(`/agents/${agent.body.id}`).set(admin)).status).toBe(200);
    });
  });

  describe('rate limits in shadow mode', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await start(adapter, (policy) => {
        policy.rateLimits = {
          ...policy.rateLimits,
          mode: 'shadow',
          operations: { 'agent.list': { limit: 2, ttl: 60 } },
        };
      });
    });
    afterAll(() => h.close());

    it('answers every request, audits each one past the limit as SHADOW_DENY', async () => {
      const caller = bearer({ sub: 'shadow-lister', roles: ['operator'], scope: 'agents:read' });
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await h.http().get('/agents').set(caller));
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(answers.map((r) => r.headers['x-ratelimit-remaining'])).toEqual(['1', '0', '0', '0']);
      expect(answers.every((r) => r.headers['retry-after'] === undefined)).toBe(true);
      const events = await auditOf(h, 'rate_limit.exceeded', 'shadow-lister', 2);
      expect(events.map((e) => e.outcome)).toEqual(['SHADOW_DENY', 'SHADOW_DENY']);
      const metrics = await h
        .http()
        .get('/metrics')
        .set(bearer({ sub: 'shadow-metrics', ...ADMIN }));
      expect(metrics.status).toBe(200);
      expect(metrics.text).toMatch(/^policy_shadow_denials_total\{control="rate_limit"\} 2$/m);
    });
  });

  describe.each([
    ['ietf', false, true],
    ['both', true, true],
    ['x-ratelimit', true, false],
  ] as const)('rateLimits.headers: %s', (style, legacy, ietf) => {
    let h: Harness;
    beforeAll(async () => {
      h = await start(adapter, (policy) => {
        policy.rateLimits = {
          ...policy.rateLimits,
          headers: style,
          operations: { 'agent.list': { limit: 3, ttl: 60 } },
        };
      });
    });
    afterAll(() => h.close());

    it('sends the headers it names, for the bucket nearest exhaustion', async () => {
      const caller = bearer({ sub: `headers-${style}`, roles: ['operator'], scope: 'agents:read' });
      const first = await h.http().get('/agents').set(caller);
      expect(first.status).toBe(200);
      expect(first.headers['x-ratelimit-limit'] !== undefined).toBe(legacy);
      expect(first.headers['ratelimit'] !== undefined).toBe(ietf);
      if (ietf) {
        expect(first.headers['ratelimit-policy']).toMatch(/^"[^"]+";q=3;w=60$/);
        expect(first.headers['ratelimit']).toMatch(/^"[^"]+";r=2;t=\d+$/);
      }
      for (let i = 0; i < 2; i++) await h.http().get('/agents').set(caller);
      const refused = await h.http().get('/agents').set(caller);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      if (ietf) expect(refused.headers['ratelimit']).toMatch(/;r=0;/);
    });
  });

  describe('budgets in shadow mode', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await start(adapter, (policy) => {
        policy.budgets = { mode: 'shadow', principal: { day: { requests: 1 } } };
      });
    });
    afterAll(() => h.close());

    it('lets a call past the budget through, audits SHADOW_DENY, and charges it', async () => {
      const customer = bearer({
        sub: 'shadow-spender',
        roles: ['customer'],
        scope: 'sessions:write events:write budgets:read',
      });
      const admin = bearer({ sub: 'shadow-budget-admin', ...ADMIN });
      const agent = await h.http().post('/agents').set(admin).send({ name: 'shadow budget' });
      const session = await h.http().post('/sessions').set(customer).send({ agentId: agent.body.id });
      expect(session.status).toBe(201);
      const posts = [];
      for (let i = 0; i < 3; i++)
        posts.push(
          await h
            .http()
            .post(`/sessions/${session.body.id}/events`)
            .set(customer)
            .send({ message: `hi ${i}` }),
        );
      expect(posts.map((r) => r.status)).toEqual([201, 201, 201]);
      const events = await auditOf(h, 'budget.exceeded', 'shadow-spender', 2);
      expect(events.map((e) => e.outcome)).toEqual(['SHADOW_DENY', 'SHADOW_DENY']);
      const remaining = await h.http().get('/budgets/remaining').set(customer);
      const day = remaining.body.budgets.find(
        (b: { scope: string; unit: string }) => b.scope === 'principal' && b.unit === 'requests',
      );
      expect(day).toMatchObject({ limit: 1, used: 3, remaining: 0 });
    });
  });
});
