/**
 * `GET /audit` over HTTP on Express and Fastify: filters by type, principal and time, newest-first pages with an
 * opaque cursor, tenant scoping of auditors, and 400 `validation_failed` for bad input.
 */
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/harness-exports';
import { bearer, waitFor } from './audit-http.support';

interface EventView {
  id: string;
  type: string;
  outcome: string;
  principalId: string | null;
  tenantId: string | null;
  operation: string | null;
  requestId: string | null;
  createdAt: string;
  details: Record<string, unknown> | null;
}
interface Page {
  items: EventView[];
  nextCursor: string | null;
}

/** A denial or failure by its request id; other events by their type. */
const label = (e: EventView) => (e.type === 'access.denied' || e.type === 'auth.failure' ? e.requestId : e.type);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const customer = (sub: string, tenant?: string) =>
  bearer(signToken({ sub, roles: ['customer'], scope: 'agents:read', ...(tenant ? { tenant_id: tenant } : {}) }));
const auditor = (tenant?: string) =>
  bearer(
    signToken({
      sub: `auditor-${tenant ?? 'all'}`,
      roles: ['auditor'],
      scope: 'audit:read',
      ...(tenant ? { tenant_id: tenant } : {}),
    }),
  );

describe.each(['express', 'fastify'] as const)('GET /audit (%s)', (adapter) => {
  let h: Harness;
  /** The time between the two batches of events below. */
  let split: number;
  const before: string[] = [];
  const after: string[] = [];
  let total = 0;

  const list = async (query: Record<string, string | number>, headers = auditor()): Promise<Page> => {
    const res = await h.http().get('/audit').query(query).set(headers);
    expect(res.status).toBe(200);
    return res.body as Page;
  };
  /** A denied `GET /agents` tagged with its request id. */
  const deny = async (headers: Record<string, string>, requestId: string, batch: string[]) => {
    await h.http().get('/agents').set(headers).set('X-Request-Id', requestId).expect(403);
    batch.push(requestId);
  };

  beforeAll(async () => {
    h = await startAgentApi({ adapter, configure: (config) => (config.policy.audit = { flushIntervalMs: 10 }) });
    // Before the split: alice and carol (tenant t1), bob (t2), 20 concurrent denials of dave (no tenant, many in
    // the same millisecond), two bad tokens.
    for (let i = 0; i < 4; i++) await deny(customer('alice', 't1'), `a-alice-${i}`, before);
    for (let i = 0; i < 3; i++) await deny(customer('bob', 't2'), `a-bob-${i}`, before);
    await Promise.all(Array.from({ length: 20 }, (_, i) => deny(customer('dave'), `a-dave-${i}`, before)));
    for (let i = 0; i < 2; i++) {
      await h
        .http()
        .get('/agents')
        .set(bearer(`${signToken(ADMIN)}x`))
        .set('X-Request-Id', `a-bad-${i}`)
        .expect(401);
      before.push(`a-bad-${i}`);
    }
    await waitFor(async () => (await list({ limit: 500 })).items.length === before.length);
    // The time filters are the subject: a few ms on each side of the split keep the two groups' timestamps apart.
    await sleep(5);
    split = Date.now();
    await sleep(5);
    // After the split: alice again, carol (t1), and an API key created by an admin.
    for (let i = 0; i < 3; i++) await deny(customer('alice', 't1'), `b-alice-${i}`, after);
    for (let i = 0; i < 2; i++) await deny(customer('carol', 't1'), `b-carol-${i}`, after);
    await h
      .http()
      .post('/api-keys')
      .set(bearer(signToken({ sub: 'root-admin', ...ADMIN })))
      .set('X-Request-Id', 'b-key-0')
      .send({ name: 'reporting', roles: ['admin'], scopes: ['audit:read'] })
      .expect(201);
    after.push('api_key.created');
    total = before.length + after.length;
    await waitFor(async () => (await list({ limit: 500 })).items.length === total);
  }, 60_000);
  afterAll(async () => {
    if (h) await h.close();
  });

  it('lists every event newest first', async () => {
    const { items, nextCursor } = await list({ limit: 500 });
    expect(items).toHaveLength(total);
    expect(nextCursor).toBeNull();
    const times = items.map((e) => Date.parse(e.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(items[0]).toMatchObject({ type: 'api_key.created', principalId: 'root-admin', operation: 'api-key.create' });
  });

  it('filters by type', async () => {
    const failures = await list({ type: 'auth.failure' });
    expect(failures.items.map((e) => e.type)).toEqual(['auth.failure', 'auth.failure']);
    expect(failures.items.map((e) => e.principalId)).toEqual([null, null]);
    const created = await list({ type: 'api_key.created' });
    expect(created.items).toHaveLength(1);
    expect(created.items[0].details).toMatchObject({ name: 'reporting', roles: ['admin'], scopes: ['audit:read'] });
    expect((await list({ type: 'access.denied', limit: 500 })).items).toHaveLength(total - 3);
    expect((await list({ type: 'access.granted' })).items).toEqual([]);
  });

  it('filters by principal', async () => {
    const { items } = await list({ principalId: 'alice' });
    expect(items.map((e) => e.requestId)).toEqual([
      'b-alice-2',
      'b-alice-1',
      'b-alice-0',
      'a-alice-3',
      'a-alice-2',
      'a-alice-1',
      'a-alice-0',
    ]);
    expect(new Set(items.map((e) => `${e.type} ${e.operation} ${e.tenantId}`))).toEqual(
      new Set(['access.denied agent.list t1']),
    );
    expect((await list({ principalId: 'nobody' })).items).toEqual([]);
  });

  it('filters by time: since is inclusive, until exclusive, and both combine with other filters', async () => {
    const iso = new Date(split).toISOString();
    const since = await list({ since: iso, limit: 500 });
    expect(new Set(since.items.map(label))).toEqual(new Set(after));
    const until = await list({ until: iso, limit: 500 });
    expect(new Set(until.items.map(label))).toEqual(new Set(before));
    const window = await list({ principalId: 'alice', since: iso, until: new Date(Date.now() + 60_000).toISOString() });
    expect(window.items.map((e) => e.requestId)).toEqual(['b-alice-2', 'b-alice-1', 'b-alice-0']);
  });

  it.each([1, 4, 7])('pages through everything %i at a time without duplicates or gaps', async (limit) => {
    const all = (await list({ limit: 500 })).items.map((e) => e.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Page = await list(cursor ? { limit, cursor } : { limit });
      expect(page.items.length).toBeLessThanOrEqual(limit);
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages <= total);
    expect(seen).toEqual(all);
    expect(new Set(seen).size).toBe(total);
    expect(pages).toBe(Math.ceil(total / limit));
  });

  it('pages within a filter', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = await list(
        cursor ? { principalId: 'dave', limit: 3, cursor } : { principalId: 'dave', limit: 3 },
      );
      seen.push(...page.items.map((e) => e.requestId!));
      cursor = page.nextCursor;
    } while (cursor && seen.length <= 30);
    expect(seen).toHaveLength(20);
    expect(new Set(seen)).toEqual(new Set(Array.from({ length: 20 }, (_, i) => `a-dave-${i}`)));
  });

  it('ties API-key and token-revocation events to the request that caused them', async () => {
    const admin = bearer(signToken({ sub: 'root-admin', ...ADMIN }));
    const created = await h
      .http()
      .post('/api-keys')
      .set(admin)
      .set('X-Request-Id', 'c-key-create')
      .send({ name: 'short-lived', roles: ['admin'], scopes: ['agents:read'] })
      .expect(201);
    await h
      .http()
      .delete(`/api-keys/${created.body.id as string}`)
      .set(admin)
      .set('X-Request-Id', 'c-key-revoke')
      .expect(204);
    await h
      .http()
      .post('/revocations')
      .set(admin)
      .set('X-Request-Id', 'c-token-revoke')
      .send({ jti: 'c-revoked-jti' })
      .expect(204);
    total += 3;
    await waitFor(async () => (await list({ limit: 500 })).items.length === total);
    const mine = (await list({ principalId: 'root-admin', limit: 500 })).items.filter(
      (e) => e.type !== 'access.denied',
    );
    const byType = Object.fromEntries(mine.map((e) => [e.type, e.requestId]));
    expect(byType).toMatchObject({ 'api_key.revoked': 'c-key-revoke', 'token.revoked': 'c-token-revoke' });
    expect(mine.filter((e) => e.type === 'api_key.created').map((e) => e.requestId)).toContain('c-key-create');
  });

  it("shows a tenant's auditor both the creation and the revocation of the tenant's API keys", async () => {
    const admin = bearer(signToken({ sub: 'root-admin', ...ADMIN }));
    const created = await h
      .http()
      .post('/api-keys')
      .set(admin)
      .send({ name: 't3 key', roles: ['admin'], scopes: ['agents:read'], tenantId: 't3' })
      .expect(201);
    await h
      .http()
      .delete(`/api-keys/${created.body.id as string}`)
      .set(admin)
      .expect(204);
    total += 2;
    await waitFor(async () => (await list({ limit: 500 })).items.length === total);
    const t3 = await list({ limit: 500 }, auditor('t3'));
    expect(t3.items.map((e) => `${e.type} ${e.tenantId}`)).toEqual(['api_key.revoked t3', 'api_key.created t3']);
  });

  it("shows a tenant-bound auditor only its tenant's events", async () => {
    const t1 = await list({ limit: 500 }, auditor('t1'));
    expect(t1.items.map((e) => e.requestId).sort()).toEqual(
      [...before, ...after].filter((id) => /-(alice|carol)-/.test(id)).sort(),
    );
    expect((await list({ principalId: 'bob' }, auditor('t1'))).items).toEqual([]);
    expect((await list({ type: 'auth.failure' }, auditor('t1'))).items).toEqual([]);
    const t2 = await list({ limit: 500 }, auditor('t2'));
    expect(t2.items.map((e) => e.principalId)).toEqual(['bob', 'bob', 'bob']);
  });

  it('refuses callers without audit.read or the audit:read scope', async () => {
    const denied = await h.http().get('/audit').set(customer('eve', 't1'));
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('forbidden');
    const scopeless = await h
      .http()
      .get('/audit')
      .set(bearer(signToken({ roles: ['auditor'], scope: 'usage:read' })));
    expect(scopeless.status).toBe(403);
    expect(scopeless.body.code).toBe('insufficient_scope');
  });

  it.each<[string, Record<string, string>]>([
    ['a cursor with foreign characters', { cursor: 'not a cursor!' }],
    ['a well-formed cursor that was never issued', { cursor: 'bm90LWEtY3Vyc29y' }],
    [
      'a cursor for another list shape',
      { cursor: Buffer.from(JSON.stringify({ createdAt: 1, id: 'x' })).toString('base64url') },
    ],
    ['a since that is not a date', { since: 'yesterday' }],
    ['an until that is not a date', { until: '2024-13-45T00:00:00Z' }],
    ['a limit of 0', { limit: '0' }],
    ['a limit above 500', { limit: '501' }],
    ['an unknown type', { type: 'access.everything' }],
  ])('answers 400 validation_failed for %s', async (_name, query) => {
    const res = await h.http().get('/audit').query(query).set(auditor());
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, code: 'validation_failed', message: expect.any(String) });
  });
});
