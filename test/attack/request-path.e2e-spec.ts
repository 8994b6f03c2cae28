/**
 * Attacks on the request path through agent-api, on Express and Fastify: the per-principal decision cache (same
 * `sub`, other tenant/roles/scopes), approvals (another request, another principal, 20 concurrent spends), revocation
 * on the next request, rate limits (spoofed X-Forwarded-For without `trustProxy`, keys minted by one creator, 50
 * concurrent requests at a limit), and reads by id (wrong type, huge, NUL, another tenant's, another table's id).
 */
import { randomUUID } from 'node:crypto';
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

describe.each(['express', 'fastify'] as const)('request-path attacks (%s)', (adapter) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startAgentApi({
      adapter,
      configure: (config) => {
        config.policy.rateLimits = {
          ...config.policy.rateLimits,
          default: { limit: 10_000, ttl: 60 },
          anonymous: { limit: 5, ttl: 60 },
          operations: { ...config.policy.rateLimits?.operations, 'agent.list': { limit: 7, ttl: 60 } },
        };
      },
    });
  }, 60_000);
  afterAll(() => h?.close());

  const admin = (sub: string, tenant: string) => bearer(signToken({ sub, ...ADMIN, tenant_id: tenant }));

  it('keeps decisions and record scopes of two principals with the same sub apart', async () => {
    const sub = `same-${randomUUID()}`;
    const a = admin(sub, 't-cache-a');
    const b = admin(sub, 't-cache-b');
    const agent = await h.http().post('/agents').set(a).send({ name: 'cache a' });
    expect(agent.status).toBe(201);
    // The same sub in another tenant: a cached decision of tenant a must not scope its reads to tenant a.
    expect((await h.http().get(`/agents/${agent.body.id}`).set(a)).status).toBe(200);
    const cross = await h.http().get(`/agents/${agent.body.id}`).set(b);
    expect(cross.status).toBe(404);
    expect(cross.body.code).toBe('not_found');
    const list = await h.http().get('/sessions').set(b);
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).not.toContain(agent.body.id);
    // A re-issued token of the same sub with fewer rights is decided afresh, both ways.
    const reader = bearer(signToken({ sub, roles: ['viewer'], scope: 'agents:read', tenant_id: 't-cache-a' }));
    const write = await h.http().post('/agents').set(reader).send({ name: 'nope' });
    expect(write.status).toBe(403);
    expect((await h.http().post('/agents').set(a).send({ name: 'yes' })).status).toBe(201);
    const noScope = bearer(signToken({ sub, roles: ['admin'], scope: 'sessions:read', tenant_id: 't-cache-a' }));
    const scoped = await h.http().get(`/agents/${agent.body.id}`).set(noScope);
    expect(scoped.status).toBe(403);
    expect(scoped.body.code).toBe('insufficient_scope');
  });

  it('lets an approval pass exactly once among 20 concurrent requests, and never for another request or principal', async () => {
    const requester = bearer(
      signToken({ sub: `op-${randomUUID()}`, roles: ['operator'], scope: 'agents:write', tenant_id: 't-appr' }),
    );
    const approver = bearer(
      signToken({ sub: 'appr-boss', roles: ['approver'], scope: 'approvals:write', tenant_id: 't-appr' }),
    );
    const id = (await h.http().post('/agents').set(requester).send({ name: 'race' }).expect(201)).body.id as string;
    const other = (await h.http().post('/agents').set(requester).send({ name: 'other' }).expect(201)).body.id as string;
    const first = await h.http().delete(`/agents/${id}`).set(requester);
    expect(first.body.code).toBe('approval_required');
    const approvalId = first.body.approvalId as string;
    await h.http().post(`/approvals/${approvalId}/approve`).set(approver).expect(200);

    // Another target, a query string, a body: not the approved request.
    const wrong = await h.http().delete(`/agents/${other}`).set(requester).set('X-Approval-Id', approvalId);
    expect(wrong.status).toBe(403);
    const withBody = await h
      .http()
      .delete(`/agents/${id}`)
      .set(requester)
      .set('X-Approval-Id', approvalId)
      .send({ extra: true });
    expect(withBody.status).toBe(403);

    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        h.http().delete(`/agents/${id}`).set(requester).set('X-Approval-Id', approvalId),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 204)).toHaveLength(1);
    expect(statuses.filter((s) => s === 403)).toHaveLength(19);
    for (const r of results) if (r.status === 403) expect(r.body.code).toBe('forbidden');
    expect((await h.http().get(`/agents/${other}`).set(requester)).status).toBe(200);
  });

  it('refuses a revoked token on the very next request', async () => {
    const root = admin('revoker', 't-rev');
    const token = signToken({ sub: `victim-${randomUUID()}`, ...ADMIN, tenant_id: 't-rev' });
    // Warm every cache (verified token, decision) first.
    for (let i = 0; i < 3; i++) expect((await h.http().get('/agents').set(bearer(token))).status).toBe(200);
    const jti = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti as string;
    expect((await h.http().post('/revocations').set(root).send({ jti })).status).toBe(204);
    const after = await h.http().get('/agents').set(bearer(token));
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('invalid_token');
  });

  it('does not let X-Forwarded-For or header case variants give an anonymous caller fresh buckets', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await h
        .http()
        .get('/console')
        .set(i % 2 ? 'X-Forwarded-For' : 'x-forwarded-for', `203.0.113.${i}`)
        .set('X-Real-IP', `198.51.100.${i}`);
      statuses.push(res.status);
    }
    // Whatever the public route answers, the anonymous bucket of 5 per IP holds: spoofed addresses do not help.
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(3);
  });

  it('admits exactly the limit among 50 concurrent requests, and counts minted keys against their creator', async () => {
    const sub = `creator-${randomUUID()}`;
    const creator = admin(sub, 't-limit');
    const keys: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await h
        .http()
        .post('/api-keys')
        .set(creator)
        .send({ name: `k${i}`, roles: ['admin'], scopes: ['admin'] });
      expect(res.status).toBe(201);
      keys.push(res.body.key as string);
    }
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        h
          .http()
          .get('/agents')
          .set(i % 4 === 0 ? creator : { 'X-API-Key': keys[i % 3] }),
      ),
    );
    const ok = results.filter((r) => r.status === 200).length;
    expect(ok).toBe(7);
    expect(results.filter((r) => r.status === 429)).toHaveLength(43);
    for (const r of results) if (r.status === 429) expect(r.body.code).toBe('rate_limited');
  });

  it('answers a bad, huge, NUL, foreign or other-table id with 400/404, never a 500 or another tenant record', async () => {
    const a = admin(`reader-${randomUUID()}`, 't-read-a');
    const b = admin(`reader-${randomUUID()}`, 't-read-b');
    const agent = (await h.http().post('/agents').set(a).send({ name: 'mine' }).expect(201)).body.id as string;
    const session = (await h.http().post('/sessions').set(a).send({ agentId: agent }).expect(201)).body.id as string;
    const ids = [
      'x',
      '1',
      '%00',
      `${agent}%00`,
      'a'.repeat(5000),
      encodeURIComponent("' OR 1=1 --"),
      '%E0%A4%A',
      '00000000-0000-0000-0000-000000000000',
    ];
    // Each path also gets the ids of the other tables.
    const foreignTable: Record<string, string[]> = {
      '/agents': [session],
      '/sessions': [agent],
      '/runs': [agent, session],
    };
    for (const path of ['/agents', '/sessions', '/runs']) {
      for (const id of [...ids, ...foreignTable[path]]) {
        const res = await h.http().get(`${path}/${id}`).set(a);
        expect([400, 404]).toContain(res.status);
        expect(typeof res.body.code).toBe('string');
      }
    }
    for (const path of [`/agents/${agent}`, `/sessions/${session}`, `/sessions/${session}/events`]) {
      const res = await h.http().get(path).set(b);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('not_found');
    }
  });
});
