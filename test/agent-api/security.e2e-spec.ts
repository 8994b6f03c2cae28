/**
 * The error table and the attacks of the walking skeleton, on Express and Fastify, on SQLite and PostgreSQL.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  ADMIN,
  signToken,
  startAgentApi,
  TEST_SECRET,
  type DatabaseKind,
  type Harness,
} from '../support/harness-exports';
import { itWith } from '../support/services';

const matrix: Array<['express' | 'fastify', DatabaseKind]> = [
  ['express', 'sqlite'],
  ['fastify', 'sqlite'],
  ['express', 'postgres'],
  ['fastify', 'postgres'],
];

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe.each(matrix)('agent-api security (%s, %s)', (adapter, database) => {
  let h: Harness;
  const it = database === 'postgres' ? itWith('postgres') : itWith();
  const admin = () => bearer(signToken({ sub: 'root-admin', ...ADMIN }));

  beforeAll(async () => {
    h = await startAgentApi({ adapter, database });
  });
  afterAll(async () => {
    if (h) await h.close();
  });

  describe('401', () => {
    it('answers unauthenticated with WWW-Authenticate when no credentials are sent', async () => {
      const res = await h.http().get('/agents');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ statusCode: 401, code: 'unauthenticated', message: expect.any(String) });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    const attacks: Array<[string, () => string]> = [
      [
        'alg none',
        () => {
          const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
          const payload = Buffer.from(
            JSON.stringify({ sub: 'x', roles: ['admin'], scope: 'admin', exp: Math.floor(Date.now() / 1000) + 600 }),
          ).toString('base64url');
          return `${header}.${payload}.`;
        },
      ],
      [
        'a token signed with another key',
        () => signToken(ADMIN, { key: 'another-secret-another-secret-another-secret' }),
      ],
      ['an expired token', () => signToken(ADMIN, { expiresIn: -10 })],
      ['a not-yet-valid token', () => signToken(ADMIN, { notBefore: 600 })],
      ['a token without exp', () => signToken(ADMIN, { expiresIn: undefined })],
      [
        'a tampered payload',
        () => {
          const [head, , sig] = signToken({ roles: ['customer'], scope: 'sessions:read' }).split('.');
          const forged = Buffer.from(
            JSON.stringify({ sub: 'x', roles: ['admin'], scope: 'admin', exp: Math.floor(Date.now() / 1000) + 600 }),
          ).toString('base64url');
          return `${head}.${forged}.${sig}`;
        },
      ],
      ['garbage', () => 'not-a-jwt'],
    ];
    it.each(attacks)('refuses %s with invalid_token', async (_name, make) => {
      const token = make();
      const res = await h.http().get('/agents').set(bearer(token));
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_token');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(JSON.stringify(res.body)).not.toContain(token.slice(0, 20));
    });

    it('refuses a revoked jti from the moment it is revoked', async () => {
      const token = signToken({ sub: 'victim', ...ADMIN }, { jwtid: `jti-${Date.now()}` });
      expect((await h.http().get('/agents').set(bearer(token))).status).toBe(200);
      const jti = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti as string;
      const revoke = await h.http().post('/revocations').set(admin()).send({ jti });
      expect(revoke.status).toBe(204);
      const res = await h.http().get('/agents').set(bearer(token));
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_token');
    });

    it('refuses an unknown, malformed or deleted API key', async () => {
      expect(
        (
          await h
            .http()
            .get('/agents')
            .set('X-API-Key', 'apk_0000000000000000_' + 'a'.repeat(43))
        ).body.code,
      ).toBe('invalid_token');
      expect((await h.http().get('/agents').set('X-API-Key', 'hello')).status).toBe(401);
      const created = await h
        .http()
        .post('/api-keys')
        .set(admin())
        .send({ name: 'ci', roles: ['admin'], scopes: ['agents:read'] });
      expect(created.status).toBe(201);
      const key = created.body.key as string;
      expect(key).toMatch(/^apk_[0-9a-f]{16}_/);
      expect((await h.http().get('/agents').set('X-API-Key', key)).status).toBe(200);
      const listed = await h.http().get('/api-keys').set(admin());
      expect(JSON.stringify(listed.body)).not.toContain(key.split('_').slice(2).join('_'));
      expect((await h.http().delete(`/api-keys/${created.body.id}`).set(admin())).status).toBe(204);
      const after = await h.http().get('/agents').set('X-API-Key', key);
      expect(after.status).toBe(401);
      expect(after.body.code).toBe('invalid_token');
    });
  });

  describe('403', () => {
    it('answers forbidden when no role allows the operation', async () => {
      const res = await h
        .http()
        .get('/agents')
        .set(bearer(signToken({ roles: ['customer'], scope: 'admin' })));
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('forbidden');
    });

    it('answers insufficient_scope with the scope in WWW-Authenticate', async () => {
      const res = await h
        .http()
        .post('/agents')
        .set(bearer(signToken({ roles: ['admin'], scope: 'agents:read' })))
        .send({ name: 'x' });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('insufficient_scope');
      expect(res.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="agents:write"');
    });

    it('lets agents:write imply agents:read', async () => {
      const res = await h
        .http()
        .get('/agents')
        .set(bearer(signToken({ roles: ['operator'], scope: 'agents:write' })));
      expect(res.status).toBe(200);
    });

    it('does not let an API key be created with more power than its creator', async () => {
      const operator = bearer(signToken({ roles: ['operator', 'admin'], scope: 'api-keys:write agents:read' }));
      const res = await h
        .http()
        .post('/api-keys')
        .set(operator)
        .send({ name: 'x', roles: ['admin'], scopes: ['audit:read'] });
      expect(res.status).toBe(403);
    });
  });

  describe('404: tenants and ownership', () => {
    it("hides another tenant's agent, in reads and in lists", async () => {
      const tenantA = bearer(signToken({ roles: ['operator'], scope: 'agents:write', tenant_id: 'tenant-a' }));
      const tenantB = bearer(signToken({ roles: ['operator'], scope: 'agents:write', tenant_id: 'tenant-b' }));
      const created = await h.http().post('/agents').set(tenantA).send({ name: 'secret agent' });
      expect(created.status).toBe(201);
      expect(created.body.tenantId).toBe('tenant-a');
      const read = await h.http().get(`/agents/${created.body.id}`).set(tenantB);
      expect(read.status).toBe(404);
      expect(read.body.code).toBe('not_found');
      expect((await h.http().patch(`/agents/${created.body.id}`).set(tenantB).send({ name: 'pwned' })).status).toBe(
        404,
      );
      // Deleting an agent needs an approval first (shipped policy); either way tenant B's delete never lands.
      expect([403, 404]).toContain((await h.http().delete(`/agents/${created.body.id}`).set(tenantB)).status);
      const list = await h.http().get('/agents?limit=100').set(tenantB);
      expect(list.status).toBe(200);
      expect(list.body.items.map((a: { id: string }) => a.id)).not.toContain(created.body.id);
      expect((await h.http().get(`/agents/${created.body.id}`).set(tenantA)).body.name).toBe('secret agent');
    });

    it("hides one customer's session from another customer", async () => {
      const op = bearer(signToken({ roles: ['operator'], scope: 'agents:write', tenant_id: 'shop' }));
      const agent = await h.http().post('/agents').set(op).send({ name: 'helper' });
      const alice = bearer(
        signToken({ sub: 'alice', roles: ['customer'], scope: 'sessions:write events:write', tenant_id: 'shop' }),
      );
      const bob = bearer(
        signToken({ sub: 'bob', roles: ['customer'], scope: 'sessions:write events:write', tenant_id: 'shop' }),
      );
      const session = await h.http().post('/sessions').set(alice).send({ agentId: agent.body.id });
      expect(session.status).toBe(201);
      expect((await h.http().get(`/sessions/${session.body.id}`).set(alice)).status).toBe(200);
      const stolen = await h.http().get(`/sessions/${session.body.id}`).set(bob);
      expect(stolen.status).toBe(404);
      expect((await h.http().get(`/sessions/${session.body.id}/events`).set(bob)).status).toBe(404);
      expect((await h.http().post(`/sessions/${session.body.id}/events`).set(bob).send({ message: 'hi' })).status).toBe(
        404,
      );
      const bobs = await h.http().get('/sessions').set(bob);
      expect(bobs.body.items).toEqual([]);
    });

    it('ignores a tenant or role smuggled in a body', async () => {
      const tenantA = bearer(signToken({ roles: ['operator'], scope: 'agents:write', tenant_id: 'tenant-a' }));
      const smuggled = await h.http().post('/agents').set(tenantA).send({ name: 'x', tenantId: 'tenant-b' });
      expect(smuggled.status).toBe(400);
      expect(smuggled.body.code).toBe('validation_failed');
      const roles = await h
        .http()
        .post('/agents')
        .set(tenantA)
        .send({ name: 'x', roles: ['admin'], ownerId: 'root' });
      expect(roles.status).toBe(400);
      const keyForOtherTenant = await h
        .http()
        .post('/api-keys')
        .set(bearer(signToken({ roles: ['admin'], scope: 'admin', tenant_id: 'tenant-a' })))
        .send({ name: 'x', roles: ['admin'], scopes: ['agents:read'], tenantId: 'tenant-b' });
      expect(keyForOtherTenant.status).toBe(403);
    });
  });

  describe('400 and 413', () => {
    it('answers validation_failed for bad JSON, wrong types, unknown fields, bad UUIDs and bad queries', async () => {
      const cases = [
        h.http().post('/agents').set(admin()).set('Content-Type', 'application/json').send('{"name":'),
        h.http().post('/agents').set(admin()).send({ name: 42 }),
        h.http().post('/agents').set(admin()).send({ name: 'x', extra: true }),
        h.http().get('/agents/not-a-uuid').set(admin()),
        h.http().get('/agents?limit=abc').set(admin()),
        h.http().get('/agents?cursor=%24%24').set(admin()),
        h.http().post('/sessions').set(admin()).send({ agentId: 'nope' }),
      ];
      for (const res of await Promise.all(cases)) {
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ statusCode: 400, code: 'validation_failed' });
      }
    });

    it('answers payload_too_large past the body limit', async () => {
      const res = await h
        .http()
        .post('/agents')
        .set(admin())
        .send({ name: 'x', instructions: 'a'.repeat(1024 * 1024 + 10) });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ statusCode: 413, code: 'payload_too_large' });
    });

    it('answers not_found with a fixed message for an unknown route, echoing nothing', async () => {
      const res = await h.http().get('/nowhere/secret-token-value').set(admin());
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('not_found');
      expect(JSON.stringify(res.body)).not.toContain('secret-token-value');
    });
  });

  it('walks the whole way: credentials → decision → controller → database', async () => {
    const a = admin();
    const agent = await h.http().post('/agents').set(a).send({ name: 'flow', instructions: 'be nice' });
    const customer = await h.http().post('/customers').set(a).send({ name: 'Ann', email: 'ann@example.com' });
    expect(customer.status).toBe(201);
    const session = await h
      .http()
      .post('/sessions')
      .set(a)
      .send({ agentId: agent.body.id, customerId: customer.body.id });
    expect(session.status).toBe(201);
    const event = await h
      .http()
      .post(`/sessions/${session.body.id}/events`)
      .set(a)
      .send({ message: 'Hello there, agent!' });
    expect(event.status).toBe(201);
    expect(event.body.reply.message).toBe('Hello there, agent!');
    expect(event.body.usage.inputTokens).toBeGreaterThan(2);
    expect(event.body.usage.outputTokens).toBe(event.body.usage.inputTokens);
    const events = await h.http().get(`/sessions/${session.body.id}/events`).set(a);
    expect(events.body.items).toHaveLength(2);
    const page1 = await h.http().get('/agents?limit=1').set(a);
    expect(page1.body.items).toHaveLength(1);
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    const page2 = await h.http().get(`/agents?limit=1&cursor=${page1.body.nextCursor}`).set(a);
    expect(page2.body.items[0].id).not.toBe(page1.body.items[0].id);
    expect((await h.http().delete(`/customers/${customer.body.id}`).set(a)).status).toBe(204);
    expect((await h.http().get(`/customers/${customer.body.id}`).set(a)).status).toBe(404);
  });
});

describe('agent-api with RS256 and issuer/audience', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  let h: Harness;
  beforeAll(async () => {
    h = await startAgentApi({
      env: { JWT_SECRET: '', JWT_PUBLIC_KEY: pub, JWT_ISSUER: 'https://issuer.test', JWT_AUDIENCE: 'agent-api' },
    });
  });
  afterAll(async () => h.close());

  const rs = (opts: Record<string, unknown> = {}) =>
    signToken(ADMIN, { key: priv, algorithm: 'RS256', issuer: 'https://issuer.test', audience: 'agent-api', ...opts });

  it('accepts a valid RS256 token', async () => {
    expect((await h.http().get('/agents').set(bearer(rs()))).status).toBe(200);
  });

  it.each([
    [
      'HS256 signed with the public key (algorithm confusion)',
      () => signToken(ADMIN, { key: pub, issuer: 'https://issuer.test', audience: 'agent-api' }),
    ],
    [
      'HS256 signed with the old shared secret',
      () => signToken(ADMIN, { key: TEST_SECRET, issuer: 'https://issuer.test', audience: 'agent-api' }),
    ],
    ['a wrong issuer', () => rs({ issuer: 'https://evil.test' })],
    ['a wrong audience', () => rs({ audience: 'other-api' })],
    ['no issuer', () => signToken(ADMIN, { key: priv, algorithm: 'RS256', audience: 'agent-api' })],
  ])('refuses %s', async (_name, make) => {
    const res = await h.http().get('/agents').set(bearer(make()));
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('invalid_token');
  });
});
