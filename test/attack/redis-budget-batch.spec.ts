/**
 * The Redis budget store sends the calls of one event-loop turn as one script call per kind, the batch as one JSON
 * argument, each counter of the batch read once and written once. What this checks:
 *
 * - differential against the store's previous scripts (test/attack/fixtures/redis-budget-scripts.previous.ts, run with
 *   EVAL by a minimal store with their argument layout, one call at a time), and the current store batched (64, 3)
 *   and one call at a time, fed the same random turns (shared counters, zero amounts,
 *   MAX_SAFE_INTEGER limits, windows already over, ids and keys with quotes, backslashes, unicode, NUL, settle and
 *   release of the same id in one batch, unknown and reused ids, expiries, evicted counters) answer the same and leave
 *   the same keys after every turn. The previous scripts kept a `{"s":"settled"}` / `{"s":"released"}` record where
 *   the store now deletes it: such a record counts as absent. No reservation there names a counter twice (the previous
 *   scripts let it pass its limit);
 * - differential of the current store with itself: batched (64, 3) against one call at a time, on the same kind of
 *   turns plus reservations naming a counter twice and fractional, negative and NaN charges;
 * - many stores on several connections with different batch sizes racing on shared counters: never past a limit,
 *   each reservation finished exactly once;
 * - odd ids and keys next to ordinary reservations of one batch, each kept exactly;
 * - a settled or released reservation's record is deleted and a repeated settle or release changes nothing, as for an
 *   unknown id; an expired reservation's record is kept, so a late settle charges its usage, once;
 * - a counter named twice in one reservation holds both amounts; a counter whose window is over answers as one call
 *   at a time does (forgotten at once);
 * - a malformed call (an id or counter key that is not well-formed UTF-16, a NaN limit, an amount that is not a whole
 *   number from 0 to MAX_SAFE_INTEGER, a non-finite ttl or window end) is refused alone with a TypeError and leaves
 *   nothing behind, the other calls of its batch unaffected; an infinite limit is no limit; a charge is never
 *   refused (1e20 tokens are charged as MAX_SAFE_INTEGER, a counter stops far below HINCRBY's overflow);
 * - a record the scripts cannot read (not JSON, a lone surrogate, JSON not shaped as the store's records, down to
 *   each counter entry), left in the pending set, blocks neither reserves nor expiry nor the settles of its batch;
 * - batches larger than Lua's unpack limit (maxBatch is not bounded);
 * - numeric edges: MAX_SAFE_INTEGER limits, large sums, amount 0.
 */
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import Redis from 'ioredis';
import {
  RedisBudgetStore,
  type BudgetCharge,
  type BudgetCounterRef,
  type BudgetCounterState,
  type ReserveCounter,
  type ReserveRequest,
  type ReserveResult,
} from 'nest-agent-policy';
import { REDIS_URL, itWith, redisTestPrefix } from '../support/services';
import { seededRandom as random } from '../support/seeded-random';
import * as previousScripts from './fixtures/redis-budget-scripts.previous';

const GRACE_MS = 60_000;
const TOMBSTONE_MS = 86_400_000;
const M = Number.MAX_SAFE_INTEGER;
/** HINCRBY's ceiling: a counter field past it would make every later HINCRBY on it fail. */
const INT64_MAX = 9_223_372_036_854_775_807n;

interface StoreLike {
  reserve(request: ReserveRequest): Promise<ReserveResult>;
  settle(reservationId: string, actual: BudgetCharge): Promise<void>;
  release(reservationId: string): Promise<void>;
  expireStale(now?: number): Promise<number>;
  snapshot(counters: BudgetCounterRef[]): Promise<BudgetCounterState[]>;
}

interface FinishItem {
  id: string;
  mode: 'settle' | 'release';
  actual: BudgetCharge;
}

/**
 * The store as it was with the previous scripts, one call at a time (the reference of the differential): their
 * argument layout, run with EVAL.
 */
class PreviousRedisBudgetStore implements StoreLike {
  private readonly base: string;
  private readonly pending: string;

  constructor(
    private readonly client: Redis,
    keyPrefix: string,
    private readonly clock: () => number,
  ) {
    this.base = `${keyPrefix}{budget}:`;
    this.pending = `${this.base}pending`;
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    const [raw] = await this.sendReserves([request]);
    const [admitted, ...rest] = raw.map(Number);
    const { counters } = request;
    if (admitted !== 1) {
      const failed = counters[rest[0] - 1];
      return {
        ok: false,
        failedIndex: rest[0] - 1,
        failed: { key: failed.key, limit: failed.limit, used: rest[1], reserved: rest[2] },
      };
    }
    return {
      ok: true,
      counters: counters.map((c, i) => ({ key: c.key, limit: c.limit, used: rest[i * 2], reserved: rest[i * 2 + 1] })),
    };
  }

  async settle(id: string, actual: BudgetCharge): Promise<void> {
    await this.sendFinishes([{ id, mode: 'settle', actual }]);
  }

  async release(id: string): Promise<void> {
    await this.sendFinishes([{ id, mode: 'release', actual: { costMicro: 0, tokens: 0, requests: 0 } }]);
  }

  async snapshot(counters: BudgetCounterRef[]): Promise<BudgetCounterState[]> {
    return Promise.all(
      counters.map(async (c) => {
        const [used, reserved] = await this.client.hmget(`${this.base}c:${c.key}`, 'used', 'reserved');
        return { key: c.key, limit: c.limit, used: Number(used ?? 0), reserved: Number(reserved ?? 0) };
      }),
    );
  }

  async expireStale(now: number = this.clock()): Promise<number> {
    let total = 0;
    for (;;) {
      const [expired, seen] = (await this.client.eval(
        previousScripts.EXPIRE_SCRIPT,
        1,
        this.pending,
        this.base,
        now,
        500,
      )) as number[];
      total += Number(expired);
      if (Number(seen) < 500) return total;
    }
  }

  private async sendReserves(items: ReserveRequest[]): Promise<unknown[][]> {
    const keys = [this.pending];
    const args: Array<string | number> = [this.clock(), this.base, GRACE_MS];
    for (const { reservationId, counters, ttlMs } of items) {
      const record = JSON.stringify({
        s: 'reserved',
        c: counters.map((c) => ({ k: c.key, a: c.amount, u: c.unit, e: c.expiresAt })),
      });
      keys.push(`${this.base}r:${reservationId}`);
      args.push(reservationId, ttlMs, record, ttlMs + TOMBSTONE_MS, counters.length);
      for (const c of counters) {
        keys.push(`${this.base}c:${c.key}`);
        args.push(c.limit, c.amount, c.expiresAt);
      }
    }
    return (await this.client.eval(previousScripts.RESERVE_SCRIPT, keys.length, ...keys, ...args)) as unknown[][];
  }

  private async sendFinishes(items: FinishItem[]): Promise<unknown[]> {
    const keys = [this.pending];
    const args: Array<string | number> = [this.base, GRACE_MS];
    for (const { id, mode, actual } of items) {
      keys.push(`${this.base}r:${id}`);
      args.push(id, mode, actual.costMicro, actual.tokens, actual.requests);
    }
    return (await this.client.eval(previousScripts.FINISH_SCRIPT, keys.length, ...keys, ...args)) as unknown[];
  }
}

/** Ids and keys that are awkward for JSON, Lua and Redis; all well-formed UTF-16. */
const ODD = [
  'quote"in"side',
  'back\\slash\\',
  '\\"',
  '{"s":"settled"}',
  ']]--[[',
  '%s%d%%',
  'ünïcødé-日本語',
  'emoji-😀-𝄞',
  'nul-\u0000-inside',
  'ctl-\u0001\n\t\r\b\f',
  '\u2028\u2029',
  '*?[glob]',
  '{other-tag}',
  '',
  ' ',
];

