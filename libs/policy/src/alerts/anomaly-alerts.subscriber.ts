import { Injectable } from '@nestjs/common';
import { PolicyEventSubscriber, type PolicyEvent, type PolicyEventListener } from '../common/policy-events';
import { AnomalyAlerts } from './anomaly-alerts.service';

/**
 * Counts the request path's events for anomaly alerts, from the `PolicyEvents` sink: a grant is a request; a denial,
 * a shadowed denial or a rate-limit refusal is a request and a denial; a refused credential is a failed
 * authentication of its client IP. Counting never waits, and does nothing while alerts are off.
 */
@PolicyEventSubscriber()
@Injectable()
export class AnomalyAlertsSubscriber implements PolicyEventListener {
  constructor(private readonly alerts: AnomalyAlerts) {}

  onPolicyEvent(event: PolicyEvent): void {
    if (!this.alerts.enabled) return;
    switch (event.type) {
      case 'access.granted':
        this.alerts.observeDecision(event.ctx.principal, false, event.ctx);
        return;
      case 'access.denied':
      case 'rate_limit.exceeded':
        this.alerts.observeDecision(event.ctx.principal, true, event.ctx);
        return;
      case 'auth.failure':
        this.alerts.observeAuthFailure(event.ip, event.requestId);
        return;
      default:
        return;
    }
  }
}
