import { AsyncResource } from 'node:async_hooks';
import type { OnModuleDestroy } from '@nestjs/common';
import type { RateLimitStrategy } from '../policy-module-options.interface';
import type {
  ImmediateThrottlerStorage,
  PeekableThrottlerStorage,
  ThrottlerStorageRecord,
} from './rate-limit.interfaces';
import { RingHitLog } from './hit-log';
import {
  applyHit,
  applyLogHit,
  freshState,
  logExpiresAt,
  normalizeStrategy,
  stateExpiresAt,
} from './rate-limit.strategies';
import type { HitResult, RateLimitRuleMs, RateLimitState, WindowStrategy } from './rate-limit.strategies';

/**
 * Options of {@link MemoryThrottlerStorage}.
 * @example
 * new MemoryThrottlerStorage({ strategy: 'fixed-window', now: () => fakeNow, sweepIntervalMs: 30_000 });
 */
export interface MemoryThrottlerStorageOptions {
  /** Default `sliding-log` (exact). */
  strategy?: RateLimitStrategy;
  /** Clock in epoch milliseconds (default `Date.now`); tests pass a fake one. */
  now?: () => number;
  /** How often idle keys are swept (default 60 s). One timer for the whole store, unref'd. */
  sweepIntervalMs?: number;
}

/**
 * One key's state under a window strategy plus when it may be forgotten: five numbers, whatever the limit or the
 * traffic. A class rather
 * than a spread literal so every entry shares one compact hidden class (about a third of the heap per key).
 */
class MemoryEntry implements RateLimitState {
  constructor(
    public windowStart: number,
    public current: number,
    public previous: number,
    public blockedUntil: number,
    public expiresAt: number,
  ) {}

  reset(fresh: RateLimitState): void {
    this.windowStart = fresh.windowStart;
    this.current = fresh.current;
    this.previous = fresh.previous;
    this.blockedUntil = fresh.blockedUntil;
  }
}

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

/** Converts a strategy result (milliseconds) to what `@nestjs/throttler` expects (seconds). */
export function toThrottlerRecord(result: HitResult): ThrottlerStorageRecord {
  return {
    totalHits: result.totalHits,
    timeToExpire: Math.ceil(result.timeToExpireMs / 1000),
    isBlocked: result.isBlocked,
    timeToBlockExpire: Math.ceil(result.timeToBlockExpireMs / 1000),
  };
}

/**
 * A per-process `ThrottlerStorage` (for `ThrottlerModule.forRoot({ storage })`).
 *
 * The default strategy, `sliding-log`, is exact (each admitted hit counts for exactly `ttl`, as in
 * `@nestjs/throttler`'s own storage) and keeps up to `limit` numbers for a key hit within the last `ttl`; the window
 * strategies keep five numbers per key.
 *
 * `ttl` and `blockDuration` arrive in milliseconds and the answer's `timeToExpire`/`timeToBlockExpire` are seconds,
 * as `@nestjs/throttler` v6 expects. Keys idle long enough to be indistinguishable from fresh ones are evicted by a
 * single sweep timer; an expired key that is hit again before the sweep simply starts afresh.
 *
 * @example
 * ThrottlerModule.forRoot({
 *   throttlers: [{ ttl: 60_000, limit: 600 }],
 *   storage: new MemoryThrottlerStorage(),
 * });
 */
export class MemoryThrottlerStorage implements PeekableThrottlerStorage, ImmediateThrottlerStorage, OnModuleDestroy {
  readonly strategy: 'sliding-log' | WindowStrategy;
  private readonly now: () => number;
  private readonly sweepIntervalMs: number;
  /** Throttler name → key → entry. Names are few; nesting avoids building a compound key per hit. */
  private readonly entries = new Map<string, Map<string, MemoryEntry | RingHitLog>>();
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Bound to the construction context so the timer does not keep the first request's async context alive. */
  private readonly startSweep: () => void;