/** What a finished reservation's record was under the previous scripts; the current store deletes it instead. */
const TOMBSTONES = ['{"s":"settled"}', '{"s":"released"}'];

type Outcome = string;

async function outcome(promise: Promise<unknown>): Promise<Outcome> {
  try {
    const value = await promise;
    return `ok ${JSON.stringify(value ?? null)}`;
  } catch (error) {
    return `rejected ${error instanceof Error ? error.name : typeof error}`;
  }
}

const admitted = (o: Outcome) => o.startsWith('ok {"ok":true');

describe('RedisBudgetStore: one JSON argument per batch, each counter read and written once', () => {
  const it = itWith('redis');
  const { prefix, cleanup } = redisTestPrefix('budget-batch');
  const clients: Redis[] = [];
  let now = Date.now();
  const clock = () => now;

  beforeAll(() => {
    for (let i = 0; i < 3; i++) clients.push(new Redis(REDIS_URL));
  });
  afterAll(async () => {
    if (clients.length) await cleanup(clients[0]);
    for (const c of clients) await c.quit();
  });

  let laneSeq = 0;
  const base = (keyPrefix: string) => `${keyPrefix}{budget}:`;
  const fresh = (label: string) => `${prefix}${label}-${(laneSeq += 1)}:`;

  /** Counter fields (numbers; an absent field is 0), TTL, reservation records and the pending set under `keyPrefix`. */
  async function state(keyPrefix: string, counterKeys: string[], ids: string[]) {
    const b = base(keyPrefix);
    const pipeline = clients[0].pipeline();
    for (const key of counterKeys) pipeline.pttl(`${b}c:${key}`).hmget(`${b}c:${key}`, 'used', 'reserved');
    for (const id of ids) pipeline.get(`${b}r:${id}`);
    pipeline.zrange(`${b}pending`, '0', '-1', 'WITHSCORES');
    const replies = (await pipeline.exec())!.map(([error, value]) => {
      if (error) throw error;
      return value;
    });
    const counters = counterKeys.map((key, i) => {
      const [used, reserved] = replies[i * 2 + 1] as Array<string | null>;
      return { key, pttl: replies[i * 2] as number, used: Number(used ?? 0), reserved: Number(reserved ?? 0) };
    });
    const records = ids.map((id, i) => replies[counterKeys.length * 2 + i] as string | null);
    const pending = replies[replies.length - 1] as string[];
    return { counters, records, pending };
  }

  type State = Awaited<ReturnType<typeof state>>;

  /**
   * Same fields, records and pending set; TTLs both absent, or both set and within a read's distance. A finished
   * reservation's record of the previous scripts counts as absent.
   */
  function expectSameState(actual: State, reference: State, where: string): void {
    const shape = (s: State) => ({
      counters: s.counters.map((c) => ({ key: c.key, exists: c.pttl !== -2, used: c.used, reserved: c.reserved })),
      records: s.records.map((r) => (r !== null && TOMBSTONES.includes(r) ? null : r)),
      pending: s.pending,
    });
    expect({ where, ...shape(actual) }).toEqual({ where, ...shape(reference) });
    actual.counters.forEach((c, i) => {
      const ref = reference.counters[i].pttl;
      if (c.pttl >= 0 && ref >= 0 && Math.abs(c.pttl - ref) > 2_000) {
        throw new Error(`${where}: counter ${JSON.stringify(c.key)} pttl ${c.pttl}, reference ${ref}`);
      }
    });
  }

  /** Every counter has its expiry and nothing is negative. */
  function expectSound(s: State, where: string): void {
    const bad = s.counters.filter((c) => c.pttl === -1 || c.used < 0 || c.reserved < 0);
    if (bad.length) throw new Error(`${where}: ${JSON.stringify(bad)}`);
  }

  interface Lane {
    name: string;
    keyPrefix: string;
    store: StoreLike;
  }

  type LaneSpec = [name: string, make: (keyPrefix: string) => StoreLike];

  const previousLane = (client: () => Redis): LaneSpec => [
    'previous/1',
    (p) => new PreviousRedisBudgetStore(client(), p, clock),
  ];
  const currentLane = (maxBatch: number, client: () => Redis): LaneSpec => [
    `current/${maxBatch}`,
    (p) => new RedisBudgetStore(client(), { keyPrefix: p, clock, maxBatch }),
  ];

  /** The lanes of a differential run, each under keys of its own; the first is the reference. */
  function lanes(specs: LaneSpec[]): Lane[] {
    return specs.map(([name, make]) => {
      const keyPrefix = fresh(name.replace('/', '-'));
      return { name, keyPrefix, store: make(keyPrefix) };
    });
  }

  type Op =
    | { kind: 'reserve'; request: ReserveRequest }
    | { kind: 'settle'; id: string; actual: BudgetCharge }
    | { kind: 'release'; id: string };

  const run = (store: StoreLike, op: Op): Promise<unknown> =>
    op.kind === 'reserve'
      ? store.reserve(op.request)
      : op.kind === 'settle'
        ? store.settle(op.id, op.actual)
        : store.release(op.id);

  /** One turn of the event loop on every lane: the same calls, in the same order; answers each lane's outcomes. */
  async function turn(all: Lane[], ops: Op[]): Promise<Outcome[][]> {
    const started = all.map((lane) => ops.map((op) => outcome(run(lane.store, op))));
    return Promise.all(started.map((promises) => Promise.all(promises)));
  }

  const UNITS = ['cost', 'tokens', 'requests'] as const;

  interface Variety {
    /** Reservations may name a counter twice. */
    twice: boolean;
    /** Charges may be fractional, negative or NaN (the current store sends them as whole numbers). */
    oddCharges: boolean;
  }

  /**
   * 60 random turns on every lane: the same outcomes and the same keys as the first lane after each one, every
   * counter with its expiry and nothing negative.
   */
  async function differential(seed: number, all: Lane[], variety: Variety): Promise<void> {
    const r = random(seed);
    const expiresAt = Date.now() + 600_000; // the real clock: Redis expires keys on it
    const ended = Date.now() - 2 * GRACE_MS; // window and grace over on the server's clock
    const keys = Array.from({ length: 10 }, (_, i) => ({
      key:
        i < 5
          ? `principal:diff-${seed}-${i}:day:x:${UNITS[i % 3]}`
          : i < 8
            ? `odd:${ODD[(seed * 3 + i) % ODD.length]}`
            : `ended:${i === 8 ? seed : ODD[(seed * 5) % ODD.length]}`,
      unit: UNITS[i % 3],
      limit: [3, 8, 20, M, 0, 12, M, 5, 4, M][i],
      expiresAt: i < 8 ? expiresAt + i * 1_000 : ended - i * 1_000,
    }));
    const ids: string[] = [];
    const open = new Map<string, number>(); // id -> expiry (clock), for keeping stale ones under the script's 100
    let seq = 0;
    const newId = () => {
      seq += 1;
      return r() < 0.2 ? `${ODD[seq % ODD.length]}#${seed}-${seq}` : `diff-${seed}-${seq}`;
    };
    const ODD_CHARGES = [0.5, 2.25, -3, Number.NaN, -0];
    const charge = (zero: number, top: number) => {
      if (variety.oddCharges && r() < 0.1) return ODD_CHARGES[Math.floor(r() * ODD_CHARGES.length)];
      return r() < zero ? 0 : Math.floor(r() * top);
    };
    const trace: string[] = [];
    for (let t = 0; t < 60; t++) {
      const roll = r();
      const ops: Op[] = [];
      if (roll < 0.45 || ids.length === 0) {
        const stale = [...open.values()].filter((e) => e <= now).length;
        if (stale > 80) {
          const counts = await Promise.all(all.map((lane) => lane.store.expireStale(now)));
          expect(new Set(counts).size).toBe(1);
          for (const [id, e] of open) if (e <= now) open.delete(id);
        }
        const n = 1 + Math.floor(r() * 10);
        for (let i = 0; i < n; i++) {
          const picked = keys.filter(() => r() < 0.3);
          const chosen = picked.length ? picked : [keys[Math.floor(r() * keys.length)]];
          if (variety.twice && r() < 0.2) chosen.push(chosen[Math.floor(r() * chosen.length)]);
          const counters: ReserveCounter[] = chosen.map((k) => ({
            ...k,
            amount: r() < 0.3 ? 0 : 1 + Math.floor(r() * 4),
          }));
          const reuse = ids.length > 0 && r() < 0.05;
          const id = reuse ? ids[Math.floor(r() * ids.length)] : newId();
          ops.push({
            kind: 'reserve',
            request: { reservationId: id, counters, ttlMs: 1_000 + Math.floor(r() * 5_000) },
          });
          if (!reuse) ids.push(id);
        }
      } else if (roll < 0.9) {
        const n = 1 + Math.floor(r() * 10);
        for (let i = 0; i < n; i++) {
          const id = r() < 0.05 ? `unknown-${seed}-${t}-${i}` : ids[Math.floor(r() * ids.length)];
          const actual = { costMicro: charge(0.4, 6), tokens: charge(0.4, 6), requests: charge(0.5, 2) };
          ops.push(r() < 0.6 ? { kind: 'settle', id, actual } : { kind: 'release', id });
          // The same id again in the same batch, settled or released.
          if (r() < 0.2) ops.push(r() < 0.5 ? { kind: 'settle', id, actual } : { kind: 'release', id });
        }
      } else if (roll < 0.95) {
        now += Math.floor(r() * 4_000);
        trace.push(`advance ${now}`);
        if (r() < 0.5) {
          const counts = await Promise.all(all.map((lane) => lane.store.expireStale(now)));
          expect({ t, counts }).toEqual({ t, counts: all.map(() => counts[0]) });
          for (const [id, e] of open) if (e <= now) open.delete(id);
        }
      } else {
        // A counter evicted (or expired) on every lane.
        const k = keys[Math.floor(r() * keys.length)];
        trace.push(`del ${JSON.stringify(k.key)}`);
        await Promise.all(all.map((lane) => clients[0].del(`${base(lane.keyPrefix)}c:${k.key}`)));
      }
      if (!ops.length) continue;
      trace.push(
        ops
          .map((op) =>
            op.kind === 'reserve'
              ? `reserve ${JSON.stringify(op.request.reservationId)} ${JSON.stringify(op.request.counters.map((c) => [c.key, c.limit, c.amount]))}`
              : `${op.kind} ${JSON.stringify(op.id)}`,
          )
          .join(' ; '),
      );
      const outcomes = await turn(all, ops);
      for (let l = 1; l < all.length; l++) {
        expect({ t, lane: all[l].name, outcomes: outcomes[l] }).toEqual({
          t,
          lane: all[l].name,
          outcomes: outcomes[0],
        });
      }
      expect(outcomes[0].filter((o) => o.startsWith('rejected'))).toEqual([]);
      ops.forEach((op, i) => {
        if (op.kind === 'reserve' && admitted(outcomes[0][i]))
          open.set(op.request.reservationId, now + op.request.ttlMs);
        else if (op.kind !== 'reserve') open.delete(op.id);
      });
      const states = await Promise.all(
        all.map((lane) =>
          state(
            lane.keyPrefix,
            keys.map((k) => k.key),
            ids,
          ),
        ),
      );
      const where = `seed ${seed} turn ${t}: ${trace.slice(-3).join(' | ')}`;
      expectSound(states[0], `${where} (${all[0].name})`);
      for (let l = 1; l < all.length; l++) {
        expectSound(states[l], `${where} (${all[l].name})`);
        expectSameState(states[l], states[0], `${where} (${all[l].name})`);
      }
    }
  }

  describe('differential: the previous scripts, and the current store batched and one call at a time', () => {
    it.each([1, 2, 3, 4, 5])(
      'seed %i: the same replies and the same keys after every turn',
      async (seed) => {
        const all = lanes([
          previousLane(() => clients[0]), // the reference
          currentLane(64, () => clients[1]),
          currentLane(3, () => clients[2]),
          currentLane(1, () => clients[1]),
        ]);
        await differential(seed, all, { twice: false, oddCharges: false });
      },
      30_000,
    );
  });

  describe('differential: the current store batched against itself one call at a time', () => {
    it.each([11, 12, 13, 14, 15])(
      'seed %i (counters named twice, odd charges): the same replies and the same keys after every turn',
      async (seed) => {
        const all = lanes([
          currentLane(1, () => clients[0]), // the reference
          currentLane(64, () => clients[1]),
          currentLane(3, () => clients[2]),
        ]);
        await differential(seed, all, { twice: true, oddCharges: true });
      },
      30_000,
    );
  });

  it('many stores on three connections and batch sizes 1, 2, 7 and 64 racing never admit past a limit', async () => {
    const keyPrefix = fresh('race');
    const stores = [1, 2, 7, 64, 64, 1].map(
      (maxBatch, i) => new RedisBudgetStore(clients[i % 3], { keyPrefix, clock, maxBatch }),
    );
    const r = random(7);
    const expiresAt = Date.now() + 600_000;
    const pool = [
      { key: 'race:a', unit: 'requests' as const, limit: 40, expiresAt },
      { key: 'race:b', unit: 'tokens' as const, limit: 90, expiresAt },
      { key: 'race:c', unit: 'cost' as const, limit: 150, expiresAt },
    ];
    // Each reservation also holds a counter of its own, charged 1 request when it is settled: which of its settle and
    // release won, and that it was applied once.
    const own = (i: number) => ({ key: `race:own:${i}`, unit: 'requests' as const, limit: 1, expiresAt });
    const asks = Array.from({ length: 400 }, (_, i) => {
      const chosen = pool.filter(() => r() < 0.6);
      return {
        id: `race-${i}`,
        store: stores[i % stores.length],
        counters: (chosen.length ? chosen : [pool[0]]).map((c) => ({ ...c, amount: 1 + Math.floor(r() * 3) })),
      };
    });
    // Calls spread over a few turns, so batches of every size meet each other on the server.
    const results = await Promise.all(
      asks.map(async (a, i) => {
        if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
        return a.store.reserve({
          reservationId: a.id,
          counters: [...a.counters, { ...own(i), amount: 1 }],
          ttlMs: 600_000,
        });
      }),
    );
    const held = new Map(pool.map((c) => [c.key, 0]));
    results.forEach((res, i) => {
      if (res.ok) {
        for (const c of asks[i].counters) held.set(c.key, held.get(c.key)! + c.amount);
        // What one reservation reports stays within the limits.
        for (const c of res.counters) expect(c.used + c.reserved).toBeLessThanOrEqual(c.limit);
      } else {
        const failed = asks[i].counters[res.failedIndex];
        expect(res.failed.used + res.failed.reserved + failed.amount).toBeGreaterThan(failed.limit);
      }
    });
    const snapshot = await stores[0].snapshot(pool);
    for (const s of snapshot) {
      expect({ key: s.key, reserved: s.reserved, used: s.used }).toEqual({
        key: s.key,
        reserved: held.get(s.key),
        used: 0,
      });
      expect(s.reserved).toBeLessThanOrEqual(s.limit);
    }
    // Settle every admitted one from two stores at once and release it from a third, in one turn: whichever comes
    // first wins, once.
    const finishAll = async () => {
      const finishes: Array<Promise<void>> = [];
      const actual = { costMicro: 2, tokens: 1, requests: 1 };
      results.forEach((res, i) => {
        if (!res.ok) return;
        finishes.push(stores[i % 6].settle(asks[i].id, actual), stores[(i + 3) % 6].settle(asks[i].id, actual));
        finishes.push(stores[(i + 1) % 6].release(asks[i].id));
      });
      await Promise.all(finishes);
    };
    await finishAll();
    const b = base(keyPrefix);
    const owns = await stores[2].snapshot(asks.map((_, i) => own(i)));
    const charged = new Map(pool.map((c) => [c.key, 0]));
    let settled = 0;
    for (const [i, res] of results.entries()) {
      // Nothing held any more; charged at most once; the record gone.
      expect({ i, reserved: owns[i].reserved, usedAtMost1: owns[i].used <= 1 }).toEqual({
        i,
        reserved: 0,
        usedAtMost1: true,
      });
      expect(await clients[0].get(`${b}r:${asks[i].id}`)).toBeNull();
      if (!res.ok) {
        expect(await clients[0].exists(`${b}c:${own(i).key}`)).toBe(0);
        continue;
      }
      expect(await clients[0].pttl(`${b}c:${own(i).key}`)).toBeGreaterThan(GRACE_MS);
      if (owns[i].used !== 1) continue;
      settled += 1;
      for (const c of asks[i].counters) charged.set(c.key, charged.get(c.key)! + (c.unit === 'cost' ? 2 : 1));
    }
    expect(settled).toBeGreaterThan(0);
    const expected = pool.map((c) => ({ key: c.key, limit: c.limit, used: charged.get(c.key), reserved: 0 }));
    expect(await stores[5].snapshot(pool)).toEqual(expected);
    for (const c of pool) expect(await clients[0].pttl(`${b}c:${c.key}`)).toBeGreaterThan(GRACE_MS);
    expect(await clients[0].zcard(`${b}pending`)).toBe(0);
    // The same finishes again: nothing changes.
    await finishAll();
    expect(await stores[5].snapshot(pool)).toEqual(expected);
    expect(await stores[2].snapshot(asks.map((_, i) => own(i)))).toEqual(owns);
  });

  it('odd ids and keys share a batch with ordinary reservations, each kept exactly', async () => {
    const keyPrefix = fresh('odd');
    const store = new RedisBudgetStore(clients[0], { keyPrefix, clock });
    const b = base(keyPrefix);
    const expiresAt = Date.now() + 600_000;
    const long = `long-${'x"\\é'.repeat(25_000)}`;
    const odd = [...ODD, long];
    const shared = { key: 'shared', unit: 'requests' as const, limit: 1_000, expiresAt };
    const asks = odd.map((s, i) => ({
      id: `${s}#${i}`,
      counters: [
        { key: `${s}#k${i}`, unit: 'tokens' as const, limit: 100, amount: 10 + i, expiresAt },
        { ...shared, amount: 1 },
      ],
    }));
    const plain = { id: 'plain', counters: [{ ...shared, amount: 2 }] };
    const results = await Promise.all(
      [plain, ...asks].map((a) => store.reserve({ reservationId: a.id, counters: a.counters, ttlMs: 60_000 })),
    );
    expect(results[0]).toEqual({ ok: true, counters: [{ key: 'shared', limit: 1_000, used: 0, reserved: 2 }] });
    asks.forEach((a, i) => {
      expect(results[i + 1]).toEqual({
        ok: true,
        counters: [
          { key: a.counters[0].key, limit: 100, used: 0, reserved: 10 + i },
          { key: 'shared', limit: 1_000, used: 0, reserved: 3 + i },
        ],
      });
    });
    // The records are exactly what a reservation holds, under exactly its id.
    for (const a of asks) {
      const record = JSON.parse((await clients[0].get(`${b}r:${a.id}`))!) as { s: string; c: Array<{ k: string }> };
      expect(record.s).toBe('reserved');
      expect(record.c.map((c) => c.k)).toEqual([a.counters[0].key, 'shared']);
    }
    expect((await clients[0].zrange(`${b}pending`, '0', '-1')).sort()).toEqual(
      [plain, ...asks].map((a) => a.id).sort(),
    );
    // Settle them all in one batch, twice each, a release in between: the first settle counts.
    const finishAll = () =>
      Promise.all(
        asks.flatMap((a, i) => [
          store.settle(a.id, { costMicro: 0, tokens: i, requests: 1 }),
          store.release(a.id),
          store.settle(a.id, { costMicro: 0, tokens: 99, requests: 1 }),
        ]),
      );
    await finishAll();
    await store.release(plain.id);
    const counters = [shared, ...asks.map((a) => a.counters[0])];
    const states = await store.snapshot(counters);
    expect(states[0]).toEqual({ key: 'shared', limit: 1_000, used: asks.length, reserved: 0 });
    asks.forEach((a, i) => expect(states[i + 1]).toEqual({ key: a.counters[0].key, limit: 100, used: i, reserved: 0 }));
    for (const a of [plain, ...asks]) expect(await clients[0].exists(`${b}r:${a.id}`)).toBe(0);
    for (const a of asks) expect(await clients[0].pttl(`${b}c:${a.counters[0].key}`)).toBeGreaterThan(GRACE_MS);
    expect(await clients[0].zcard(`${b}pending`)).toBe(0);
    // Finished: the same calls again change nothing.
    await finishAll();
    expect(await store.snapshot(counters)).toEqual(states);
  });

  it('a finished record is deleted and a repeated finish is a no-op; an expired one is kept for a late settle', async () => {
    const keyPrefix = fresh('records');
    const store = new RedisBudgetStore(clients[0], { keyPrefix, clock });
    const b = base(keyPrefix);
    const c = { key: 'records', unit: 'tokens' as const, limit: 10, expiresAt: Date.now() + 600_000 };
    const tokens = (n: number) => ({ costMicro: 0, tokens: n, requests: 1 });
    const held = async () => (await store.snapshot([c]))[0];
    await store.reserve({ reservationId: 'kept', counters: [{ ...c, amount: 4 }], ttlMs: 60_000 });
    await store.reserve({ reservationId: 'late', counters: [{ ...c, amount: 3 }], ttlMs: 1_000 });
    await store.reserve({ reservationId: 'gone', counters: [{ ...c, amount: 1 }], ttlMs: 60_000 });
    await Promise.all([store.settle('kept', tokens(2)), store.release('gone')]);
    expect(await held()).toMatchObject({ used: 2, reserved: 3 });
    expect(await clients[0].exists(`${b}r:kept`, `${b}r:gone`)).toBe(0);
    expect(await clients[0].zrange(`${b}pending`, '0', '-1')).toEqual(['late']);
    // Again, in every combination, and for an id never seen: nothing changes.
    await Promise.all([
      store.settle('kept', tokens(5)),
      store.release('kept'),
      store.settle('gone', tokens(5)),
      store.release('gone'),
      store.settle('never', tokens(5)),
    ]);
    await store.settle('kept', tokens(5));
    await store.release('gone');
    expect(await held()).toMatchObject({ used: 2, reserved: 3 });
    expect(await clients[0].exists(`${b}r:kept`, `${b}r:gone`, `${b}r:never`)).toBe(0);
    // 'late' expires: given back, its record kept (state expired) for as long as a late settle may come.
    now += 2_000;
    await expect(store.expireStale(now)).resolves.toBe(1);
    expect(await held()).toMatchObject({ used: 2, reserved: 0 });
    const record = JSON.parse((await clients[0].get(`${b}r:late`))!) as { s: string };
    expect(record.s).toBe('expired');
    expect(await clients[0].pttl(`${b}r:late`)).toBeGreaterThan(TOMBSTONE_MS - 60_000);
    // The late settle charges its usage (nothing is given back twice), once; then the record is gone.
    await Promise.all([store.settle('late', tokens(6)), store.settle('late', tokens(6)), store.release('late')]);
    expect(await held()).toMatchObject({ used: 8, reserved: 0 });
    expect(await clients[0].exists(`${b}r:late`)).toBe(0);
    await store.settle('late', tokens(6));
    expect(await held()).toMatchObject({ used: 8, reserved: 0 });
    expect(await clients[0].zcard(`${b}pending`)).toBe(0);
  });

  it('a batch mixing settle and release of the same id applies the first of them only, once', async () => {
    const keyPrefix = fresh('mixed');
    const store = new RedisBudgetStore(clients[0], { keyPrefix, clock });
    const b = base(keyPrefix);
    const expiresAt = Date.now() + 600_000;
    const c = { key: 'mixed', unit: 'tokens' as const, limit: 100, expiresAt };
    const ids = ['m1', 'm2', 'm3', 'm4'];
    await Promise.all(
      ids.map((id) => store.reserve({ reservationId: id, counters: [{ ...c, amount: 10 }], ttlMs: 1_000 })),
    );
    now += 2_000; // m4 expires (given back) before its late settle
    await expect(store.expireStale(now)).resolves.toBe(4);
    await Promise.all(
      ids.map((id) => store.reserve({ reservationId: `${id}-b`, counters: [{ ...c, amount: 10 }], ttlMs: 60_000 })),
    );
    const charge = (tokens: number) => ({ costMicro: 0, tokens, requests: 1 });
    await Promise.all([
      store.release('m1-b'),
      store.settle('m1-b', charge(7)), // after the release: nothing
      store.settle('m2-b', charge(3)),
      store.release('m2-b'), // after the settle: nothing
      store.settle('m2-b', charge(50)),
      store.settle('m3-b', charge(0)),
      store.settle('m4', charge(4)), // expired: charged, nothing given back twice
      store.settle('m4', charge(4)),
      store.release('m4-b'),
      store.release('nobody'),
    ]);
    expect(await store.snapshot([c])).toEqual([{ key: 'mixed', limit: 100, used: 7, reserved: 0 }]);
    expect(await clients[0].exists(...[...ids.map((id) => `${id}-b`), 'm4'].map((id) => `${b}r:${id}`))).toBe(0);
    for (const id of ['m1', 'm2', 'm3']) {
      expect((JSON.parse((await clients[0].get(`${b}r:${id}`))!) as { s: string }).s).toBe('expired');
    }
  });

  it('amount 0 and counters created by a batch: every created key gets its expiry, nothing goes negative', async () => {
    const keyPrefix = fresh('zero');
    const store = new RedisBudgetStore(clients[0], { keyPrefix, clock });
    const b = base(keyPrefix);
    const expiresAt = Date.now() + 600_000;
    const keys = ['z1', 'z2', 'z3'].map((key) => ({ key, unit: 'tokens' as const, limit: 0, expiresAt }));
    // z-0 names z1 twice; z-1 and z-2 their own counter.
    const results = await Promise.all(
      keys.map((k, i) =>
        store.reserve({
          reservationId: `z-${i}`,
          counters:
            i === 0
              ? [
                  { ...k, amount: 0 },
                  { ...k, amount: 0 },
                ]
              : [{ ...k, amount: 0 }],
          ttlMs: 1,
        }),
      ),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    for (const k of keys) {
      expect(await clients[0].hget(`${b}c:${k.key}`, 'used')).toBe('0');
      expect(await clients[0].pttl(`${b}c:${k.key}`)).toBeGreaterThan(GRACE_MS);
    }
    // Evicted, then settled with a charge: the counter comes back with its expiry; with no charge it stays away.
    await clients[0].del(`${b}c:z1`, `${b}c:z2`);
    await Promise.all([
      store.settle('z-0', { costMicro: 0, tokens: 0, requests: 1 }),
      store.settle('z-1', { costMicro: 0, tokens: 5, requests: 1 }),
    ]);
    expect(await clients[0].exists(`${b}c:z1`)).toBe(0);
    expect(await clients[0].hgetall(`${b}c:z2`)).toEqual({ used: '5' });
    expect(await clients[0].pttl(`${b}c:z2`)).toBeGreaterThan(GRACE_MS);
    now += 10;
    await expect(store.expireStale(now)).resolves.toBe(1);
    expect(await store.snapshot(keys)).toEqual([
      { key: 'z1', limit: 0, used: 0, reserved: 0 },
      { key: 'z2', limit: 0, used: 5, reserved: 0 },
      { key: 'z3', limit: 0, used: 0, reserved: 0 },
    ]);
  });

  it('MAX_SAFE_INTEGER limits (shadow mode) and large sums stay exact within a batch', async () => {
    const keyPrefix = fresh('big');
    const store = new RedisBudgetStore(clients[0], { keyPrefix, clock });
    const b = base(keyPrefix);
    const c = { key: 'big', unit: 'cost' as const, limit: M, expiresAt: Date.now() + 600_000 };
    // Replies stay below M - 60: ioredis 6.0.0 decodes integer replies within ~50 of 2^53 one or two off
    // (`n * 10 + byte - 48` passes 2^53 before the subtraction), whichever script answers.
    const results = await Promise.all(
      [M - 1_000, 500, 501, 400, 0].map((amount, i) =>
        store.reserve({ reservationId: `big-${i}`, counters: [{ ...c, amount }], ttlMs: 60_000 }),
      ),
    );
    expect(results).toEqual([
      { ok: true, counters: [{ key: 'big', limit: M, used: 0, reserved: M - 1_000 }] },
      { ok: true, counters: [{ key: 'big', limit: M, used: 0, reserved: M - 500 }] },
      { ok: false, failedIndex: 0, failed: { key: 'big', limit: M, used: 0, reserved: M - 500 } },
      { ok: true, counters: [{ key: 'big', limit: M, used: 0, reserved: M - 100 }] },
      { ok: true, counters: [{ key: 'big', limit: M, used: 0, reserved: M - 100 }] },
    ]);
    expect(await clients[0].hget(`${b}c:big`, 'reserved')).toBe(String(M - 100));
    // One more than the limit allows, alone in its batch: refused.
    await expect(
      store.reserve({ reservationId: 'big-5', counters: [{ ...c, amount: 101 }], ttlMs: 60_000 }),
    ).resolves.toMatchObject({ ok: false });
    await Promise.all([
      store.settle('big-0', { costMicro: 4_503_599_627_370_495, tokens: 0, requests: 1 }),
      store.settle('big-1', { costMicro: 4_503_599_627_370_496, tokens: 0, requests: 1 }),
      store.settle('big-4', { costMicro: 0, tokens: 0, requests: 1 }),
      store.release('big-3'),
    ]);
    expect(await clients[0].hmget(`${b}c:big`, 'used', 'reserved')).toEqual([String(M), '0']);
  });

  describe('the current store at its edges', () => {
    const expiresAt = Date.now() + 600_000;
    const make = (label: string, maxBatch?: number) => {
      const keyPrefix = fresh(label);
      return { keyPrefix, b: base(keyPrefix), store: new RedisBudgetStore(clients[0], { keyPrefix, clock, maxBatch }) };
    };

    it('a counter named twice in one reservation holds both amounts, batched or not', async () => {
      const c = { key: 'twice', unit: 'requests' as const, limit: 10, expiresAt };
      const calls: ReserveRequest[] = [
        {
          reservationId: 'twice-1',
          counters: [
            { ...c, amount: 6 },
            { ...c, amount: 6 },
          ],
          ttlMs: 60_000,
        },
        {
          reservationId: 'twice-2',
          counters: [
            { ...c, amount: 3 },
            { ...c, amount: 4 },
          ],
          ttlMs: 60_000,
        },
        {
          reservationId: 'twice-3',
          counters: [
            { ...c, amount: 2 },
            { ...c, amount: 2 },
          ],
          ttlMs: 60_000,
        },
        {
          reservationId: 'twice-4',
          counters: [
            { ...c, amount: 0 },
            { ...c, amount: 3 },
          ],
          ttlMs: 60_000,
        },
      ];
      const expected = [
        { ok: false, failedIndex: 1, failed: { key: 'twice', limit: 10, used: 0, reserved: 0 } },
        {
          ok: true,
          counters: [
            { key: 'twice', limit: 10, used: 0, reserved: 3 },
            { key: 'twice', limit: 10, used: 0, reserved: 7 },
          ],
        },
        { ok: false, failedIndex: 1, failed: { key: 'twice', limit: 10, used: 0, reserved: 7 } },
        {
          ok: true,
          counters: [
            { key: 'twice', limit: 10, used: 0, reserved: 7 },
            { key: 'twice', limit: 10, used: 0, reserved: 10 },
          ],
        },
      ];
      // One turn (one batch), then one call at a time.
      const batched = make('twice-batched');
      expect(await Promise.all(calls.map((call) => batched.store.reserve(call)))).toEqual(expected);
      const alone = make('twice-alone', 1);
      const answers = [];
      for (const call of calls) answers.push(await alone.store.reserve(call));
      expect(answers).toEqual(expected);
      for (const { store, b } of [batched, alone]) {
        expect(await store.snapshot([c])).toEqual([{ key: 'twice', limit: 10, used: 0, reserved: 10 }]);
        expect(await clients[0].exists(`${b}r:twice-1`, `${b}r:twice-3`)).toBe(0);
        // Released, each gives back both of its amounts.
        await Promise.all([store.release('twice-2'), store.release('twice-4')]);
        expect(await store.snapshot([c])).toEqual([{ key: 'twice', limit: 10, used: 0, reserved: 0 }]);
      }
    });

    it('a counter whose window ended (grace included): a batch answers as calls one at a time do', async () => {
      const ended = Date.now() - 2 * GRACE_MS;
      const c = { key: 'ended', unit: 'requests' as const, limit: 2, amount: 1, expiresAt: ended };
      const live = { key: 'live', unit: 'requests' as const, limit: 10, amount: 1, expiresAt };
      const calls: ReserveRequest[] = [
        ...[0, 1, 2].map((i) => ({ reservationId: `ended-${i}`, counters: [c], ttlMs: 60_000 })),
        { reservationId: 'ended-3', counters: [live, { ...c, amount: 2 }, c], ttlMs: 60_000 },
        { reservationId: 'ended-4', counters: [{ ...c, amount: 3 }], ttlMs: 60_000 },
      ];
      const replies = async (maxBatch: number) => {
        const { store, b } = make(`ended-${maxBatch}`, maxBatch);
        const answers = [];
        if (maxBatch === 1) for (const call of calls) answers.push(await store.reserve(call));
        else answers.push(...(await Promise.all(calls.map((call) => store.reserve(call)))));
        const [held] = await store.snapshot([live]);
        return { answers, endedKey: await clients[0].exists(`${b}c:ended`), live: held.reserved };
      };
      const alone = await replies(1);
      // The counter is forgotten at once (its expiry is past), so every call finds it empty; 2 + 1 is past its limit
      // within one reservation.
      expect(alone.answers.map((r) => r.ok)).toEqual([true, true, true, false, false]);
      expect(alone.answers[0]).toEqual({ ok: true, counters: [{ key: 'ended', limit: 2, used: 0, reserved: 1 }] });
      expect({ endedKey: alone.endedKey, live: alone.live }).toEqual({ endedKey: 0, live: 0 });
      expect(await replies(64)).toEqual(alone);
      expect(await replies(2)).toEqual(alone);
    });

    it('a reserve refused as malformed reserved nothing that a later release could give back', async () => {
      const { store } = make('orphan');
      const c = { key: 'orphan', unit: 'requests' as const, limit: 2, amount: 1, expiresAt };
      // Someone holds 1 of 2.
      await expect(store.reserve({ reservationId: 'holder', counters: [c], ttlMs: 60_000 })).resolves.toMatchObject({
        ok: true,
      });
      // A shares its batch with a call the store refuses (a NaN limit); a caller may release A afterwards.
      const [a, refused] = await Promise.all([
        outcome(store.reserve({ reservationId: 'orphan-a', counters: [c], ttlMs: 60_000 })),
        outcome(
          store.reserve({
            reservationId: 'orphan-b',
            counters: [c, { ...c, key: 'orphan-other', limit: Number.NaN }],
            ttlMs: 60_000,
          }),
        ),
      ]);
      expect({ a: admitted(a), refused }).toEqual({ a: true, refused: 'rejected TypeError' });
      await store.release('orphan-a');
      await store.release('orphan-b');
      // With the holder still holding 1 of 2, one more call fits, not two.
      const later = [];
      for (const id of ['later-1', 'later-2'])
        later.push((await store.reserve({ reservationId: id, counters: [c], ttlMs: 60_000 })).ok);
      expect(later).toEqual([true, false]);
    });

    describe('a malformed call is refused alone (TypeError) and leaves nothing behind', () => {
      const bad = (over: Partial<ReserveCounter>, request: Partial<ReserveRequest> = {}) => ({ over, request });
      const cases: Array<[string, { over: Partial<ReserveCounter>; request: Partial<ReserveRequest> }]> = [
        ['a fractional amount (1.5)', bad({ amount: 1.5 })],
        ['a negative amount', bad({ amount: -1 })],
        ['an amount past MAX_SAFE_INTEGER', bad({ amount: 2 ** 53 })],
        ['a NaN amount', bad({ amount: Number.NaN })],
        ['a NaN limit', bad({ limit: Number.NaN })],
        ['a reservation id with a lone surrogate', bad({}, { reservationId: 'bad-\ud800' })],
        ['a counter key with a lone surrogate', bad({ key: 'bad-\udc00' })],
        ['a non-finite ttl', bad({}, { ttlMs: Number.POSITIVE_INFINITY })],
        ['a NaN ttl', bad({}, { ttlMs: Number.NaN })],
        ['a non-finite window end', bad({ expiresAt: Number.POSITIVE_INFINITY })],
        ['a unit that is not a string', bad({ unit: 7 as unknown as ReserveCounter['unit'] })],
        ['a unit with a lone surrogate', bad({ unit: 'tok\ud800' as ReserveCounter['unit'] })],
      ];

      it.each(cases)('%s', async (_, { over, request }) => {
        const { b, store } = make('malformed');
        const good = { key: 'good', unit: 'tokens' as const, limit: 10, amount: 2, expiresAt };
        const shared = { key: 'shared', unit: 'tokens' as const, limit: 10, amount: 1, expiresAt };
        const badRequest: ReserveRequest = {
          reservationId: 'bad',
          // A well-formed counter first, then the malformed one: neither is reserved.
          counters: [shared, { ...shared, key: 'bad-counter', ...over }],
          ttlMs: 60_000,
          ...request,
        };
        const outcomes = await Promise.all([
          outcome(store.reserve({ reservationId: 'good-1', counters: [good, shared], ttlMs: 60_000 })),
          outcome(store.reserve(badRequest)),
          outcome(store.reserve({ reservationId: 'good-2', counters: [good, shared], ttlMs: 60_000 })),
        ]);
        expect(outcomes).toEqual([
          `ok ${JSON.stringify({
            ok: true,
            counters: [
              { key: 'good', limit: 10, used: 0, reserved: 2 },
              { key: 'shared', limit: 10, used: 0, reserved: 1 },
            ],
          })}`,
          'rejected TypeError',
          `ok ${JSON.stringify({
            ok: true,
            counters: [
              { key: 'good', limit: 10, used: 0, reserved: 4 },
              { key: 'shared', limit: 10, used: 0, reserved: 2 },
            ],
          })}`,
        ]);
        expect((await clients[0].zrange(`${b}pending`, '0', '-1')).sort()).toEqual(['good-1', 'good-2']);
        expect(await clients[0].exists(`${b}c:bad-counter`, `${b}c:${over.key ?? 'bad-counter'}`)).toBe(0);
        expect(await clients[0].exists(`${b}r:bad`, `${b}r:${request.reservationId ?? 'bad'}`)).toBe(0);
        // A release of the refused call finds nothing; the good ones give back all they hold.
        await Promise.all([store.release('good-1'), store.release('bad'), store.release('good-2')]);
        expect(await store.snapshot([good, shared])).toEqual([
          { key: 'good', limit: 10, used: 0, reserved: 0 },
          { key: 'shared', limit: 10, used: 0, reserved: 0 },
        ]);
        expect(await clients[0].zcard(`${b}pending`)).toBe(0);
      });

      it('a settle or release with a lone-surrogate id beside good settles: only it is refused', async () => {
        const { b, store } = make('surrogate-finish');
        const c = { key: 'sf', unit: 'requests' as const, limit: 5, amount: 1, expiresAt };
        await Promise.all(
          ['sf-1', 'sf-2'].map((id) => store.reserve({ reservationId: id, counters: [c], ttlMs: 60_000 })),
        );
        const charge = { costMicro: 0, tokens: 0, requests: 1 };
        const outcomes = await Promise.all([
          outcome(store.settle('sf-1', charge)),
          outcome(store.settle('sf-\udc00', charge)),
          outcome(store.release('\ud800')),
          outcome(store.settle('sf-2', charge)),
        ]);
        expect(outcomes).toEqual(['ok null', 'rejected TypeError', 'rejected TypeError', 'ok null']);
        expect(await store.snapshot([c])).toEqual([{ key: 'sf', limit: 5, used: 2, reserved: 0 }]);
        expect(await clients[0].zcard(`${b}pending`)).toBe(0);
      });
    });

    it('an infinite limit is no limit: admitted beside other calls, and given back', async () => {
      const { b, store } = make('infinite');
      const inf = { key: 'inf', unit: 'tokens' as const, limit: Infinity, expiresAt };
      const good = { key: 'inf-good', unit: 'tokens' as const, limit: 5, amount: 1, expiresAt };
      const outcomes = await Promise.all([
        store.reserve({ reservationId: 'inf-good', counters: [good], ttlMs: 1_000 }),
        store.reserve({ reservationId: 'inf-1', counters: [{ ...inf, amount: 7 }], ttlMs: 1_000 }),
        store.reserve({ reservationId: 'inf-2', counters: [{ ...inf, amount: M - 1_000 }, good], ttlMs: 1_000 }),
      ]);
      expect(outcomes).toEqual([
        { ok: true, counters: [{ key: 'inf-good', limit: 5, used: 0, reserved: 1 }] },
        { ok: true, counters: [{ key: 'inf', limit: Infinity, used: 0, reserved: 7 }] },
        {
          ok: true,
          counters: [
            { key: 'inf', limit: Infinity, used: 0, reserved: M - 993 },
            { key: 'inf-good', limit: 5, used: 0, reserved: 2 },
          ],
        },
      ]);
      expect(await clients[0].pttl(`${b}c:inf`)).toBeGreaterThan(GRACE_MS);
      await store.release('inf-1');
      now += 2_000;
      await expect(store.expireStale(now)).resolves.toBe(2);
      expect(await store.snapshot([inf, good])).toEqual([
        { key: 'inf', limit: Infinity, used: 0, reserved: 0 },
        { key: 'inf-good', limit: 5, used: 0, reserved: 0 },
      ]);
    });

    it('a charge is never refused: 1e20 tokens are charged as MAX_SAFE_INTEGER beside a good settle', async () => {
      const { b, store } = make('huge');
      const shared = { key: 'huge', unit: 'tokens' as const, limit: 1_000, amount: 2, expiresAt };
      const mine = (id: string) => ({ key: `huge-${id}`, unit: 'tokens' as const, limit: 1_000, amount: 1, expiresAt });
      await Promise.all(
        ['good', 'bad'].map((id) =>
          store.reserve({ reservationId: `huge-${id}`, counters: [shared, mine(id)], ttlMs: 60_000 }),
        ),
      );
      const outcomes = await Promise.all([
        outcome(store.settle('huge-good', { costMicro: 0, tokens: 3, requests: 1 })),
        outcome(store.settle('huge-bad', { costMicro: 0, tokens: 1e20, requests: 1 })),
      ]);
      expect(outcomes).toEqual(['ok null', 'ok null']);
      const fields = async (key: string) => clients[0].hmget(`${b}c:${key}`, 'used', 'reserved');
      expect(await fields('huge-good')).toEqual(['3', '0']);
      expect(await fields('huge-bad')).toEqual([String(M), '0']);
      expect(await fields('huge')).toEqual([String(BigInt(M) + 3n), '0']);
      // The counter it landed on refuses what a limit refuses, and still counts.
      await expect(
        store.reserve({ reservationId: 'huge-after', counters: [shared], ttlMs: 60_000 }),
      ).resolves.toMatchObject({ ok: false, failedIndex: 0 });
    });

    it('charges are sent as whole numbers: rounded up, negative or NaN as 0, infinite as MAX_SAFE_INTEGER', async () => {
      const { b, store } = make('charges');
      const values = [2.2, 0.0001, -5, Number.NaN, Infinity, -Infinity, 1e300, M + 2];
      const key = (i: number) => `charge-${i}`;
      await Promise.all(
        values.map((_, i) =>
          store.reserve({
            reservationId: key(i),
            counters: [{ key: key(i), unit: 'cost', limit: 10, amount: 1, expiresAt }],
            ttlMs: 60_000,
          }),
        ),
      );
      const outcomes = await Promise.all(
        values.map((costMicro, i) => outcome(store.settle(key(i), { costMicro, tokens: 0, requests: 0 }))),
      );
      expect(outcomes).toEqual(values.map(() => 'ok null'));
      const used = await Promise.all(values.map((_, i) => clients[0].hget(`${b}c:${key(i)}`, 'used')));
      expect(used).toEqual(['3', '1', '0', '0', String(M), '0', String(M), String(M)]);
      expect(await clients[0].zcard(`${b}pending`)).toBe(0);
    });

    it('a counter charged past HINCRBY range in one batch stops far below it, and keeps working', async () => {
      const { b, store } = make('cap', 2_000);
      const c = { key: 'cap', unit: 'tokens' as const, limit: Infinity, amount: 1, expiresAt };
      const ids = Array.from({ length: 1_100 }, (_, i) => `cap-${i}`);
      // 1,100 charges of MAX_SAFE_INTEGER sum past 2^63 - 1.
      const round = async (tag: string) => {
        const reserved = await Promise.all(
          ids.map((id) => store.reserve({ reservationId: `${id}${tag}`, counters: [c], ttlMs: 60_000 })),
        );
        expect(reserved.every((r) => r.ok)).toBe(true);
        const outcomes = await Promise.all(
          ids.map((id) => outcome(store.settle(`${id}${tag}`, { costMicro: 0, tokens: 1e20, requests: 1 }))),
        );
        expect(outcomes.filter((o) => o !== 'ok null')).toEqual([]);
        const [used, left] = await clients[0].hmget(`${b}c:cap`, 'used', 'reserved');
        return { used: BigInt(used!), left };
      };
      const first = await round('');
      expect(first.left).toBe('0');
      expect(first.used >= 100n * BigInt(M) && first.used <= INT64_MAX).toBe(true);
      // Again: no overflow, nothing refused, the counter not lowered.
      const second = await round('-again');
      expect(second.left).toBe('0');
      expect(second.used >= first.used && second.used <= INT64_MAX).toBe(true);
      expect(await clients[0].pttl(`${b}c:cap`)).toBeGreaterThan(GRACE_MS);
    });

    it('stale records the scripts cannot read block neither reserves, expiry nor settles', async () => {
      const { b, store } = make('poison');
      const c = { key: 'after-poison', unit: 'requests' as const, limit: 5, amount: 1, expiresAt };
      // Left behind by another writer (or an older version): a lone surrogate the JSON decoder refuses, text that
      // is not JSON, JSON that is not a reservation.
      const poisons = {
        'poison-surrogate': `{"s":"reserved","c":[{"k":"poison-\\udc00","a":1,"u":"requests","e":${expiresAt}}]}`,
        'poison-text': 'not json {',
        'poison-shape': '{"s":"reserved"}',
        'poison-string': '"reserved"',
      };
      for (const [id, raw] of Object.entries(poisons)) {
        await clients[0].set(`${b}r:${id}`, raw, 'PX', 600_000);
        await clients[0].zadd(`${b}pending`, now - 1_000, id);
      }
      await expect(
        outcome(store.reserve({ reservationId: 'after-poison', counters: [c], ttlMs: 1_000 })),
      ).resolves.toMatch(/^ok \{"ok":true/);
      // The reserve's expiry pass took them out of the pending set.
      expect(await clients[0].zrange(`${b}pending`, '0', '-1')).toEqual(['after-poison']);
      for (const id of Object.keys(poisons)) await clients[0].zadd(`${b}pending`, now - 1_000, id);
      now += 2_000;
      await expect(store.expireStale(now)).resolves.toBe(1);
      expect(await clients[0].zcard(`${b}pending`)).toBe(0);
      // A settle of one of them beside a good settle: both answered, the good one's charge lands.
      await store.reserve({ reservationId: 'good', counters: [c], ttlMs: 60_000 });
      const outcomes = await Promise.all([
        outcome(store.settle('poison-surrogate', { costMicro: 0, tokens: 0, requests: 1 })),
        outcome(store.settle('good', { costMicro: 0, tokens: 0, requests: 1 })),
        outcome(store.release('poison-text')),
      ]);
      expect(outcomes).toEqual(['ok null', 'ok null', 'ok null']);
      expect(await store.snapshot([c])).toEqual([{ key: 'after-poison', limit: 5, used: 1, reserved: 0 }]);
    });

    it('stale records shaped as a reservation but with malformed counter entries are skipped as well', async () => {
      const { b, store } = make('malformed-record');
      const c = { key: 'after-shape', unit: 'requests' as const, limit: 5, amount: 1, expiresAt };
      await store.reserve({ reservationId: 'holder', counters: [c], ttlMs: 600_000 });
      // Valid JSON with a list of counters, as a record of this store, but not one it wrote: an entry without its
      // amount (on a counter that exists), an entry that is not an object, a window end that is not a number.
      const malformed = {
        'shape-no-amount': `{"s":"reserved","c":[{"k":"after-shape","u":"requests","e":${expiresAt}}]}`,
        'shape-number': '{"s":"reserved","c":[1]}',
        'shape-text-end': '{"s":"reserved","c":[{"k":"after-shape","a":1,"u":"requests","e":"soon"}]}',
      };
      for (const [id, raw] of Object.entries(malformed)) {
        await clients[0].set(`${b}r:${id}`, raw, 'PX', 600_000);
        await clients[0].zadd(`${b}pending`, now - 1_000, id);
      }
      const reserves = [];
      for (const id of ['good-1', 'good-2', 'good-3'])
        reserves.push(await outcome(store.reserve({ reservationId: id, counters: [c], ttlMs: 600_000 })));
      const pending = (await clients[0].zrange(`${b}pending`, '0', '-1')).sort();
      const charge = { costMicro: 0, tokens: 0, requests: 1 };
      const settles = await Promise.all([
        ...Object.keys(malformed).map((id) => outcome(store.settle(id, charge))),
        outcome(store.settle('good-1', charge)),
      ]);
      const [held] = await store.snapshot([c]);
      expect({ reserves: reserves.map(admitted), pending, settles, used: held.used }).toEqual({
        reserves: [true, true, true],
        pending: ['good-1', 'good-2', 'good-3', 'holder'],
        settles: ['ok null', 'ok null', 'ok null', 'ok null'],
        used: 1,
      });
    });

    describe('batches past the size of a Lua unpack (maxBatch is not bounded)', () => {
      it('4,001 reserves in one turn with maxBatch 5,000: all admitted, given back by expiry', async () => {
        const { store } = make('wide', 5_000);
        const c = { key: 'wide', unit: 'requests' as const, limit: 1_000_000, amount: 1, expiresAt };
        const results = await Promise.all(
          Array.from({ length: 4_001 }, (_, i) =>
            store.reserve({ reservationId: `wide-${i}`, counters: [c], ttlMs: 1_000 }),
          ),
        );
        // Answered in order: each one sees those before it.
        expect(results.filter((r, i) => !(r.ok && r.counters[0].reserved === i + 1)).length).toBe(0);
        const [before] = await store.snapshot([c]);
        now += 2_000;
        await expect(store.expireStale(now)).resolves.toBe(4_001);
        const [after] = await store.snapshot([c]);
        expect({ heldBefore: before.reserved, heldAfter: after.reserved }).toEqual({ heldBefore: 4_001, heldAfter: 0 });
      });

      it('4,001 reserves, then 8,001 releases in one turn with maxBatch 10,000: all answered and applied', async () => {
        const { b, store } = make('wide-finish', 10_000);
        const c = { key: 'wide-finish', unit: 'requests' as const, limit: 1_000_000, amount: 1, expiresAt };
        const ids = Array.from({ length: 4_001 }, (_, i) => `wf-${i}`);
        const results = await Promise.all(
          ids.map((id) => store.reserve({ reservationId: id, counters: [c], ttlMs: 60_000 })),
        );
        expect(results.every((r) => r.ok)).toBe(true);
        expect(await clients[0].zcard(`${b}pending`)).toBe(4_001);
        // Each real id released, and 4,000 unknown ones.
        const outcomes = await Promise.all([
          ...ids.map((id) => outcome(store.release(id))),
          ...Array.from({ length: 4_000 }, (_, i) => outcome(store.release(`unknown-${i}`))),
        ]);
        expect(outcomes.length).toBe(8_001);
        expect(outcomes.filter((o) => o !== 'ok null')).toEqual([]);
        expect(await store.snapshot([c])).toEqual([{ key: 'wide-finish', limit: 1_000_000, used: 0, reserved: 0 }]);
        expect(await clients[0].zcard(`${b}pending`)).toBe(0);
        expect(await clients[0].exists(...ids.map((id) => `${b}r:${id}`))).toBe(0);
      });
    });
  });
});
