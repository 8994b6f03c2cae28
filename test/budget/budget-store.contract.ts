/**
 * Behaviour every BudgetStore must show, run against each real backend by the suites beside this file.
 * `stores` are several store instances sharing the same counters (separate connections), as separate app
 * instances would be.
 */
import { randomUUID } from 'node:crypto';
import { expect, it } from '@jest/globals';
import { buildBudgetPlan, type BudgetStore, type ReserveCounter } from 'nest-agent-policy';
import type { Principal } from 'nest-agent-policy';

export interface StoreFixture {
  stores: BudgetStore[];
  /** Moves the stores' shared clock forward. */
  advance(ms: number): void;
  now(): number;
  /** A further instance on its own connection, and a way to make it vanish without any goodbye. */
  spawn(): Promise<{ store: BudgetStore; crash(): Promise<void> }>;
}

const CHARGE = { costMicro: 0, tokens: 0, requests: 1 };

let seq = 0;
function counter(
  limit: number,
  amount: number,
  fixture: StoreFixture,
  unit: ReserveCounter['unit'] = 'requests',
): ReserveCounter {
  seq += 1;
  return {
    key: `principal:${randomUUID()}:day:test-${seq}:${unit}`,
    limit,
    amount,
    unit,
    expiresAt: fixture.now() + 86_400_000,
  };
}

/**
 * Defines the contract's tests in the calling describe block. `test` is `it`, or `itWith(...)` from
 * test/support/services when the backend needs a service (the tests then show as skipped without it).
 */
