import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { httpRequest } from '../common/http-context';
import { PolicyRequest } from '../common/policy-request';
import { AnomalyAlerts, principalSubject } from './anomaly-alerts.service';

/**
 * Refuses a principal blocked after an anomaly (`alerts.blockSeconds`) with 403 `forbidden`, reason `anomaly`,
 * right after authentication and before rate limits count the request. One map lookup, and none at all while no
 * principal is blocked.
 */
@Injectable()
export class AnomalyBlockGuard implements CanActivate {
  constructor(private readonly alerts: AnomalyAlerts) {}

  canActivate(context: ExecutionContext): boolean {
    if (!this.alerts.blocking) return true;
    const principal = PolicyRequest.of(httpRequest(context))?.principal;
    if (principal) this.alerts.refuseIfBlocked(principalSubject(principal));
    return true;
  }
}
