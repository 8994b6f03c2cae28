import { Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { httpRequest } from '../common/http-context';
import { requestPrincipal } from '../common/request-state';
import { PolicyMetrics } from '../monitoring/policy-metrics';
import { AnomalyBlockedException } from '../policy.exceptions';
import { AnomalyAlerts, principalSubject } from './anomaly-alerts.service';

/**
 * Refuses a principal blocked after an anomaly (`alerts.blockSeconds`) with 403 `forbidden`, reason `anomaly`,
 * right after authentication and before rate limits count the request. One map lookup, and none at all while no
 * principal is blocked.
 */
@Injectable()
export class AnomalyBlockGuard implements CanActivate {
  constructor(
    private readonly alerts: AnomalyAlerts,
    @Optional() private readonly metrics: PolicyMetrics | null = null,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (!this.alerts.blocking) return true;
    const principal = requestPrincipal(httpRequest(context));
    if (!principal) return true;
    const ms = this.alerts.blockedFor(principalSubject(principal));
    if (ms <= 0) return true;
    this.metrics?.anomalyBlocks.inc();
    throw new AnomalyBlockedException(ms / 1000);
  }
}
