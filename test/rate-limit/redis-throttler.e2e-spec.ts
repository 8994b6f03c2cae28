import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import Redis from 'ioredis';
import { REDIS_URL, redisTestPrefix, requireService } from '../support/services';
import { MemoryThrottlerStorage, RedisThrottlerStorage } from 'nest-agent-policy';
import type { RateLimitStrategy } from 'nest-agent-policy';

describe('RedisThrottlerStorage (real Redis)', () => {
  const { prefix, cleanup } = redisTestPrefix('rl-storage');
  let ok = false;
  let redis: Redis;
  let other: Redis;

  beforeAll(async () => {
    ok = await requireService('redis');
    if (!ok) return;
    redis = new Redis(REDIS_URL);
    other = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    if (!ok) return;
    await cleanup(redis);
    redis.disconnect();
    other.disconnect();
  });

  it('loads the script once and checks with EVALSHA, one round trip per check', async () => {
    if (!ok) return;
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

  it('reloads the script after SCRIPT FLUSH and keeps counting', async () => {
    if (!ok) return;
    const storage = new RedisThrottlerStorage(redis, { keyPrefix: prefix, strategy: 'fixed-window' });
    await storage.increment('noscript', 60_000, 10, 0, 'default');
    await redis.script('FLUSH');
    await expect(storage.increment('noscript', 60_000, 10, 0, 'default')).resolves.toMatchObject({ totalHits: 2, isBlocked: false });
    expect(await redis.script('EXISTS', storage.scriptSha)).toEqual([1]);
  });

  it('hash-tags keys under the prefix and lets Redis expire them', async () => {
    if (!ok) return;
    const storage = new RedisThrottlerStorage(redis, { keyPrefix: prefix });
    await storage.increment('user:42', 10_000, 5, 0, 'short');
    const key = `${prefix}{user:42}:short`;
    expect(storage.redisKey('user:42', 'short')).toBe(key);
    expect(await redis.exists(key)).toBe(1);
    const pttl = await redis.pttl(key);
    // Sliding window: the key matters for two windows.
    expect(pttl).toBeGreaterThan(19_000);
    expect(pttl).toBeLessThanOrEqual(20_000);
  });

  it('uses the default prefix nap:rl:', () => {
    if (!ok) return;
    expect(new RedisThrottlerStorage(redis).redisKey('k', 'default')).toBe('nap:rl:{k}:default');
  });

  it('with blockDuration 0 admits again as soon as the window frees a slot; with a duration, blocks that long', async () => {
    if (!ok) return;
    const storage = new RedisThrottlerStorage(redis, { keyPrefix: prefix, strategy: 'fixed-window' });
    await storage.increment('noblock', 1000, 1, 0, 'default');
    await expect(storage.increment('noblock', 1000, 1, 0, 'default')).resolves.toMatchObject({ isBlocked: true, timeToBlockExpire: 1 });
    expect(await redis.hget(`${prefix}{noblock}:default`, 'b')).toBe('0');
    await new Promise((resolve) => setTimeout(resolve, 1050));
    await expect(storage.increment('noblock', 1000, 1, 0, 'default')).resolves.toMatchObject({ isBlocked: false, totalHits: 1 });

    await storage.increment('block', 1000, 1, 30_000, 'default');
    await expect(storage.increment('block', 1000, 1, 30_000, 'default')).resolves.toMatchObject({ isBlocked: true, timeToBlockExpire: 30 });
    expect(await redis.pttl(`${prefix}{block}:default`)).toBeGreaterThan(29_000);
  });

  it('peek counts nothing', async () => {
    if (!ok) return;
    const storage = new RedisThrottlerStorage(redis, { keyPrefix: prefix, strategy: 'fixed-window' });
    await storage.increment('peek', 60_000, 2, 0, 'default');
    await storage.peek('peek', 60_000, 2, 0, 'default');
    await expect(storage.peek('peek', 60_000, 2, 0, 'default')).resolves.toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it.each<RateLimitStrategy>(['fixed-window', 'sliding-window', 'token-bucket'])(
    '%s answers like the memory storage for the same hits',
    async (strategy) => {
      if (!ok) return;
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
    if (!ok) return;
    for (const strategy of ['fixed-window', 'sliding-window', 'token-bucket'] as const) {
      const a = new RedisThrottlerStorage(redis, { keyPrefix: prefix, strategy });
      const b = new RedisThrottlerStorage(other, { keyPrefix: prefix, strategy });
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).increment(`shared-${strategy}`, 60_000, 25, 0, 'default')),
      );
      expect(results.filter((r) => !r.isBlocked)).toHaveLength(25);
    }
  });
});
