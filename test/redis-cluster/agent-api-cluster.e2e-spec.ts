/**
 * Two agent-api processes on one Redis Cluster (3 masters, 3 replicas, started by this suite with
 * `REDIS_URL=redis+cluster://…`): rate limits and budgets admit exactly their limit across both, and a token revoked
 * on one is refused on the other (each has its own SQLite file here, so only the cluster's pub/sub can tell it).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { BudgetConfig } from 'nest-agent-policy';
import { signToken } from '../support/agent-api.harness';
import { startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster';
import { createTestDatabase, itWith } from '../support/services';
import {
  budgetOf,
  micro,
  newCaller,
  newSession,
  postEventsConcurrently,
  remaining,
  usageOnceFlushed,
  writePolicyFile,
} from '../budget-http/budget-http.fixtures';

const LIMIT = 25;
const CALLS = 300;
const ADMITTED = 60;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('two agent-api processes on a Redis Cluster', () => {
  let cluster: LocalRedisCluster | undefined;
  const clusterUrl = async (): Promise<string> => {
    cluster ??= await startRedisCluster(7300);
    return cluster.url;
  };

  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  describe('each with its own SQLite file', () => {
    const it = itWith('redis');
    let dir: string;
    const processes: AgentApiProcess[] = [];

    beforeAll(async () => {
      const url = await clusterUrl();
      dir = mkdtempSync(join(tmpdir(), 'rl-cluster-'));
      const policy = parse(readFileSync(join(__dirname, '../../apps/agent-api/policy/agent-api.policy.yaml'), 'utf8'));
      policy.rateLimits = {
        ...policy.rateLimits,
        keyPrefix: `rlc:${randomUUID()}:`,
        default: { limit: LIMIT, ttl: 60 },
      };
      const policyFile = join(dir, 'policy.json');
      writeFileSync(policyFile, JSON.stringify(policy));
      for (const name of ['a', 'b']) {
        processes.push(
          await startAgentApiProcess({
            DATABASE_URL: `sqlite:${join(dir, `${name}.sqlite`)}`,
            REDIS_URL: url,
            POLICY_CONFIG: policyFile,
          }),
        );
      }
    }, 120_000);

    afterAll(async () => {
      await Promise.all(processes.map((p) => p.stop()));
      if (dir) rmSync(dir, { recursive: true, force: true });
    }, 30_000);

    it('says it uses the cluster and reports it ready', async () => {
      for (const p of processes) {
        expect(p.output()).toContain('redis cluster stores');
        const health = await fetch(`${p.url}/health`);
        expect(health.status).toBe(200);
        expect(await health.json()).toMatchObject({ status: 'ok', redis: 'up' });
      }
    });

    it(`admits exactly ${LIMIT} of ${LIMIT * 3} requests per caller spread over both, for callers on every shard`, async () => {
      // Eight callers: their buckets hash to different slots, so to different masters.
      const callers = Array.from(
        { length: 8 },
        () => `Bearer ${signToken({ sub: `rl-${randomUUID()}`, roles: ['operator'], scope: 'agents:read' })}`,
      );
      const responses = await Promise.all(
        callers.flatMap((auth, c) =>
          Array.from({ length: LIMIT * 3 }, (_, i) =>
            fetch(`${processes[(i + c) % 2].url}/agents`, { headers: { Authorization: auth } }).then(async (r) => ({
              caller: c,
              status: r.status,
              body: (await r.json()) as { code?: string },
            })),
          ),
        ),
      );
      for (let c = 0; c < callers.length; c++) {
        const mine = responses.filter((r) => r.caller === c);
        expect(mine.filter((r) => r.status === 200)).toHaveLength(LIMIT);
        const limited = mine.filter((r) => r.status === 429);
        expect(limited).toHaveLength(LIMIT * 2);
        expect(limited.every((r) => r.body.code === 'rate_limited')).toBe(true);
      }
    }, 60_000);

    it('refuses on one a token revoked on the other', async () => {
      const [a, b] = processes;
      const jti = `jti-${randomUUID()}`;
      const token = `Bearer ${signToken({ sub: `victim-${randomUUID()}`, roles: ['viewer'], scope: 'agents:read' }, { jwtid: jti, expiresIn: '1h' })}`;
      const admin = `Bearer ${signToken({ sub: `admin-${randomUUID()}`, roles: ['admin'], scope: 'admin' })}`;
      expect((await fetch(`${b.url}/agents`, { headers: { Authorization: token } })).status).toBe(200);
      const revoke = await fetch(`${a.url}/revocations`, {
        method: 'POST',
        headers: { Authorization: admin, 'Content-Type': 'application/json' },
        body: JSON.stringify({ jti }),
      });
      expect(revoke.status).toBe(204);
      const revokedAt = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - revokedAt < 5_000) {
        status = (await fetch(`${b.url}/agents`, { headers: { Authorization: token } })).status;
        if (status === 200) await sleep(50);
      }
      expect(status).toBe(401);
      expect((await fetch(`${a.url}/agents`, { headers: { Authorization: token } })).status).toBe(401);
    }, 30_000);
  });

  describe('sharing one PostgreSQL database', () => {
    const it = itWith('postgres', 'redis');
    const processes: AgentApiProcess[] = [];
    let drop: (() => Promise<void>) | undefined;
    const budgets: BudgetConfig = { principal: { day: { requests: ADMITTED, cost: 1_000 } } };

    beforeAll(async () => {
      const url = await clusterUrl();
      const db = await createTestDatabase('budgetcluster');
      drop = db.drop;
      const env = { DATABASE_URL: db.url, POLICY_CONFIG: writePolicyFile(budgets), REDIS_URL: url };
      // One after the other: the first applies the migrations.
      processes.push(await startAgentApiProcess(env));
      processes.push(await startAgentApiProcess(env));
    }, 120_000);

    afterAll(async () => {
      await Promise.all(processes.map((p) => p.stop()));
      if (drop) await drop();
    }, 30_000);

    it(`admits exactly ${ADMITTED} of ${CALLS} concurrent budgeted calls across both; ledger = counters, nothing reserved`, async () => {
      const urls = processes.map((p) => p.url);
      const caller = newCaller();
      const session = await newSession(urls[0], caller.headers);
      const results = await postEventsConcurrently(urls, session, caller.headers, CALLS, 'how much is left?');
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(ADMITTED);
      expect(statuses.filter((s) => s === 402)).toHaveLength(CALLS - ADMITTED);
      const admitted = results.filter((r) => r.status === 201).map((r) => r.body.usage!);
      const charged = admitted.reduce((sum, u) => sum + micro(u.cost), 0);
      const ledger = await usageOnceFlushed(urls[0], caller.headers, 'groupBy=principal', ADMITTED, 15_000);
      expect(ledger).toHaveLength(1);
      expect(ledger[0]).toMatchObject({ key: caller.sub, requests: ADMITTED });
      expect(micro(ledger[0].cost)).toBe(charged);
      for (const url of urls) {
        const view = await remaining(url, caller.headers);
        expect(budgetOf(view, 'principal', 'day', 'requests')).toMatchObject({
          limit: ADMITTED,
          used: ADMITTED,
          reserved: 0,
          remaining: 0,
        });
        expect(micro(budgetOf(view, 'principal', 'day', 'cost').used)).toBe(charged);
      }
    }, 120_000);
  });
});
