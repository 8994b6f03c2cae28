/**
 * What the audit log says and to whom, on Express and Fastify, SQLite and PostgreSQL: redaction keeps the library's
 * own words, a failed attempt on an existing API key is its tenant's event, `GET /audit/verify` answers a tenant
 * auditor about its tenant only, and the signed chain anchor catches a deleted or recomputed tail.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { hashEvent } from 'nest-agent-policy';
import type { DataSource } from 'typeorm';
import { signToken, startAgentApi, type DatabaseKind, type Harness } from '../support/harness-exports';
import { itWith } from '../support/services';
import { bearer, openDatabase, waitFor } from './audit-http.support';

interface StoredRow {
  id: string;
  chain_id: string;
  seq: string | number;
  type: string;
  outcome: string;
  principal_id: string | null;
  tenant_id: string | null;
  operation: string | null;
  reasons: string;
  request_id: string | null;
  ip: string | null;
  details: string | null;
  created_at: string | number;
  prev_hash: string;
  hash: string;
}

const matrix: Array<['express' | 'fastify', DatabaseKind]> = [
  ['express', 'sqlite'],
  ['fastify', 'sqlite'],
  ['express', 'postgres'],
  ['fastify', 'postgres'],
];

describe.each(matrix)('audit scope and anchors (%s, %s)', (adapter, database) => {
  let h: Harness;
  let db: DataSource;
  const it = database === 'postgres' ? itWith('postgres') : itWith();
  const run = (text: string, parameters: unknown[] = []) =>
    db.query(database === 'sqlite' ? text.replace(/\$\d+/g, '?') : text, parameters);
  const platformAuditor = () => bearer(signToken({ sub: 'platform-auditor', roles: ['auditor'], scope: 'audit:read' }));
  const tenantAuditor = (tenant: string) =>
    bearer(signToken({ sub: `auditor-${tenant}`, roles: ['auditor'], scope: 'audit:read', tenant_id: tenant }));
  const verify = async (headers: Record<string, string>) => {
    const res = await h.http().get('/audit/verify').set(headers);
    expect(res.status).toBe(200);
    return res.body as { valid: boolean; checked: number; firstBrokenId: string | null };
  };
  const allRows = async () => (await run('SELECT * FROM policy_audit_events ORDER BY seq')) as StoredRow[];
  const stored = async (requestId: string) => {
    await waitFor(
      async () => (await run('SELECT id FROM policy_audit_events WHERE request_id = $1', [requestId])).length > 0,
      10_000,
      requestId,
    );
  };
  /** Waits until the chain's newest event is anchored. */
  const anchored = async () => {
    await waitFor(
      async () => {
        const [events] = await run('SELECT MAX(seq) AS n FROM policy_audit_events');
        const [anchors] = await run('SELECT MAX(seq) AS n FROM policy_audit_anchors');
        return events.n !== null && Number(anchors.n) === Number(events.n);
      },
      10_000,
      'the anchor',
    );
  };
  const insertRow = (row: StoredRow) =>
    run(
      'INSERT INTO policy_audit_events (id, chain_id, seq, type, outcome, principal_id, tenant_id, operation, reasons, request_id, ip, details, created_at, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)',
      [
        row.id,
        row.chain_id,
        row.seq,
        row.type,
        row.outcome,
        row.principal_id,
        row.tenant_id,
        row.operation,
        row.reasons,
        row.request_id,
        row.ip,
        row.details,
        row.created_at,
        row.prev_hash,
        row.hash,
      ],
    );

  beforeAll(async () => {
    h = await startAgentApi({
      adapter,
      database,
      configure: (config) => {
        config.policy.audit = { flushIntervalMs: 10, anchorIntervalMs: 50, anchorKey: randomBytes(32).toString('hex') };
      },
    });
    const url = h.config.database.type === 'sqlite' ? `sqlite:${h.config.database.path}` : h.config.database.url;
    db = await openDatabase(url);
  }, 60_000);
  afterAll(async () => {
    if (db?.isInitialized) await db.destroy();
    if (h) await h.close();
  });

  it('keeps the words of a failed attempt readable and files a failed attempt on a key under its tenant', async () => {
    const tenantAdmin = bearer(signToken({ sub: 'red-admin', roles: ['admin'], scope: 'admin', tenant_id: 't-red' }));
    const created = await h
      .http()
      .post('/api-keys')
      .set(tenantAdmin)
      .send({ name: 'k', roles: ['viewer'], scopes: ['agents:read'] });
    expect(created.status).toBe(201);
    const wrongSecret = `${(created.body.key as string).slice(0, 'apk_'.length + 17)}${randomBytes(32).toString('base64url').slice(0, 43)}`;
    const jwtAttempt = `jwt-${randomUUID()}`;
    const keyAttempt = `key-${randomUUID()}`;
    expect((await h.http().get('/agents').set(bearer('not-a-jwt')).set('X-Request-Id', jwtAttempt)).status).toBe(401);
    expect((await h.http().get('/agents').set('X-API-Key', wrongSecret).set('X-Request-Id', keyAttempt)).status).toBe(
      401,
    );
    await stored(jwtAttempt);
    await stored(keyAttempt);

    const events = (await h.http().get('/audit?type=auth.failure&limit=500').set(platformAuditor())).body
      .items as Array<Record<string, unknown>>;
    const jwtEvent = events.find((e) => e.requestId === jwtAttempt)!;
    expect(jwtEvent).toMatchObject({
      reasons: ['invalid bearer token'],
      details: { credential: 'jwt' },
      tenantId: null,
    });
    const keyEvent = events.find((e) => e.requestId === keyAttempt)!;
    expect(keyEvent).toMatchObject({
      reasons: ['invalid API key'],
      details: { credential: 'api-key' },
      tenantId: 't-red',
    });
    expect(JSON.stringify(events)).not.toContain(wrongSecret.slice('apk_'.length + 17));

    const own = (await h.http().get('/audit?type=auth.failure').set(tenantAuditor('t-red'))).body.items as Array<
      Record<string, unknown>
    >;
    expect(own.map((e) => e.requestId)).toContain(keyAttempt);
  });

  it('answers a tenant auditor about its own events only; a platform auditor about all', async () => {
    const customer = (tenant: string) =>
      bearer(signToken({ sub: `c-${tenant}`, roles: ['customer'], scope: 'agents:read', tenant_id: tenant }));
    for (let i = 0; i < 3; i++)
      await h.http().get('/agents').set(customer('t-a')).set('X-Request-Id', `a-${i}`).expect(403);
    for (let i = 0; i < 2; i++)
      await h.http().get('/agents').set(customer('t-b')).set('X-Request-Id', `b-${i}`).expect(403);
    await stored('b-1');
    await anchored();
    const rows = await allRows();
    const ofTenant = (tenant: string) => rows.filter((r) => r.tenant_id === tenant).length;

    await expect(verify(platformAuditor())).resolves.toEqual({
      valid: true,
      checked: rows.length,
      firstBrokenId: null,
    });
    await expect(verify(tenantAuditor('t-a'))).resolves.toEqual({
      valid: true,
      checked: ofTenant('t-a'),
      firstBrokenId: null,
    });
    await expect(verify(tenantAuditor('t-b'))).resolves.toEqual({ valid: true, checked: 2, firstBrokenId: null });

    // t-b's newest event is edited: t-b and the platform see it, t-a (all of whose events come before) does not.
    const target = rows[rows.length - 1];
    expect(target.tenant_id).toBe('t-b');
    await run('UPDATE policy_audit_events SET reasons = $1 WHERE id = $2', ['["nothing"]', target.id]);
    try {
      await expect(verify(platformAuditor())).resolves.toMatchObject({ valid: false, firstBrokenId: target.id });
      await expect(verify(tenantAuditor('t-b'))).resolves.toMatchObject({ valid: false, firstBrokenId: target.id });
      const a = await verify(tenantAuditor('t-a'));
      expect(a.firstBrokenId).toBeNull();
      expect(a.checked).toBe(ofTenant('t-a'));
    } finally {
      await run('UPDATE policy_audit_events SET reasons = $1 WHERE id = $2', [target.reasons, target.id]);
    }
    await expect(verify(platformAuditor())).resolves.toMatchObject({ valid: true });
  });

  it('detects the deletion of the newest events', async () => {
    await anchored();
    const rows = await allRows();
    const newest = rows.slice(-2);
    await run(`DELETE FROM policy_audit_events WHERE id IN ($1, $2)`, [newest[0].id, newest[1].id]);
    try {
      const result = await verify(platformAuditor());
      expect(result.valid).toBe(false);
      expect(result.firstBrokenId).toBe(newest[1].id);
    } finally {
      for (const row of newest) await insertRow(row);
    }
    await expect(verify(platformAuditor())).resolves.toMatchObject({ valid: true });
  });

  it('detects a recomputed tail', async () => {
    await anchored();
    const rows = await allRows();
    const last = rows[rows.length - 1];
    const reasons = '["nothing to see here"]';
    const forged = hashEvent(last.prev_hash, {
      id: last.id,
      chainId: last.chain_id,
      seq: Number(last.seq),
      type: last.type,
      outcome: last.outcome,
      principalId: last.principal_id,
      tenantId: last.tenant_id,
      operation: last.operation,
      reasons,
      requestId: last.request_id,
      ip: last.ip,
      details: last.details,
      createdAt: Number(last.created_at),
    });
    await run('UPDATE policy_audit_events SET reasons = $1, hash = $2 WHERE id = $3', [reasons, forged, last.id]);
    try {
      await expect(verify(platformAuditor())).resolves.toMatchObject({ valid: false });
    } finally {
      await run('UPDATE policy_audit_events SET reasons = $1, hash = $2 WHERE id = $3', [
        last.reasons,
        last.hash,
        last.id,
      ]);
    }
    await expect(verify(platformAuditor())).resolves.toMatchObject({ valid: true });
  });

  it('detects a forged anchor', async () => {
    await anchored();
    const [anchor] = await run('SELECT id, mac FROM policy_audit_anchors ORDER BY seq DESC LIMIT 1');
    await run('UPDATE policy_audit_anchors SET mac = $1 WHERE id = $2', ['0'.repeat(64), anchor.id]);
    try {
      await expect(verify(platformAuditor())).resolves.toMatchObject({ valid: false });
    } finally {
      await run('UPDATE policy_audit_anchors SET mac = $1 WHERE id = $2', [anchor.mac, anchor.id]);
    }
  });
});
