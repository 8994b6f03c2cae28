import { Inject, Injectable } from '@nestjs/common';
import { COMPILED_POLICY } from '../policy.constants';
import { AuthorizationPolicy } from './authorization-policy';
import type { CompiledPolicy } from './compiled-policy';
import { decidePermission } from './permission.decision';
import type { PermissionDecision, PolicyContext, RateLimitDecision } from './policy-context.interface';
import { PolicyRateLimiter, type OperationLimiter } from './policy-rate-limiter.interface';

/**
 * Roles, scopes, tenant rules and rate limits from the policy document.
 *
 * Rate limits follow two levels: `defaultLimiter` applies the document's buckets (the principal's default bucket,
 * the operation's own bucket, tiers); `specificLimiters` maps an operation to an async function that replaces the
 * default for that operation. Subclass it to add either.
 *
 * @example
 * @Injectable()
 * class MyPolicy extends ProductionAuthorizationPolicy {
 *   protected specificLimiters = {
 *     'tool.invoke': async (ctx) => (ctx.principal.tier === 'internal' ? null : this.defaultLimiter(ctx, 'tool.invoke')),
 *   };
 * }
 */
@Injectable()
export class ProductionAuthorizationPolicy extends AuthorizationPolicy {
  protected specificLimiters: Partial<Record<string, OperationLimiter>> = {};

  constructor(
    @Inject(COMPILED_POLICY) protected readonly compiled: CompiledPolicy,
    @Inject(PolicyRateLimiter) protected readonly rateLimiter: PolicyRateLimiter,
  ) {
    super();
  }

  async checkPermission(ctx: PolicyContext, operation: string): Promise<PermissionDecision> {
    return decidePermission(this.compiled, ctx.principal, operation, ctx.requiredScopes);
  }

  async checkRateLimit(ctx: PolicyContext, operation: string | null): Promise<RateLimitDecision | null> {
    const specific = operation === null ? undefined : this.specificLimiters[operation];
    return specific ? specific(ctx, operation) : this.defaultLimiter(ctx, operation);
  }

  /** The document's buckets for this principal and operation. */
  protected defaultLimiter(ctx: PolicyContext, operation: string | null): Promise<RateLimitDecision | null> {
    return this.rateLimiter.limit(ctx, operation);
  }
}
