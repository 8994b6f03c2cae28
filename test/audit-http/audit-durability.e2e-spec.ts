/**
 * Durability of the audit log in the built agent-api process: every denied request becomes exactly one stored
 * event, including the ones still queued when SIGTERM arrives, and the stored chains verify afterwards, on SQLite
 * and PostgreSQL. Two processes writing to one PostgreSQL database keep one valid chain each.
 * Needs `npm run build` (done by `npm test`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '../support/agent-api.harness';
import { startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { createTestDatabase, itWith } from '../support/services';
import { bearer, fire, openDatabase, writePolicy } from './audit-http.support';

const REQUESTS = 5_000;
const CONCURRENCY = 50;
// A customer may not list agents: every request below is a 403 and an `access.denied` event.
const denied = () => bearer(signToken({ sub: 'load-customer', roles: ['customer'], scope: 'agents:read' }));
const auditor = () => bearer(signToken({ sub: 'auditor-1', roles: ['auditor'], scope: 'audit:read' }));

async function getDenied(url: string, headers: Record<string, string>, requestId: string): Promise<number> {
  try {
    const res = await fetch(`${url}/agents`, { headers: { ...headers, 'X-Request-Id': requestId } });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** `GET /audit/verify` answered by a fresh process on the database. */
async function verifyWithFreshProcess(env: Record<string, string>): Promise<unknown> {
  const app = await startAgentApiProcess(env);
  try {
    const res = await fetch(`${app.url}/audit/verify`, { headers: auditor() });
    expect(res.status).toBe(200);
    return await res.json();
  } finally {
    await app.stop('SIGTERM');
  }
}

type Target = { databaseUrl: string; drop: () => Promise<void> };

async function makeDatabase(kind: 'sqlite' | 'postgres', dir: string): Promise<Target> {
  if (kind === 'sqlite') return { databaseUrl: `sqlite:${join(dir, 'audit.sqlite')}`, drop: async () => undefined };
  const db = await createTestDatabase('audit_http');
  return { databaseUrl: db.url, drop: db.drop };
}

describe.each(['sqlite', 'postgres'] as const)('audit durability in the agent-api process (%s)', (kind) => {
  const it = kind === 'postgres' ? itWith('postgres') : itWith();
  let dir: string;
  let policy: string;
  const dropped: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'audit-durability-'));
    policy = writePolicy(dir);
  });
  afterAll(async () => {
    for (const drop of dropped) await drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`stores exactly one access.denied event for each of ${REQUESTS} denied requests, flushed on SIGTERM`, async () => {
    const { databaseUrl, drop } = await makeDatabase(kind, dir);
    dropped.push(drop);
    const env = { DATABASE_URL: databaseUrl, POLICY_CONFIG: policy };
    const app = await startAgentApiProcess(env);
    const headers = denied();
    const statuses = await fire(REQUESTS, CONCURRENCY, (i) => getDenied(app.url, headers, `load-${i}`));
    expect(Object.fromEntries(statuses)).toEqual({ 403: REQUESTS });
    // SIGTERM right after the last response: the tail of the queue is only written by the shutdown flush.
    await app.stop('SIGTERM');
    expect(app.output()).not.toMatch(/could not be written|audit event\(s\) failed/);

    const source = await openDatabase(databaseUrl);
    try {
      const rows = await source.query<
        Array<{ type: string; outcome: string; principalId: string; operation: string; requestId: string }>
      >(
        'SELECT type, outcome, principal_id AS "principalId", operation, request_id AS "requestId" FROM policy_audit_events',
      );
      expect(rows).toHaveLength(REQUESTS);
      expect(new Set(rows.map((r) => `${r.type} ${r.outcome} ${r.principalId} ${r.operation}`))).toEqual(
        new Set(['access.denied DENY load-customer agent.list']),
      );
      // One event per request: every request id once, none missing, none twice.
      const ids = new Set(rows.map((r) => r.requestId));
      expect(ids.size).toBe(REQUESTS);
      for (let i = 0; i < REQUESTS; i++) if (!ids.has(`load-${i}`)) throw new Error(`no event for request load-${i}`);
    } finally {
      await source.destroy();
    }

    await expect(verifyWithFreshProcess(env)).resolves.toEqual({ valid: true, checked: REQUESTS, firstBrokenId: null });
  }, 180_000);

  it('keeps the event of every request that was answered before SIGTERM stopped the process', async () => {
    const { databaseUrl, drop } = await makeDatabase(kind, dir);
    dropped.push(drop);
    const env = { DATABASE_URL: databaseUrl, POLICY_CONFIG: policy };
    const app = await startAgentApiProcess(env);
    const headers = denied();
    const answered: string[] = [];
    const stopping: Array<Promise<number | null>> = [];
    await fire(3_000, CONCURRENCY, async (i) => {
      const status = await getDenied(app.url, headers, `shutdown-${i}`);
      if (status === 403) answered.push(`shutdown-${i}`);
      // Stop while requests are in flight and events are queued.
      if (answered.length === 1_000 && stopping.length === 0) stopping.push(app.stop('SIGTERM'));
      return status;
    });
    await (stopping[0] ?? app.stop('SIGTERM'));
    expect(answered.length).toBeGreaterThanOrEqual(1_000);

    const source = await openDatabase(databaseUrl);
    try {
      const rows = await source.query<Array<{ requestId: string }>>(
        'SELECT request_id AS "requestId" FROM policy_audit_events',
      );
      const stored = new Set(rows.map((r) => r.requestId));
      const lost = answered.filter((id) => !stored.has(id));
      expect(lost).toEqual([]);
      expect(stored.size).toBe(rows.length);
    } finally {
      await source.destroy();
    }
    await expect(verifyWithFreshProcess(env)).resolves.toMatchObject({ valid: true, firstBrokenId: null });
  }, 180_000);
});

