import { AuthFailureHook } from '../authentication/auth-failure.hook';
import { DecisionHook } from '../authorization/decision.hook';
import type { PermissionDecision, PolicyContext, RateLimitDecision } from '../authorization/policy-context.interface';
import type { PolicyMetrics } from '../monitoring/policy-metrics';
import { AnomalyBlockedException } from '../policy.exceptions';
import { ipSubject, type AnomalyAlerts } from './anomaly-alerts.service';

/**
 * Counts each decision of the guards for anomaly alerts (a grant is a request; a denial, a shadowed denial or a
 * rate-limit refusal is a request and a denial), then hands it on to the hook it wraps. Counting never waits.
 */
export class AlertingDecisionHook extends DecisionHook {
  constructor(
    private readonly inner: DecisionHook,
    private readonly alerts: AnomalyAlerts,
  ) {
    super();
  }

  onDenied(ctx: PolicyContext, operation: string, decision: PermissionDecision, shadow = false): Promise<void> {
    this.alerts.observeDecision(ctx.principal, true, ctx);
    return this.inner.onDenied(ctx, operation, decision, shadow);
  }

  onGranted(ctx: PolicyContext, operation: string, decision: PermissionDecision): Promise<void> {
    this.alerts.observeDecision(ctx.principal, false, ctx);
    return this.inner.onGranted(ctx, operation, decision);
  }

  onRateLimited(ctx: PolicyContext, operation: string | null, decision: RateLimitDecision, shadow = false): Promise<void> {
    this.alerts.observeDecision(ctx.principal, true, ctx);
    return this.inner.onRateLimited(ctx, operation, decision, shadow);
  }

  onAuthFailure(ip: string, requestId: string, credential: 'jwt' | 'api-key', tenantId: string | null = null): Promise<void> {
    return this.inner.onAuthFailure(ip, requestId, credential, tenantId);
  }
}

/**
 * Counts failed authentications per client IP for anomaly alerts and refuses a blocked IP's credentials
 * (403 `forbidden`, reason `anomaly`) before they are checked; otherwise defers to the hook it wraps.
 */
export class AlertingAuthFailureHook extends AuthFailureHook {
  constructor(
    private readonly inner: AuthFailureHook,
    private readonly alerts: AnomalyAlerts,
    private readonly metrics: PolicyMetrics | null = null,
  ) {
    super();
  }

  beforeAttempt(ip: string): Promise<void> {
    if (this.alerts.blocking) {
      const ms = this.alerts.blockedFor(ipSubject(ip));
      if (ms > 0) {
        this.metrics?.anomalyBlocks.inc();
        return Promise.reject(new AnomalyBlockedException(ms / 1000));
      }
    }
    return this.inner.beforeAttempt(ip);
  }

  onFailure(ip: string, requestId: string, credential: 'jwt' | 'api-key', tenantId: string | null = null): Promise<void> {
    this.alerts.observeAuthFailure(ip, requestId);
    return this.inner.onFailure(ip, requestId, credential, tenantId);
  }
}
