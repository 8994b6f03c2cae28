/**
 * Identity, API keys and approvals under attack, on Express and Fastify: malformed claims, JWT header and time
 * abuse, key escalation and limits, self-approval, pending-approval floods, cross-tenant budgets, early-lapsing
 * revocations, and forged X-Forwarded-For values.
 */
import { randomUUID } from 'node:crypto';
import jwt, { type SignOptions } from 'jsonwebtoken';
import { signToken, startAgentApi, TEST_SECRET, type Harness } from '../support/harness-exports';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const now = () => Math.floor(Date.now() / 1000);

/** Signs any payload with the test secret, claims exactly as given. */
function rawToken(payload: Record<string, unknown>, options: SignOptions = {}): string {
  return jwt.sign(payload, TEST_SECRET, { algorithm: 'HS256', ...options });
}

const unique = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

describe.each(['express', 'fastify'] as const)('identity, keys and approvals (%s)', (adapter) => {
  let h: Harness;
  const admin = (sub = unique('admin'), extra: Record<string, unknown> = {}) =>
    bearer(signToken({ sub, roles: ['admin'], scope: 'admin', ...extra }));

  beforeAll(async () => {
    h = await startAgentApi({
      adapter,
      configure: (config) => {
        const policy = config.policy;
        policy.rateLimits = {
          ...policy.rateLimits,
          operations: { ...policy.rateLimits?.operations, 'agent.list': { limit: 4, ttl: 60 } },
        };
        policy.apiKeys = { maxPerCreator: 3 };
        policy.approvals = { ...policy.approvals, maxPendingPerPrincipal: 3 };
        policy.budgets = { ...policy.budgets, approvalAbovePercent: undefined, principal: { day: { requests: 2 } } };
      },
    });
  });
  afterAll(() => h.close());

  describe('malformed claims are 401 invalid_token, never "no tenant"', () => {
    let t1Agent: string;
    beforeAll(async () => {
      const res = await h
        .http()
        .post('/agents')
        .set(admin(unique('t1-admin'), { tenant_id: 't1' }))
        .send({ name: 'tenant one only' });
      expect(res.status).toBe(201);
      t1Agent = res.body.id;
    });

    const cases: Array<[string, unknown]> = [
      ['tenant_id', 42],
      ['tenant_id', ['t2']],
      ['tenant_id', ''],
      ['tenant_id', {}],
      ['tenant_id', true],
      ['tenant_id', null],
      ['tenant_id', 't1\u0000'],
      ['tenant_id', 'x'.repeat(300)],
      ['roles', 'admin'],
      ['roles', []],
      ['roles', ['admin', 7]],
      ['roles', [{}]],
      ['scope', ['admin']],
      ['scope', ''],
      ['scope', 5],
      ['scp', 'admin'],
      ['scp', []],
      ['tier', 5],
      ['tier', ''],
      ['tier', {}],
      ['token_type', 1],
      ['token_type', ''],
      ['sub', ''],
      ['sub', 42],
      ['jti', 12],
      ['jti', ''],
    ];
    it.each(cases)('%s = %p', async (claim, value) => {
      const token = rawToken({ sub: unique('u'), roles: ['admin'], scope: 'admin', exp: now() + 600, [claim]: value });
      for (const path of ['/agents', `/agents/${t1Agent}`]) {
        const res = await h.http().get(path).set(bearer(token));
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ statusCode: 401, code: 'invalid_token', message: expect.any(String) });
      }
    });

    it('still accepts well-formed claims', async () => {
      const res = await h
        .http()
        .get(`/agents/${t1Agent}`)
        .set(admin(unique('ok'), { tenant_id: 't1', tier: 'pro', token_type: 'm2m' }));
      expect(res.status).toBe(200);
    });
  });

  describe('JWT header and times', () => {
    it('refuses a crit header', async () => {
      const token = rawToken(
        { sub: 'u', roles: ['admin'], scope: 'admin' },
        { expiresIn: 600, header: { alg: 'HS256', crit: ['b64'] } },
      );
      const res = await h.http().get('/agents').set(bearer(token));
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_token');
    });

    it.each([
      ['iat an hour ahead', { iat: now() + 3600, exp: now() + 7200 }],
      ['exp 1e308', { exp: 1e308 }],
      ['exp 1e308 with iat', { iat: now(), exp: 1e308 }],
      ['a 48 h lifetime', { iat: now(), exp: now() + 48 * 3600 }],
      ['a 48 h lifetime without iat', { exp: now() + 48 * 3600 }],
    ])('refuses %s', async (_name, times) => {
      const res = await h
        .http()
        .get('/agents')
        .set(bearer(rawToken({ sub: unique('u'), roles: ['admin'], scope: 'admin', ...times })));
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_token');
    });

    it('accepts a 23 h lifetime and iat a second ahead', async () => {
      const res = await h
        .http()
        .get('/agents')
        .set(
          bearer(
            rawToken({ sub: unique('u'), roles: ['admin'], scope: 'admin', iat: now() + 1, exp: now() + 23 * 3600 }),
          ),
        );
      expect(res.status).toBe(200);
    });
  });

  describe('API keys never hold more than their creator', () => {
    it("refuses a tier above the creator's, allows one at or below it", async () => {
      const plain = admin();
      const escalated = await h
        .http()
        .post('/api-keys')
        .set(plain)
        .send({ name: 'k', roles: ['admin'], scopes: ['agents:read'], tier: 'pro' });
      expect(escalated.status).toBe(403);
      expect(escalated.body.code).toBe('forbidden');
      const pro = admin(unique('pro'), { tier: 'pro' });
      const same = await h
        .http()
        .post('/api-keys')
        .set(pro)
        .send({ name: 'k', roles: ['admin'], scopes: ['agents:read'], tier: 'pro' });
      expect(same.status).toBe(201);
      expect(same.body.tier).toBe('pro');
      const unknown = await h
        .http()
        .post('/api-keys')
        .set(pro)
        .send({ name: 'k', roles: ['admin'], scopes: ['agents:read'], tier: 'gold' });
      expect(unknown.status).toBe(400);
    });

    it('lets an admin mint a viewer key, which can read but not write', async () => {
      const created = await h
        .http()
        .post('/api-keys')
        .set(admin())
        .send({ name: 'read-only', roles: ['viewer'], scopes: ['agents:read'] });
      expect(created.status).toBe(201);
      const key = created.body.key as string;
      expect((await h.http().get('/agents').set('X-API-Key', key)).status).toBe(200);
      const write = await h.http().post('/agents').set('X-API-Key', key).send({ name: 'nope' });
      expect(write.status).toBe(403);
    });

    it('gives a key a default expiry and refuses one past the maximum', async () => {
      const creator = admin();
      const created = await h
        .http()
        .post('/api-keys')
        .set(creator)
        .send({ name: 'default', roles: ['viewer'], scopes: ['agents:read'] });
      expect(created.status).toBe(201);
      const days = (Date.parse(created.body.expiresAt) - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(89);
      expect(days).toBeLessThanOrEqual(90);
      const far = new Date(Date.now() + 2 * 365 * 86_400_000).toISOString();
      const tooLong = await h
        .http()
        .post('/api-keys')
        .set(creator)
        .send({ name: 'far', roles: ['viewer'], scopes: ['agents:read'], expiresAt: far });
      expect(tooLong.status).toBe(400);
      expect(tooLong.body.code).toBe('validation_failed');
    });

    it('caps the live keys of one creator, counting keys minted with its keys, until one is revoked', async () => {
      const sub = unique('capped');
      const creator = admin(sub);
      const first = await h
        .http()
        .post('/api-keys')
        .set(creator)
        .send({ name: 'k1', roles: ['admin'], scopes: ['admin'] });
      expect(first.status).toBe(201);
      // A key minting a key: the new key is the same person's.
      const second = await h
        .http()
        .post('/api-keys')
        .set('X-API-Key', first.body.key)
        .send({ name: 'k2', roles: ['viewer'], scopes: ['agents:read'] });
      expect(second.status).toBe(201);
      expect(second.body.createdBy).toBe(sub);
      expect(
        (
          await h
            .http()
            .post('/api-keys')
            .set(creator)
            .send({ name: 'k3', roles: ['viewer'], scopes: [] })
        ).status,
      ).toBe(201);
      const over = await h
        .http()
        .post('/api-keys')
        .set(creator)
        .send({ name: 'k4', roles: ['viewer'], scopes: [] });
      expect(over.status).toBe(403);
      expect((await h.http().delete(`/api-keys/${second.body.id}`).set(creator)).status).toBe(204);
      expect(
        (
          await h
            .http()
            .post('/api-keys')
            .set(creator)
            .send({ name: 'k4', roles: ['viewer'], scopes: [] })
        ).status,
      ).toBe(201);
    });

    it("counts a creator's keys against the creator's rate-limit bucket", async () => {
      const creator = admin(unique('limited'));
      const keys: string[] = [];
      for (let i = 0; i < 2; i++) {
        const res = await h
          .http()
          .post('/api-keys')
          .set(creator)
          .send({ name: `k${i}`, roles: ['viewer'], scopes: ['agents:read'] });
        expect(res.status).toBe(201);
        keys.push(res.body.key);
      }
      const statuses: number[] = [];
      for (const key of [...keys, ...keys, ...keys])
        statuses.push((await h.http().get('/agents').set('X-API-Key', key)).status);
      // agent.list allows 4 a minute to the creator, whichever of its keys calls.
      expect(statuses.filter((s) => s === 200)).toHaveLength(4);
      expect(statuses.filter((s) => s === 429)).toHaveLength(2);
      expect((await h.http().get('/agents').set(creator)).status).toBe(429);
    });
  });

  describe('approvals', () => {
    async function agentOf(headers: Record<string, string>): Promise<string> {
      const res = await h.http().post('/agents').set(headers).send({ name: 'to delete' });
      expect(res.status).toBe(201);
      return res.body.id;
    }

    it('refuses an approval by the person who asked, through a key either way', async () => {
      const sub = unique('boss');
      const boss = admin(sub, { tenant_id: 't-appr' });
      const minted = await h
        .http()
        .post('/api-keys')
        .set(boss)
        .send({ name: 'self', roles: ['admin'], scopes: ['admin'] });
      expect(minted.status).toBe(201);
      const key = { 'X-API-Key': minted.body.key as string };

      // Asked with the key, approved with the creator's token: the same person.
      const id = await agentOf(key);
      const asked = await h.http().delete(`/agents/${id}`).set(key);
      expect(asked.status).toBe(403);
      expect(asked.body.code).toBe('approval_required');
      const selfApproval = await h.http().post(`/approvals/${asked.body.approvalId}/approve`).set(boss);
      expect(selfApproval.status).toBe(403);

      // Asked with the token, approved with the key: the same person.
      const id2 = await agentOf(boss);
      const asked2 = await h.http().delete(`/agents/${id2}`).set(boss);
      expect(asked2.body.code).toBe('approval_required');
      expect((await h.http().post(`/approvals/${asked2.body.approvalId}/approve`).set(key)).status).toBe(403);

      // Someone else may.
      const other = admin(unique('other'), { tenant_id: 't-appr' });
      expect((await h.http().post(`/approvals/${asked.body.approvalId}/approve`).set(other)).status).toBe(200);
      expect((await h.http().delete(`/agents/${id}`).set(key).set('X-Approval-Id', asked.body.approvalId)).status).toBe(
        204,
      );
    });

    it('bounds the approvals one principal has pending, and answers a repeated request with its pending approval', async () => {
      const operator = bearer(
        signToken({ sub: unique('flood'), roles: ['operator'], scope: 'agents:write', tenant_id: 't-flood' }),
      );
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(await agentOf(operator));
      const answers = [];
      for (const id of ids) answers.push(await h.http().delete(`/agents/${id}`).set(operator));
      expect(answers.slice(0, 3).map((r) => r.body.code)).toEqual([
        'approval_required',
        'approval_required',
        'approval_required',
      ]);
      for (const res of answers.slice(3)) {
        expect(res.status).toBe(429);
        expect(res.body.code).toBe('rate_limited');
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      }
      const again = await h.http().delete(`/agents/${ids[0]}`).set(operator);
      expect(again.status).toBe(403);
      expect(again.body.approvalId).toBe(answers[0].body.approvalId);
      const pending = await h
        .http()
        .get('/approvals?status=pending')
        .set(admin(unique('lister'), { tenant_id: 't-flood' }));
      expect(pending.body.items).toHaveLength(3);
    });
  });

  it('keeps the principal budgets of the same sub in two tenants apart', async () => {
    const sub = unique('alice');
    const inTenant = (tenant: string) => admin(sub, { tenant_id: tenant });
    const post = async (headers: Record<string, string>) => {
      const agent = await h.http().post('/agents').set(headers).send({ name: 'a' });
      const session = await h.http().post('/sessions').set(headers).send({ agentId: agent.body.id });
      expect(session.status).toBe(201);
      return (await h.http().post(`/sessions/${session.body.id}/events`).set(headers).send({ message: 'hi' })).status;
    };
    const t2 = unique('t2');
    const t1 = unique('t1');
    expect([await post(inTenant(t2)), await post(inTenant(t2)), await post(inTenant(t2))]).toEqual([201, 201, 402]);
    expect(await post(inTenant(t1))).toBe(201);
  });

  it('keeps a revocation at least until the token itself expires, whatever expiresAt says', async () => {
    const jti = unique('jti');
    const token = signToken(
      { sub: unique('victim'), roles: ['admin'], scope: 'admin' },
      { jwtid: jti, expiresIn: '1h' },
    );
    expect((await h.http().get('/agents').set(bearer(token))).status).toBe(200);
    const revoke = await h.http().post('/revocations').set(admin()).send({ jti, expiresAt: '2000-01-01T00:00:00Z' });
    expect(revoke.status).toBe(204);
    // Time passing beyond the given expiresAt is the subject: the revocation must outlive it.
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    for (let i = 0; i < 2; i++) {
      const res = await h.http().get('/agents').set(bearer(token));
      expect(res.status).toBe(401);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
    }
  });
});

