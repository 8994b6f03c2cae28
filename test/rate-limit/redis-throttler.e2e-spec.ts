import { afterAll, beforeAll, describe, expect, jest } from '@jest/globals';
import Redis from 'ioredis';
import { REDIS_URL, itWith, redisTestPrefix } from '../support/services';
import { MemoryThrottlerStorage, RedisThrottlerStorage } from 'nest-agent-policy';
import type { RateLimitStrategy } from 'nest-agent-policy';

describe('RedisThrottlerStorage (real Redis)', () => {
  const { prefix, cleanup } = redisTestPrefix('rl-storage');
  const it = itWith('redis');
  let redis: Redis;
  let other: Redis;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    other = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    // Set only when the tests ran (their hooks do not run when they are skipped).
    if (redis) {
      await cleanup(redis);
      redis.disconnect();
      other.disconnect();
    }
  });

  it('loads the script once and checks with EVALSHA, one round trip per check', async () => {
    const storage = new RedisThrottlerStorage(redis, { keyPrefix: prefix, strategy: 'fixed-window' });
    const evalsha = jest.spyOn(redis, 'evalsha');
    const script = jest.spyOn(redis, 'script');
    for (let i = 0; i < 5; i++) await storage.increment('evalsha', 60_000, 10, 0, 'default');
    expect(evalsha).toHaveBeenCalledTimes(5);
    expect(script).toHaveBeenCalledTimes(1);
    expect(await redis.script('EXISTS', storage.scriptSha)).toEqual([1]);
    evalsha.mockRestore();
    script.mockRestore();
  });

  it.each<RateLimitStrategy>(['sliding-log', 'fixed-window'])(
    '%s checks the keys of one event-loop turn in one script call, each answered with its own count',
    async (strategy) => {
      const storage = new RedisThrottlerStorage(redis, { keyPrefix: `${prefix}${strategy}:`, strategy, maxBatch: 16 });
      await storage.loadScript();
      const evalsha = jest.spyOn(redis, 'evalsha');
      const hits = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          storage.increment(i % 4 === 3 ? 'batch-other' : 'batch-hot', 60_000, 20, 0, 'default'),
        ),
      );
      // 40 checks, at most 16 per call: 3 round trips.
      expect(evalsha).toHaveBeenCalledTimes(3);
      evalsha.mockRestore();
      const hot = hits.filter((_, i) => i % 4 !== 3);
      const other = hits.filter((_, i) => i % 4 === 3);
      // Counted in the order made: the hot key's first 20 pass, its last 10 are refused; the other key's 10 all pass.
      expect(hot.map((h) => h.totalHits)).toEqual(Array.from({ length: 30 }, (_, i) => (i < 20 ? i + 1 : 21)));
      expect(hot.map((h) => h.isBlocked)).toEqual(Array.from({ length: 30 }, (_, i) => i >= 20));
      expect(other.map((h) => h.totalHits)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      expect(other.every((h) => !h.isBlocked)).toBe(true);
    },
  );

  it('sends every check on its own on Redis Cluster, where keys live in different slots', async () => {
    const clusterLike = new Proxy(redis, {
      get(target, property, receiver) {
        if (property === 'isCluster') return true;
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const storage = new RedisThrottlerStorage(clusterLike, { keyPrefix: prefix, strategy: 'fixed-window' });
    await storage.loadScript();
    const evalsha = jest.spyOn(redis, 'evalsha');
    await Promise.all(Array.from({ length: 6 }, (_, i) => storage.increment(`cluster-${i}`, 60_000, 5, 0, 'default')));
    expect(evalsha).toHaveBeenCalledTimes(6);
    for (const call of evalsha.mock.calls) expect(call[1]).toBe(2);
    evalsha.mockRestore();
  });

  it('reloads the script after SCRIPT FLUSH and keeps counting', async () => {
    const storage = new RedisThrottlerStorage(redis, { keyPrefix: prefix, strategy: 'fixed-window' });
    await storage.increment('noscript', 60_000, 10, 0, 'default');
    await redis.script('FLUSH');
    await expect(storage.increment('noscript', 60_000, 10, 0, 'default')).resolves.toMatchObject({
      totalHits: 2,
      isBlocked: false,
    });
    expect(await redis.script('EXISTS', storage.scriptSha)).toEqual([1]);
  });

  it('hash-tags keys under the prefix and lets Redis expire them', async () => {
    const storage = new RedisThrottlerStorage(redis, { keyPrefix: prefix, strategy: 'sliding-window' });
    await storage.increment('user:42', 10_000, 5, 0, 'short');
    const key = `${prefix}{user:42}:short`;
    expect(storage.redisKey('user:42', 'short')).toBe(key);
    expect(await redis.exists(key)).toBe(1);
    const pttl = await redis.pttl(key);
    // Sliding window: the key matters for two windows.
    expect(pttl).toBeGreaterThan(19_000);
    expect(pttl).toBeLessThanOrEqual(20_000);
  });

  it('by default keeps a log of admitted hits and a block under the same hash tag, each expiring when it stops mattering', async () => {
    const storage = new RedisThrottlerStorage(redis, { keyPrefix: prefix });
    expect(storage.strategy).toBe('sliding-log');
    for (let i = 0; i < 4; i++) await storage.increment('user:43', 10_000, 3, 0, 'short');
    const key = `${prefix}{user:43}:short`;
    expect(await redis.llen(`${key}:log`)).toBe(3);
    expect(await redis.exists(`${key}:block`)).toBe(0);
    const pttl = await redis.pttl(`${key}:log`);
    expect(pttl).toBeGreaterThan(9_000);
    expect(pttl).toBeLessThanOrEqual(10_000);

    await storage.increment('user:44', 10_000, 1, 60_000, 'short');
    await expect(storage.increment('user:44', 10_000, 1, 60_000, 'short')).resolves.toMatchObject({
      isBlocked: true,
      timeToBlockExpire: 60,
    });
    expect(await redis.pttl(`${prefix}{user:44}:short:block`)).toBeGreaterThan(59_000);
  });

  it('by default counts each hit for exactly ttl: 3/s admits hits at 0, 0.9, 0.95, 1.4 s and refuses 1.45 s', async () => {
    const storage = new RedisThrottlerStorage(redis, { keyPrefix: prefix });
    await storage.loadScript();
    const hit = () => storage.increment('over-admission', 1000, 3, 0, 'default');
    const results = [await hit()];
    // Measured from the first hit's answer, so a late answer cannot make a later hit early.
    const start = Date.now();
    const answeredAt: number[] = [start];
    const at = async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + ms - Date.now())));
      const result = await hit();
      answeredAt.push(Date.now());
      return result;
    };
    for (const ms of [900, 950, 1400, 1450]) results.push(await at(ms));
    expect(results.map((r) => r.isBlocked)).toEqual([false, false, false, false, true]);
    expect(results[4]).toMatchObject({ totalHits: 4, timeToBlockExpire: 1 });
    // The hit at 0.9 s stops counting 1 s after it was made: 10 ms past its answer + ttl (a timer that fired late
    // under load made the hit late too, so the check is timed from the hit itself, not from the schedule).
    await expect(at(answeredAt[1] + 1000 + 10 - start)).resolves.toMatchObject({ isBlocked: false });
  });

  it('uses the default prefix nap:rl:', () => {
    expect(new RedisThrottlerStorage(redis).redisKey('k', 'default')).toBe('nap:rl:{k}:default');
  });

  it('with blockDuration 0 admits again as soon as the window frees a slot; with a duration, blocks that long', async () => {
    const storage = new RedisThrottlerStorage(redis, { keyPrefix: prefix, strategy: 'fixed-window' });
    await storage.increment('noblock', 1000, 1, 0, 'default');
    await expect(storage.increment('noblock', 1000, 1, 0, 'default')).resolves.toMatchObject({
      isBlocked: true,
      timeToBlockExpire: 1,
    });
    expect(await redis.hget(`${prefix}{noblock}:default`, 'b')).toBe('0');
    // The window running out is the subject (1 s ttl): nothing to poll for.
    await new Promise((resolve) => setTimeout(resolve, 1050));
    await expect(storage.increment('noblock', 1000, 1, 0, 'default')).resolves.toMatchObject({
      isBlocked: false,
      totalHits: 1,
    });

    await storage.increment('block', 1000, 1, 30_000, 'default');
    await expect(storage.increment('block', 1000, 1, 30_000, 'default')).resolves.toMatchObject({
      isBlocked: true,
      timeToBlockExpire: 30,
    });
    expect(await redis.pttl(`${prefix}{block}:default`)).toBeGreaterThan(29_000);
  });

  it('peek counts nothing', async () => {
    const storage = new RedisThrottlerStorage(redis, { keyPrefix: prefix, strategy: 'fixed-window' });
    await storage.increment('peek', 60_000, 2, 0, 'default');
    await storage.peek('peek', 60_000, 2, 0, 'default');
    await expect(storage.peek('peek', 60_000, 2, 0, 'default')).resolves.toMatchObject({
      totalHits: 1,
      isBlocked: false,
    });
  });

  it.each<RateLimitStrategy>(['sliding-log', 'fixed-window', 'sliding-window', 'token-bucket'])(
    '%s answers like the memory storage for the same hits',
    async (strategy) => {
      const shared = new RedisThrottlerStorage(redis, { keyPrefix: prefix, strategy });
      const local = new MemoryThrottlerStorage({ strategy });
      const fromRedis = [];
      const fromMemory = [];
      for (let i = 0; i < 6; i++) {
        fromRedis.push(await shared.increment(`parity-${strategy}`, 600_000, 4, 0, 'default'));
        fromMemory.push(await local.increment(`parity-${strategy}`, 600_000, 4, 0, 'default'));
      }
      local.close();
      const shape = (r: { totalHits: number; isBlocked: boolean }) => [r.totalHits, r.isBlocked];
      expect(fromRedis.map(shape)).toEqual(fromMemory.map(shape));
      expect(fromRedis.map((r) => r.isBlocked)).toEqual([false, false, false, false, true, true]);
    },
  );

  it('two instances on two connections admit exactly `limit` between them', async () => {
    for (const strategy of ['sliding-log', 'fixed-window', 'sliding-window', 'token-bucket'] as const) {
      const a = new RedisThrottlerStorage(redis, { keyPrefix: prefix, strategy });
      const b = new RedisThrottlerStorage(other, { keyPrefix: prefix, strategy });
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).increment(`shared-${strategy}`, 60_000, 25, 0, 'default')),
      );
      expect(results.filter((r) => !r.isBlocked)).toHaveLength(25);
    }
  });
});
