/**
 * An approval is spent only by a call that runs: when the operation needs an approval (`approvals.operations`) and its
 * route has a `@Budget`, the authorization guard spends the presented approval before the budget interceptor reserves.
 * A call the budget then refuses (402) must leave the approval approved, so the same call passes once the budget has
 * room — on Express and Fastify.
 */
import { randomUUID } from 'node:crypto';
import { signToken, startAgentApi, type Harness } from '../support/agent-api.harness';

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

describe.each(['express', 'fastify'] as const)('an approval refused later by a budget (%s)', (adapter) => {
  let h: Harness;
  const tenant = `t-appr-budget-${adapter}`;
  const operator = bearer(
    signToken({
      sub: `op-${randomUUID()}`,
      roles: ['operator'],
      scope: 'agents:write sessions:write events:write approvals:read',
      tenant_id: tenant,
    }),
  );
  const approver = bearer(
    signToken({ sub: `boss-${randomUUID()}`, roles: ['approver'], scope: 'approvals:write', tenant_id: tenant }),
  );

  beforeAll(async () => {
    h = await startAgentApi({
      adapter,
      configure: (config) => {
        config.policy.approvals = { ...config.policy.approvals, operations: ['agent.delete', 'event.create'] };
        const budgets = { ...config.policy.budgets };
        delete budgets.approvalAbovePercent;
        // Far less than one echo-1 reply costs: every event is refused with 402 before it runs.
        config.policy.budgets = { ...budgets, principal: { day: { cost: 0.000001 } } };
      },
    });
  }, 60_000);
  afterAll(() => h?.close());

  it('keeps the approval approved after a 402, and spends it at most once', async () => {
    const agent = (await h.http().post('/agents').set(operator).send({ name: 'budgeted' }).expect(201)).body
      .id as string;
    const session = (await h.http().post('/sessions').set(operator).send({ agentId: agent }).expect(201)).body
      .id as string;
    const send = () => h.http().post(`/sessions/${session}/events`).set(operator).send({ message: 'hello' });

    const asked = await send();
    expect(asked.status).toBe(403);
    expect(asked.body.code).toBe('approval_required');
    const approvalId = asked.body.approvalId as string;
    await h.http().post(`/approvals/${approvalId}/approve`).set(approver).expect(200);

    const refused = await send().set('X-Approval-Id', approvalId);
    expect(refused.status).toBe(402);
    expect(refused.body.code).toBe('budget_exceeded');

    const approved = await h.http().get('/approvals?status=approved').set(approver);
    expect(approved.status).toBe(200);
    expect(approved.body.items.map((a: { id: string }) => a.id)).toContain(approvalId);

    // Presented again, it is still the budget that refuses (the approval was not spent by the refused call).
    const again = await send().set('X-Approval-Id', approvalId);
    expect(again.status).toBe(402);
    expect(again.body.code).toBe('budget_exceeded');

    // Concurrent retries: every one is refused (402 by the budget, or 403 while another retry holds the approval
    // between its spend and its return), and none of them spends it for good.
    const results = await Promise.all(Array.from({ length: 10 }, () => send().set('X-Approval-Id', approvalId)));
    for (const r of results) {
      expect([402, 403]).toContain(r.status);
      expect(r.body.code).toBe(r.status === 402 ? 'budget_exceeded' : 'forbidden');
    }
    expect(results.some((r) => r.status === 402)).toBe(true);
    const still = await h.http().get('/approvals?status=approved').set(approver);
    expect(still.body.items.map((a: { id: string }) => a.id)).toContain(approvalId);
  });
});
