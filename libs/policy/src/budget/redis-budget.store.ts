import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type {
  BudgetCounterRef,
  BudgetCounterState,
  BudgetStore,
  ReserveRequest,
  ReserveResult,
} from './budget-store.interface';
import type { BudgetCharge } from './budget.types';
import { MicroBatch } from '../common/micro-batch';
import { EXPIRE_SCRIPT, FINISH_SCRIPT, RESERVE_SCRIPT } from './redis-budget.scripts';

export interface RedisBudgetStoreOptions {
  /** Prefix of every key (default `nap:budget:`). */
  keyPrefix?: string;
  /** Hash tag shared by every key, so the multi-key scripts are valid on Redis Cluster (default `budget`). */
  hashTag?: string;
  /** How long a counter outlives its window, in ms (default 60,000), so late settlements still land. */
  counterGraceMs?: number;
  /**
   * How long a reservation's record outlives its ttl, in ms (default one day): an expired reservation settled late
   * still charges its actual usage. A settled or released reservation's record is deleted at once (a repeated settle
   * or release then finds nothing and does nothing).
   */
  tombstoneMs?: number;
  /** Whether `close()` quits the client (default false: the client belongs to whoever passed it in). */
  ownsClient?: boolean;
  /** Clock in epoch ms (default `Date.now`). Every instance sharing the counters should agree on it. */
  clock?: () => number;
  /**
   * Most reservations (or settlements) sent in one script call (default 64). Calls made in the same turn of the
   * event loop share a round trip; 1 sends every call on its own.
   */
  maxBatch?: number;
}

/** The few commands the store sends; both `Redis` and `Cluster` of ioredis provide them. */
interface ScriptClient {
  evalsha(sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  script(subcommand: 'LOAD', source: string): Promise<unknown>;
  eval(source: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  hmget(key: string, ...fields: string[]): Promise<Array<string | null>>;
  quit(): Promise<unknown>;
}

class LoadedScript {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** EVALSHA, loading the script once when the server answers NOSCRIPT (first use, restart, failover). */
  async run(client: ScriptClient, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      await client.script('LOAD', this.source);
      try {
        return await client.evalsha(this.sha, keys.length, ...keys, ...args);
      } catch (retryError) {
        // On a cluster the reload may reach another node than the keys' (e.g. a replica just promoted): EVAL runs
        // the script there and caches it for the next EVALSHA.
        if (!(retryError instanceof Error) || !retryError.message.startsWith('NOSCRIPT')) throw retryError;
        return client.eval(this.source, keys.length, ...keys, ...args);
      }
    }
  }
}

interface FinishItem {
  reservationId: string;
  mode: 'settle' | 'release';
  actual: BudgetCharge;
}

/** A lone UTF-16 surrogate: JSON would carry it as an escape the scripts' JSON decoder refuses. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function checkText(value: unknown, name: string): void {
  if (typeof value !== 'string' || LONE_SURROGATE.test(value))
    throw new TypeError(`${name} must be a well-formed string`);
}

function checkFinite(value: unknown, name: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`${name} must be a finite number`);
}

/**
 * The request as the reserve script takes it: every value checked, times rounded up to whole milliseconds, an
 * infinite limit ("no limit") as the largest number JSON can carry.
 */
function checkedReserve(request: ReserveRequest): ReserveRequest {
  checkText(request.reservationId, 'reservationId');
  checkFinite(request.ttlMs, 'ttlMs');
  return {
    ...request,
    // Whole milliseconds: Redis takes expiries as integers.
    ttlMs: Math.max(0, Math.ceil(request.ttlMs)),
    counters: request.counters.map((c) => {
      checkText(c.key, 'counter key');
      // The record must stay one the scripts can read back, or its hold could never be given back.
      checkText(c.unit, 'unit');
      checkFinite(c.expiresAt, 'expiresAt');
      const expiresAt = Math.ceil(c.expiresAt);
      if (!Number.isSafeInteger(c.amount) || c.amount < 0)
        throw new TypeError('amount must be a whole number from 0 to Number.MAX_SAFE_INTEGER');
      if (typeof c.limit !== 'number' || Number.isNaN(c.limit)) throw new TypeError('limit must be a number');
      const limit = Number.isFinite(c.limit) ? c.limit : c.limit > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE;
      return limit === c.limit && expiresAt === c.expiresAt ? c : { ...c, limit, expiresAt };
    }),
  };
}

/** An amount to charge as the finish script takes it (see {@link RedisBudgetStore.finish}). */
function chargeable(value: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) return 0;
  return Math.min(Math.ceil(value), Number.MAX_SAFE_INTEGER);
}

