import { Injectable } from '@nestjs/common';
import { PolicyEventSubscriber, type PolicyEvent, type PolicyEventListener } from '../common/policy-events';
import { PolicyMetrics } from './policy-metrics';

/** Counts the request path's events: decisions, rate-limit hits, authentication failures, shadow-mode refusals. */
@PolicyEventSubscriber()
@Injectable()
export class MetricsSubscriber implements PolicyEventListener {
  constructor(private readonly metrics: PolicyMetrics) {}

  onPolicyEvent(event: PolicyEvent): void {
    switch (event.type) {
      case 'access.denied': {
        const outcome = event.shadow
          ? 'SHADOW_DENY'
          : event.decision.code === 'approval_required'
            ? 'REQUIRE_APPROVAL'
            : 'DENY';
        this.metrics.decisions.inc({ operation: event.operation, outcome });
        if (event.shadow) this.metrics.shadowDenials.inc({ control: 'role' });
        return;
      }
      case 'access.granted':
        this.metrics.countGrant(event.operation);
        return;
      case 'rate_limit.exceeded':
        if (event.shadow) this.metrics.shadowDenials.inc({ control: 'rate_limit' });
        else this.metrics.rateLimitHits.inc({ bucket: event.decision.bucket });
        return;
      case 'auth.failure':
        this.metrics.authFailures.inc({ credential: event.credential });
        return;
      case 'budget.exceeded':
      case 'budget.soft_limit':
        if (event.shadow) this.metrics.shadowDenials.inc({ control: 'budget' });
        return;
    }
  }
}
