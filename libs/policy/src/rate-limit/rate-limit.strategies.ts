import type { RateLimitStrategy } from '../policy-module-options.interface';

/**
 * The counting rules of the strategies, as plain functions. They read no clock and do no I/O: the caller passes
 * `now`. `MemoryThrottlerStorage` runs them directly and the Lua script of `RedisThrottlerStorage`
 * (redis-throttler.script.ts) is a line-for-line port, so both storages agree.
 *
 * - `sliding-log` (the default, also called `exact`): {@link applyLogHit} over a {@link HitLog}, the expiry times of
 *   the admitted hits still counted, oldest first. A hit is admitted while fewer than `limit` are live, and each
 *   admitted hit counts for exactly `ttl` — the semantics of `@nestjs/throttler`'s own storage, so never more than
 *   `limit` in any `ttl` window. O(1) amortised per hit (each hit is appended once and dropped once); the log holds at
 *   most `limit` entries, only for keys hit within the last `ttl`.
 *
 * The other three, {@link applyHit} over a {@link RateLimitState}, keep four numbers per key whatever the limit:
 * - `fixed-window`: `windowStart` (ms) and `current` (hits in that window). Windows are `ttl` long and anchored on
 *   the first hit of the key. Up to `2 × limit` hits can pass within `ttl` across a window edge.
 * - `sliding-window`: as fixed, plus `previous` (hits of the window before). The number of hits in the last `ttl`
 *   is estimated as `floor(previous × (ttl − elapsed) / ttl) + current`, i.e. it assumes the previous window's hits
 *   were spread evenly. Never more than `limit` in one window, but up to `2 × limit − 1` within `ttl` when the
 *   previous window's hits were bunched at its start (and it may refuse a hit an exact count would admit).
 * - `token-bucket`: `windowStart` is the time of the last refill and `current` the tokens left (fractional).
 *   Capacity is `limit`; the bucket refills `limit` tokens per `ttl`, continuously: up to `2 × limit` within `ttl`.
 * `blockedUntil` (ms, 0 when not blocked) is shared by all: once a hit is denied and `blockDurationMs > 0`, every
 * hit is denied until then, after which the key starts afresh (the same rule as `@nestjs/throttler`).
 *
 * @example
 * const state: RateLimitState = { windowStart: 0, current: 2, previous: 5, blockedUntil: 0 };
 */
export interface RateLimitState {
  windowStart: number;
  current: number;
  previous: number;
  blockedUntil: number;
}

/**
 * The limits a hit is checked against (milliseconds).
 * @example
 * const rule: RateLimitRuleMs = { ttlMs: 60_000, limit: 600, blockDurationMs: 0 };
 */
export interface RateLimitRuleMs {
  ttlMs: number;
  limit: number;
  /** 0: a denied caller is admitted again as soon as the window frees a slot. */
  blockDurationMs: number;
}

/**
 * What a hit (or a peek) found. Durations are whole milliseconds, rounded up.
 * @example
 * const { isBlocked, timeToBlockExpireMs }: HitResult = applyHit('token-bucket', state, now, rule, 1);
 */
export interface HitResult {
  /** Hits counted in the window, including this one (a denied hit counts as `limit + 1`-ish, never stored). */
  totalHits: number;
  /** Whether this hit is denied (for a peek: whether the next hit would be). */
  isBlocked: boolean;
  /** Slots left after this hit. */
  remaining: number;
  /** Until the window resets (fixed, sliding) or the bucket is full again (token bucket). */
  timeToExpireMs: number;
  /** When denied: until a hit would be admitted again. 0 when admitted. */
  timeToBlockExpireMs: number;
}

/**
 * Default strategy when none is configured: the exact sliding log.
 * @example
 * new MemoryThrottlerStorage().strategy === DEFAULT_RATE_LIMIT_STRATEGY; // 'sliding-log'
 */
export const DEFAULT_RATE_LIMIT_STRATEGY = 'sliding-log' satisfies RateLimitStrategy;

/**
 * The strategies counted with four numbers per key ({@link applyHit}).
 * @example
 * const strategy: WindowStrategy = 'token-bucket';
 */
export type WindowStrategy = 'fixed-window' | 'sliding-window' | 'token-bucket';

/**
 * The canonical name of a configured strategy (`exact` is `sliding-log`; absent is the default).
 * @example
 * normalizeStrategy('exact'); // 'sliding-log'
 */
export function normalizeStrategy(strategy: RateLimitStrategy | undefined): 'sliding-log' | WindowStrategy {
  if (strategy === undefined || strategy === 'exact') return DEFAULT_RATE_LIMIT_STRATEGY;
  return strategy;
}

