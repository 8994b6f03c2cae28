import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { ApprovalService, RateLimitedException, type CompiledPolicy } from 'nest-agent-policy';
import { AuditService } from 'nest-agent-policy';
import { AuditWriter } from 'nest-agent-policy';
import type { Principal } from 'nest-agent-policy';
import { itOn, openTestDatabase, type DatabaseKind, type TestDatabase } from './audit-databases';

const agent: Principal = {
  id: 'apikey:agent-1',
  type: 'api-key',
  tenantId: 'acme',
  roles: ['agent'],
  scopes: [],
  tier: null,
  tokenId: 'agent-1',
};
const admin: Principal = {
  id: 'admin-1',
  type: 'user',
  tenantId: 'acme',
  roles: ['admin'],
  scopes: [],
  tier: null,
  tokenId: 'j1',
};
const otherTenantAdmin: Principal = { ...admin, id: 'admin-2', tenantId: 'globex' };
const platformAdmin: Principal = { ...admin, id: 'root', tenantId: null };

describe.each<DatabaseKind>(['sqlite', 'postgres'])('approvals on %s', (kind) => {
  let db: TestDatabase;
  const it = itOn(kind);
  let source: DataSource;
  let now = Date.UTC(2031, 5, 1);
  let approvals: ApprovalService;
  const digest = () =>
    approvals.requestDigest({ method: 'post', path: '/agents/a1/tools/invoke', body: { tool: 'refund', amount: 500 } });

  beforeAll(async () => {
    db = await openTestDatabase(kind);
    source = await db.connect();
    approvals = new ApprovalService(source, () => now);
  }, 60_000);
  afterAll(async () => {
    await db?.dispose();
  });

  async function approved(ttlMs = 60_000) {
    const created = await approvals.create({
      principal: agent,
      operation: 'tool.invoke',
      digest: digest(),
      reason: 'refund above limit',
      ttlMs,
    });
    return approvals.decide(created.id, admin, 'approve');
  }

  it('keeps at most approvals.maxPendingPerPrincipal pending per principal, even under concurrent requests', async () => {
    const capped = new ApprovalService(source, () => now, null, {
      document: { roles: {}, approvals: { maxPendingPerPrincipal: 3 } },
    } as unknown as CompiledPolicy);
    const flooder: Principal = { ...admin, id: `flooder-${now}`, tenantId: 'acme' };
    const digestOf = (i: number) => capped.requestDigest({ method: 'DELETE', path: `/agents/${i}` });
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        capped.create({ principal: flooder, operation: 'agent.delete', digest: digestOf(i) }),
      ),
    );
    const created = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(created).toHaveLength(3);
    expect(refused).toHaveLength(9);
    for (const r of refused) expect(r.reason).toBeInstanceOf(RateLimitedException);
    // The same request again answers its pending approval; another principal is not affected.
    const first = (created[0] as PromiseFulfilledResult<{ id: string; requestDigest: string }>).value;
    const again = await capped.create({ principal: flooder, operation: 'agent.delete', digest: first.requestDigest });
    expect(again.id).toBe(first.id);
    await expect(
      capped.create({ principal: { ...flooder, id: `other-${now}` }, operation: 'agent.delete', digest: digestOf(0) }),
    ).resolves.toMatchObject({ status: 'pending' });
    // Once they lapse, there is room again.
    now += 16 * 60_000;
    await expect(
      capped.create({ principal: flooder, operation: 'agent.delete', digest: digestOf(99) }),
    ).resolves.toMatchObject({ status: 'pending' });
  });

  it('lets the approved call through exactly once, even to concurrent consumers', async () => {
    const { id, status } = await approved();
    expect(status).toBe('approved');
    // A second connection makes the race real on PostgreSQL.
    const rival = new ApprovalService(await db.connect(), () => now);
    const results = await Promise.all([
      approvals.consume(id, agent, 'tool.invoke', digest()),
      rival.consume(id, agent, 'tool.invoke', digest()),
      approvals.consume(id, agent, 'tool.invoke', digest()),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await approvals.consume(id, agent, 'tool.invoke', digest())).toBe(false);
    const listed = await approvals.list({ tenantId: 'acme', status: 'consumed' });
    expect(listed.items.map((item) => item.id)).toContain(id);
  });

  it('refuses another principal, operation or request', async () => {
    const { id } = await approved();
    const sameIdOtherTenant: Principal = { ...agent, tenantId: 'globex' };
    expect(await approvals.consume(id, { ...agent, id: 'apikey:agent-2' }, 'tool.invoke', digest())).toBe(false);
    expect(await approvals.consume(id, sameIdOtherTenant, 'tool.invoke', digest())).toBe(false);
    expect(await approvals.consume(id, agent, 'tool.list', digest())).toBe(false);
    const otherBody = approvals.requestDigest({
      method: 'POST',
      path: '/agents/a1/tools/invoke',
      body: { tool: 'refund', amount: 5000 },
    });
    expect(await approvals.consume(id, agent, 'tool.invoke', otherBody)).toBe(false);
    expect(await approvals.consume(id, agent, 'tool.invoke', digest())).toBe(true);
  });

  it('never lets a pending, denied or expired approval through', async () => {
    const pending = await approvals.create({
      principal: agent,
      operation: 'tool.invoke',
      digest: digest(),
      ttlMs: 60_000,
    });
    expect(await approvals.consume(pending.id, agent, 'tool.invoke', digest())).toBe(false);
    const denied = await approvals.decide(pending.id, admin, 'deny');
    expect(denied).toMatchObject({ status: 'denied', decidedBy: 'admin-1' });
    expect(await approvals.consume(pending.id, agent, 'tool.invoke', digest())).toBe(false);

    const { id } = await approved(1_000);
    now += 1_000;
    expect(await approvals.consume(id, agent, 'tool.invoke', digest())).toBe(false);
    expect((await approvals.list({ status: 'expired' })).items.map((item) => item.id)).toContain(id);

    const late = await approvals.create({ principal: agent, operation: 'tool.invoke', digest: digest(), ttlMs: 1_000 });
    now += 5_000;
    await expect(approvals.decide(late.id, admin, 'approve')).rejects.toMatchObject({
      response: { code: 'forbidden', message: 'The approval has expired' },
    });
  });

  it("hides other tenants from deciders, forbids deciding twice or one's own request", async () => {
    const created = await approvals.create({ principal: agent, operation: 'tool.invoke', digest: digest() });
    await expect(approvals.decide(created.id, otherTenantAdmin, 'approve')).rejects.toMatchObject({
      response: { code: 'not_found' },
    });
    await expect(approvals.decide('8a5e0f1c-0000-4000-8000-000000000000', admin, 'approve')).rejects.toMatchObject({
      response: { code: 'not_found' },
    });
    await expect(approvals.decide(created.id, agent, 'approve')).rejects.toMatchObject({
      response: { code: 'forbidden' },
    });
    await expect(approvals.decide(created.id, platformAdmin, 'approve')).resolves.toMatchObject({
      status: 'approved',
      decidedBy: 'root',
    });
    await expect(approvals.decide(created.id, admin, 'deny')).rejects.toMatchObject({
      response: { code: 'forbidden', message: 'The approval is already approved' },
    });
    const globex = await approvals.list({ tenantId: 'globex' });
    expect(globex.items).toHaveLength(0);
  });

  it('records approval.requested and approval.decided events', async () => {
    const writer = new AuditWriter(source, {});
    const audit = new AuditService(writer, source, () => now);
    const audited = new ApprovalService(source, () => now, audit);
    const created = await audited.create({
      principal: agent,
      operation: 'tool.invoke',
      digest: digest(),
      reason: 'large refund',
    });
    await audited.decide(created.id, admin, 'approve');
    await writer.close();
    const requested = await audit.query({ type: 'approval.requested' });
    const decided = await audit.query({ type: 'approval.decided' });
    expect(requested.items[0]).toMatchObject({
      principalId: agent.id,
      tenantId: 'acme',
      operation: 'tool.invoke',
      outcome: 'REQUIRE_APPROVAL',
    });
    expect(decided.items[0]).toMatchObject({
      principalId: admin.id,
      outcome: 'ALLOW',
      details: { approvalId: created.id, decision: 'approved' },
    });
  });
});
