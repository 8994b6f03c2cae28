/**
 * A Redis Cluster master dies mid-load under four agent-api processes: two with `rateLimits.failMode: closed` (and
 * budgets, sharing one PostgreSQL database), two with `failMode: open`. While no replica has taken over, closed
 * answers 503 and open counts per process; once a replica is promoted, counting resumes in Redis and no hit or
 * reservation is counted twice. The totals are printed.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyDocument } from 'nest-agent-policy';
import { createRedisClient, RedisThrottlerStorage, type PolicyRedisClient } from 'nest-agent-policy';
import { signToken } from '../support/agent-api.harness';
import { startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster';
import { createTestDatabase, itWith } from '../support/services';
import {
  budgetOf,
  call,
  newSession,
  policyWith,
  remaining,
  usageOnceFlushed,
} from '../budget-http/budget-http.fixtures';

type Mode = 'closed' | 'open';
interface Caller {
  mode: Mode;
  sub: string;
  bucketKey: string;
  onVictim: boolean;
  auth: string;
}
interface Hit {
  at: number;
  status: number;
  code?: string;
}

const TTL_MS = 3_600_000;
const LIMIT = 100_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rateLimits(mode: Mode, keyPrefix: string): NonNullable<PolicyDocument['rateLimits']> {
  const rule = { limit: LIMIT, ttl: TTL_MS / 1000 };
  return {
    strategy: 'fixed-window',
    failMode: mode,
    keyPrefix,
    default: rule,
    anonymous: rule,
    authFailures: rule,
    operations: { 'event.create': rule },
  };
}

describe('Redis Cluster failover under load', () => {
  const it = itWith('postgres', 'redis');
  let cluster: LocalRedisCluster;
  let dir: string;
  let drop: (() => Promise<void>) | undefined;
  let redis: PolicyRedisClient | null = null;
  const processes: Record<Mode, AgentApiProcess[]> = { closed: [], open: [] };
  const prefixes: Record<Mode, string> = { closed: `fo:c:${randomUUID()}:`, open: `fo:o:${randomUUID()}:` };
  let victim: number;

  beforeAll(async () => {
    cluster = await startRedisCluster(7320);
    victim = cluster.masterOf('{budget}');
    dir = mkdtempSync(join(tmpdir(), 'cluster-failover-'));
    const db = await createTestDatabase('failover');
    drop = db.drop;
    for (const mode of ['closed', 'open'] as const) {
      const policy = policyWith(
        mode === 'closed' ? { principal: { day: { requests: LIMIT } }, reservationTtl: 3 } : {},
      );
      policy.rateLimits = rateLimits(mode, prefixes[mode]);
      const file = join(dir, `${mode}.json`);
      writeFileSync(file, JSON.stringify(policy));
      for (const name of ['a', 'b']) {
        const database = mode === 'closed' ? db.url : `sqlite:${join(dir, `${mode}-${name}.sqlite`)}`;
        processes[mode].push(
          await startAgentApiProcess({ DATABASE_URL: database, REDIS_URL: cluster.url, POLICY_CONFIG: file }),
        );
      }
    }
    redis = await createRedisClient(cluster.url);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...processes.closed, ...processes.open].map((p) => p.stop()));
    redis?.disconnect();
    await cluster?.stop();
    if (drop) await drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** Three callers whose bucket lives on the master about to die and three elsewhere, per mode. */
  function pickCallers(mode: Mode): Caller[] {
    const picked: Caller[] = [];
    while (picked.filter((c) => c.onVictim).length < 3 || picked.filter((c) => !c.onVictim).length < 3) {
      const sub = `fo-${randomUUID()}`;
      const bucketKey = `principal:-:${sub}`;
      const onVictim = cluster.masterOf(`${prefixes[mode]}{${bucketKey}}:default`) === victim;
      if (picked.filter((c) => c.onVictim === onVictim).length >= 3) continue;
      const auth = `Bearer ${signToken({ sub, roles: ['operator'], scope: 'agents:read' }, { expiresIn: '1h' })}`;
      picked.push({ mode, sub, bucketKey, onVictim, auth });
    }
    return picked;
  }

  /** The hits Redis holds for a caller's bucket now (a peek counts nothing). */
  async function redisHits(caller: Caller): Promise<number> {
    const storage = new RedisThrottlerStorage(redis!, { keyPrefix: prefixes[caller.mode], strategy: 'fixed-window' });
    return (await storage.peek(caller.bucketKey, TTL_MS, LIMIT, 0, 'default')).totalHits;
  }

  it('applies the fail mode while no replica serves, resumes after promotion, and counts nothing twice', async () => {
    const callers = [...pickCallers('closed'), ...pickCallers('open')];
    const hits = new Map<Caller, Hit[]>(callers.map((c) => [c, []]));
    // A budget caller on the closed pair whose own buckets live on the surviving masters: its 503s are the budget's.
    let budgetSub: string;
    let budgetAuth: Record<string, string> = {};
    for (;;) {
      budgetSub = `fo-budget-${randomUUID()}`;
      const keys = [`principal:-:${budgetSub}`, `operation:event.create:principal:-:${budgetSub}`];
      const names = ['default', 'operation:event.create'];
      if (keys.every((k, i) => cluster.masterOf(`${prefixes.closed}{${k}}:${names[i]}`) !== victim)) break;
    }
    budgetAuth = {
      Authorization: `Bearer ${signToken({ sub: budgetSub, roles: ['admin'], scope: 'admin' }, { expiresIn: '1h' })}`,
    };
    const closedUrls = processes.closed.map((p) => p.url);
    const session = await newSession(closedUrls[0], budgetAuth);
    const events: Hit[] = [];

    let running = true;
    const loops = callers.map(async (caller, c) => {
      const urls = processes[caller.mode].map((p) => p.url);
      for (let i = 0; running; i++) {
        const started = Date.now();
        const res = await fetch(`${urls[(i + c) % 2]}/agents`, { headers: { Authorization: caller.auth } }).catch(
          () => null,
        );
        const body = res ? ((await res.json().catch(() => ({}))) as { code?: string }) : {};
        hits.get(caller)!.push({ at: started, status: res?.status ?? 0, code: body.code });
        await sleep(80);
      }
    });
    loops.push(
      (async () => {
        for (let i = 0; running; i++) {
          const started = Date.now();
          const res = await call(`${closedUrls[i % 2]}/sessions/${session}/events`, 'POST', budgetAuth, {
            message: 'failover',
          }).catch(() => null);
          events.push({
            at: started,
            status: res?.status ?? 0,
            code: (res?.body as { code?: string } | undefined)?.code,
          });
          await sleep(80);
        }
      })(),
    );

    await sleep(3_000);
    const killedAt = Date.now();
    await cluster.kill(victim);
    await cluster.waitUntilHealthy(30_000);
    const promotedAt = Date.now();
    // The clients refresh their slot map every second and the stores probe every second.
    await sleep(4_000);
    const resumedAt = Date.now();
    const atResume = new Map<Caller, number>();
    for (const c of callers) atResume.set(c, await redisHits(c));
    await sleep(3_000);
    running = false;
    await Promise.all(loops);
    await sleep(500);

    const rows = [];
    for (const caller of callers) {
      const mine = hits.get(caller)!;
      const admitted = mine.filter((h) => h.status === 200).length;
      const refused = mine.filter((h) => h.status === 503).length;
      const inRedis = await redisHits(caller);
      rows.push({
        mode: caller.mode,
        shard: caller.onVictim ? 'killed master' : 'survivor',
        requests: mine.length,
        admitted,
        'refused 503': refused,
        'redis hits': inRedis,
        'admitted w/o redis': admitted - inRedis,
        'redis hits after resume': inRedis - atResume.get(caller)!,
      });
      // Only 200 or, closed, 503: never another 5xx, never a dropped connection.
      expect(
        mine.every(
          (h) => h.status === 200 || (caller.mode === 'closed' && h.status === 503 && h.code === 'unavailable'),
        ),
      ).toBe(true);
      // Counting resumes: every request after the resume point is admitted and lands in Redis.
      expect(mine.filter((h) => h.at >= resumedAt).every((h) => h.status === 200)).toBe(true);
      expect(inRedis).toBeGreaterThan(atResume.get(caller)!);
      // Only a request in flight at the instant the master died may differ (Redis applied it but the reply was lost,
      // or acknowledged it before replicating it); in the runs so far none did.
      const atKill = mine.filter((h) => h.at >= killedAt - 200 && h.at <= killedAt + 50).length;
      if (caller.mode === 'closed') {
        // No stand-in counts in closed mode: Redis holds exactly the admitted requests, none twice, none lost.
        expect(Math.abs(inRedis - admitted)).toBeLessThanOrEqual(atKill);
        if (caller.onVictim) expect(refused).toBeGreaterThan(0);
      } else {
        // Open: nothing refused; the requests admitted during the outage were counted per process only.
        expect(refused).toBe(0);
        expect(inRedis).toBeLessThanOrEqual(admitted + atKill);
        if (caller.onVictim) expect(admitted - inRedis).toBeGreaterThan(0);
      }
    }

    const created = events.filter((e) => e.status === 201).length;
    const budget503 = events.filter((e) => e.status === 503).length;
    expect(events.every((e) => e.status === 201 || (e.status === 503 && e.code === 'unavailable'))).toBe(true);
    expect(budget503).toBeGreaterThan(0);
    expect(events.filter((e) => e.at >= resumedAt).every((e) => e.status === 201)).toBe(true);
    // Reservations cut off by the failover expire after reservationTtl (3 s) and are given back at the next reserve.
    await sleep(3_500);
    const last = await call(`${closedUrls[1]}/sessions/${session}/events`, 'POST', budgetAuth, { message: 'after' });
    expect(last.status).toBe(201);
    const ledger = await usageOnceFlushed(closedUrls[0], budgetAuth, 'groupBy=principal', created + 1, 15_000);
    const counter = budgetOf(await remaining(closedUrls[0], budgetAuth), 'principal', 'day', 'requests');
    rows.push({
      mode: 'budget (closed)',
      shard: 'killed master',
      requests: events.length + 1,
      admitted: created + 1,
      'refused 503': budget503,
      'redis hits': counter.used,
      'admitted w/o redis': 0,
      'redis hits after resume': Number.NaN,
    });
    process.stdout.write(
      `\nRedis Cluster failover: master :${victim} killed at +0 ms, replica promoted at +${promotedAt - killedAt} ms\n` +
        `${Object.keys(rows[0]).join(' | ')}\n` +
        rows.map((r) => Object.values(r).join(' | ')).join('\n') +
        `\nbudget ledger: ${ledger[0]?.requests} requests; counter used ${counter.used}, reserved ${counter.reserved}\n`,
    );
    expect(ledger).toHaveLength(1);
    expect(ledger[0].requests).toBe(created + 1);
    expect(counter).toMatchObject({ used: created + 1, reserved: 0 });
  }, 150_000);
});
