import type { PolicyContext, RateLimitDecision } from './policy-context.interface';

/**
 * Counts a call against the buckets that apply to it. The library's implementation uses the configured
 * `ThrottlerStorage` adapter (memory or Redis); replace it by providing this token.
 */
export interface PolicyRateLimiter {
  limit(ctx: PolicyContext, operation: string | null): Promise<RateLimitDecision | null>;
}
export const PolicyRateLimiter = Symbol('PolicyRateLimiter');

/** A per-operation limiter, as in `ProductionAuthorizationPolicy.specificLimiters`. */
export type OperationLimiter = (ctx: PolicyContext, operation: string | null) => Promise<RateLimitDecision | null>;
