/**
 * One bad audit row never stops auditing on PostgreSQL: requests whose audited strings hold a NUL (a JWT `sub` or
 * `tenant_id` of "evil\u0000") are answered, the events after them are stored and readable, and the chain verifies,
 * on Express and Fastify.
 */
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/harness-exports';
import { itWith } from '../support/services';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe.each(['express', 'fastify'] as const)('audit survives unstorable text (%s, postgres)', (adapter) => {
  const it = itWith('postgres');
  let h: Harness;
  beforeAll(async () => {
    h = await startAgentApi({ adapter, database: 'postgres' });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('stores the events that follow a NUL-bearing one, and the chain verifies', async () => {
    const poison = [
      signToken({ sub: 'evil\u0000', roles: ['customer'], scope: 'sessions:read' }),
      signToken({ sub: 'tenant-evil', tenant_id: 't\u0000', roles: ['customer'], scope: 'sessions:read' }),
      signToken({ sub: 'lone-\ud800', roles: ['customer'], scope: 'sessions:read' }),
    ];
    for (const token of poison) {
      const res = await h.http().get('/agents').set(bearer(token));
      expect([401, 403]).toContain(res.status);
    }
    const honest = `honest-${adapter}-${Date.now()}`;
    for (let i = 0; i < 5; i += 1) {
      const res = await h
        .http()
        .get('/agents')
        .set(bearer(signToken({ sub: `${honest}-${i}`, roles: ['customer'], scope: 'sessions:read' })));
      expect(res.status).toBe(403);
    }

    const admin = bearer(signToken({ sub: 'auditor', ...ADMIN }));
    const deadline = Date.now() + 10_000;
    let found = 0;
    while (Date.now() < deadline) {
      const res = await h
        .http()
        .get(`/audit?principalId=${encodeURIComponent(`${honest}-4`)}`)
        .set(admin);
      expect(res.status).toBe(200);
      found = res.body.items.length;
      if (found) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(found).toBe(1);
    const verify = await h.http().get('/audit/verify').set(admin);
    expect(verify.status).toBe(200);
    expect(verify.body).toMatchObject({ valid: true, firstBrokenId: null });
    expect(verify.body.checked).toBeGreaterThanOrEqual(8);
  }, 30_000);
});