export function defineBudgetStoreContract(
  label: string,
  getFixture: () => StoreFixture | null,
  test: typeof it = it,
): void {
  test(`${label}: 500 concurrent reserve+settle against a limit of 100 admit exactly 100`, async () => {
    const f = getFixture()!;
    const c = counter(100, 1, f);
    const started = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        const store = f.stores[i % f.stores.length];
        const reservationId = randomUUID();
        const result = await store.reserve({ reservationId, counters: [c], ttlMs: 60_000 });
        if (result.ok) await store.settle(reservationId, CHARGE);
        return result.ok;
      }),
    );
    const elapsed = performance.now() - started;
    console.info(
      `${label}: 500 concurrent reserve+settle on ${f.stores.length} instance(s) took ${elapsed.toFixed(0)} ms`,
    );
    expect(outcomes.filter(Boolean)).toHaveLength(100);
    const [state] = await f.stores[0].snapshot([{ key: c.key, limit: c.limit }]);
    expect(state).toEqual({ key: c.key, limit: 100, used: 100, reserved: 0 });
  });

  test(`${label}: reserve is atomic across counters and names the first failing one`, async () => {
    const f = getFixture()!;
    const roomy = counter(10, 5, f);
    const tight = counter(3, 5, f);
    const result = await f.stores[0].reserve({ reservationId: randomUUID(), counters: [roomy, tight], ttlMs: 60_000 });
    expect(result).toEqual({ ok: false, failedIndex: 1, failed: { key: tight.key, limit: 3, used: 0, reserved: 0 } });
    const states = await f.stores[0].snapshot([roomy, tight]);
    expect(states.map((s) => s.reserved)).toEqual([0, 0]);
  });

  test(`${label}: settle twice charges once, with the actual amounts`, async () => {
    const f = getFixture()!;
    const cost = counter(1_000_000, 400, f, 'cost');
    const tokens = counter(10_000, 1_000, f, 'tokens');
    const id = randomUUID();
    expect((await f.stores[0].reserve({ reservationId: id, counters: [cost, tokens], ttlMs: 60_000 })).ok).toBe(true);
    const actual = { costMicro: 250, tokens: 1_200, requests: 1 };
    await f.stores[0].settle(id, actual);
    await f.stores[f.stores.length - 1].settle(id, actual);
    await f.stores[0].release(id);
    expect(await f.stores[0].snapshot([cost, tokens])).toEqual([
      { key: cost.key, limit: cost.limit, used: 250, reserved: 0 },
      { key: tokens.key, limit: tokens.limit, used: 1_200, reserved: 0 },
    ]);
  });

  test(`${label}: release gives the reservation back, once`, async () => {
    const f = getFixture()!;
    const c = counter(2, 2, f);
    const id = randomUUID();
    expect((await f.stores[0].reserve({ reservationId: id, counters: [c], ttlMs: 60_000 })).ok).toBe(true);
    expect((await f.stores[0].reserve({ reservationId: randomUUID(), counters: [c], ttlMs: 60_000 })).ok).toBe(false);
    await f.stores[0].release(id);
    await f.stores[0].release(id);
    await f.stores[0].settle(id, CHARGE);
    expect(await f.stores[0].snapshot([c])).toEqual([{ key: c.key, limit: 2, used: 0, reserved: 0 }]);
  });

  test(`${label}: an abandoned reservation expires after its ttl and the budget is whole again`, async () => {
    const f = getFixture()!;
    const c = counter(1, 1, f);
    // The instance that reserves "crashes": it never settles nor releases.
    expect((await f.stores[0].reserve({ reservationId: randomUUID(), counters: [c], ttlMs: 5_000 })).ok).toBe(true);
    const other = f.stores[f.stores.length - 1];
    expect((await other.reserve({ reservationId: randomUUID(), counters: [c], ttlMs: 5_000 })).ok).toBe(false);
    f.advance(5_001);
    const retried = await other.reserve({ reservationId: randomUUID(), counters: [c], ttlMs: 5_000 });
    expect(retried).toEqual({ ok: true, counters: [{ key: c.key, limit: 1, used: 0, reserved: 1 }] });
  });

  test(`${label}: a crashed instance's reservation comes back after its ttl`, async () => {
    const f = getFixture()!;
    const c = counter(3, 3, f);
    const doomed = await f.spawn();
    expect((await doomed.store.reserve({ reservationId: randomUUID(), counters: [c], ttlMs: 2_000 })).ok).toBe(true);
    await doomed.crash();
    const survivor = f.stores[0];
    expect(
      (await survivor.reserve({ reservationId: randomUUID(), counters: [{ ...c, amount: 1 }], ttlMs: 2_000 })).ok,
    ).toBe(false);
    f.advance(2_001);
    const id = randomUUID();
    expect(await survivor.reserve({ reservationId: id, counters: [c], ttlMs: 2_000 })).toMatchObject({ ok: true });
    await survivor.settle(id, { costMicro: 0, tokens: 0, requests: 3 });
    expect(await survivor.snapshot([c])).toEqual([{ key: c.key, limit: 3, used: 3, reserved: 0 }]);
  });

  test(`${label}: a new window starts from zero`, async () => {
    const f = getFixture()!;
    const principal: Principal = {
      id: randomUUID(),
      type: 'user',
      tenantId: null,
      roles: [],
      scopes: [],
      tier: null,
      tokenId: null,
    };
    const config = { principal: { day: { requests: 2 } } };
    const attempt = async (): Promise<boolean> => {
      const counters = buildBudgetPlan(principal, config, f.now(), CHARGE).map((p) => ({ ...p, expiresAt: p.resetAt }));
      const reservationId = randomUUID();
      const result = await f.stores[0].reserve({ reservationId, counters, ttlMs: 60_000 });
      if (result.ok) await f.stores[0].settle(reservationId, CHARGE);
      return result.ok;
    };
    expect([await attempt(), await attempt(), await attempt()]).toEqual([true, true, false]);
    const [today] = buildBudgetPlan(principal, config, f.now());
    f.advance(today.resetAt - f.now());
    expect([await attempt(), await attempt(), await attempt()]).toEqual([true, true, false]);
  });

  test(`${label}: expireStale gives back expired reservations; a late settle still charges the actual usage`, async () => {
    const f = getFixture()!;
    const c = counter(10, 4, f);
    const id = randomUUID();
    expect((await f.stores[0].reserve({ reservationId: id, counters: [c], ttlMs: 1_000 })).ok).toBe(true);
    expect(await f.stores[0].expireStale(f.now())).toBe(0);
    f.advance(1_001);
    expect(await f.stores[0].expireStale(f.now())).toBeGreaterThanOrEqual(1);
    expect(await f.stores[0].snapshot([c])).toEqual([{ key: c.key, limit: 10, used: 0, reserved: 0 }]);
    await f.stores[0].settle(id, { costMicro: 0, tokens: 0, requests: 3 });
    await f.stores[0].settle(id, { costMicro: 0, tokens: 0, requests: 3 });
    expect(await f.stores[0].snapshot([c])).toEqual([{ key: c.key, limit: 10, used: 3, reserved: 0 }]);
  });

  test(`${label}: only usage above a call's own estimate can pass the limit`, async () => {
    const f = getFixture()!;
    const c = counter(10, 8, f, 'tokens');
    const id = randomUUID();
    expect((await f.stores[0].reserve({ reservationId: id, counters: [c], ttlMs: 60_000 })).ok).toBe(true);
    await f.stores[0].settle(id, { costMicro: 0, tokens: 12, requests: 1 });
    expect(await f.stores[0].snapshot([c])).toEqual([{ key: c.key, limit: 10, used: 12, reserved: 0 }]);
    const zero = { ...c, amount: 0 };
    expect((await f.stores[0].reserve({ reservationId: randomUUID(), counters: [zero], ttlMs: 60_000 })).ok).toBe(
      false,
    );
  });
}
