import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { DecisionHook } from '../authorization/decision.hook';
import type { PermissionDecision, PolicyContext, RateLimitDecision } from '../authorization/policy-context.interface';
import { POLICY_MODULE_OPTIONS } from '../policy.constants';
import type { PolicyModuleOptions } from '../policy-module-options.interface';

/**
 * Turns the guards' decisions into audit events: every denial, rate-limit hit and authentication failure, and —
 * when `audit.grants` is on — every grant. Recording only enqueues; the writer persists off the request path.
 */
@Injectable()
export class AuditDecisionHook extends DecisionHook {
  private readonly grants: boolean;

  constructor(
    private readonly audit: AuditService,
    @Inject(POLICY_MODULE_OPTIONS) options: PolicyModuleOptions,
  ) {
    super();
    this.grants = options.audit?.grants === true;
  }

  async onDenied(ctx: PolicyContext, operation: string, decision: PermissionDecision): Promise<void> {
    await this.audit.record({
      type: 'access.denied',
      outcome: decision.code === 'approval_required' ? 'REQUIRE_APPROVAL' : 'DENY',
      principal: ctx.principal,
      operation,
      reasons: [...decision.reasons],
      requestId: ctx.requestId,
      ip: ctx.ip,
      details: { code: decision.code ?? 'forbidden', method: ctx.method ?? null, approvalId: decision.approval?.id ?? null },
    });
  }

  async onGranted(ctx: PolicyContext, operation: string, decision: PermissionDecision): Promise<void> {
    if (!this.grants) return;
    await this.audit.record({
      type: 'access.granted',
      outcome: 'ALLOW',
      principal: ctx.principal,
      operation,
      reasons: [...decision.reasons],
      requestId: ctx.requestId,
      ip: ctx.ip,
    });
  }

  async onRateLimited(ctx: PolicyContext, operation: string | null, decision: RateLimitDecision): Promise<void> {
    await this.audit.record({
      type: 'rate_limit.exceeded',
      outcome: 'DENY',
      principal: ctx.principal,
      operation,
      reasons: [`bucket ${decision.bucket} over its limit of ${decision.limit}`],
      requestId: ctx.requestId,
      ip: ctx.ip,
      details: { bucket: decision.bucket, limit: decision.limit, retryAfterSeconds: decision.retryAfterSeconds },
    });
  }

  async onAuthFailure(ip: string, requestId: string, credential: 'jwt' | 'api-key', tenantId: string | null = null): Promise<void> {
    await this.audit.record({
      type: 'auth.failure',
      outcome: 'DENY',
      principalId: null,
      tenantId,
      reasons: [`invalid ${credential === 'jwt' ? 'bearer token' : 'API key'}`],
      requestId,
      ip,
      details: { credential },
    });
  }
}
