import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Cluster, Redis } from 'ioredis';
import type { RateLimitConfig } from '../policy-module-options.interface';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import { authFailureBucket } from './rate-limit.buckets';
import { isImmediate, isPeekable } from './rate-limit.interfaces';
import type {
  PeekableThrottlerStorage,
  RateLimitBucket,
  RateLimitOutcome,
  ThrottlerStorageRecord,
} from './rate-limit.interfaces';
import { RedisThrottlerStorage } from './redis-throttler.storage';
import { ResilientThrottlerStorage } from './resilient-throttler.storage';

/**
 * Counts requests against their buckets in a `ThrottlerStorage` and answers what the caller may be told.
 * A plain class: build it with `new`, or as a Nest provider with a factory.
 *
 * @example
 * {
 *   provide: RateLimitService,
 *   useFactory: (redis: Redis | null) => new RateLimitService(createThrottlerStorage({ redis, config }), config),
 *   inject: [POLICY_REDIS],
 * }
 * // in a guard:
 * const outcome = await rateLimits.consume(resolveBuckets(principal, 'event.create', config, ip));
 * if (!outcome.allowed) throw new RateLimitedException(outcome.retryAfterSeconds);
 */
export class RateLimitService {
  /** Used only when the storage cannot peek: client IP → epoch ms until which its auth attempts are refused. */
  private readonly authBlockedUntil = new Map<string, number>();

