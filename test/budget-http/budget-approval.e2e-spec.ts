/**
 * `budgets.approvalAbovePercent`: a budgeted call that would take a budget past the threshold is REQUIRE_APPROVAL.
 * Its reservation is given back, a pending approval is stored, and once a human approves it the same call, retried
 * with `X-Approval-Id`, passes once. Express and Fastify, database budget store (SQLite).
 */
import { randomUUID } from 'node:crypto';
import type { BudgetConfig } from 'nest-agent-policy';
import { signToken, type Harness } from '../support/agent-api.harness';
import { budgetOf, startWithBudgets, call, newSession, remaining, type EventReply } from './budget-http.fixtures';

/** Ten calls a day per principal; past half of it, a human must approve each call. */
const BUDGETS: BudgetConfig = {
  softLimitPercent: 90,
  approvalAbovePercent: 50,
  principal: { day: { requests: 10 } },
};

describe.each(['express', 'fastify'] as const)('budget approvals over HTTP (%s)', (adapter) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startWithBudgets(adapter, BUDGETS);
  });
  afterAll(() => h.close());

  /** A caller and an approver of a tenant of their own. */
  function tenantPair() {
    const tenant = `approval-tenant-${randomUUID()}`;
    const caller = {
      Authorization: `Bearer ${signToken({ sub: `caller-${randomUUID()}`, roles: ['admin'], scope: 'admin', tenant_id: tenant })}`,
    };
    const approver = {
      Authorization: `Bearer ${signToken({ sub: `boss-${randomUUID()}`, roles: ['approver'], scope: 'approvals:write', tenant_id: tenant })}`,
    };
    return { caller, approver };
  }

  const post = (session: string, headers: Record<string, string>, message: string) =>
    call<EventReply & { code?: string; approvalId?: string; message?: string }>(
      `${h.url}/sessions/${session}/events`,
      'POST',
      headers,
      { message },
    );

  const requestsBudget = async (headers: Record<string, string>) =>
    budgetOf(await remaining(h.url, headers), 'principal', 'day', 'requests');

  it('asks for approval past the threshold, charges nothing until approved, then passes the same call once', async () => {
    const { caller, approver } = tenantPair();
    const session = await newSession(h.url, caller);

    // 5 of 10 is 50%: not past the threshold.
    for (let i = 0; i < 5; i++) expect((await post(session, caller, `call ${i}`)).status).toBe(201);

    const sixth = await post(session, caller, 'the sixth call');
    expect(sixth.status).toBe(403);
    expect(sixth.body).toMatchObject({ statusCode: 403, code: 'approval_required', approvalId: expect.any(String) });
    expect(sixth.body.message).toContain('principal day requests budget past 50%');
    const approvalId = sixth.body.approvalId as string;
    // The reservation was given back: nothing charged, nothing held.
    expect(await requestsBudget(caller)).toMatchObject({ used: 5, reserved: 0, remaining: 5 });

    // Pending: the id alone does not help.
    const early = await call<{ code?: string }>(
      `${h.url}/sessions/${session}/events`,
      'POST',
      { ...caller, 'X-Approval-Id': approvalId },
      { message: 'the sixth call' },
    );
    expect(early.status).toBe(403);
    expect(early.body.code).toBe('forbidden');

    const approved = await call<{ status?: string }>(`${h.url}/approvals/${approvalId}/approve`, 'POST', approver);
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('approved');

    // Bound to the exact request: another message with the same id is refused, and does not spend the approval.
    const other = await call<{ code?: string }>(
      `${h.url}/sessions/${session}/events`,
      'POST',
      { ...caller, 'X-Approval-Id': approvalId },
      { message: 'something else' },
    );
    expect(other.status).toBe(403);
    expect(other.body.code).toBe('forbidden');

    const done = await call<EventReply>(
      `${h.url}/sessions/${session}/events`,
      'POST',
      { ...caller, 'X-Approval-Id': approvalId },
      { message: 'the sixth call' },
    );
    expect(done.status).toBe(201);
    expect(done.body.usage).toMatchObject({ inputTokens: expect.any(Number) });
    expect(await requestsBudget(caller)).toMatchObject({ used: 6, reserved: 0 });

    // Never twice.
    const again = await call<{ code?: string }>(
      `${h.url}/sessions/${session}/events`,
      'POST',
      { ...caller, 'X-Approval-Id': approvalId },
      { message: 'the sixth call' },
    );
    expect(again.status).toBe(403);
    expect(again.body.code).toBe('forbidden');
    expect(await requestsBudget(caller)).toMatchObject({ used: 6, reserved: 0 });
  });

  it('does not let another principal use the approval', async () => {
    const tenant = `approval-tenant-${randomUUID()}`;
    const as = (sub: string, roles: string[], scope: string) => ({
      Authorization: `Bearer ${signToken({ sub: `${sub}-${randomUUID()}`, roles, scope, tenant_id: tenant })}`,
    });
    const caller = as('caller', ['admin'], 'admin');
    const colleague = as('colleague', ['admin'], 'admin');
    const approver = as('boss', ['approver'], 'approvals:write');
    const session = await newSession(h.url, caller);
    for (let i = 0; i < 5; i++) expect((await post(session, caller, `call ${i}`)).status).toBe(201);
    const asked = await post(session, caller, 'mine');
    expect(asked.status).toBe(403);
    const approvalId = asked.body.approvalId as string;
    expect((await call(`${h.url}/approvals/${approvalId}/approve`, 'POST', approver)).status).toBe(200);

    // A colleague of the same tenant, also past the threshold, sends the very same request with that approval.
    const theirs = await newSession(h.url, colleague);
    for (let i = 0; i < 5; i++) expect((await post(theirs, colleague, `call ${i}`)).status).toBe(201);
    const borrowed = await call<{ code?: string }>(
      `${h.url}/sessions/${session}/events`,
      'POST',
      { ...colleague, 'X-Approval-Id': approvalId },
      { message: 'mine' },
    );
    expect(borrowed.status).toBe(403);
    expect(borrowed.body.code).toBe('forbidden');
    expect(await requestsBudget(colleague)).toMatchObject({ used: 5, reserved: 0 });
    // The approval is still good for its owner.
    const mine = await call(
      `${h.url}/sessions/${session}/events`,
      'POST',
      { ...caller, 'X-Approval-Id': approvalId },
      { message: 'mine' },
    );
    expect(mine.status).toBe(201);
  });
});
