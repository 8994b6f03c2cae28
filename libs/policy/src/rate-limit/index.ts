/**
 * Rate limiting: `@nestjs/throttler` storage adapters (memory, Redis, and a fail-open/closed wrapper), the
 * counting strategies they share, bucket resolution from a principal, and the service the guard calls.
 * Every export below carries its own JSDoc with an example at its declaration.
 */
export { MemoryThrottlerStorage, type MemoryThrottlerStorageOptions } from './memory-throttler.storage';
export { RingHitLog } from './hit-log';
export {
  RedisThrottlerStorage,
  DEFAULT_RATE_LIMIT_KEY_PREFIX,
  RATE_LIMIT_REDIS_OPTIONS,
  type RedisThrottlerStorageOptions,
} from './redis-throttler.storage';
export { ResilientThrottlerStorage, type ResilientThrottlerStorageOptions } from './resilient-throttler.storage';
export {
  RateLimitService,
  rateLimitHeaders,
  createThrottlerStorage,
  type CreateThrottlerStorageOptions,
} from './rate-limit.service';
export {
  resolveBuckets,
  authFailureBucket,
  DEFAULT_RATE_LIMIT_RULE,
  DEFAULT_ANONYMOUS_RATE_LIMIT_RULE,
} from './rate-limit.buckets';
export {
  applyLogHit,
  logExpiresAt,
  normalizeStrategy,
  applyHit,
  freshState,
  stateExpiresAt,
  DEFAULT_RATE_LIMIT_STRATEGY,
  type HitLog,
  type WindowStrategy,
  type RateLimitState,
  type RateLimitRuleMs,
  type HitResult,
} from './rate-limit.strategies';
export {
  isPeekable,
  type RateLimitBucket,
  type RateLimitOutcome,
  type PeekableThrottlerStorage,
  type ThrottlerStorageRecord,
} from './rate-limit.interfaces';
