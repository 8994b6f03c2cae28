/**
 * One Redis Cluster master down that does not hold the budget slot, under two agent-api processes sharing one
 * PostgreSQL database, `rateLimits.failMode: open`. Budgets live on the `{budget}` slot only, so budgeted calls are
 * never refused and their counter, ledger and admissions agree. The rate limiter treats Redis as one store: a call
 * whose bucket is on the dead master puts the whole instance in its fail mode until a probe (one a second)
 * succeeds, so callers whose buckets live on surviving masters are also counted per process for part of the
 * outage. The totals are printed.
 *
 * The cluster runs with `cluster-require-full-coverage no`, the setting under which a shard down leaves the others
 * serving. With Redis's default (`yes`) every node answers CLUSTERDOWN for every key from the moment the master is
 * flagged failed until a replica is promoted (0.5–2 s here), so budgeted calls in that window answer 503: budgets
 * fail closed (`cluster-failover.e2e-spec.ts` measures that case on the default).
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

const TTL_MS = 3_600_000;
const LIMIT = 100_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Caller {
  sub: string;
  bucketKey: string;
  onVictim: boolean;
  auth: string;
  statuses: number[];
}

describe('one Redis Cluster master down (not the budget slot)', () => {
  const it = itWith('postgres', 'redis');
  let cluster: LocalRedisCluster;
  let dir: string;
  let drop: (() => Promise<void>) | undefined;
  let redis: PolicyRedisClient | null = null;
  const apps: AgentApiProcess[] = [];
  const prefix = `sd:${randomUUID()}:`;
  let victim: number;

  beforeAll(async () => {
    cluster = await startRedisCluster(7330, { requireFullCoverage: false });
    const budgetMaster = cluster.masterOf('{budget}');
    victim = cluster.masters().find((port) => port !== budgetMaster)!;
    dir = mkdtempSync(join(tmpdir(), 'cluster-shard-down-'));
    const db = await createTestDatabase('sharddown');
    drop = db.drop;
    const policy = policyWith({ principal: { day: { requests: LIMIT } }, reservationTtl: 3 });
    const rule = { limit: LIMIT, ttl: TTL_MS / 1000 };
    policy.rateLimits = {
      strategy: 'fixed-window',
      failMode: 'open',
      keyPrefix: prefix,
      default: rule,
      anonymous: rule,
      authFailures: rule,
      operations: { 'event.create': rule },
    } satisfies NonNullable<PolicyDocument['rateLimits']>;
    const file = join(dir, 'policy.json');
    writeFileSync(file, JSON.stringify(policy));
    for (let i = 0; i < 2; i++)
      apps.push(await startAgentApiProcess({ DATABASE_URL: db.url, REDIS_URL: cluster.url, POLICY_CONFIG: file }));
    redis = await createRedisClient(cluster.url);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(apps.map((p) => p.stop()));
    redis?.disconnect();
    await cluster?.stop();
    if (drop) await drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const redisHits = async (caller: Caller) =>
    (
      await new RedisThrottlerStorage(redis!, { keyPrefix: prefix, strategy: 'fixed-window' }).peek(
        caller.bucketKey,
        TTL_MS,
        LIMIT,
        0,
        'default',
      )
    ).totalHits;

  it('never refuses a budgeted call, and the rate limiter counts per process while the master is away', async () => {
    const callers: Caller[] = [];
    while (callers.filter((c) => c.onVictim).length < 2 || callers.filter((c) => !c.onVictim).length < 2) {
      const sub = `sd-${randomUUID()}`;
      const bucketKey = `principal:-:${sub}`;
      const onVictim = cluster.masterOf(`${prefix}{${bucketKey}}:default`) === victim;
      if (callers.filter((c) => c.onVictim === onVictim).length >= 2) continue;
      callers.push({
        sub,
        bucketKey,
        onVictim,
        auth: `Bearer ${signToken({ sub, roles: ['operator'], scope: 'agents:read' }, { expiresIn: '1h' })}`,
        statuses: [],
      });
    }
    const budgetSub = `sd-budget-${randomUUID()}`;
    const budgetAuth = {
      Authorization: `Bearer ${signToken({ sub: budgetSub, roles: ['admin'], scope: 'admin' }, { expiresIn: '1h' })}`,
    };
    const session = await newSession(apps[0].url, budgetAuth);
    const events: number[] = [];

    let running = true;
    const loops = callers.map(async (caller, c) => {
      for (let i = 0; running; i++) {
        const res = await fetch(`${apps[(i + c) % 2].url}/agents`, { headers: { Authorization: caller.auth } }).catch(
          () => null,
        );
        if (res) await res.arrayBuffer();
        caller.statuses.push(res?.status ?? 0);
        await sleep(80);
      }
    });
    loops.push(
      (async () => {
        for (let i = 0; running; i++) {
          const res = await call(`${apps[i % 2].url}/sessions/${session}/events`, 'POST', budgetAuth, {
            message: 'shard down',
          }).catch(() => null);
          events.push(res?.status ?? 0);
          await sleep(80);
        }
      })(),
    );

    await sleep(2_000);
    const killedAt = Date.now();
    await cluster.kill(victim);
    await cluster.waitUntilHealthy(30_000);
    const promotedAt = Date.now();
    await sleep(3_000);
    running = false;
    await Promise.all(loops);

    const rows = [];
    for (const caller of callers) {
      const admitted = caller.statuses.filter((s) => s === 200).length;
      const inRedis = await redisHits(caller);
      rows.push({
        shard: caller.onVictim ? 'killed master' : 'survivor',
        requests: caller.statuses.length,
        admitted,
        'redis hits': inRedis,
        'counted per process': admitted - inRedis,
      });
      // Open: every request admitted; Redis never holds more than what was admitted.
      expect(caller.statuses.every((s) => s === 200)).toBe(true);
      expect(inRedis).toBeLessThanOrEqual(admitted + 1);
      if (caller.onVictim) expect(admitted - inRedis).toBeGreaterThan(0);
    }

    // Budgets: on the surviving `{budget}` master, every call admitted, and counter = ledger = admissions.
    const created = events.filter((s) => s === 201).length;
    expect(events.filter((s) => s !== 201)).toEqual([]);
    await sleep(500);
    const ledger = await usageOnceFlushed(apps[0].url, budgetAuth, 'groupBy=principal', created, 15_000);
    const counter = budgetOf(await remaining(apps[0].url, budgetAuth), 'principal', 'day', 'requests');
    process.stdout.write(
      `\nRedis Cluster, one master (:${victim}, not the budget slot's) killed; replica promoted after ${promotedAt - killedAt} ms\n` +
        `${Object.keys(rows[0]).join(' | ')}\n${rows.map((r) => Object.values(r).join(' | ')).join('\n')}\n` +
        `budget: ${events.length} calls, ${created} × 201; counter used ${counter.used}, reserved ${counter.reserved}; ledger ${ledger[0]?.requests}\n`,
    );
    expect(counter).toMatchObject({ used: created, reserved: 0 });
    expect(ledger[0].requests).toBe(created);
  }, 150_000);
});
