/**
 * Rate limiting: `@nestjs/throttler` storage adapters (memory, Redis, and a fail-open/closed wrapper) and the
 * service the guard calls. The counting strategies, bucket resolution and the guard itself are internal.
 * Every export below carries its own JSDoc with an example at its declaration.
 */
export { MemoryThrottlerStorage, type MemoryThrottlerStorageOptions } from './memory-throttler.storage';
export {
  RedisThrottlerStorage,
  DEFAULT_RATE_LIMIT_KEY_PREFIX,
  RATE_LIMIT_REDIS_OPTIONS,
  type RedisThrottlerStorageOptions,
} from './redis-throttler.storage';
export { ResilientThrottlerStorage, type ResilientThrottlerStorageOptions } from './resilient-throttler.storage';
export { RateLimitService } from './rate-limit.service';
/**
 * The rate-limit guard the module registers globally (a `ThrottlerGuard` subclass); `@Throttle({ default: … })` and
 * `@SkipThrottle()` apply to it.
 * @example `@Throttle({ default: { limit: (ctx) => (isBatch(ctx) ? 1 : 10), ttl: 60_000 } })`
 * @throws Error at boot, naming the route, for a `@Throttle()` it cannot honour.
 */
export { PolicyThrottlerGuard } from './policy-throttler.guard';
export { DEFAULT_RATE_LIMIT_RULE, DEFAULT_ANONYMOUS_RATE_LIMIT_RULE } from './rate-limit.buckets';
export { DEFAULT_RATE_LIMIT_STRATEGY } from './rate-limit.strategies';
export { type RateLimitBucket, type RateLimitOutcome, type ThrottlerStorageRecord } from './rate-limit.interfaces';
