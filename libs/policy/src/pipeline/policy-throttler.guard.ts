import { HttpException, Inject, Injectable, Logger, Optional, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { AuthorizationPolicy } from '../authorization/authorization-policy';
import { DecisionHook } from '../authorization/decision.hook';
import type { PolicyContext, RateLimitDecision } from '../authorization/policy-context.interface';
import { httpRequest, setHeader, type PolicyHttpResponse } from '../common/http-context';
import { policyContextOf, requestPrincipal, type RequestPolicyState } from '../common/request-state';
import { POLICY_CONTEXT_REQUEST_KEY } from '../policy.constants';
import { PolicyUnavailableException, RateLimitedException, UnauthenticatedException } from '../policy.exceptions';
import { rateLimitHeaders } from '../rate-limit/rate-limit.service';

const THROTTLER_SKIP = 'THROTTLER:SKIP';
const THROTTLER_LIMIT = 'THROTTLER:LIMIT';
const THROTTLER_TTL = 'THROTTLER:TTL';
const THROTTLER_BLOCK_DURATION = 'THROTTLER:BLOCK_DURATION';

/**
 * The third guard, a `ThrottlerGuard` whose limits come from `AuthorizationPolicy.checkRateLimit` and are counted
 * in the library's storage adapters. `@SkipThrottle()` skips it, `@Throttle({ default: { limit, ttl } })` replaces
 * the principal's default bucket on that route. Sets `X-RateLimit-*` on every limited response and `Retry-After`
 * on 429. A limiter error that is not an HTTP error answers 503 (fail closed).
 */
@Injectable()
export class PolicyThrottlerGuard extends ThrottlerGuard {
  private readonly policyLogger = new Logger('PolicyThrottlerGuard');

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly policy: AuthorizationPolicy,
    @Optional() @Inject(DecisionHook) private readonly hook: DecisionHook | null,
  ) {
    super(options, storage, reflector);
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(`${THROTTLER_SKIP}default`, targets)) return true;
    const req = httpRequest(context);
    const principal = requestPrincipal(req);
    const state = req[POLICY_CONTEXT_REQUEST_KEY] as RequestPolicyState | undefined;
    if (!principal || !state) throw new UnauthenticatedException();

    const ctx: PolicyContext = {
      ...policyContextOf(req, state, principal),
      route: `${context.getClass().name}.${context.getHandler().name}`,
      routeLimit: this.routeLimit(targets),
    };
    let decision: RateLimitDecision | null;
    try {
      decision = await this.policy.checkRateLimit(ctx, state.operation);
    } catch (err) {
      if (err instanceof HttpException) throw err;
      this.policyLogger.error(`Rate limit check failed; denying: ${(err as Error).message}`);
      throw new PolicyUnavailableException();
    }
    state.rateLimit = decision;
    if (!decision) return true;
    const res = context.switchToHttp().getResponse<PolicyHttpResponse>();
    for (const [name, value] of Object.entries(rateLimitHeaders(decision))) setHeader(res, name, value);
    if (!decision.allowed) {
      if (this.hook) await this.hook.onRateLimited(ctx, state.operation, decision);
      throw new RateLimitedException(decision.retryAfterSeconds);
    }
    return true;
  }

  private routeLimit(t: Parameters<Reflector['getAllAndOverride']>[1]): PolicyContext['routeLimit'] {
    const limit = this.reflector.getAllAndOverride<number | undefined>(`${THROTTLER_LIMIT}default`, t);
    const ttl = this.reflector.getAllAndOverride<number | undefined>(`${THROTTLER_TTL}default`, t);
    if (typeof limit !== 'number' || typeof ttl !== 'number') return undefined;
    const block = this.reflector.getAllAndOverride<number | undefined>(`${THROTTLER_BLOCK_DURATION}default`, t);
    return { limit, ttlMs: ttl, blockDurationMs: typeof block === 'number' ? block : 0 };
  }
}
