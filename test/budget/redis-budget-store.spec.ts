import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Redis from 'ioredis';
import { RedisBudgetStore } from 'nest-agent-policy';
import { REDIS_URL, redisTestPrefix, requireService } from '../support/services';
import { defineBudgetStoreContract, type StoreFixture } from './budget-store.contract';

describe('RedisBudgetStore, two instances on separate clients', () => {
  let now = Date.now();
  const { prefix, cleanup } = redisTestPrefix('budget');
  const clients: Redis[] = [];
  let fixture: StoreFixture | null = null;

  beforeAll(async () => {
    if (!(await requireService('redis'))) return;
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

  defineBudgetStoreContract('redis x2', () => fixture);

  it('loads its scripts again when the server answers NOSCRIPT (restart, failover)', async () => {
    if (!fixture) return;
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

  it('keeps every key under one hash tag, and counters expire after their window', async () => {
    if (!fixture) return;
    const key = `principal:tagged-${Date.now()}:day:x:requests`;
    const expiresAt = Date.now() + 10_000; // the real clock: Redis expires keys on it
    await fixture.stores[0].reserve({ reservationId: `tag-${Date.now()}`, counters: [{ key, limit: 5, amount: 1, unit: 'requests', expiresAt }], ttlMs: 1_000 });
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
