/**
 * A bounded soak: two agent-api processes on one PostgreSQL database and one Redis, mixed traffic (reads, budgeted
 * events, a rate-limited list, denials, unauthenticated calls) for SOAK_MS (default 40 s, at most 2 minutes so the
 * suite stays short). Halfway, one instance gets SIGTERM and a new one takes its place. Afterwards: no 5xx, no
 * budget past its limit, the ledger equals the counters with nothing reserved, the rate limit admitted exactly its
 * limit, every denied request that was answered has exactly one audit event, and the audit chains verify.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { signToken } from '../support/agent-api.harness';
import { startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { createTestDatabase, itWith, REDIS_URL, redisTestPrefix } from '../support/services';
import { bearer, openDatabase, writePolicy } from '../audit-http/audit-http.support';
import { budgetOf, call, newCaller, newSession, remaining, usageOnceFlushed } from '../budget-http/budget-http.fixtures';

const SOAK_MS = Math.min(Number(process.env.SOAK_MS ?? 40_000), 120_000);
const BUDGET_REQUESTS = 25;
const LIST_LIMIT = 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sent {
  kind: 'read' | 'event' | 'list' | 'denied' | 'anonymous';
  caller: number;
  requestId: string;
  status: number;
}

describe('two instances on PostgreSQL + Redis under mixed traffic', () => {
  const it = itWith('postgres', 'redis');
  let dir: string;
  let env: Record<string, string>;
  let drop: (() => Promise<void>) | undefined;
  const all: AgentApiProcess[] = [];
  const { prefix, cleanup } = redisTestPrefix('soak');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'soak-'));
    const db = await createTestDatabase('soak');
    drop = db.drop;
    const policy = writePolicy(dir, (p) => {
      const high = { limit: 1_000_000, ttl: 600 };
      p.rateLimits = {
        ...p.rateLimits,
        keyPrefix: prefix,
        default: high,
        operations: { 'event.create': high, 'customer.list': { limit: LIST_LIMIT, ttl: 600 } },
      };
      p.budgets = { principal: { day: { requests: BUDGET_REQUESTS } }, reservationTtl: 5 };
    });
    env = { DATABASE_URL: db.url, REDIS_URL, POLICY_CONFIG: policy };
    all.push(await startAgentApiProcess(env));
    all.push(await startAgentApiProcess(env));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(all.map((p) => p.stop()));
    const redis = new Redis(REDIS_URL);
    await cleanup(redis).finally(() => redis.disconnect());
    if (drop) await drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it(`keeps every promise for ${SOAK_MS / 1000} s, through a SIGTERM of one instance`, async () => {
    const live = [...all];
    const operator = bearer(signToken({ sub: `soak-op-${randomUUID()}`, roles: ['operator'], scope: 'admin' }, { expiresIn: '1h' }));
    const lister = bearer(signToken({ sub: `soak-list-${randomUUID()}`, roles: ['operator'], scope: 'admin' }, { expiresIn: '1h' }));
    const customer = bearer(signToken({ sub: `soak-cust-${randomUUID()}`, roles: ['customer'], scope: 'agents:read' }, { expiresIn: '1h' }));
    const budgeted = Array.from({ length: 4 }, () => newCaller());
    const sessions = await Promise.all(budgeted.map((c) => newSession(live[0].url, c.headers)));
    const sent: Sent[] = [];
    const endAt = Date.now() + SOAK_MS;

    const send = async (kind: Sent['kind'], caller: number, i: number): Promise<void> => {
      const url = live[i % live.length].url;
      const requestId = `soak-${kind}-${caller}-${i}-${randomUUID()}`;
      const id = { 'X-Request-Id': requestId };
      let status = 0;
      try {
        if (kind === 'event') {
          status = (await call(`${url}/sessions/${sessions[caller]}/events`, 'POST', { ...budgeted[caller].headers, ...id }, { message: 'soak' })).status;
        } else {
          const path = kind === 'list' ? '/customers' : '/agents';
          const headers = kind === 'read' ? operator : kind === 'list' ? lister : kind === 'denied' ? customer : {};
          const res = await fetch(`${url}${path}`, { headers: { ...headers, ...id } });
          await res.arrayBuffer();
          status = res.status;
        }
      } catch {
        status = 0;
      }
      sent.push({ kind, caller, requestId, status });
    };

    const worker = async (kind: Sent['kind'], caller: number, pauseMs: number) => {
      for (let i = caller; Date.now() < endAt; i++) {
        await send(kind, caller, i);
        await sleep(pauseMs);
      }
    };
    const restart = (async () => {
      await sleep(SOAK_MS / 2);
      const leaving = live.pop()!;
      const stopped = leaving.stop('SIGTERM');
      const replacement = await startAgentApiProcess(env);
      all.push(replacement);
      live.push(replacement);
      // Nest re-raises the signal once it has shut down: the process ends by SIGTERM, not by a crash.
      await stopped;
      expect(leaving.child.signalCode ?? leaving.child.exitCode).toBe('SIGTERM');
      expect(leaving.output()).not.toMatch(/could not be written|audit event\(s\) failed/);
    })();
    await Promise.all([
      ...[0, 1, 2].map((c) => worker('read', c, 10)),
      ...budgeted.map((_, c) => worker('event', c, 300)),
      worker('list', 0, 200),
      ...[0, 1].map((c) => worker('denied', c, 20)),
      worker('anonymous', 0, 50),
      restart,
    ]);

    const count = (kind: Sent['kind'], status: number, caller?: number) =>
      sent.filter((s) => s.kind === kind && s.status === status && (caller === undefined || s.caller === caller)).length;
    const statuses = new Map<string, number>();
    for (const s of sent) statuses.set(`${s.kind} ${s.status}`, (statuses.get(`${s.kind} ${s.status}`) ?? 0) + 1);
    process.stdout.write(`\nsoak ${SOAK_MS} ms, ${sent.length} requests: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}\n`);

    // No 5xx, and only the expected answer of each kind (0: a connection the stopping instance closed).
    expect(sent.filter((s) => s.status >= 500)).toEqual([]);
    const expected: Record<Sent['kind'], number[]> = { read: [200], event: [201, 402], list: [200, 429], denied: [403], anonymous: [401] };
    expect(sent.filter((s) => s.status !== 0 && !expected[s.kind].includes(s.status))).toEqual([]);
    expect(sent.filter((s) => s.status === 0).length).toBeLessThanOrEqual(20);

    // The rate limit admitted exactly its limit across the instances, the restart included.
    expect(count('list', 200)).toBe(LIST_LIMIT);

    // Budgets: never past the limit; ledger = counters = admitted calls; nothing left reserved.
    await sleep(5_500);
    for (let c = 0; c < budgeted.length; c++) {
      const admitted = count('event', 201, c);
      expect(admitted).toBe(BUDGET_REQUESTS);
      const counter = budgetOf(await remaining(live[0].url, budgeted[c].headers), 'principal', 'day', 'requests');
      expect(counter).toMatchObject({ used: admitted, reserved: 0 });
      const ledger = await usageOnceFlushed(live[0].url, budgeted[c].headers, 'groupBy=principal', admitted, 15_000);
      expect(ledger[0].requests).toBe(admitted);
    }

    // Every answered denial has exactly one audit event, the ones flushed by the SIGTERM included.
    const source = await openDatabase(env.DATABASE_URL);
    try {
      const rows = (await source.query(`SELECT request_id AS "requestId" FROM policy_audit_events WHERE type = 'access.denied'`)) as Array<{ requestId: string }>;
      const seen = new Map<string, number>();
      for (const r of rows) seen.set(r.requestId, (seen.get(r.requestId) ?? 0) + 1);
      const deniedIds = sent.filter((s) => s.kind === 'denied' && s.status === 403).map((s) => s.requestId);
      expect(deniedIds.filter((id) => seen.get(id) !== 1)).toEqual([]);
    } finally {
      await source.destroy();
    }
    const auditor = bearer(signToken({ sub: 'soak-auditor', roles: ['auditor'], scope: 'audit:read' }));
    const verify = await fetch(`${live[0].url}/audit/verify`, { headers: auditor });
    expect(verify.status).toBe(200);
    expect(await verify.json()).toMatchObject({ valid: true, firstBrokenId: null });
    await restart;
  }, SOAK_MS + 150_000);
});
