/**
 * Tamper evidence over HTTP: rows of `policy_audit_events` edited or deleted behind the app's back are reported
 * by `GET /audit/verify`, naming the first broken event, on SQLite and PostgreSQL.
 */
import { hashEvent } from 'nest-agent-policy';
import type { DataSource } from 'typeorm';
import { signToken, startAgentApi, type DatabaseKind, type Harness } from '../support/harness-exports';
import { itWith } from '../support/services';
import { bearer, openDatabase, waitFor } from './audit-http.support';

const EVENTS = 10;

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

describe.each(['sqlite', 'postgres'] as DatabaseKind[])('audit tamper evidence (%s)', (database) => {
  let h: Harness;
  let db: DataSource;
  const it = database === 'postgres' ? itWith('postgres') : itWith();
  let rows: StoredRow[] = [];
  const auditor = () => bearer(signToken({ sub: 'auditor-1', roles: ['auditor'], scope: 'audit:read' }));
  // Placeholders are `$n` in PostgreSQL and `?` (in order) in SQLite.
  const run = (text: string, parameters: unknown[]) =>
    db.query(database === 'sqlite' ? text.replace(/\$\d+/g, '?') : text, parameters);
  const verify = async () => {
    const res = await h.http().get('/audit/verify').set(auditor());
    expect(res.status).toBe(200);
    return res.body as { valid: boolean; checked: number; firstBrokenId: string | null };
  };
  const bySeq = (seq: number) => rows.find((row) => Number(row.seq) === seq)!;

  beforeAll(async () => {
    h = await startAgentApi({ database, configure: (config) => (config.policy.audit = { flushIntervalMs: 10 }) });
    const url = h.config.database.type === 'sqlite' ? `sqlite:${h.config.database.path}` : h.config.database.url;
    db = await openDatabase(url);
    const customer = bearer(signToken({ sub: 'tamper-customer', roles: ['customer'], scope: 'agents:read' }));
    for (let i = 0; i < EVENTS; i++) {
      await h.http().get('/agents').set(customer).set('X-Request-Id', `tamper-${i}`).expect(403);
    }
    await waitFor(
      async () => Number((await db.query('SELECT COUNT(*) AS n FROM policy_audit_events'))[0].n) === EVENTS,
    );
    rows = await db.query<StoredRow[]>('SELECT * FROM policy_audit_events ORDER BY seq');
  }, 60_000);
  afterAll(async () => {
    if (db?.isInitialized) await db.destroy();
    if (h) await h.close();
  });

  it('reports an untouched log as valid, every event checked', async () => {
    expect(rows.map((row) => row.request_id)).toEqual(Array.from({ length: EVENTS }, (_, i) => `tamper-${i}`));
    await expect(verify()).resolves.toEqual({ valid: true, checked: EVENTS, firstBrokenId: null });
  });

  it('names the row whose reasons were edited, and is valid again once they are restored', async () => {
    const target = bySeq(5);
    await run('UPDATE policy_audit_events SET reasons = $1 WHERE id = $2', ['["nothing to see here"]', target.id]);
    try {
      await expect(verify()).resolves.toMatchObject({ valid: false, firstBrokenId: target.id });
    } finally {
      await run('UPDATE policy_audit_events SET reasons = $1 WHERE id = $2', [target.reasons, target.id]);
    }
    await expect(verify()).resolves.toEqual({ valid: true, checked: EVENTS, firstBrokenId: null });
  });

  it('names the next row when an edited row also gets a recomputed hash', async () => {
    const target = bySeq(5);
    const reasons = '["nothing to see here"]';
    const forged = hashEvent(target.prev_hash, {
      id: target.id,
      chainId: target.chain_id,
      seq: Number(target.seq),
      type: target.type,
      outcome: target.outcome,
      principalId: target.principal_id,
      tenantId: target.tenant_id,
      operation: target.operation,
      reasons,
      requestId: target.request_id,
      ip: target.ip,
      details: target.details,
      createdAt: Number(target.created_at),
    });
    await run('UPDATE policy_audit_events SET reasons = $1, hash = $2 WHERE id = $3', [reasons, forged, target.id]);
    try {
      await expect(verify()).resolves.toMatchObject({ valid: false, firstBrokenId: bySeq(6).id });
    } finally {
      await run('UPDATE policy_audit_events SET reasons = $1, hash = $2 WHERE id = $3', [
        target.reasons,
        target.hash,
        target.id,
      ]);
    }
    await expect(verify()).resolves.toMatchObject({ valid: true });
  });

  it('names the row after a deleted middle row', async () => {
    await run('DELETE FROM policy_audit_events WHERE id = $1', [bySeq(5).id]);
    await expect(verify()).resolves.toMatchObject({ valid: false, firstBrokenId: bySeq(6).id });
  });
});
