/**
 * The library on a real Redis Cluster (3 masters, 3 replicas, started by the test): the client factory makes a
 * `Cluster` from `redis+cluster://`, the rate-limit and budget scripts run on every shard (their `EVALSHA` finds the
 * script on whichever node owns the key), the readiness check sees a master go down, and a revocation published on
 * one connection reaches a subscriber duplicated from another.
 */
import { randomUUID } from 'node:crypto';
import {
  buildRedisClient,
  createRedisClient,
  duplicateForSubscribe,
  isRedisCluster,
  redisReady,
  RedisBudgetStore,
  RedisThrottlerStorage,
  type PolicyRedisClient,
} from 'nest-agent-policy';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster';
import { itWith } from '../support/services';

describe('Redis Cluster client', () => {
  const it = itWith('redis');
  let cluster: LocalRedisCluster;
  let client: PolicyRedisClient;

  beforeAll(async () => {
    cluster = await startRedisCluster(7310);
    client = (await createRedisClient(cluster.url))!;
  }, 60_000);

  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it('makes a Cluster client from redis+cluster:// and reports it ready', async () => {
    expect(isRedisCluster(client)).toBe(true);
    expect(buildRedisClient('redis://127.0.0.1:6379')).not.toHaveProperty('isCluster', true);
    await expect(redisReady(client)).resolves.toBe(true);
  });

  it('counts rate limits exactly on keys spread over every shard', async () => {
    const storage = new RedisThrottlerStorage(client, { keyPrefix: `rlc:${randomUUID()}:` });
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    const records = await Promise.all(
      keys.flatMap((k) => Array.from({ length: 4 }, () => storage.increment(k, 60_000, 3, 0, 'default'))),
    );
    const blocked = records.filter((r) => r.isBlocked).length;
    expect(blocked).toBe(keys.length);
    expect(records.length - blocked).toBe(keys.length * 3);
  });

  it('reserves budgets exactly on a cluster, and finds its scripts again after they are flushed', async () => {
    const store = new RedisBudgetStore(client, { keyPrefix: `bc:${randomUUID()}:` });
    const counter = {
      key: 'principal:p1:day:requests',
      limit: 20,
      amount: 1,
      unit: 'requests' as const,
      expiresAt: Date.now() + 60_000,
    };
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        store.reserve({ reservationId: randomUUID(), counters: [counter], ttlMs: 60_000 }),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(20);
    // A promoted replica, a restart or SCRIPT FLUSH leaves the key's node without the script; SCRIPT LOAD goes to
    // any node of a cluster, so each round must still run where the key lives.
    for (let round = 0; round < 8; round++) {
      for (const port of cluster.masters()) cluster.cli(port, 'SCRIPT', 'FLUSH');
      const [state] = await store.snapshot([counter]);
      expect(state).toMatchObject({ used: 0, reserved: 20 });
      const refused = await store.reserve({ reservationId: randomUUID(), counters: [counter], ttlMs: 60_000 });
      expect(refused.ok).toBe(false);
    }
  });

  it('delivers a published revocation to a duplicated subscriber', async () => {
    const subscriber = duplicateForSubscribe(client);
    try {
      const received = new Promise<string>((resolve) =>
        subscriber.on('message', (_c: string, m: string) => resolve(m)),
      );
      await subscriber.subscribe('nap:test-revocations');
      const jti = randomUUID();
      await client.publish('nap:test-revocations', jti);
      await expect(received).resolves.toBe(jti);
    } finally {
      subscriber.disconnect();
    }
  });

  it('reports not ready while a master is down, and ready again after a replica took over', async () => {
    const [master] = cluster.masters();
    await cluster.kill(master);
    await expect(redisReady(client)).resolves.toBe(false);
    await cluster.waitUntilHealthy();
    const deadline = Date.now() + 10_000;
    while (!(await redisReady(client)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await expect(redisReady(client)).resolves.toBe(true);
  }, 60_000);
});
