import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { MemoryThrottlerStorage } from './memory-throttler.storage';

function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** The entry behind a key, read through the storage's private map (to check its size, not its contents). */
function entryOf(storage: MemoryThrottlerStorage, key: string, name = 'default'): Record<string, unknown> | undefined {
  const entries = (storage as unknown as { entries: Map<string, Map<string, Record<string, unknown>>> }).entries;
  return entries.get(name)?.get(key);
}

describe('MemoryThrottlerStorage', () => {
  let storage: MemoryThrottlerStorage;
  afterEach(() => {
    storage?.close();
    jest.useRealTimers();
  });

  it('answers in the units @nestjs/throttler expects: ms in, seconds out', async () => {
    const clock = fakeClock();
    storage = new MemoryThrottlerStorage({ strategy: 'fixed-window', now: clock.now });
    await storage.increment('k', 1500, 1, 0, 'default');
    clock.advance(100);
    await expect(storage.increment('k', 1500, 1, 0, 'default')).resolves.toEqual({
      totalHits: 2,
      timeToExpire: 2,
      isBlocked: true,
      timeToBlockExpire: 2,
    });
  });

  it('blocks for blockDuration and handles blockDuration 0', async () => {
    const clock = fakeClock();
    storage = new MemoryThrottlerStorage({ strategy: 'fixed-window', now: clock.now });
    await storage.increment('a', 1000, 1, 10_000, 'default');
    await expect(storage.increment('a', 1000, 1, 10_000, 'default')).resolves.toMatchObject({
      isBlocked: true,
      timeToBlockExpire: 10,
    });
    await storage.increment('b', 1000, 1, 0, 'default');
    await expect(storage.increment('b', 1000, 1, 0, 'default')).resolves.toMatchObject({
      isBlocked: true,
      timeToBlockExpire: 1,
    });
    clock.advance(1000);
    await expect(storage.increment('a', 1000, 1, 10_000, 'default')).resolves.toMatchObject({ isBlocked: true });
    await expect(storage.increment('b', 1000, 1, 0, 'default')).resolves.toMatchObject({
      isBlocked: false,
      totalHits: 1,
    });
  });

  it('counts each throttler name separately', async () => {
    storage = new MemoryThrottlerStorage({ strategy: 'fixed-window' });
    await storage.increment('k', 1000, 1, 0, 'short');
    await expect(storage.increment('k', 1000, 1, 0, 'long')).resolves.toMatchObject({ isBlocked: false });
    await expect(storage.increment('k', 1000, 1, 0, 'short')).resolves.toMatchObject({ isBlocked: true });
  });

  it('peek does not count a hit', async () => {
    storage = new MemoryThrottlerStorage({ strategy: 'fixed-window' });
    await storage.increment('k', 1000, 2, 0, 'default');
    await expect(storage.peek('k', 1000, 2, 0, 'default')).resolves.toMatchObject({ isBlocked: false, totalHits: 1 });
    await expect(storage.peek('k', 1000, 2, 0, 'default')).resolves.toMatchObject({ isBlocked: false, totalHits: 1 });
    await storage.increment('k', 1000, 2, 0, 'default');
    await expect(storage.peek('k', 1000, 2, 0, 'default')).resolves.toMatchObject({ isBlocked: true });
  });

  it.each(
    (['fixed-window', 'sliding-window', 'token-bucket'] as const).flatMap((strategy) =>
      [10, 1000, 100_000].map((limit) => [strategy, limit] as const),
    ),
  )('%s keeps the same five numbers per key at limit %i, whatever the traffic', async (strategy, limit) => {
    storage = new MemoryThrottlerStorage({ strategy });
    for (let i = 0; i < Math.min(limit, 5000); i++) await storage.increment('busy', 60_000, limit, 0, 'default');
    const entry = entryOf(storage, 'busy');
    expect(Object.keys(entry ?? {}).sort()).toEqual([
      'blockedUntil',
      'current',
      'expiresAt',
      'previous',
      'windowStart',
    ]);
    expect(Object.values(entry ?? {}).every((v) => typeof v === 'number')).toBe(true);
  });

  it('by default is exact: up to `limit` numbers for a key in use, forgotten once its newest hit expires', async () => {
    const clock = fakeClock();
    storage = new MemoryThrottlerStorage({ now: clock.now });
    expect(storage.strategy).toBe('sliding-log');
    for (let i = 0; i < 5000; i++) {
      await storage.increment('busy', 60_000, 1000, 0, 'default');
      clock.advance(10);
    }
    const entry = entryOf(storage, 'busy') as { entries: number[]; count: number };
    expect(entry.count).toBe(1000);
    expect(entry.entries.length).toBe(1000);
    await storage.increment('idle', 60_000, 1000, 0, 'default');
    expect((entryOf(storage, 'idle') as { entries: number[] }).entries.length).toBeLessThan(8);
    // 'busy' was last admitted at 9,990 ms, so its newest hit counts until 69,990; 'idle' until 110,000.
    clock.advance(60_000 - 10);
    expect(storage.sweep()).toBe(1);
    expect(entryOf(storage, 'busy')).toBeUndefined();
    clock.advance(50_000);
    expect(storage.sweep()).toBe(1);
    expect(storage.size).toBe(0);
  });

  it('evicts idle keys on sweep, and only those', async () => {
    const clock = fakeClock();
    storage = new MemoryThrottlerStorage({ strategy: 'sliding-window', now: clock.now });
    await storage.increment('old', 1000, 5, 0, 'default');
    clock.advance(1500);
    await storage.increment('fresh', 1000, 5, 0, 'default');
    expect(storage.sweep()).toBe(0); // the sliding window still weighs 'old'
    clock.advance(600);
    expect(storage.sweep()).toBe(1);
    expect(entryOf(storage, 'old')).toBeUndefined();
    expect(storage.size).toBe(1);
    clock.advance(5000);
    storage.sweep();
    expect(storage.size).toBe(0);
  });

  it('treats an expired key that was not swept yet as fresh', async () => {
    const clock = fakeClock();
    storage = new MemoryThrottlerStorage({ strategy: 'token-bucket', now: clock.now });
    await storage.increment('k', 1000, 1, 60_000, 'default');
    await storage.increment('k', 1000, 1, 60_000, 'default');
    clock.advance(60_000);
    await expect(storage.increment('k', 1000, 1, 60_000, 'default')).resolves.toMatchObject({ isBlocked: false });
  });

  it('runs one unref’d sweep timer for the whole store, swept on schedule, cleared by close()', async () => {
    jest.useFakeTimers({ now: 1_700_000_000_000 });
    storage = new MemoryThrottlerStorage({ strategy: 'fixed-window', sweepIntervalMs: 10_000 });
    for (let i = 0; i < 1000; i++) await storage.increment(`k${i}`, 1000, 10, 0, 'default');
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(10_000);
    expect(storage.size).toBe(0);
    storage.onModuleDestroy();
    expect(jest.getTimerCount()).toBe(0);
  });
});