/** A reservation's reply of the reserve script, read against the counters it asked for. */
function reserveResult(counters: readonly ReserveRequest['counters'][number][], raw: unknown[]): ReserveResult {
  const reply = raw.map(Number);
  if (reply[0] !== 1) {
    const index = reply[1] - 1;
    const failed = counters[index];
    return {
      ok: false,
      failedIndex: index,
      failed: { key: failed.key, limit: failed.limit, used: reply[2], reserved: reply[3] },
    };
  }
  return {
    ok: true,
    counters: counters.map((c, i) => ({
      key: c.key,
      limit: c.limit,
      used: reply[1 + i * 2],
      reserved: reply[2 + i * 2],
    })),
  };
}

const reserveScript = new LoadedScript(RESERVE_SCRIPT);
const finishScript = new LoadedScript(FINISH_SCRIPT);
const expireScript = new LoadedScript(EXPIRE_SCRIPT);

/**
 * Budget counters in Redis. One script reserves across every counter in one round trip and, in the same script,
 * gives back reservations whose ttl passed (so a crashed instance's reservations come back at the next reserve).
 * Settle and release are scripts too, idempotent: a finished reservation's record is deleted, so a repeated call
 * finds nothing to do. Calls made in the same turn of the event loop go to Redis together, in one script call per
 * kind (`maxBatch`), each still answered only once Redis has applied it; the script reads and writes each counter of
 * a batch once, however many of its reservations share it.
 */
export class RedisBudgetStore implements BudgetStore {
  private readonly client: ScriptClient;
  private readonly base: string;
  private readonly pending: string;
  private readonly graceMs: number;
  private readonly tombstoneMs: number;
  private readonly clock: () => number;
  private readonly ownsClient: boolean;
  private readonly reserves: MicroBatch<ReserveRequest, unknown[]>;
  private readonly finishes: MicroBatch<FinishItem, unknown>;

  constructor(client: Redis | Cluster, options: RedisBudgetStoreOptions = {}) {
    this.client = client;
    this.base = `${options.keyPrefix ?? 'nap:budget:'}{${options.hashTag ?? 'budget'}}:`;
    this.pending = `${this.base}pending`;
    // Whole milliseconds: Redis takes expiries as integers.
    this.graceMs = Math.max(0, Math.ceil(options.counterGraceMs ?? 60_000));
    this.tombstoneMs = Math.max(0, Math.ceil(options.tombstoneMs ?? 86_400_000));
    this.clock = options.clock ?? Date.now;
    this.ownsClient = options.ownsClient ?? false;
    this.reserves = new MicroBatch((items) => this.sendReserves(items), options.maxBatch);
    this.finishes = new MicroBatch((items) => this.sendFinishes(items), options.maxBatch);
  }