  constructor(options: MemoryThrottlerStorageOptions = {}) {
    this.strategy = normalizeStrategy(options.strategy);
    this.now = options.now ?? Date.now;
    this.sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.startSweep = AsyncResource.bind(() => {
      this.sweepTimer = setInterval(() => this.sweep(), this.sweepIntervalMs);
      this.sweepTimer.unref();
    });
  }

  /** Number of keys held (all throttler names together). */
  get size(): number {
    let total = 0;
    for (const byKey of this.entries.values()) total += byKey.size;
    return total;
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    return this.incrementNow(key, ttl, limit, blockDuration, throttlerName);
  }

  /**
   * Whether {@link incrementNow} counts as `increment` does: false once `increment` is replaced (a subclass, a spy),
   * so that the library's guard then calls `increment`.
   */
  get immediate(): boolean {
    return this.increment === MemoryThrottlerStorage.prototype.increment;
  }

  /** {@link increment}, answered without a promise. */
  incrementNow(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): ThrottlerStorageRecord {
    return toThrottlerRecord(this.hit(key, { ttlMs: ttl, limit, blockDurationMs: blockDuration }, throttlerName));
  }

  /** Like `increment` but counts nothing: `isBlocked` tells whether the next hit would be denied. */
  async peek(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const now = this.now();
    const rule: RateLimitRuleMs = { ttlMs: ttl, limit, blockDurationMs: blockDuration };
    const entry = this.entries.get(throttlerName)?.get(key);
    const live = entry !== undefined && entry.expiresAt > now ? entry : undefined;
    if (this.strategy === 'sliding-log') {
      // Dropping expired hits and an elapsed block changes nothing a later hit would see.
      return toThrottlerRecord(applyLogHit(live instanceof RingHitLog ? live : new RingHitLog(), now, rule, 0));
    }
    const state: RateLimitState =
      live instanceof MemoryEntry
        ? {
            windowStart: live.windowStart,
            current: live.current,
            previous: live.previous,
            blockedUntil: live.blockedUntil,
          }
        : freshState(this.strategy, now, limit);
    return toThrottlerRecord(applyHit(this.strategy, state, now, rule, 0));
  }

  /** Counts one hit synchronously (the async `increment` wraps it). */
  hit(key: string, rule: RateLimitRuleMs, throttlerName: string): HitResult {
    if (this.sweepTimer === undefined) this.startSweep();
    const now = this.now();
    let byKey = this.entries.get(throttlerName);
    if (byKey === undefined) {
      byKey = new Map();
      this.entries.set(throttlerName, byKey);
    }
    const strategy = this.strategy;
    if (strategy === 'sliding-log') {
      let log = byKey.get(key) as RingHitLog | undefined;
      if (log === undefined) {
        log = new RingHitLog();
        byKey.set(key, log);
      }
      const result = applyLogHit(log, now, rule, 1);
      log.expiresAt = logExpiresAt(log);
      return result;
    }
    let entry = byKey.get(key) as MemoryEntry | undefined;
    if (entry === undefined) {
      const fresh = freshState(strategy, now, rule.limit);
      entry = new MemoryEntry(fresh.windowStart, fresh.current, fresh.previous, fresh.blockedUntil, 0);
      byKey.set(key, entry);
    } else if (entry.expiresAt <= now) {
      entry.reset(freshState(strategy, now, rule.limit));
    }
    const result = applyHit(strategy, entry, now, rule, 1);
    entry.expiresAt = stateExpiresAt(strategy, entry, rule);
    return result;
  }

  /** Forgets every key whose state has expired. Runs on the sweep timer; callable directly. */
  sweep(now: number = this.now()): number {
    let evicted = 0;
    for (const [name, byKey] of this.entries) {
      for (const [key, entry] of byKey) {
        if (entry.expiresAt <= now) {
          byKey.delete(key);
          evicted++;
        }
      }
      if (byKey.size === 0) this.entries.delete(name);
    }
    return evicted;
  }

  /** Stops the sweep timer and forgets every key. */
  close(): void {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.entries.clear();
  }

  onModuleDestroy(): void {
    this.close();
  }
}
