import { Inject, Injectable, Optional } from '@nestjs/common';
import { ApprovalService, requestDigest } from '../approval/approval.service';
import { PolicyEngine } from '../engine/policy.engine';
import { COMPILED_POLICY } from '../policy.constants';
import { AuthorizationPolicy } from './authorization-policy';
import { approvalTtlMs, type CompiledPolicy } from './compiled-policy';
import type { PermissionDecision, PermissionDenialCode, PolicyContext, RateLimitDecision } from './policy-context.interface';
import { PolicyRateLimiter, type OperationLimiter } from './policy-rate-limiter.interface';
import { rolesAllowing } from './role-resolver';
import { expandScopes, missingScopes } from './scope-expander';
import { recordScopeFor } from './tenant.rules';

const DENIAL_CODES: ReadonlySet<string> = new Set(['forbidden', 'insufficient_scope', 'not_found']);

/**
 * Roles, scopes, approvals, tenant rules and rate limits from the policy document, decided by the `PolicyEngine`:
 * the built-in role (100), scope (200) and approval (900) policies plus every `@PolicyEvaluator()` provider of the
 * app. Deny overrides approval overrides allow; a throwing policy denies. Tenant and ownership rules become the
 * record scope of an allowed call (another tenant's record is a 404).
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
    @Optional() @Inject(ApprovalService) protected readonly approvals: ApprovalService | null,
  ) {
    super();
  }

  async checkPermission(ctx: PolicyContext, operation: string): Promise<PermissionDecision> {
    const decision = await this.engine.evaluate({
      principal: ctx.principal,
      operation,
      request: ctx.method ? { method: ctx.method, path: ctx.path ?? '' } : undefined,
      context: { requiredScopes: ctx.requiredScopes, approvalId: ctx.approvalId, body: ctx.body, requestId: ctx.requestId, ip: ctx.ip },
    });
    const reasons = decision.reasons.map((r) => `${r.policy}: ${r.reason}`);
    if (decision.outcome === 'ALLOW') {
      const allowing = rolesAllowing(this.compiled.roles, ctx.principal.roles, operation);
      const ownOnly = allowing.length > 0 && allowing.every((role) => role.own);
      return { allowed: true, reasons, recordScope: recordScopeFor(ctx.principal, ownOnly) };
    }
    if (decision.outcome === 'REQUIRE_APPROVAL') return this.requireApproval(ctx, operation, reasons);
    const code = (DENIAL_CODES.has(decision.code ?? '') ? decision.code : 'forbidden') as PermissionDenialCode;
    const missing = code === 'insufficient_scope' ? missingScopes(expandScopes(ctx.principal.scopes, this.compiled.scopes), ctx.requiredScopes) : undefined;
    return { allowed: false, code, reasons, missingScopes: missing, recordScope: {} };
  }

  async checkRateLimit(ctx: PolicyContext, operation: string | null): Promise<RateLimitDecision | null> {
    const specific = operation === null ? undefined : this.specificLimiters[operation];
    return specific ? specific(ctx, operation) : this.defaultLimiter(ctx, operation);
  }

  /** The document's buckets for this principal and operation. */
  protected defaultLimiter(ctx: PolicyContext, operation: string | null): Promise<RateLimitDecision | null> {
    return this.rateLimiter.limit(ctx, operation);
  }

  /** Stores a pending approval bound to this principal, operation and request, and answers `approval_required`. */
  protected async requireApproval(ctx: PolicyContext, operation: string, reasons: string[]): Promise<PermissionDecision> {
    if (!this.approvals) return { allowed: false, code: 'forbidden', reasons: [...reasons, 'no approval store'], recordScope: {} };
    const approval = await this.approvals.create({
      principal: ctx.principal,
      operation,
      digest: requestDigest({ method: ctx.method ?? '', path: ctx.path ?? '', body: ctx.body }),
      reason: reasons.join('; '),
      ttlMs: approvalTtlMs(this.compiled),
      origin: { requestId: ctx.requestId, ip: ctx.ip },
    });
    return {
      allowed: false,
      code: 'approval_required',
      reasons,
      recordScope: {},
      approval: { id: approval.id, expiresAt: approval.expiresAt },
    };
  }
}
