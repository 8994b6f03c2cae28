import type { ThrottlerStorage } from '@nestjs/throttler';

/** One counter a request is charged against: who is counted (`key`) and how much they may do. */
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

/** The verdict on a request, for the bucket nearest exhaustion (or, when denied, the one that denied longest). */
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
}

/**
 * A `ThrottlerStorage` that can also tell, without counting a hit, whether the next hit would be denied.
 * The storages of this library implement it; `RateLimitService.isAuthBlocked` relies on it.
 */
export interface PeekableThrottlerStorage extends ThrottlerStorage {
  peek(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord>;
}

/** What `ThrottlerStorage.increment` answers: `timeToExpire` and `timeToBlockExpire` in seconds. */
export type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** Whether `storage` can peek. */
export function isPeekable(storage: ThrottlerStorage): storage is PeekableThrottlerStorage {
  return typeof (storage as Partial<PeekableThrottlerStorage>).peek === 'function';
}
