import { HttpException, Inject, Injectable, Logger, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { httpRequest } from '../common/http-context';
import { routeMetadata } from '../common/route-metadata';
import { policyContextOf, requestPrincipal, type RequestPolicyState } from '../common/request-state';
import { COMPILED_POLICY, IS_PUBLIC_KEY, POLICY_CONTEXT_REQUEST_KEY, REQUIRE_OPERATION_KEY, REQUIRE_SCOPES_KEY } from '../policy.constants';
import { PolicyForbiddenException, UnauthenticatedException } from '../policy.exceptions';
import { AuthorizationPolicy } from './authorization-policy';
import type { CompiledPolicy } from './compiled-policy';
import { shadowRecordScope } from './shadow-mode';
import { DecisionHook } from './decision.hook';

/**
 * The second guard: asks `AuthorizationPolicy.checkPermission` whether the principal may run the route's operation.
 * A route with neither `@RequireOperation` nor `@Public` is denied (fail closed); a policy that throws denies.
 */
@Injectable()
export class AuthorizationGuard implements CanActivate {
  private readonly logger = new Logger('AuthorizationGuard');

  constructor(
    private readonly reflector: Reflector,
    private readonly policy: AuthorizationPolicy,
    @Optional() @Inject(DecisionHook) private readonly hook: DecisionHook | null,
    @Optional() @Inject(COMPILED_POLICY) private readonly compiled: CompiledPolicy | null = null,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (routeMetadata<boolean>(this.reflector, IS_PUBLIC_KEY, context)) return true;
    const req = httpRequest(context);
    const principal = requestPrincipal(req);
    const state = req[POLICY_CONTEXT_REQUEST_KEY] as RequestPolicyState | undefined;
    if (!principal || !state) throw new UnauthenticatedException();

    const operation = routeMetadata<string>(this.reflector, REQUIRE_OPERATION_KEY, context);
    if (!operation) {
      this.logger.warn(`Denied ${req.method} ${context.getClass().name}.${context.getHandler().name}: no @RequireOperation`);
      throw new PolicyForbiddenException('This route has no authorization policy');
    }
    state.operation = operation;
    state.requiredScopes = routeMetadata<string[]>(this.reflector, REQUIRE_SCOPES_KEY, context) ?? [];
    const ctx = policyContextOf(req, state, principal);

    let decision;
    try {
      decision = await this.policy.checkPermission(ctx, operation);
    } catch (err) {
      if (err instanceof HttpException) throw err;
      this.logger.error(`Permission check for ${operation} failed; denying: ${(err as Error).message}`);
      decision = { allowed: false, code: 'forbidden' as const, reasons: ['policy error'], recordScope: {} };
    }
    if (!decision.allowed) {
      // A role in shadow mode: what it would refuse passes, audited as SHADOW_DENY, still held to the tenant.
      const shadowScope = this.compiled ? shadowRecordScope(this.compiled, principal, operation, decision.code) : null;
      if (this.hook) await this.hook.onDenied(ctx, operation, decision, shadowScope !== null);
      if (!shadowScope) throw this.policy.permissionError(decision);
      state.recordScope = shadowScope;
      return true;
    }
    state.recordScope = decision.recordScope;
    if (this.hook) await this.hook.onGranted(ctx, operation, decision);
    return true;
  }
}