  constructor(
    readonly storage: ThrottlerStorage,
    private readonly config: RateLimitConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Counts one hit in every bucket (in parallel) and reports the bucket nearest exhaustion, or, when any bucket
   * denies, the one whose denial lasts longest. Every bucket is charged even when another denies, so a caller
   * hammering one operation also spends its default allowance.
   * @throws whatever the storage throws (e.g. `PolicyUnavailableException` when Redis is down and fail-closed)
   */
  async consume(buckets: readonly RateLimitBucket[]): Promise<RateLimitOutcome> {
    if (buckets.length === 0) throw new TypeError('consume() needs at least one bucket');
    const records = await Promise.all(
      buckets.map((b) => this.storage.increment(b.key, b.ttlMs, b.limit, b.blockDurationMs, b.name)),
    );
    return reportOutcome(buckets, records);
  }

  /**
   * {@link consume} without a promise when the storage counts in the process; undefined otherwise, and whenever
   * `consume` is overridden (a subclass, a spy), which is then asked instead.
   */
  consumeNow(buckets: readonly RateLimitBucket[]): RateLimitOutcome | undefined {
    const storage = this.storage;
    if (this.consume !== RateLimitService.prototype.consume || !isImmediate(storage)) return undefined;
    if (buckets.length === 0) throw new TypeError('consume() needs at least one bucket');
    const records = buckets.map((b) => storage.incrementNow(b.key, b.ttlMs, b.limit, b.blockDurationMs, b.name));
    return reportOutcome(buckets, records);
  }

  /** Counts a failed authentication attempt from `clientIp`; the outcome says whether it was over the limit. */
  async recordAuthFailure(clientIp: string): Promise<RateLimitOutcome> {
    const bucket = authFailureBucket(clientIp, this.config);
    const outcome = await this.consume([bucket]);
    if (!isPeekable(this.storage) && (!outcome.allowed || outcome.remaining === 0)) {
      const seconds = outcome.allowed ? outcome.resetSeconds : outcome.retryAfterSeconds;
      this.authBlockedUntil.set(clientIp, this.now() + seconds * 1000);
    }
    return outcome;
  }

  /** Whether `clientIp` has used up its failed-authentication allowance (it is refused without checking credentials). */
  async isAuthBlocked(clientIp: string): Promise<boolean> {
    if (isPeekable(this.storage)) {
      const b = authFailureBucket(clientIp, this.config);
      const record = await this.storage.peek(b.key, b.ttlMs, b.limit, b.blockDurationMs, b.name);
      return record.isBlocked;
    }
    const until = this.authBlockedUntil.get(clientIp);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.authBlockedUntil.delete(clientIp);
    return false;
  }
}

function reportOutcome(
  buckets: readonly RateLimitBucket[],
  records: readonly ThrottlerStorageRecord[],
): RateLimitOutcome {
  let chosen = 0;
  let denied = false;
  let chosenScore = Infinity;
  records.forEach((record, i) => {
    const limit = buckets[i].limit;
    if (record.isBlocked) {
      // Among denials, the longest wait is the honest Retry-After.
      if (!denied || record.timeToBlockExpire > records[chosen].timeToBlockExpire) chosen = i;
      denied = true;
      return;
    }
    const score = Math.max(0, limit - record.totalHits) / limit;
    if (!denied && score < chosenScore) {
      chosen = i;
      chosenScore = score;
    }
  });
  const record = records[chosen];
  const bucket = buckets[chosen];
  return {
    allowed: !denied,
    limit: bucket.limit,
    remaining: denied ? 0 : Math.max(0, bucket.limit - record.totalHits),
    resetSeconds: Math.max(0, record.timeToExpire),
    retryAfterSeconds: denied ? Math.max(1, record.timeToBlockExpire) : 0,
    bucket: bucket.name,
    windowSeconds: Math.ceil(bucket.ttlMs / 1000),
  };
}

/** Which rate-limit headers a response carries (`rateLimits.headers`). */
export type RateLimitHeaderStyle = 'x-ratelimit' | 'ietf' | 'both';

/** A structured-field string (RFC 8941 sf-string): the bucket name quoted, `\` and `"` escaped, other bytes dropped. */
function sfString(value: string): string {
  return `"${value.replace(/[^\x20-\x7e]/g, '').replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/**
 * The response headers for an outcome: `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`
 * (seconds) by default, the IETF draft's `RateLimit` and `RateLimit-Policy` with `ietf`, all five with `both`;
 * and `Retry-After` (seconds) when denied.
 *
 * @example
 * for (const [name, value] of Object.entries(rateLimitHeaders(outcome))) response.setHeader(name, value);
 */
export function rateLimitHeaders(
  outcome: RateLimitOutcome,
  style: RateLimitHeaderStyle = 'x-ratelimit',
): Record<string, string> {
  const headers: Record<string, string> = {};
  writeRateLimitHeaders(outcome, style, (name, value) => {
    headers[name] = value;
  });
  return headers;
}

const HEADER_NAMES = Object.freeze({
  limit: 'X-RateLimit-Limit',
  remaining: 'X-RateLimit-Remaining',
  reset: 'X-RateLimit-Reset',
  policy: 'RateLimit-Policy',
  state: 'RateLimit',
  retryAfter: 'Retry-After',
});
/** The same names in lower case: Fastify lower-cases every name it is given, and a new string costs a copy each time. */
const LOWERCASE_HEADER_NAMES = Object.freeze({
  limit: 'x-ratelimit-limit',
  remaining: 'x-ratelimit-remaining',
  reset: 'x-ratelimit-reset',
  policy: 'ratelimit-policy',
  state: 'ratelimit',
  retryAfter: 'retry-after',
});

/**
 * Hands each header of {@link rateLimitHeaders} to `write`, in the same order, without building their object;
 * `lowercase` names them in lower case (for a writer that lower-cases names anyway).
 */
export function writeRateLimitHeaders(
  outcome: RateLimitOutcome,
  style: RateLimitHeaderStyle = 'x-ratelimit',
  write: (name: string, value: string) => void,
  lowercase = false,
): void {
  const names = lowercase ? LOWERCASE_HEADER_NAMES : HEADER_NAMES;
  if (style !== 'ietf') {
    write(names.limit, String(outcome.limit));
    write(names.remaining, String(outcome.remaining));
    write(names.reset, String(outcome.resetSeconds));
  }
  if (style !== 'x-ratelimit') {
    // draft-ietf-httpapi-ratelimit-headers: the policy (quota q per window w seconds) and the state (r remaining,
    // t seconds until the quota resets) of the bucket nearest exhaustion.
    const name = sfString(outcome.bucket);
    const window = outcome.windowSeconds === undefined ? '' : `;w=${outcome.windowSeconds}`;
    write(names.policy, `${name};q=${outcome.limit}${window}`);
    write(names.state, `${name};r=${outcome.remaining};t=${outcome.resetSeconds}`);
  }
  if (!outcome.allowed) write(names.retryAfter, String(outcome.retryAfterSeconds));
}

/**
 * Options of {@link createThrottlerStorage}.
 * @example
 * createThrottlerStorage({ redis: process.env.REDIS_URL ? redis : null, config: { failMode: 'open' } });
 */
export interface CreateThrottlerStorageOptions {
  /** A shared Redis client; `null`/absent selects the per-process memory storage. */
  redis?: Redis | Cluster | null;
  config: RateLimitConfig;
  /** Clock for the memory storage (default `Date.now`). */
  now?: () => number;
}

/**
 * The storage the config asks for: `MemoryThrottlerStorage` without Redis; with Redis, a `RedisThrottlerStorage`
 * wrapped in a `ResilientThrottlerStorage` honouring `config.failMode`.
 *
 * @example
 * const storage = createThrottlerStorage({ redis, config: { strategy: 'sliding-log', failMode: 'closed' } });
 * ThrottlerModule.forRoot({ throttlers: [{ ttl: 60_000, limit: 600 }], storage });
 */
export function createThrottlerStorage(options: CreateThrottlerStorageOptions): PeekableThrottlerStorage {
  const { redis, config, now } = options;
  const strategy = config.strategy;
  if (redis === undefined || redis === null) return new MemoryThrottlerStorage({ strategy, now });
  const primary = new RedisThrottlerStorage(redis, { strategy, keyPrefix: config.keyPrefix });
  return new ResilientThrottlerStorage(primary, {
    failMode: config.failMode,
    strategy,
    now,
  });
}
