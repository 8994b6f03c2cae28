/**
 * The request path across two agent-api instances sharing PostgreSQL and Redis, one on Express and one on Fastify:
 * a token revoked on one is refused by the other within the documented bound (pushed at once through Redis, the
 * table poll ≤ 1 s behind it); 50 concurrent requests spread over both at a limit of 7 admit exactly 7; 20
 * concurrent spends of one approval spread over both pass exactly once.
 */
import { randomUUID } from 'node:crypto';
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';
import { REDIS_URL, createTestDatabase, itWith } from '../support/services';

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
const it = itWith('postgres', 'redis');

describe('request-path attacks on two instances (express + fastify, shared PostgreSQL and Redis)', () => {
  const instances: Harness[] = [];
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const db = await createTestDatabase('attackshared');
    drop = db.drop;
    const env = { DATABASE_URL: db.url, REDIS_URL };
    const configure = (config: Harness['config']) => {
      config.policy.rateLimits = {
        ...config.policy.rateLimits,
        operations: { ...config.policy.rateLimits?.operations, 'agent.list': { limit: 7, ttl: 60 } },
      };
    };
    // One after the other: the first applies the migrations.
    instances.push(await startAgentApi({ adapter: 'express', env, configure }));
    instances.push(await startAgentApi({ adapter: 'fastify', env, configure }));
  }, 90_000);

  afterAll(async () => {
    for (const h of instances) await h.close();
    if (drop) await drop();
  }, 30_000);

  it('refuses a token revoked on one instance on the other within a second and a half', async () => {
    const [a, b] = instances;
    const root = bearer(signToken({ sub: 'shared-revoker', ...ADMIN, tenant_id: 't-shared' }));
    for (const [from, to] of [
      [a, b],
      [b, a],
    ]) {
      const token = signToken({ sub: `victim-${randomUUID()}`, ...ADMIN, tenant_id: 't-shared' });
      for (const h of instances) expect((await h.http().get('/agents').set(bearer(token))).status).toBe(200);
      const jti = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti as string;
      expect((await from.http().post('/revocations').set(root).send({ jti })).status).toBe(204);
      expect((await from.http().get('/agents').set(bearer(token))).status).toBe(401);
      const started = Date.now();
      let status = 0;
      while (Date.now() - started < 1500) {
        status = (await to.http().get('/agents').set(bearer(token))).status;
        if (status === 401) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(status).toBe(401);
    }
  });

  it('admits exactly the limit among 50 concurrent requests spread over both instances', async () => {
    const token = bearer(signToken({ sub: `limited-${randomUUID()}`, ...ADMIN, tenant_id: 't-shared-limit' }));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        instances[i % 2].http().get('/agents').set(token).set('X-Forwarded-For', `198.51.100.${i}`),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(7);
    expect(results.filter((r) => r.status === 429)).toHaveLength(43);
  });

  it('lets one approval pass exactly once among 20 concurrent requests spread over both instances', async () => {
    const [a] = instances;
    const requester = bearer(
      signToken({ sub: `op-${randomUUID()}`, roles: ['operator'], scope: 'agents:write', tenant_id: 't-shared-appr' }),
    );
    const approver = bearer(
      signToken({ sub: 'shared-boss', roles: ['approver'], scope: 'approvals:write', tenant_id: 't-shared-appr' }),
    );
    const id = (await a.http().post('/agents').set(requester).send({ name: 'race' }).expect(201)).body.id as string;
    const asked = await a.http().delete(`/agents/${id}`).set(requester);
    expect(asked.body.code).toBe('approval_required');
    await a.http().post(`/approvals/${asked.body.approvalId}/approve`).set(approver).expect(200);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        instances[i % 2].http().delete(`/agents/${id}`).set(requester).set('X-Approval-Id', asked.body.approvalId),
      ),
    );
    expect(results.filter((r) => r.status === 204)).toHaveLength(1);
    for (const r of results) if (r.status !== 204) expect(r.body).toMatchObject({ statusCode: 403, code: 'forbidden' });
  });
});
