import { Inject, Injectable } from '@nestjs/common';
import { PolicyEventSubscriber, type PolicyEvent, type PolicyEventListener } from '../common/policy-events';
import { POLICY_MODULE_OPTIONS } from '../policy.constants';
import type { PolicyModuleOptions } from '../policy-module-options.interface';
import { AuditService } from './audit.service';

/**
 * Turns the request path's events into audit events: every denial, rate-limit hit, authentication failure and
 * budget event, and — when `audit.grants` is on — every grant. Recording only enqueues; the writer persists off the
 * request path.
 */
@PolicyEventSubscriber()
@Injectable()
export class AuditDecisionSubscriber implements PolicyEventListener {
  private readonly grants: boolean;

  constructor(
    private readonly audit: AuditService,
    @Inject(POLICY_MODULE_OPTIONS) options: PolicyModuleOptions,
  ) {
    this.grants = options.audit?.grants === true;
  }

  /** Answers a promise only for an event it records (a grant with `audit.grants` off costs none). */
  onPolicyEvent(event: PolicyEvent): Promise<unknown> | undefined {
    switch (event.type) {
      case 'access.denied': {
        const { ctx, decision } = event;
        return this.audit.record({
          type: 'access.denied',
          outcome: event.shadow ? 'SHADOW_DENY' : decision.code === 'approval_required' ? 'REQUIRE_APPROVAL' : 'DENY',
          principal: ctx.principal,
          operation: event.operation,
          reasons: [...decision.reasons],
          requestId: ctx.requestId,
          ip: ctx.ip,
          details: {
            code: decision.code ?? 'forbidden',
            method: ctx.method ?? null,
            approvalId: decision.approval?.id ?? null,
          },
        });
      }
      case 'access.granted':
        if (!this.grants) return;
        return this.audit.record({
          type: 'access.granted',
          outcome: 'ALLOW',
          principal: event.ctx.principal,
          operation: event.operation,
          reasons: [...event.decision.reasons],
          requestId: event.ctx.requestId,
          ip: event.ctx.ip,
        });
      case 'rate_limit.exceeded': {
        const { ctx, decision } = event;
        return this.audit.record({
          type: 'rate_limit.exceeded',
          outcome: event.shadow ? 'SHADOW_DENY' : 'DENY',
          principal: ctx.principal,
          operation: event.operation,
          reasons: [`bucket ${decision.bucket} over its limit of ${decision.limit}`],
          requestId: ctx.requestId,
          ip: ctx.ip,
          details: { bucket: decision.bucket, limit: decision.limit, retryAfterSeconds: decision.retryAfterSeconds },
        });
      }
      case 'auth.failure':
        return this.audit.record({
          type: 'auth.failure',
          outcome: 'DENY',
          principalId: null,
          tenantId: event.tenantId,
          reasons: [`invalid ${event.credential === 'jwt' ? 'bearer token' : 'API key'}`],
          requestId: event.requestId,
          ip: event.ip,
          details: { credential: event.credential },
        });
      case 'budget.exceeded':
      case 'budget.soft_limit':
        return this.audit.record({
          type: event.type,
          outcome: event.type === 'budget.exceeded' ? (event.shadow ? 'SHADOW_DENY' : 'DENY') : 'WARNING',
          principal: event.principal,
          operation: event.operation,
          requestId: event.requestId,
          reasons: [`${event.scope} ${event.period} ${event.unit} budget at ${event.percentUsed}%`],
          details: { scope: event.scope, period: event.period, unit: event.unit, percentUsed: event.percentUsed },
        });
    }
    return undefined;
  }
}