describe('two agent-api processes writing to one PostgreSQL database', () => {
  const it = itWith('postgres');
  let dir: string;
  let db: { url: string; drop: () => Promise<void> };
  const apps: AgentApiProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'audit-two-'));
    db = await createTestDatabase('audit_http_two');
  });
  afterAll(async () => {
    for (const app of apps) await app.stop('SIGKILL');
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps one valid chain per process while both write at once', async () => {
    const env = { DATABASE_URL: db.url, POLICY_CONFIG: writePolicy(dir) };
    // Started together on a fresh database: both apply migrations and come up.
    apps.push(...(await Promise.all([startAgentApiProcess(env), startAgentApiProcess(env)])));
    const headers = denied();
    const perProcess = REQUESTS / 2;
    const results = await Promise.all(
      apps.map((app, n) => fire(perProcess, CONCURRENCY / 2, (i) => getDenied(app.url, headers, `p${n}-${i}`))),
    );
    for (const statuses of results) expect(Object.fromEntries(statuses)).toEqual({ 403: perProcess });
    await Promise.all(apps.map((app) => app.stop('SIGTERM')));

    const source = await openDatabase(db.url);
    try {
      const chains = await source.query<Array<{ n: number; first: number; last: number; writers: number }>>(
        `SELECT chain_id, COUNT(*)::int AS n, MIN(seq)::int AS first, MAX(seq)::int AS last,
                COUNT(DISTINCT SUBSTRING(request_id FROM 1 FOR 2))::int AS writers
           FROM policy_audit_events GROUP BY chain_id`,
      );
      // One chain per process, numbered 1..n without gaps, each holding only its own process's requests.
      expect(chains.map(({ n, first, last, writers }) => ({ n, first, last, writers }))).toEqual([
        { n: perProcess, first: 1, last: perProcess, writers: 1 },
        { n: perProcess, first: 1, last: perProcess, writers: 1 },
      ]);
    } finally {
      await source.destroy();
    }
    await expect(verifyWithFreshProcess(env)).resolves.toEqual({ valid: true, checked: REQUESTS, firstBrokenId: null });
  }, 180_000);
});
