import type { Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { getOptionsToken, getStorageToken, type ThrottlerStorage } from '@nestjs/throttler';
import type Redis from 'ioredis';
import { AuthFailureHook } from './authentication/auth-failure.hook';
import type { CompiledPolicy } from './authorization/compiled-policy';
import { PolicyRateLimiter } from './authorization/policy-rate-limiter.interface';
import { DefaultPolicyRateLimiter } from './pipeline/default-rate-limiter';
import { PolicyThrottlerGuard } from './pipeline/policy-throttler.guard';
import { RateLimitAuthFailureHook } from './pipeline/rate-limit-auth-failure.hook';
import { COMPILED_POLICY, POLICY_REDIS } from './policy.constants';
import { RateLimitService, createThrottlerStorage } from './rate-limit/rate-limit.service';

/** Providers of the rate-limit, budget and audit features. */
export function featureProviders(): Provider[] {
  return [
    // The base ThrottlerGuard needs options; the limits themselves come from the policy document.
    { provide: getOptionsToken(), useValue: { throttlers: [{ name: 'default', ttl: 60_000, limit: 600 }] } },
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
    { provide: AuthFailureHook, useClass: RateLimitAuthFailureHook },
  ];
}

/** Guards after authorization (rate limiting), in pipeline order. */
export function featureGuards(): Provider[] {
  return [{ provide: APP_GUARD, useClass: PolicyThrottlerGuard }];
}

export const FEATURE_EXPORTS: Provider[] = [RateLimitService, getStorageToken() as unknown as Provider];
