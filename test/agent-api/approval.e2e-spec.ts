/**
 * Human approval (REQUIRE_APPROVAL): the shipped policy makes `agent.delete` need an approver's decision.
 */
import { signToken, startAgentApi, type Harness } from '../support/harness-exports';

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

describe.each(['express', 'fastify'] as const)('approvals (%s)', (adapter) => {
  let h: Harness;
  const operator = bearer(signToken({ sub: 'op-1', roles: ['operator'], scope: 'agents:write', tenant_id: 't1' }));
  const otherOperator = bearer(signToken({ sub: 'op-2', roles: ['operator'], scope: 'agents:write', tenant_id: 't1' }));
  const approver = bearer(signToken({ sub: 'boss', roles: ['approver'], scope: 'approvals:write', tenant_id: 't1' }));
  const foreignApprover = bearer(
    signToken({ sub: 'boss-2', roles: ['approver'], scope: 'approvals:write', tenant_id: 't2' }),
  );

  beforeAll(async () => {
    h = await startAgentApi({ adapter });
  });
  afterAll(() => h.close());

  async function newAgent(): Promise<string> {
    const res = await h.http().post('/agents').set(operator).send({ name: 'to delete' });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  it('asks for approval, then lets the same request through exactly once', async () => {
    const id = await newAgent();
    const first = await h.http().delete(`/agents/${id}`).set(operator);
    expect(first.status).toBe(403);
    expect(first.body).toMatchObject({ statusCode: 403, code: 'approval_required', approvalId: expect.any(String) });
    const approvalId = first.body.approvalId as string;

    // Not approved yet: presenting the id does not help.
    expect((await h.http().delete(`/agents/${id}`).set(operator).set('X-Approval-Id', approvalId)).status).toBe(403);

    const pending = await h.http().get('/approvals?status=pending').set(approver);
    expect(pending.status).toBe(200);
    expect(pending.body.items.map((a: { id: string }) => a.id)).toContain(approvalId);
    // Another tenant's approver cannot see or decide it; the requester cannot approve itself.
    expect((await h.http().post(`/approvals/${approvalId}/approve`).set(foreignApprover)).status).toBe(404);
    const approved = await h.http().post(`/approvals/${approvalId}/approve`).set(approver);
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('approved');

    // Another principal cannot use the approval.
    expect((await h.http().delete(`/agents/${id}`).set(otherOperator).set('X-Approval-Id', approvalId)).status).toBe(
      403,
    );
    const done = await h.http().delete(`/agents/${id}`).set(operator).set('X-Approval-Id', approvalId);
    expect(done.status).toBe(204);
    expect((await h.http().get(`/agents/${id}`).set(operator)).status).toBe(404);
    // Never twice.
    const again = await h
      .http()
      .delete(`/agents/${await newAgent()}`)
      .set(operator)
      .set('X-Approval-Id', approvalId);
    expect(again.status).toBe(403);
    expect(again.body.code).toBe('forbidden');
  });

  it('binds the approval to the exact request', async () => {
    const id = await newAgent();
    const other = await newAgent();
    const first = await h.http().delete(`/agents/${id}`).set(operator);
    await h.http().post(`/approvals/${first.body.approvalId}/approve`).set(approver).expect(200);
    const wrongTarget = await h
      .http()
      .delete(`/agents/${other}`)
      .set(operator)
      .set('X-Approval-Id', first.body.approvalId);
    expect(wrongTarget.status).toBe(403);
    expect((await h.http().get(`/agents/${other}`).set(operator)).status).toBe(200);
  });

  it('never lets a denied approval through', async () => {
    const id = await newAgent();
    const first = await h.http().delete(`/agents/${id}`).set(operator);
    const denied = await h.http().post(`/approvals/${first.body.approvalId}/deny`).set(approver);
    expect(denied.status).toBe(200);
    expect(denied.body.status).toBe('denied');
    expect(
      (await h.http().delete(`/agents/${id}`).set(operator).set('X-Approval-Id', first.body.approvalId)).status,
    ).toBe(403);
  });

  it('records the request, the decision and the denial in the audit log', async () => {
    const id = await newAgent();
    const first = await h.http().delete(`/agents/${id}`).set(operator);
    await h.http().post(`/approvals/${first.body.approvalId}/approve`).set(approver).expect(200);
    const auditor = bearer(signToken({ roles: ['auditor'], scope: 'audit:read' }));
    // The writer batches off the request path; give it a moment.
    let types: string[] = [];
    for (let i = 0; i < 50 && !(types.includes('approval.requested') && types.includes('approval.decided')); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const res = await h.http().get('/audit?limit=500').set(auditor);
      types = res.body.items.map((e: { type: string }) => e.type);
    }
    expect(types).toEqual(expect.arrayContaining(['approval.requested', 'approval.decided', 'access.denied']));
  });
});
