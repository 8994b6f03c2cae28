import type { ThrottlerStorage } from '@nestjs/throttler';

/**
 * One counter a request is charged against: who is counted (`key`) and how much they may do.
 * @example
 * const bucket: RateLimitBucket = { name: 'default', key: 'principal:t1:user-1', limit: 600, ttlMs: 60_000, blockDurationMs: 0 };
 */
export interface RateLimitBucket {
  /** What the bucket limits: `default`, `anonymous`, `operation:<op>`, `auth-failures`. Used as the throttler name. */
  name: string;
  /** Who is counted, e.g. `principal:<tenant>:<id>` or `anonymous:<ip>`. */
  key: string;
  limit: number;
  ttlMs: number;
  /** 0: a denied caller is admitted again as soon as the window frees a slot. */
  blockDurationMs: number;
}

/**
 * The verdict on a request, for the bucket nearest exhaustion (or, when denied, the one that denied longest).
 * @example
 * const outcome: RateLimitOutcome = await rateLimits.consume(buckets);
 * if (!outcome.allowed) throw new RateLimitedException(outcome.retryAfterSeconds);
 */
export interface RateLimitOutcome {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the bucket's window resets. */
  resetSeconds: number;
  /** Seconds to wait before retrying; 0 when allowed. */
  retryAfterSeconds: number;
  /** Name of the bucket reported. */
  bucket: string;
  /** The bucket's window in seconds, when known (the IETF `RateLimit-Policy` header's `w`). */
  windowSeconds?: number;
}

/**
 * A `ThrottlerStorage` that can also tell, without counting a hit, whether the next hit would be denied.
 * The storages of this library implement it; `RateLimitService.isAuthBlocked` relies on it.
 *
 * @example
 * const record = await storage.peek('auth-failures:203.0.113.7', 60_000, 5, 0, 'auth-failures');
 */
export interface PeekableThrottlerStorage extends ThrottlerStorage {
  peek(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord>;
}

/**
 * What `ThrottlerStorage.increment` answers: `timeToExpire` and `timeToBlockExpire` in seconds.
 * @example
 * const { isBlocked, timeToBlockExpire }: ThrottlerStorageRecord = await storage.increment(key, 60_000, 10, 0, 'default');
 */
export type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * Whether `storage` can peek.
 * @example
 * if (isPeekable(storage)) await storage.peek(key, ttlMs, limit, 0, name);
 */
export function isPeekable(storage: ThrottlerStorage): storage is PeekableThrottlerStorage {
  return typeof (storage as Partial<PeekableThrottlerStorage>).peek === 'function';
}

/**
 * A `ThrottlerStorage` that counts in the process and can answer a hit without a promise (the memory storage): the
 * library's rate-limit guard then decides without one.
 */
export interface ImmediateThrottlerStorage extends ThrottlerStorage {
  /** Whether `incrementNow` counts as `increment` does now (false once `increment` is overridden). */
  readonly immediate: boolean;
  incrementNow(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): ThrottlerStorageRecord;
}

/** Whether `storage` answers hits without a promise, counting them as its `increment` would. */
export function isImmediate(storage: ThrottlerStorage): storage is ImmediateThrottlerStorage {
  const candidate = storage as Partial<ImmediateThrottlerStorage>;
  return typeof candidate.incrementNow === 'function' && candidate.immediate === true;
}
