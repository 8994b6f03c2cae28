import { Inject, Injectable } from '@nestjs/common';
import { ipTracker } from '../authentication/client-ip';
import type { CompiledPolicy } from '../authorization/compiled-policy';
import type { PolicyContext, RateLimitDecision } from '../authorization/policy-context.interface';
import type { PolicyRateLimiter } from '../authorization/policy-rate-limiter.interface';
import { COMPILED_POLICY } from '../policy.constants';
import { resolveBuckets } from './rate-limit.buckets';
import type { RateLimitBucket } from './rate-limit.interfaces';
import { RateLimitService } from './rate-limit.service';

/**
 * The document's buckets, counted in the configured `ThrottlerStorage`: the principal's default bucket (per IP for
 * anonymous callers; replaced by a route's `@Throttle()` limit), the operation's own bucket, tier multipliers.
 */
@Injectable()
export class DefaultPolicyRateLimiter implements PolicyRateLimiter {
  constructor(
    private readonly service: RateLimitService,
    @Inject(COMPILED_POLICY) private readonly compiled: CompiledPolicy,
  ) {}

  limit(ctx: PolicyContext, operation: string | null): Promise<RateLimitDecision | null> {
    return this.service.consume(this.buckets(ctx, operation));
  }

  /**
   * {@link limit} without a promise when the storage counts in the process (memory); undefined otherwise, and when
   * `limit` is overridden.
   */
  limitNow(ctx: PolicyContext, operation: string | null): RateLimitDecision | null | undefined {
    if (this.limit !== DefaultPolicyRateLimiter.prototype.limit) return undefined;
    return this.service.consumeNow(this.buckets(ctx, operation));
  }

  private buckets(ctx: PolicyContext, operation: string | null): RateLimitBucket[] {
    const config = this.compiled.document.rateLimits ?? {};
    const buckets = resolveBuckets(ctx.principal, operation, config, ipTracker(ctx.ip));
    if (ctx.routeLimit) {
      const first = buckets[0];
      buckets[0] = {
        ...ctx.routeLimit,
        name: `route:${ctx.route ?? '-'}`,
        key: `route:${ctx.route ?? '-'}:${first.key}`,
      };
    }
    return buckets;
  }
}
