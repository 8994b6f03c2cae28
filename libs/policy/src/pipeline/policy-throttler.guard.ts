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
import { routeMetadata } from '../common/route-metadata';
import { policyContextOf, requestPrincipal, type RequestPolicyState } from '../common/request-state';
import { COMPILED_POLICY, IS_PUBLIC_KEY, POLICY_CONTEXT_REQUEST_KEY, REQUIRE_OPERATION_KEY } from '../policy.constants';
import type { CompiledPolicy } from '../authorization/compiled-policy';
import { PolicyUnavailableException, RateLimitedException, UnauthenticatedException } from '../policy.exceptions';
import { rateLimitHeaders } from '../rate-limit/rate-limit.service';

// The metadata keys @nestjs/throttler's decorators write for the throttler named `default`.
const SKIP_DEFAULT = 'THROTTLER:SKIPdefault';
const LIMIT_DEFAULT = 'THROTTLER:LIMITdefault';
const TTL_DEFAULT = 'THROTTLER:TTLdefault';
const BLOCK_DURATION_DEFAULT = 'THROTTLER:BLOCK_DURATIONdefault';

/**
 * The second guard, a `ThrottlerGuard` whose limits come from `AuthorizationPolicy.checkRateLimit` and are counted
 * in the library's storage adapters. `@SkipThrottle()` skips it, `@Throttle({ default: { limit, ttl } })` replaces
 * the principal's default bucket on that route. Sets `X-RateLimit-*` on every limited response and `Retry-After`
 * on 429. A limiter error that is not an HTTP error answers 503 (fail closed).
 *
 * It counts before `AuthorizationGuard` decides, so a request is charged whatever its authorization outcome: a
 * caller's denied attempts (403, approval required) spend the same buckets as its granted ones, and once they are
 * spent the caller gets 429 without the permission check (nor an approval request) running at all.
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
    @Optional() @Inject(COMPILED_POLICY) private readonly compiled: CompiledPolicy | null = null,
  ) {
    super(options, storage, reflector);
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (routeMetadata<boolean>(this.reflector, SKIP_DEFAULT, context)) return true;
    const req = httpRequest(context);
    const principal = requestPrincipal(req);
    const state = req[POLICY_CONTEXT_REQUEST_KEY] as RequestPolicyState | undefined;
    if (!principal || !state) throw new UnauthenticatedException();

    const ctx: PolicyContext = {
      ...policyContextOf(req, state, principal),
      route: `${context.getClass().name}.${context.getHandler().name}`,
      routeLimit: this.routeLimit(context),
    };
    // Authorization has not run yet: the route's own metadata names the operation (none on a public route).
    const operation = routeMetadata<boolean>(this.reflector, IS_PUBLIC_KEY, context)
      ? null
      : (routeMetadata<string>(this.reflector, REQUIRE_OPERATION_KEY, context) ?? null);
    let decision: RateLimitDecision | null;
    try {
      decision = await this.policy.checkRateLimit(ctx, operation);
    } catch (err) {
      if (err instanceof HttpException) throw err;
      this.policyLogger.error(`Rate limit check failed; denying: ${(err as Error).message}`);
      throw new PolicyUnavailableException();
    }
    state.rateLimit = decision;
    if (!decision) return true;
    const res = context.switchToHttp().getResponse<PolicyHttpResponse>();
    const config = this.compiled?.document.rateLimits;
    // In shadow mode a refusal is audited (SHADOW_DENY) and the request passes, with the headers of an allowed one.
    const shadow = !decision.allowed && config?.mode === 'shadow';
    const shown = shadow ? { ...decision, allowed: true, retryAfterSeconds: 0 } : decision;
    for (const [name, value] of Object.entries(rateLimitHeaders(shown, config?.headers))) setHeader(res, name, value);
    if (!decision.allowed) {
      if (this.hook) await this.hook.onRateLimited(ctx, operation, decision, shadow);
      if (!shadow) throw new RateLimitedException(decision.retryAfterSeconds);
    }
    return true;
  }

  private routeLimit(context: ExecutionContext): PolicyContext['routeLimit'] {
    const limit = routeMetadata<number>(this.reflector, LIMIT_DEFAULT, context);
    const ttl = routeMetadata<number>(this.reflector, TTL_DEFAULT, context);
    if (typeof limit !== 'number' || typeof ttl !== 'number') return undefined;
    const block = routeMetadata<number>(this.reflector, BLOCK_DURATION_DEFAULT, context);
    return { limit, ttlMs: ttl, blockDurationMs: typeof block === 'number' ? block : 0 };
  }
}