  /**
   * @throws TypeError when the request holds a value the scripts cannot take (an id, key or unit that is not a
   * well-formed UTF-16 string, a limit that is NaN, an amount that is not a whole number from 0 to
   * `Number.MAX_SAFE_INTEGER`, a ttl or window end that is not finite): that call fails alone, before it joins a batch.
   */
  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    const { counters } = request;
    return reserveResult(counters, await this.reserves.add(checkedReserve(request)));
  }

  async settle(reservationId: string, actual: BudgetCharge): Promise<void> {
    await this.finish(reservationId, 'settle', actual);
  }

  async release(reservationId: string): Promise<void> {
    await this.finish(reservationId, 'release', { costMicro: 0, tokens: 0, requests: 0 });
  }

  async snapshot(counters: BudgetCounterRef[]): Promise<BudgetCounterState[]> {
    return Promise.all(
      counters.map(async (c) => {
        const [used, reserved] = await this.client.hmget(this.counterKey(c.key), 'used', 'reserved');
        return { key: c.key, limit: c.limit, used: Number(used ?? 0), reserved: Number(reserved ?? 0) };
      }),
    );
  }

  async expireStale(now: number = this.clock()): Promise<number> {
    let total = 0;
    for (;;) {
      const [expired, seen] = (await expireScript.run(this.client, [this.pending], [this.base, now, 500])) as number[];
      total += Number(expired);
      if (Number(seen) < 500) return total;
    }
  }

  /** Quits the client when the store owns it (`ownsClient`). */
  async close(): Promise<void> {
    if (this.ownsClient) await this.client.quit();
  }

  /**
   * A charge is never refused for its size: each amount goes as a whole number from 0 to `Number.MAX_SAFE_INTEGER`
   * (rounded up; a negative or NaN one as 0, an infinite one as the maximum), so one absurd usage report cannot fail
   * the batch it shares with other calls.
   * @throws TypeError when the id is not a well-formed string (that call fails alone).
   */
  private async finish(reservationId: string, mode: 'settle' | 'release', actual: BudgetCharge): Promise<void> {
    checkText(reservationId, 'reservationId');
    await this.finishes.add({
      reservationId,
      mode,
      actual: {
        costMicro: chargeable(actual.costMicro),
        tokens: chargeable(actual.tokens),
        requests: chargeable(actual.requests),
      },
    });
  }

  private async sendReserves(items: ReserveRequest[]): Promise<unknown[][]> {
    // Counter keys go once each, in the order first named; reservations point at them by their index in KEYS.
    const counterIndex = new Map<string, number>();
    const keys = [this.pending];
    const batch: unknown[] = [];
    for (const { reservationId, counters, ttlMs } of items) {
      const record = JSON.stringify({
        s: 'reserved',
        c: counters.map((c) => ({ k: c.key, a: c.amount, u: c.unit, e: c.expiresAt })),
      });
      const refs: number[] = [];
      for (const c of counters) {
        let index = counterIndex.get(c.key);
        if (index === undefined) {
          keys.push(this.counterKey(c.key));
          index = keys.length;
          counterIndex.set(c.key, index);
        }
        refs.push(index, c.limit, c.amount, c.expiresAt);
      }
      batch.push([reservationId, ttlMs, Math.max(1, ttlMs + this.tombstoneMs), record, refs]);
    }
    const counterCount = counterIndex.size;
    for (const { reservationId } of items) keys.push(this.reservationKey(reservationId));
    const args = [this.clock(), this.base, this.graceMs, counterCount, JSON.stringify(batch)];
    return (await reserveScript.run(this.client, keys, args)) as unknown[][];
  }

  private async sendFinishes(items: FinishItem[]): Promise<unknown[]> {
    const keys = [this.pending];
    const batch: unknown[] = [];
    for (const { reservationId, mode, actual } of items) {
      keys.push(this.reservationKey(reservationId));
      batch.push([reservationId, mode, actual.costMicro, actual.tokens, actual.requests]);
    }
    return (await finishScript.run(this.client, keys, [this.base, this.graceMs, JSON.stringify(batch)])) as unknown[];
  }

  private counterKey(key: string): string {
    return `${this.base}c:${key}`;
  }

  private reservationKey(id: string): string {
    return `${this.base}r:${id}`;
  }
}
