import type { PolicyContext, RateLimitDecision } from './policy-context.interface';

/**
 * Counts a call against the buckets that apply to it. The library's implementation uses the configured
 * `ThrottlerStorage` adapter (memory or Redis); replace it by providing this token.
 */
export interface PolicyRateLimiter {
  limit(ctx: PolicyContext, operation: string | null): Promise<RateLimitDecision | null>;
  /**
   * Optional: the same decision without a promise when the limiter can count at once (the library's does with the
   * memory storage); undefined when it cannot, and `limit` is called instead.
   */
  limitNow?(ctx: PolicyContext, operation: string | null): RateLimitDecision | null | undefined;
}
export const PolicyRateLimiter = Symbol('PolicyRateLimiter');

/** A per-operation limiter, as in `ProductionAuthorizationPolicy.specificLimiters`. */
export type OperationLimiter = (ctx: PolicyContext, operation: string | null) => Promise<RateLimitDecision | null>;