/**
 * The hits a key has had admitted and still counted, as the epoch ms at which each stops counting, oldest first,
 * plus `blockedUntil` (epoch ms, 0 when not blocked). `MemoryThrottlerStorage` keeps it in a ring buffer
 * (hit-log.ts), the Redis script in a list (`LINDEX`, `LPOP`, `RPUSH`).
 * @example
 * const log: HitLog = new RingHitLog();
 */
export interface HitLog {
  readonly size: number;
  blockedUntil: number;
  /** The `i`-th oldest entry (0 is the oldest); `i < size`. */
  at(i: number): number;
  /** Drops the oldest entry. */
  shift(): void;
  /** Appends an entry (the newest); `capacity` is the most the log will be asked to hold. */
  push(expiresAt: number, capacity: number): void;
  clear(): void;
}

/** The answer while a key's block lasts: every hit denied, nothing counted. */
function stillBlocked(limit: number, cost: 0 | 1, leftMs: number): HitResult {
  return {
    totalHits: limit + cost,
    isBlocked: true,
    remaining: 0,
    timeToExpireMs: leftMs,
    timeToBlockExpireMs: leftMs,
  };
}

/**
 * The exact strategy (`sliding-log`): applies one hit (`cost` 1) or a peek (`cost` 0) to `log`, in place.
 *
 * Same answers as `@nestjs/throttler`'s `ThrottlerStorageService`: denied while `limit` hits are live (`totalHits`
 * is then `limit + 1`), a denied hit is not counted, `timeToBlockExpireMs` is until the oldest live hit expires
 * (a slot frees), or, with `blockDurationMs > 0`, the block's length — after which the key starts afresh.
 * `timeToExpireMs` is until the oldest live hit expires (`ttl` on a key's first hit).
 *
 * @example
 * const log = new RingHitLog();
 * applyLogHit(log, 0, { ttlMs: 1000, limit: 1, blockDurationMs: 0 }, 1).isBlocked; // false
 * applyLogHit(log, 999, { ttlMs: 1000, limit: 1, blockDurationMs: 0 }, 1).isBlocked; // true
 * applyLogHit(log, 1000, { ttlMs: 1000, limit: 1, blockDurationMs: 0 }, 1).isBlocked; // false
 */
export function applyLogHit(log: HitLog, now: number, rule: RateLimitRuleMs, cost: 0 | 1): HitResult {
  const ttl = Math.max(1, rule.ttlMs);
  const limit = Math.max(0, Math.floor(rule.limit));
  if (log.blockedUntil > now) return stillBlocked(limit, cost, log.blockedUntil - now);
  if (log.blockedUntil !== 0) {
    log.clear();
    log.blockedUntil = 0;
  }
  // Drop the hits that stopped counting: each entry is dropped once, so this is O(1) amortised.
  if (log.size > 0 && log.at(log.size - 1) <= now) log.clear();
  while (log.size > 0 && log.at(0) <= now) log.shift();

  let count = log.size;
  const denied = count >= limit;
  if (!denied && cost === 1) {
    log.push(now + ttl, limit);
    count += 1;
  }
  const expireMs = log.size > 0 ? log.at(0) - now : ttl;
  if (!denied) {
    return {
      totalHits: count,
      isBlocked: false,
      remaining: limit - count,
      timeToExpireMs: expireMs,
      timeToBlockExpireMs: 0,
    };
  }
  // A slot frees when the live hits drop below the limit (the limit may have been lowered since they were counted).
  let retryMs = limit > 0 ? log.at(count - limit) - now : ttl;
  if (cost === 1 && rule.blockDurationMs > 0) {
    log.blockedUntil = now + rule.blockDurationMs;
    retryMs = rule.blockDurationMs;
  }
  return {
    totalHits: count + cost,
    isBlocked: true,
    remaining: 0,
    timeToExpireMs: expireMs,
    timeToBlockExpireMs: Math.max(1, retryMs),
  };
}

/**
 * The time (epoch ms) after which `log` is indistinguishable from an empty one, so the key may be forgotten.
 * @example
 * logExpiresAt(log); // the newest hit's expiry, or the block's end if later
 */
export function logExpiresAt(log: HitLog): number {
  const newest = log.size > 0 ? log.at(log.size - 1) : 0;
  return Math.max(newest, log.blockedUntil);
}

/**
 * A key that has never been hit, or whose state has expired.
 * @example
 * freshState('token-bucket', Date.now(), 10); // { windowStart: now, current: 10, previous: 0, blockedUntil: 0 }
 */
export function freshState(strategy: WindowStrategy, now: number, limit: number): RateLimitState {
  return {
    windowStart: now,
    current: strategy === 'token-bucket' ? Math.max(0, limit) : 0,
    previous: 0,
    blockedUntil: 0,
  };
}

function resetState(state: RateLimitState, strategy: WindowStrategy, now: number, limit: number): void {
  state.windowStart = now;
  state.current = strategy === 'token-bucket' ? limit : 0;
  state.previous = 0;
  state.blockedUntil = 0;
}

