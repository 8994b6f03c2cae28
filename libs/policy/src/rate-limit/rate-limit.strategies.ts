import type { RateLimitStrategy } from '../policy-module-options.interface';

/**
 * The counting rules of the three strategies, as plain functions over a fixed-size state. They read no clock and
 * do no I/O: the caller passes `now`. `MemoryThrottlerStorage` runs them directly and the Lua script of
 * `RedisThrottlerStorage` (redis-throttler.script.ts) is a line-for-line port, so both storages agree.
 *
 * Every strategy keeps the same four numbers per key, whatever the limit or the traffic:
 * - `fixed-window`: `windowStart` (ms) and `current` (hits in that window). Windows are `ttl` long and anchored on
 *   the first hit of the key.
 * - `sliding-window`: as fixed, plus `previous` (hits of the window before). The number of hits in the last `ttl`
 *   is estimated as `floor(previous × (ttl − elapsed) / ttl) + current`, i.e. it assumes the previous window's hits
 *   were spread evenly. The estimate never lets more than `limit` through in one window and at most `2 × limit`
 *   in any span of `ttl` when traffic is bursty at window edges, but with steady traffic it tracks a true
 *   sliding log closely, for constant memory.
 * - `token-bucket`: `windowStart` is the time of the last refill and `current` the tokens left (fractional).
 *   Capacity is `limit`; the bucket refills `limit` tokens per `ttl`, continuously.
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
 * Default strategy when none is configured.
 * @example
 * new MemoryThrottlerStorage().strategy === DEFAULT_RATE_LIMIT_STRATEGY; // 'sliding-window'
 */
export const DEFAULT_RATE_LIMIT_STRATEGY: RateLimitStrategy = 'sliding-window';

/**
 * A key that has never been hit, or whose state has expired.
 * @example
 * freshState('token-bucket', Date.now(), 10); // { windowStart: now, current: 10, previous: 0, blockedUntil: 0 }
 */
export function freshState(strategy: RateLimitStrategy, now: number, limit: number): RateLimitState {
  return { windowStart: now, current: strategy === 'token-bucket' ? Math.max(0, limit) : 0, previous: 0, blockedUntil: 0 };
}

function resetState(state: RateLimitState, strategy: RateLimitStrategy, now: number, limit: number): void {
  state.windowStart = now;
  state.current = strategy === 'token-bucket' ? limit : 0;
  state.previous = 0;
  state.blockedUntil = 0;
}

/** Moves fixed and sliding windows forward to the one containing `now`. */
function advanceWindow(state: RateLimitState, strategy: RateLimitStrategy, now: number, ttl: number): void {
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
export function applyHit(strategy: RateLimitStrategy, state: RateLimitState, now: number, rule: RateLimitRuleMs, cost: 0 | 1): HitResult {
  const ttl = Math.max(1, rule.ttlMs);
  const limit = Math.max(0, Math.floor(rule.limit));
  if (state.blockedUntil > now) {
    return { totalHits: limit + cost, isBlocked: true, remaining: 0, timeToExpireMs: state.blockedUntil - now, timeToBlockExpireMs: state.blockedUntil - now };
  }
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
    return { totalHits: count, isBlocked: false, remaining: Math.max(0, limit - count), timeToExpireMs: expireMs, timeToBlockExpireMs: 0 };
  }
  if (cost === 1 && rule.blockDurationMs > 0) {
    state.blockedUntil = now + rule.blockDurationMs;
    retryMs = rule.blockDurationMs;
  }
  return { totalHits: count + cost, isBlocked: true, remaining: 0, timeToExpireMs: expireMs, timeToBlockExpireMs: Math.max(1, retryMs) };
}

/**
 * The time (epoch ms) after which `state` is indistinguishable from a fresh one, so the key may be forgotten.
 * Redis gets it as the key's PEXPIRE; the memory storage evicts the entry after it.
 *
 * @example
 * stateExpiresAt('fixed-window', { windowStart: 0, current: 3, previous: 0, blockedUntil: 0 }, rule); // rule.ttlMs
 */
export function stateExpiresAt(strategy: RateLimitStrategy, state: RateLimitState, rule: RateLimitRuleMs): number {
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
