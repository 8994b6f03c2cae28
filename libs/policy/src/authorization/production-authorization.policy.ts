import { Inject, Injectable } from '@nestjs/common';
import { decisionMissingScopes, decisionRecordScope } from '../engine/builtin.policies';
import { PolicyEngine } from '../engine/policy.engine';
import type { PolicyDecision, PolicyInput } from '../engine/policy.interface';
import { COMPILED_POLICY } from '../policy.constants';
import { AuthorizationPolicy } from './authorization-policy';
import type { CompiledPolicy } from './compiled-policy';
import type {
  PermissionDecision,
  PermissionDenialCode,
  PolicyContext,
  RateLimitDecision,
} from './policy-context.interface';
import { PolicyRateLimiter, type OperationLimiter } from './policy-rate-limiter.interface';

const DENIAL_CODES: ReadonlySet<string> = new Set(['forbidden', 'insufficient_scope', 'not_found']);

/**
 * Roles, scopes, approvals, tenant rules and rate limits from the policy document, decided by the `PolicyEngine`:
 * the built-in role (100), scope (200) and approval (900) policies plus every `@PolicyEvaluator()` provider of the
 * app. Deny overrides approval overrides allow; a throwing policy denies. This class only maps the engine's decision:
 * the record scope of an allowed call (tenant and ownership rules; another tenant's record is a 404) and the missing
 * scopes come from the built-in policies' verdicts. A REQUIRE_APPROVAL decision is `approval_required` without an
 * approval: the `ApprovalGate` asks for one (or spends the one presented) once everything else allowed the call.
 *
 * Rate limits follow two levels: `defaultLimiter` applies the document's buckets; `specificLimiters` maps an
 * operation to an async function that replaces the default for that operation. Subclass it to add either.
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
    protected readonly engine: PolicyEngine,
  ) {
    super();
  }

  async checkPermission(ctx: PolicyContext, operation: string): Promise<PermissionDecision> {
    return this.permission(ctx, await this.engine.evaluate(engineInput(ctx, operation)));
  }

  /** The engine's compiled fast path, without a promise; undefined when `checkPermission` is overridden. */
  override checkPermissionNow(ctx: PolicyContext, operation: string): PermissionDecision | undefined {
    if (this.checkPermission !== ProductionAuthorizationPolicy.prototype.checkPermission) return undefined;
    const decision = this.engine.evaluateNow(engineInput(ctx, operation));
    return decision && this.permission(ctx, decision);
  }

  /** The engine's decision as a permission decision. */
  private permission(ctx: PolicyContext, decision: PolicyDecision): PermissionDecision {
    const reasons = decision.reasons.map((r) => `${r.policy}: ${r.reason}`);
    if (decision.outcome === 'ALLOW')
      return { allowed: true, reasons, recordScope: decisionRecordScope(decision, ctx.principal) };
    if (decision.outcome === 'REQUIRE_APPROVAL') {
      // The scope the call is held to once approved.
      return {
        allowed: false,
        code: 'approval_required',
        reasons,
        recordScope: decisionRecordScope(decision, ctx.principal),
      };
    }
    const code = (DENIAL_CODES.has(decision.code ?? '') ? decision.code : 'forbidden') as PermissionDenialCode;
    const missing = code === 'insufficient_scope' ? decisionMissingScopes(decision) : undefined;
    return { allowed: false, code, reasons, missingScopes: missing, recordScope: {} };
  }

  async checkRateLimit(ctx: PolicyContext, operation: string | null): Promise<RateLimitDecision | null> {
    const specific = operation === null ? undefined : this.specificLimiters[operation];
    return specific ? specific(ctx, operation) : this.defaultLimiter(ctx, operation);
  }

  /**
   * The document's buckets counted without a promise when the limiter can (the memory storage); undefined when an
   * operation has a limiter of its own, when `checkRateLimit` or `defaultLimiter` is overridden, or on Redis.
   */
  override checkRateLimitNow(ctx: PolicyContext, operation: string | null): RateLimitDecision | null | undefined {
    if (
      (operation !== null && this.specificLimiters[operation]) ||
      this.checkRateLimit !== ProductionAuthorizationPolicy.prototype.checkRateLimit ||
      this.defaultLimiter !== ProductionAuthorizationPolicy.prototype.defaultLimiter
    )
      return undefined;
    return this.rateLimiter.limitNow?.(ctx, operation);
  }

  /** The document's buckets for this principal and operation. */
  protected defaultLimiter(ctx: PolicyContext, operation: string | null): Promise<RateLimitDecision | null> {
    return this.rateLimiter.limit(ctx, operation);
  }
}

/** What the engine decides on: the principal, the operation, the request and its context. */
function engineInput(ctx: PolicyContext, operation: string): PolicyInput {
  return {
    principal: ctx.principal,
    operation,
    request: ctx.method ? { method: ctx.method, path: ctx.path ?? '' } : undefined,
    context: {
      requiredScopes: ctx.requiredScopes,
      approvalId: ctx.approvalId,
      body: ctx.body,
      requestId: ctx.requestId,
      ip: ctx.ip,
    },
  };
}
