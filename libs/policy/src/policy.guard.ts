import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { isObservable, lastValueFrom } from 'rxjs';
import { AnomalyBlockGuard } from './alerts/anomaly-block.guard';
import { AuthenticationGuard } from './authentication/authentication.guard';
import { AuthorizationGuard } from './authorization/authorization.guard';
import { PolicyThrottlerGuard } from './rate-limit/policy-throttler.guard';

type Outcome = ReturnType<CanActivate['canActivate']>;

/**
 * The library's one global guard: runs its steps in order on every route — authentication, the anomaly block, the
 * rate limits, authorization — and stops at the first that refuses or throws. Each step is a provider of its own
 * class, so an app replaces one with `overrideProvider(AuthorizationGuard)` (or its module's `providers`) and the
 * chain runs the replacement. A step that answers synchronously costs no promise; the chain awaits only the steps
 * that answer a promise (or an observable), one after the other, as Nest would run them as separate guards. A step
 * passes only with `true` (or a promise or observable of `true`): any other answer refuses, where Nest would let a
 * truthy value through (fail closed).
 */
@Injectable()
export class PolicyGuard implements CanActivate {
  private readonly steps: readonly CanActivate[];

  constructor(
    authentication: AuthenticationGuard,
    anomalies: AnomalyBlockGuard,
    rateLimits: PolicyThrottlerGuard,
    authorization: AuthorizationGuard,
  ) {
    // The library's rate-limit guard answers without a promise when it can (`activate`); a replacement that only
    // implements `canActivate`, or overrides it, is asked there.
    const limits: CanActivate =
      rateLimits instanceof PolicyThrottlerGuard &&
      rateLimits.canActivate === PolicyThrottlerGuard.prototype.canActivate
        ? { canActivate: (context) => rateLimits.activate(context) }
        : rateLimits;
    this.steps = [authentication, anomalies, limits, authorization];
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    return this.runFrom(0, context);
  }

  private runFrom(first: number, context: ExecutionContext): boolean | Promise<boolean> {
    for (let i = first; i < this.steps.length; i++) {
      const outcome = this.steps[i].canActivate(context);
      if (outcome === true) continue;
      if (outcome === false) return false;
      const next = i + 1;
      return settle(outcome).then((allowed) => (allowed === true ? this.runFrom(next, context) : false));
    }
    return true;
  }
}

/** A step's answer as a promise: an observable's last value (false when it completes empty), a promise's value. */
function settle(outcome: Outcome): Promise<boolean> {
  if (isObservable(outcome)) return lastValueFrom(outcome, { defaultValue: false });
  return Promise.resolve(outcome);
}
