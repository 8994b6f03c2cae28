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

  onDenied(ctx: PolicyContext, operation: string, decision: PermissionDecision): Promise<void> {
    this.metrics.decisions.inc({ operation, outcome: decision.code === 'approval_required' ? 'REQUIRE_APPROVAL' : 'DENY' });
    return this.inner.onDenied(ctx, operation, decision);
  }

  onGranted(ctx: PolicyContext, operation: string, decision: PermissionDecision): Promise<void> {
    this.metrics.decisions.inc({ operation, outcome: 'ALLOW' });
    return this.inner.onGranted(ctx, operation, decision);
  }

  onRateLimited(ctx: PolicyContext, operation: string | null, decision: RateLimitDecision): Promise<void> {
    this.metrics.rateLimitHits.inc({ bucket: decision.bucket });
    return this.inner.onRateLimited(ctx, operation, decision);
  }

  onAuthFailure(ip: string, requestId: string, credential: 'jwt' | 'api-key'): Promise<void> {
    this.metrics.authFailures.inc({ credential });
    return this.inner.onAuthFailure(ip, requestId, credential);
  }
}
