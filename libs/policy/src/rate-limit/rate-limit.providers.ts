import type { Provider } from '@nestjs/common';
import { getOptionsToken, getStorageToken, type ThrottlerStorage } from '@nestjs/throttler';
import type Redis from 'ioredis';
import type { CompiledPolicy } from '../authorization/compiled-policy';
import { PolicyRateLimiter } from '../authorization/policy-rate-limiter.interface';
import { COMPILED_POLICY, POLICY_REDIS } from '../policy.constants';
import { DefaultPolicyRateLimiter } from './default-rate-limiter';
import { POLICY_THROTTLER_OPTIONS, PolicyThrottlerGuard } from './policy-throttler.guard';
import { RateLimitService, createThrottlerStorage } from './rate-limit.service';

/**
 * Providers of the rate-limit capability: the throttler storage (`getStorageToken()`: memory, or Redis when
 * `redisUrl` is set; replace it by providing that token), the service counting the document's buckets in it, and
 * the `PolicyRateLimiter` the authorization policy asks.
 */
export const RATE_LIMIT_PROVIDERS: Provider[] = [
  { provide: getOptionsToken(), useValue: POLICY_THROTTLER_OPTIONS },
  {
    provide: getStorageToken(),
    useFactory: (redis: Redis | null, compiled: CompiledPolicy) =>
      createThrottlerStorage({ redis, config: compiled.document.rateLimits ?? {} }),
    inject: [POLICY_REDIS, COMPILED_POLICY],
  },
  {
    provide: RateLimitService,
    useFactory: (storage: ThrottlerStorage, compiled: CompiledPolicy) =>
      new RateLimitService(storage, compiled.document.rateLimits ?? {}),
    inject: [getStorageToken(), COMPILED_POLICY],
  },
  { provide: PolicyRateLimiter, useClass: DefaultPolicyRateLimiter },
];

/** The rate-limit guard, counting before the authorization guard decides (denied attempts count too). */
export const RATE_LIMIT_GUARDS: Provider[] = [PolicyThrottlerGuard];

export const RATE_LIMIT_EXPORTS: Provider[] = [RateLimitService, getStorageToken() as unknown as Provider];
