import {
  ApprovalRequiredException,
  InsufficientScopeException,
  PolicyForbiddenException,
  PolicyNotFoundException,
  RateLimitedException,
} from '../policy.exceptions';
import { operationApprovalCall, type ApprovalGate } from '../approval/approval.gate';
import type { PermissionDecision, PolicyContext, RateLimitDecision } from './policy-context.interface';

/** The outcome of {@link AuthorizationPolicy.authorize}: both decisions, when both allowed. */
export interface AuthorizationResult {
  readonly permission: PermissionDecision;
  readonly rateLimit: RateLimitDecision | null;
}

/**
 * The authorization policy: the one place that decides whether a principal may run an operation, and how often.
 * It is an abstract class so that it is also its own injection token; override it with
 * `PolicyModule.forRoot({ policy: MyPolicy })`, `{ provide: AuthorizationPolicy, useClass: MyPolicy }`, or
 * `Test.createTestingModule(...).overrideProvider(AuthorizationPolicy)`.
 *
 * @example
 * class ReadOnlyPolicy extends AuthorizationPolicy {
 *   async checkPermission(ctx: PolicyContext, op: string) {
 *     return op.endsWith('.read') ? { allowed: true, reasons: ['read-only'], recordScope: {} }
 *                                 : { allowed: false, code: 'forbidden', reasons: ['read-only'], recordScope: {} };
 *   }
 *   async checkRateLimit() { return null; }
 * }
 */
export abstract class AuthorizationPolicy {
  /** Decides roles, scopes and tenant rules. Must not throw for a denial: it returns `allowed: false`. */
  abstract checkPermission(ctx: PolicyContext, operation: string): Promise<PermissionDecision>;

  /** Counts the call against the principal's buckets; `null` means the call is not limited. */
  abstract checkRateLimit(ctx: PolicyContext, operation: string | null): Promise<RateLimitDecision | null>;

  /**
   * Optional fast lane of {@link checkPermission}: the same decision without a promise, or undefined when this policy
   * cannot answer at once (the guards then call `checkPermission`). The default answers undefined, so a policy that
   * only implements `checkPermission` is asked there.
   */
  checkPermissionNow(_ctx: PolicyContext, _operation: string): PermissionDecision | undefined {
    return undefined;
  }

  /** Optional fast lane of {@link checkRateLimit}, as {@link checkPermissionNow}. */
  checkRateLimitNow(_ctx: PolicyContext, _operation: string | null): RateLimitDecision | null | undefined {
    return undefined;
  }

  /**
   * Runs the permission and the rate-limit checks together, for callers outside the HTTP pipeline
   * (a tool call inside a handler, a WebSocket message). Given the `ApprovalGate`, a REQUIRE_APPROVAL decision is
   * handed to it once the rate limits allowed the call (the approval in `ctx.approvalId` is spent, or a pending one
   * stored); without it such a call is refused.
   * @throws PolicyForbiddenException, InsufficientScopeException, PolicyNotFoundException,
   * ApprovalRequiredException or RateLimitedException with the matching HTTP status and code.
   */
  async authorize(
    ctx: PolicyContext,
    operation: string,
    approvals?: ApprovalGate | null,
  ): Promise<AuthorizationResult> {
    let permission = await this.checkPermission(ctx, operation);
    const needsApproval =
      !permission.allowed && permission.code === 'approval_required' && !permission.approval && !!approvals;
    if (!permission.allowed && !needsApproval) throw this.permissionError(permission);
    const rateLimit = await this.checkRateLimit(ctx, operation);
    if (rateLimit && !rateLimit.allowed) throw new RateLimitedException(rateLimit.retryAfterSeconds);
    if (needsApproval) {
      const approvalId = await approvals.pass(operationApprovalCall(ctx, operation));
      permission = {
        allowed: true,
        reasons: [...permission.reasons, `approval ${approvalId} used`],
        recordScope: permission.recordScope,
      };
    }
    return { permission, rateLimit };
  }

  /** Translates a denied permission into the exception of its code. Override to customise messages. */
  permissionError(decision: PermissionDecision): Error {
    switch (decision.code) {
      case 'insufficient_scope':
        return new InsufficientScopeException(decision.missingScopes ?? []);
      case 'not_found':
        return new PolicyNotFoundException();
      case 'approval_required':
        return decision.approval
          ? new ApprovalRequiredException(decision.approval.id, decision.approval.expiresAt)
          : new PolicyForbiddenException('This operation requires approval');
      default:
        return new PolicyForbiddenException();
    }
  }
}