describe.each(['express', 'fastify'] as const)('API keys with limits of their own (%s)', (adapter) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startAgentApi({
      adapter,
      configure: (config) => {
        const policy = config.policy;
        policy.rateLimits = {
          ...policy.rateLimits,
          operations: { ...policy.rateLimits?.operations, 'agent.list': { limit: 2, ttl: 60 } },
        };
        policy.apiKeys = { limits: 'key' };
      },
    });
  });
  afterAll(() => h.close());

  it('gives each key its own bucket when the policy says apiKeys.limits: key', async () => {
    const creator = bearer(signToken({ sub: unique('own-limits'), roles: ['admin'], scope: 'admin' }));
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) {
      const key = (
        await h
          .http()
          .post('/api-keys')
          .set(creator)
          .send({ name: `k${i}`, roles: ['viewer'], scopes: ['agents:read'] })
      ).body.key as string;
      for (let j = 0; j < 3; j++) statuses.push((await h.http().get('/agents').set('X-API-Key', key)).status);
    }
    expect(statuses).toEqual([200, 200, 429, 200, 200, 429]);
    expect((await h.http().get('/agents').set(creator)).status).toBe(200);
  });
});

describe.each(['express', 'fastify'] as const)('X-Forwarded-For that is not an IP (%s)', (adapter) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startAgentApi({
      adapter,
      env: { TRUST_PROXY: '1' },
      configure: (config) => {
        config.policy.rateLimits = { ...config.policy.rateLimits, authFailures: { limit: 3, ttl: 60 } };
      },
    });
  });
  afterAll(() => h.close());

  it("counts junk values against the proxy's own address, not a fresh bucket each", async () => {
    const junk = ['junk-1', '1.2.3.4:8080', '', 'junk-2', 'x'.repeat(2000), 'junk-3', '[::1]:80', 'junk-4'];
    const statuses = [];
    for (const value of junk) {
      statuses.push((await h.http().get('/agents').set('X-Forwarded-For', value).set(bearer('not-a-jwt'))).status);
    }
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(statuses.slice(3).every((s) => s === 429)).toBe(true);
  });
});
