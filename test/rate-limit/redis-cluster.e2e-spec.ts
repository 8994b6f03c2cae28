import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import type { Cluster } from 'ioredis';
import { MemoryThrottlerStorage, RedisThrottlerStorage } from 'nest-agent-policy';
import type { RateLimitStrategy } from 'nest-agent-policy';
import { redisServerInstalled, startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster-masters';
import { itIf } from '../support/services';

describe('RedisThrottlerStorage on a Redis Cluster (3 masters, started by this suite)', () => {
  const it = itIf(redisServerInstalled(), 'redis-server and redis-cli (a local Redis Cluster)');
  let cluster: LocalRedisCluster | undefined;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = cluster.connect();
    await new Promise((resolve) => client.once('ready', resolve));
  }, 30_000);

  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it('keeps a key’s log and block in one slot', async () => {
    const storage = new RedisThrottlerStorage(client);
    const key = storage.redisKey('principal:t1:user-1', 'default');
    const slots = await Promise.all([`${key}:log`, `${key}:block`].map((k) => client.cluster('KEYSLOT', k)));
    expect(slots[0]).toBe(slots[1]);
  });

  it.each<RateLimitStrategy>(['sliding-log', 'sliding-window'])(
    '%s counts keys spread over every master exactly, concurrently',
    async (strategy) => {
      const storage = new RedisThrottlerStorage(client, { keyPrefix: `cluster-test:${strategy}:` });
      const keys = Array.from({ length: 30 }, (_, i) => `tracker-${i}`);
      const slots = new Set(
        await Promise.all(keys.map((k) => client.cluster('KEYSLOT', storage.redisKey(k, 'default')))),
      );
      expect(slots.size).toBeGreaterThan(20);
      // 30 keys × 8 hits at a limit of 5: each key admits exactly 5, whatever node it lives on.
      const results = await Promise.all(
        keys.flatMap((k) => Array.from({ length: 8 }, () => storage.increment(k, 60_000, 5, 0, 'default'))),
      );
      for (let i = 0; i < keys.length; i++) {
        expect(results.slice(i * 8, i * 8 + 8).filter((r) => !r.isBlocked)).toHaveLength(5);
      }
    },
  );

  it('answers like the memory storage, blocks included', async () => {
    const shared = new RedisThrottlerStorage(client, { keyPrefix: 'cluster-test:parity:' });
    const local = new MemoryThrottlerStorage();
    const shape = (r: { totalHits: number; isBlocked: boolean; timeToBlockExpire: number }) => [
      r.totalHits,
      r.isBlocked,
      r.timeToBlockExpire,
    ];
    const fromRedis = [];
    const fromMemory = [];
    for (let i = 0; i < 5; i++) {
      fromRedis.push(shape(await shared.increment('parity', 600_000, 3, 30_000, 'default')));
      fromMemory.push(shape(await local.increment('parity', 600_000, 3, 30_000, 'default')));
    }
    local.close();
    expect(fromRedis).toEqual(fromMemory);
    expect(fromRedis.map((r) => r[1])).toEqual([false, false, false, true, true]);
  });
});
