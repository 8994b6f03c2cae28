import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import Redis from 'ioredis';
import { RedisBudgetStore } from 'nest-agent-policy';
import { REDIS_URL, itWith, redisTestPrefix } from '../support/services';
import { defineBudgetStoreContract, type StoreFixture } from './budget-store.contract';

describe('RedisBudgetStore, two instances on separate clients', () => {
  let now = Date.now();
  const { prefix, cleanup } = redisTestPrefix('budget');
  const clients: Redis[] = [];
  let fixture: StoreFixture | null = null;
  const it = itWith('redis');

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) clients.push(new Redis(REDIS_URL));
    const stores = clients.map((c) => new RedisBudgetStore(c, { keyPrefix: prefix, clock: () => now }));
    const spawn = async () => {
      const client = new Redis(REDIS_URL);
      return {
        store: new RedisBudgetStore(client, { keyPrefix: prefix, clock: () => now }),
        crash: async () => client.disconnect(),
      };
    };
    fixture = { stores, advance: (ms) => (now += ms), now: () => now, spawn };
  });
  afterAll(async () => {
    if (clients.length) await cleanup(clients[0]);
    for (const c of clients) await c.quit();
  });

  defineBudgetStoreContract('redis x2', () => fixture, it);

  it('loads its scripts again when the server answers NOSCRIPT (restart, failover)', async () => {
    let refused = 0;
    const forgetful = new Proxy(clients[0], {
      get(target, property, receiver) {
        if (property === 'evalsha' && refused === 0) {
          return async () => {
            refused += 1;
            throw new Error('NOSCRIPT No matching script. Please use EVAL.');
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const store = new RedisBudgetStore(forgetful, { keyPrefix: prefix, clock: () => now });
    const key = `principal:noscript-${Date.now()}:day:x:requests`;
    const result = await store.reserve({
      reservationId: 'noscript-1',
      counters: [{ key, limit: 1, amount: 1, unit: 'requests', expiresAt: now + 60_000 }],
      ttlMs: 1_000,
    });
    expect(refused).toBe(1);
    expect(result).toEqual({ ok: true, counters: [{ key, limit: 1, used: 0, reserved: 1 }] });
  });

  it('sends the calls of one event-loop turn in one script call, each answered with its own result', async () => {
    let scriptCalls = 0;
    const counting = new Proxy(clients[0], {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        if (property !== 'evalsha') return value.bind(target);
        return (...args: unknown[]) => {
          scriptCalls += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const store = new RedisBudgetStore(counting, { keyPrefix: prefix, clock: () => now, maxBatch: 16 });
    const key = `principal:batched-${Date.now()}:day:x:requests`;
    const other = `tenant:batched-${Date.now()}:day:x:requests`;
    const counters = (i: number) => [
      { key, limit: 30, amount: 1, unit: 'requests' as const, expiresAt: now + 60_000 },
      { key: other, limit: 1_000, amount: i % 2 === 0 ? 2 : 1, unit: 'requests' as const, expiresAt: now + 60_000 },
    ];
    const run = Date.now();
    const ids = Array.from({ length: 40 }, (_, i) => `batched-${run}-${i}`);
    const results = await Promise.all(
      ids.map((id, i) => store.reserve({ reservationId: id, counters: counters(i), ttlMs: 60_000 })),
    );
    // 40 calls in one turn, at most 16 per script call: 3 round trips, not 40.
    expect(scriptCalls).toBe(3);
    const admitted = results.filter((r) => r.ok);
    expect(admitted).toHaveLength(30);
    // Admitted in the order they were made: the first 30, each seeing the ones before it.
    results.forEach((r, i) => {
      if (i < 30) {
        expect(r).toEqual({
          ok: true,
          counters: [
            { key, limit: 30, used: 0, reserved: i + 1 },
            {
              key: other,
              limit: 1_000,
              used: 0,
              reserved: Array.from({ length: i + 1 }, (_, j) => (j % 2 === 0 ? 2 : 1)).reduce((x, y) => x + y, 0),
            },
          ],
        });
      } else {
        expect(r).toEqual({ ok: false, failedIndex: 0, failed: { key, limit: 30, used: 0, reserved: 30 } });
      }
    });
    const [used, reserved] = await clients[0].hmget(`${prefix}{budget}:c:${other}`, 'used', 'reserved');
    expect([Number(used), Number(reserved)]).toEqual([0, 45]);

    // 30 settlements, each sent twice in the same turn (60 calls, 4 script calls): every one charges once.
    scriptCalls = 0;
    const admittedIds = ids.slice(0, 30);
    await Promise.all(
      [...admittedIds, ...admittedIds].map((id) => store.settle(id, { costMicro: 0, tokens: 0, requests: 3 })),
    );
    expect(scriptCalls).toBe(4);
    const after = await clients[0].hmget(`${prefix}{budget}:c:${key}`, 'used', 'reserved');
    expect(after.map(Number)).toEqual([90, 0]);
    // None of them is left pending; the 10 refused ones were never recorded.
    const pending = await clients[0].zmscore(`${prefix}{budget}:pending`, ...ids);
    expect(pending).toEqual(ids.map(() => null));
  });

  it('a batch whose reservations share counters: refusals inside it leave no trace, new counters get their expiry', async () => {
    const store = new RedisBudgetStore(clients[0], { keyPrefix: prefix, clock: () => now });
    const stamp = `${Date.now()}-${Math.random()}`;
    const a = `principal:once-${stamp}:day:x:requests`;
    const b = `tenant:once-${stamp}:day:x:requests`;
    const expiresAt = Date.now() + 10_000; // the real clock: Redis expires keys on it
    const counters = (onA: number, onB: number) => [
      { key: a, limit: 10, amount: onA, unit: 'requests' as const, expiresAt },
      { key: b, limit: 3, amount: onB, unit: 'requests' as const, expiresAt },
    ];
    const asks: Array<[number, number]> = [
      [1, 1], // admitted: a 1, b 1
      [1, 5], // refused on b (1 + 5 > 3): its amount on a must not stay
      [2, 2], // admitted: a 3, b 3
      [1, 1], // refused on b, which is full
      [0, 0], // admitted: nothing to hold, both counters at their sums
    ];
    const results = await Promise.all(
      asks.map(([onA, onB], i) =>
        store.reserve({ reservationId: `once-${stamp}-${i}`, counters: counters(onA, onB), ttlMs: 60_000 }),
      ),
    );
    expect(results).toEqual([
      {
        ok: true,
        counters: [
          { key: a, limit: 10, used: 0, reserved: 1 },
          { key: b, limit: 3, used: 0, reserved: 1 },
        ],
      },
      { ok: false, failedIndex: 1, failed: { key: b, limit: 3, used: 0, reserved: 1 } },
      {
        ok: true,
        counters: [
          { key: a, limit: 10, used: 0, reserved: 3 },
          { key: b, limit: 3, used: 0, reserved: 3 },
        ],
      },
      { ok: false, failedIndex: 1, failed: { key: b, limit: 3, used: 0, reserved: 3 } },
      {
        ok: true,
        counters: [
          { key: a, limit: 10, used: 0, reserved: 3 },
          { key: b, limit: 3, used: 0, reserved: 3 },
        ],
      },
    ]);
    const counterKey = (key: string) => `${prefix}{budget}:c:${key}`;
    for (const key of [a, b]) {
      expect(await clients[0].hgetall(counterKey(key))).toEqual({ used: '0', reserved: '3' });
      expect(await clients[0].pttl(counterKey(key))).toBeGreaterThan(60_000);
    }
    // The refused ones left no record and nothing pending; the admitted ones are pending.
    const ids = asks.map((_, i) => `once-${stamp}-${i}`);
    expect(await clients[0].exists(`${prefix}{budget}:r:${ids[1]}`, `${prefix}{budget}:r:${ids[3]}`)).toBe(0);
    expect((await clients[0].zmscore(`${prefix}{budget}:pending`, ...ids)).map((s) => s !== null)).toEqual([
      true,
      false,
      true,
      false,
      true,
    ]);

    // One turn: settle the first (twice), release the third, settle the last: the sums land once per counter.
    await Promise.all([
      store.settle(ids[0], { costMicro: 0, tokens: 0, requests: 1 }),
      store.settle(ids[0], { costMicro: 0, tokens: 0, requests: 1 }),
      store.release(ids[2]),
      store.settle(ids[4], { costMicro: 0, tokens: 0, requests: 2 }),
      store.settle(ids[1], { costMicro: 0, tokens: 0, requests: 7 }), // never reserved: changes nothing
    ]);
    for (const key of [a, b]) expect(await clients[0].hgetall(counterKey(key))).toEqual({ used: '3', reserved: '0' });
    expect(await clients[0].zmscore(`${prefix}{budget}:pending`, ...ids)).toEqual(ids.map(() => null));
  });

  it('fractional times (ttl, window end, grace, tombstone) are taken as whole milliseconds, rounded up', async () => {
    const store = new RedisBudgetStore(clients[0], {
      keyPrefix: prefix,
      clock: () => now,
      counterGraceMs: 1_000.25,
      tombstoneMs: 500.25,
    });
    const stamp = `${Date.now()}-${Math.random()}`;
    const key = `principal:frac-${stamp}:day:x:requests`;
    const expiresAt = Date.now() + 10_000.5; // the real clock: Redis expires keys on it
    const result = await store.reserve({
      reservationId: `frac-${stamp}`,
      counters: [{ key, limit: 2, amount: 1, unit: 'requests', expiresAt }],
      ttlMs: 1_500.5,
    });
    expect(result).toEqual({ ok: true, counters: [{ key, limit: 2, used: 0, reserved: 1 }] });
    const counterTtl = await clients[0].pttl(`${prefix}{budget}:c:${key}`);
    expect(counterTtl).toBeGreaterThan(10_000);
    expect(counterTtl).toBeLessThanOrEqual(11_002);
    const recordTtl = await clients[0].pttl(`${prefix}{budget}:r:frac-${stamp}`);
    expect(recordTtl).toBeGreaterThan(1_500);
    expect(recordTtl).toBeLessThanOrEqual(2_002);
    await store.settle(`frac-${stamp}`, { costMicro: 0, tokens: 0, requests: 0.5 });
    expect(await clients[0].hgetall(`${prefix}{budget}:c:${key}`)).toEqual({ used: '1', reserved: '0' });
  });

  it('a counter gone before its settle or release (expired, evicted) comes back only with its expiry', async () => {
    const store = fixture!.stores[0];
    const expiresAt = Date.now() + 10_000; // the real clock: Redis expires keys on it
    const counterKey = (key: string) => `${prefix}{budget}:c:${key}`;
    const stamp = Date.now();
    // Settled after its counters vanished: the usage is charged on counters that expire again.
    const settled = [`principal:gone-${stamp}:day:x:cost`, `principal:gone-${stamp}:day:x:requests`];
    await store.reserve({
      reservationId: `gone-s-${stamp}`,
      counters: [
        { key: settled[0], limit: 1_000, amount: 40, unit: 'cost', expiresAt },
        { key: settled[1], limit: 10, amount: 1, unit: 'requests', expiresAt },
      ],
      ttlMs: 60_000,
    });
    await clients[0].del(...settled.map(counterKey));
    await store.settle(`gone-s-${stamp}`, { costMicro: 25, tokens: 0, requests: 1 });
    for (const [key, used] of [
      [settled[0], '25'],
      [settled[1], '1'],
    ] as const) {
      expect(await clients[0].hgetall(counterKey(key))).toEqual({ used, reserved: '0' });
      expect(await clients[0].pttl(counterKey(key))).toBeGreaterThan(60_000);
    }
    // Released after its counter vanished: nothing is charged and no key is left without an expiry.
    const released = `principal:gone-${stamp}:day:x:tokens`;
    await store.reserve({
      reservationId: `gone-r-${stamp}`,
      counters: [{ key: released, limit: 1_000, amount: 300, unit: 'tokens', expiresAt }],
      ttlMs: 60_000,
    });
    await clients[0].del(counterKey(released));
    await store.release(`gone-r-${stamp}`);
    expect(await clients[0].hget(counterKey(released), 'used')).toBeNull();
    expect(await clients[0].pttl(counterKey(released))).toBeGreaterThan(60_000);
    // A counter whose window is over is not brought back by a late settle.
    const over = `principal:gone-${stamp}:day:over:requests`;
    await store.reserve({
      reservationId: `gone-o-${stamp}`,
      counters: [{ key: over, limit: 10, amount: 1, unit: 'requests', expiresAt: Date.now() - 120_000 }],
      ttlMs: 60_000,
    });
    await store.settle(`gone-o-${stamp}`, { costMicro: 0, tokens: 0, requests: 1 });
    expect(await clients[0].exists(counterKey(over))).toBe(0);
  });

  it('keeps every key under one hash tag, and counters expire after their window', async () => {
    const key = `principal:tagged-${Date.now()}:day:x:requests`;
    const expiresAt = Date.now() + 10_000; // the real clock: Redis expires keys on it
    await fixture!.stores[0].reserve({
      reservationId: `tag-${Date.now()}`,
      counters: [{ key, limit: 5, amount: 1, unit: 'requests', expiresAt }],
      ttlMs: 1_000,
    });
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await clients[0].scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    expect(keys.length).toBeGreaterThan(2);
    expect(keys.every((k) => k.startsWith(`${prefix}{budget}:`))).toBe(true);
    const ttl = await clients[0].pttl(`${prefix}{budget}:c:${key}`);
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(70_000);
  });
});
