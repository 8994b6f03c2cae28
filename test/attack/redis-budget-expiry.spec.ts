/**
 * The Redis budget scripts set a counter's expiry only when they create it. Random sequences of reserve, settle,
 * release, repeated and crossed finishes, expireStale, and counters deleted or expired in between must never leave a
 * counter key without an expiry, nor a negative `used` or `reserved`; without deletions, the counters must match a
 * model of what was reserved and charged; and concurrent reserves from two instances must never admit past a limit.
 */
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import Redis from 'ioredis';
import { RedisBudgetStore, type ReserveCounter } from 'nest-agent-policy';
import { REDIS_URL, itWith, redisTestPrefix } from '../support/services';
import { seededRandom as random } from '../support/seeded-random';

describe('RedisBudgetStore: counter expiry and exactness under attack', () => {
  const it = itWith('redis');
  const { prefix, cleanup } = redisTestPrefix('budget-attack');
  const clients: Redis[] = [];
  let now = Date.now();
  const stores: RedisBudgetStore[] = [];
  const counterKey = (key: string) => `${prefix}{budget}:c:${key}`;

  beforeAll(() => {
    for (let i = 0; i < 2; i++) clients.push(new Redis(REDIS_URL));
    // maxBatch 1 on one instance, batching on the other: both script paths run.
    stores.push(new RedisBudgetStore(clients[0], { keyPrefix: prefix, clock: () => now, maxBatch: 1 }));
    stores.push(new RedisBudgetStore(clients[1], { keyPrefix: prefix, clock: () => now }));
  });
  afterAll(async () => {
    if (clients.length) await cleanup(clients[0]);
    for (const c of clients) await c.quit();
  });

  /** The given counters' TTL and fields (absent keys left out). */
  async function counters(
    keys: string[],
  ): Promise<Array<{ key: string; pttl: number; used: number; reserved: number }>> {
    const pipeline = clients[0].pipeline();
    for (const key of keys) pipeline.pttl(counterKey(key)).hmget(counterKey(key), 'used', 'reserved');
    const replies = (await pipeline.exec())!.map(([error, value]) => {
      if (error) throw error;
      return value;
    });
    return keys
      .map((key, i) => {
        const [used, reserved] = replies[i * 2 + 1] as Array<string | null>;
        return { key, pttl: replies[i * 2] as number, used: Number(used ?? 0), reserved: Number(reserved ?? 0) };
      })
      .filter((c) => c.pttl !== -2);
  }

  const UNITS = ['cost', 'tokens', 'requests'] as const;
  const charge = (r: () => number) => ({
    costMicro: r() < 0.3 ? 0 : Math.floor(r() * 50),
    tokens: r() < 0.3 ? 0 : Math.floor(r() * 50),
    requests: r() < 0.5 ? 0 : 1,
  });

  it('expires a stale reservation holding a zero amount (a flat-cost call against a tokens budget)', async () => {
    const stamp = `zero-${Date.now()}`;
    const expiresAt = Date.now() + 600_000;
    const held = [
      { key: `principal:${stamp}:day:x:cost`, unit: 'cost' as const, limit: 1_000, amount: 500, expiresAt },
      { key: `principal:${stamp}:day:x:tokens`, unit: 'tokens' as const, limit: 1_000, amount: 0, expiresAt },
      { key: `principal:${stamp}:day:x:requests`, unit: 'requests' as const, limit: 10, amount: 1, expiresAt },
    ];
    expect(await stores[0].reserve({ reservationId: `${stamp}-1`, counters: held, ttlMs: 1_000 })).toMatchObject({
      ok: true,
    });
    now += 2_000;
    // The process that reserved it died: the reservation is given back, on demand or at the next reserve.
    await expect(stores[0].expireStale(now)).resolves.toBe(1);
    const states = await stores[0].snapshot(held);
    expect(states.map((c) => c.reserved)).toEqual([0, 0, 0]);
    // The lazy path: another caller's reserve gives it back first, and is not failed by it.
    await stores[1].reserve({ reservationId: `${stamp}-2`, counters: held, ttlMs: 1_000 });
    now += 2_000;
    const other = {
      key: `principal:${stamp}-other:day:x:requests`,
      unit: 'requests' as const,
      limit: 5,
      amount: 1,
      expiresAt,
    };
    await expect(
      stores[1].reserve({ reservationId: `${stamp}-3`, counters: [other], ttlMs: 60_000 }),
    ).resolves.toMatchObject({ ok: true });
    expect((await stores[0].snapshot(held)).map((c) => c.reserved)).toEqual([0, 0, 0]);
  });

  it.each([1, 2, 3, 4, 5, 6])(
    'seed %i: no counter is ever left without an expiry or with a negative field, whatever the sequence',
    async (seed) => {
      const r = random(seed);
      const stamp = `${seed}-${Date.now()}`;
      // Windows that end soon (a few seconds: real Redis expiry), later, or are already over.
      const windows = [Date.now() + 3_000, Date.now() + 600_000, Date.now() - 120_000];
      const keys = Array.from({ length: 6 }, (_, i) => ({
        key: `principal:ttl-${stamp}-${i}:day:w${i % 3}:${UNITS[i % 3]}`,
        unit: UNITS[i % 3],
        expiresAt: windows[i % 3],
      }));
      const ids: string[] = [];
      const trace: string[] = [];
      for (let step = 0; step < 250; step++) {
        const store = stores[Math.floor(r() * 2)];
        const roll = r();
        if (roll < 0.35 || ids.length === 0) {
          const id = `ttl-${stamp}-${step}`;
          const picked = keys.filter(() => r() < 0.5);
          const chosen: ReserveCounter[] = (picked.length ? picked : [keys[0]]).map((k) => ({
            ...k,
            limit: r() < 0.1 ? 0 : 1_000,
            amount: r() < 0.3 ? 0 : Math.floor(r() * 40),
          }));
          trace.push(`reserve ${id} ${JSON.stringify(chosen.map((c) => [c.key.slice(-12), c.amount]))}`);
          await store.reserve({ reservationId: id, counters: chosen, ttlMs: r() < 0.3 ? 1 : 60_000 });
          ids.push(id);
        } else if (roll < 0.6) {
          const id = ids[Math.floor(r() * ids.length)];
          const actual = charge(r);
          trace.push(`settle ${id} ${JSON.stringify(actual)}`);
          await store.settle(id, actual);
        } else if (roll < 0.75) {
          const id = ids[Math.floor(r() * ids.length)];
          trace.push(`release ${id}`);
          await store.release(id);
        } else if (roll < 0.85) {
          now += Math.floor(r() * 5);
          trace.push(`expireStale`);
          await store.expireStale(now);
        } else if (roll < 0.93) {
          const k = keys[Math.floor(r() * keys.length)];
          trace.push(`del ${k.key.slice(-12)}`);
          await clients[0].del(counterKey(k.key));
        } else {
          const k = keys[Math.floor(r() * keys.length)];
          trace.push(`pexpire ${k.key.slice(-12)}`);
          await clients[0].pexpire(counterKey(k.key), 1);
          await new Promise((resolve) => setTimeout(resolve, 3));
        }
        const bad = (await counters(keys.map((k) => k.key))).filter(
          (c) => c.pttl === -1 || c.used < 0 || c.reserved < 0,
        );
        if (bad.length) throw new Error(`after ${trace.slice(-6).join(' | ')}: ${JSON.stringify(bad)}`);
      }
    },
    60_000,
  );

  it('without deletions, used and reserved match what was reserved, charged and given back', async () => {
    const r = random(42);
    const stamp = `model-${Date.now()}`;
    const keys = UNITS.map((unit, i) => ({
      key: `principal:${stamp}-${i}:day:x:${unit}`,
      unit,
      expiresAt: Date.now() + 600_000,
      limit: 2_000,
    }));
    const model = new Map(keys.map((k) => [k.key, { used: 0, reserved: 0 }]));
    const open = new Map<string, Array<{ key: string; unit: string; amount: number }>>();
    const finished = new Set<string>();
    const all: string[] = [];
    for (let step = 0; step < 300; step++) {
      const store = stores[Math.floor(r() * 2)];
      const roll = r();
      if (roll < 0.45 || all.length === 0) {
        const id = `${stamp}-${step}`;
        const chosen = keys.filter(() => r() < 0.6).map((k) => ({ ...k, amount: Math.floor(r() * 30) }));
        if (!chosen.length) continue;
        const result = await store.reserve({ reservationId: id, counters: chosen, ttlMs: 600_000 });
        const fits = chosen.every((c) => {
          const m = model.get(c.key)!;
          return m.used + m.reserved + c.amount <= c.limit;
        });
        expect({ step, ok: result.ok }).toEqual({ step, ok: fits });
        if (result.ok) {
          for (const c of chosen) model.get(c.key)!.reserved += c.amount;
          open.set(id, chosen);
        }
        all.push(id);
      } else {
        const id = all[Math.floor(r() * all.length)];
        const settle = r() < 0.6;
        const actual = charge(r);
        if (settle) await store.settle(id, actual);
        else await store.release(id);
        const held = open.get(id);
        if (held && !finished.has(id)) {
          finished.add(id);
          for (const c of held) {
            const m = model.get(c.key)!;
            m.reserved -= c.amount;
            if (settle)
              m.used +=
                c.unit === 'cost' ? actual.costMicro : c.unit === 'tokens' ? actual.tokens : 1 * actual.requests;
          }
        }
      }
      const snapshot = await stores[0].snapshot(keys);
      expect({ step, counters: snapshot.map((s) => [s.used, s.reserved]) }).toEqual({
        step,
        counters: keys.map((k) => [model.get(k.key)!.used, model.get(k.key)!.reserved]),
      });
    }
    for (const c of await counters(keys.map((k) => k.key))) expect(c.pttl).toBeGreaterThan(0);
  }, 60_000);

  it.each([1, 64])(
    'concurrent reserves of mixed amounts from two instances (maxBatch %i) never admit past the limit',
    async (maxBatch) => {
      const batched = clients.map((c) => new RedisBudgetStore(c, { keyPrefix: prefix, clock: () => now, maxBatch }));
      const key = `principal:race-${maxBatch}-${Date.now()}:day:x:tokens`;
      const limit = 97;
      const amounts = Array.from({ length: 400 }, (_, i) => 1 + (i % 7));
      const results = await Promise.all(
        amounts.map((amount, i) =>
          batched[i % 2].reserve({
            reservationId: `race-${maxBatch}-${Date.now()}-${i}`,
            counters: [{ key, limit, amount, unit: 'tokens', expiresAt: Date.now() + 600_000 }],
            ttlMs: 600_000,
          }),
        ),
      );
      const admitted = amounts.filter((_, i) => results[i].ok).reduce((x, y) => x + y, 0);
      const [state] = await batched[0].snapshot([{ key, limit }]);
      expect(state.reserved).toBe(admitted);
      expect(admitted).toBeLessThanOrEqual(limit);
      // Whatever was refused did not fit at its turn: the counter is full to within the largest amount.
      expect(limit - admitted).toBeLessThan(7);
      expect(await clients[0].pttl(counterKey(key))).toBeGreaterThan(0);
    },
    60_000,
  );
});
