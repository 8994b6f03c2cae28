import { DecisionHook } from '../authorization/decision.hook';
import type { PermissionDecision, PolicyContext, RateLimitDecision } from '../authorization/policy-context.interface';
import type { PolicyMetrics } from './policy-metrics';

/** Counts each decision of the guards, then hands it on to the hook it wraps (the audit log). */
export class MetricsDecisionHook extends DecisionHook {
  constructor(
    private readonly inner: DecisionHook,
    private readonly metrics: PolicyMetrics,
  ) {
    super();
  }

  onDenied(ctx: PolicyContext, operation: string, decision: PermissionDecision, shadow = false): Promise<void> {
    const outcome = shadow ? 'SHADOW_DENY' : decision.code === 'approval_required' ? 'REQUIRE_APPROVAL' : 'DENY';
    this.metrics.decisions.inc({ operation, outcome });
    if (shadow) this.metrics.shadowDenials.inc({ control: 'role' });
    return this.inner.onDenied(ctx, operation, decision, shadow);
  }

  onGranted(ctx: PolicyContext, operation: string, decision: PermissionDecision): Promise<void> {
    this.metrics.decisions.inc({ operation, outcome: 'ALLOW' });
    return this.inner.onGranted(ctx, operation, decision);
  }

  onRateLimited(ctx: PolicyContext, operation: string | null, decision: RateLimitDecision, shadow = false): Promise<void> {
    if (shadow) this.metrics.shadowDenials.inc({ control: 'rate_limit' });
    else this.metrics.rateLimitHits.inc({ bucket: decision.bucket });
    return this.inner.onRateLimited(ctx, operation, decision, shadow);
  }

  onAuthFailure(ip: string, requestId: string, credential: 'jwt' | 'api-key', tenantId: string | null = null): Promise<void> {
    this.metrics.authFailures.inc({ credential });
    return this.inner.onAuthFailure(ip, requestId, credential, tenantId);
  }
}