/** Moves fixed and sliding windows forward to the one containing `now`. */
function advanceWindow(state: RateLimitState, strategy: WindowStrategy, now: number, ttl: number): void {
  const elapsed = now - state.windowStart;
  if (elapsed < ttl) return;
  const windows = Math.floor(elapsed / ttl);
  state.previous = strategy === 'sliding-window' && windows === 1 ? state.current : 0;
  state.current = 0;
  state.windowStart += windows * ttl;
}

/** Sliding window: milliseconds from `now` until `floor(estimate) < limit` again. */
function slidingRetryMs(state: RateLimitState, now: number, ttl: number, limit: number): number {
  const c = state.current;
  const p = state.previous;
  if (c >= limit) {
    // The current window alone is full: wait for the next one, then for `c` to decay below the limit.
    return state.windowStart + ttl - now + Math.floor((ttl * (c - limit)) / c) + 1;
  }
  return state.windowStart + Math.floor((ttl * (p - limit + c)) / p) + 1 - now;
}

/**
 * Applies one hit (`cost` 1) or a peek (`cost` 0, which changes nothing worth storing) to `state`, updating it in
 * place, and tells whether it is admitted.
 *
 * @example
 * const state = freshState('fixed-window', 0, 2);
 * applyHit('fixed-window', state, 10, { ttlMs: 1000, limit: 2, blockDurationMs: 0 }, 1).isBlocked; // false
 */
export function applyHit(
  strategy: WindowStrategy,
  state: RateLimitState,
  now: number,
  rule: RateLimitRuleMs,
  cost: 0 | 1,
): HitResult {
  const ttl = Math.max(1, rule.ttlMs);
  const limit = Math.max(0, Math.floor(rule.limit));
  if (state.blockedUntil > now) return stillBlocked(limit, cost, state.blockedUntil - now);
  if (state.blockedUntil !== 0) resetState(state, strategy, now, limit);

  let count: number;
  let expireMs: number;
  let retryMs: number;
  let denied: boolean;
  if (strategy === 'token-bucket') {
    const refill = ((now - state.windowStart) * limit) / ttl;
    state.current = Math.min(limit, state.current + refill);
    state.windowStart = now;
    denied = state.current < 1;
    if (!denied && cost === 1) state.current -= 1;
    count = limit - Math.floor(state.current);
    expireMs = limit > 0 ? Math.ceil(((limit - state.current) * ttl) / limit) : ttl;
    retryMs = limit > 0 ? Math.ceil(((1 - state.current) * ttl) / limit) : ttl;
  } else {
    advanceWindow(state, strategy, now, ttl);
    const elapsed = now - state.windowStart;
    const weighted = strategy === 'sliding-window' ? Math.floor((state.previous * (ttl - elapsed)) / ttl) : 0;
    count = weighted + state.current;
    denied = count + 1 > limit;
    if (!denied && cost === 1) {
      state.current += 1;
      count += 1;
    }
    expireMs = state.windowStart + ttl - now;
    retryMs = strategy === 'sliding-window' && limit > 0 ? slidingRetryMs(state, now, ttl, limit) : expireMs;
  }

  if (!denied) {
    return {
      totalHits: count,
      isBlocked: false,
      remaining: Math.max(0, limit - count),
      timeToExpireMs: expireMs,
      timeToBlockExpireMs: 0,
    };
  }
  if (cost === 1 && rule.blockDurationMs > 0) {
    state.blockedUntil = now + rule.blockDurationMs;
    retryMs = rule.blockDurationMs;
  }
  return {
    totalHits: count + cost,
    isBlocked: true,
    remaining: 0,
    timeToExpireMs: expireMs,
    timeToBlockExpireMs: Math.max(1, retryMs),
  };
}

/**
 * The time (epoch ms) after which `state` is indistinguishable from a fresh one, so the key may be forgotten.
 * Redis gets it as the key's PEXPIRE; the memory storage evicts the entry after it.
 *
 * @example
 * stateExpiresAt('fixed-window', { windowStart: 0, current: 3, previous: 0, blockedUntil: 0 }, rule); // rule.ttlMs
 */
export function stateExpiresAt(strategy: WindowStrategy, state: RateLimitState, rule: RateLimitRuleMs): number {
  const ttl = Math.max(1, rule.ttlMs);
  let idleAt: number;
  if (strategy === 'token-bucket') {
    const limit = Math.max(0, Math.floor(rule.limit));
    idleAt = state.windowStart + (limit > 0 ? Math.ceil(((limit - state.current) * ttl) / limit) : ttl);
  } else {
    idleAt = state.windowStart + (strategy === 'sliding-window' ? 2 * ttl : ttl);
  }
  return Math.max(idleAt, state.blockedUntil);
}
