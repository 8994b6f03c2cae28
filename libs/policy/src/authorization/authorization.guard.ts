import {
  HttpException,
  Inject,
  Injectable,
  Logger,
  Optional,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApprovalGate, operationApprovalCall } from '../approval/approval.gate';
import { httpRequest } from '../common/http-context';
import { POLICY_EVENTS, PolicyEventBus, type PolicyEvent, type PolicyEvents } from '../common/policy-events';
import { PolicyRequest } from '../common/policy-request';
import { routePolicy } from '../common/route-metadata';
import { COMPILED_POLICY } from '../policy.constants';
import { PolicyForbiddenException, UnauthenticatedException } from '../policy.exceptions';
import { AuthorizationPolicy } from './authorization-policy';
import type { CompiledPolicy } from './compiled-policy';
import type { PermissionDecision, PolicyContext } from './policy-context.interface';
import { shadowRecordScope } from './shadow-mode';

/**
 * The authorization guard: asks `AuthorizationPolicy.checkPermission` (the `PolicyEngine`) whether the principal
 * may run the route's operation, once. A REQUIRE_APPROVAL decision goes to the `ApprovalGate` (this guard runs after
 * the rate limits, so that is after the final allow). A route with neither `@RequireOperation` nor `@Public` is
 * denied (fail closed); a policy that throws denies. Every decision is emitted on the `PolicyEvents` sink.
 */
@Injectable()
export class AuthorizationGuard implements CanActivate {
  private readonly logger = new Logger('AuthorizationGuard');

  constructor(
    private readonly reflector: Reflector,
    private readonly policy: AuthorizationPolicy,
    @Optional() @Inject(POLICY_EVENTS) private readonly events: PolicyEvents | null = null,
    @Optional() @Inject(COMPILED_POLICY) private readonly compiled: CompiledPolicy | null = null,
    @Optional() @Inject(ApprovalGate) private readonly approvals: ApprovalGate | null = null,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const req = httpRequest(context);
    const state = PolicyRequest.of(req);
    const route = routePolicy(this.reflector, context);
    if (route.isPublic) return true;
    const ctx = state?.context(route);
    if (!state || !ctx) throw new UnauthenticatedException();

    const operation = route.operation;
    if (!operation) {
      this.logger.warn(
        `Denied ${req.method} ${context.getClass().name}.${context.getHandler().name}: no @RequireOperation`,
      );
      throw new PolicyForbiddenException('This route has no authorization policy');
    }
    state.operation = operation;

    // The policy's fast lane (the engine's compiled decision) answers a grant without a promise.
    let now: PermissionDecision | undefined;
    try {
      now = this.policy.checkPermissionNow(ctx, operation);
    } catch {
      now = undefined; // checkPermission decides, and denies if it fails too
    }
    if (now?.allowed) {
      state.recordScope = now.recordScope;
      const emitted = this.emit({ type: 'access.granted', ctx, operation, decision: now });
      return emitted ? emitted.then(() => true) : true;
    }
    return this.decide(state, ctx, operation, now);
  }

  private async decide(
    state: PolicyRequest,
    ctx: PolicyContext,
    operation: string,
    known: PermissionDecision | undefined,
  ): Promise<boolean> {
    let decision: PermissionDecision;
    try {
      decision = known ?? (await this.policy.checkPermission(ctx, operation));
    } catch (err) {
      if (err instanceof HttpException) throw err;
      this.logger.error(`Permission check for ${operation} failed; denying: ${(err as Error).message}`);
      decision = { allowed: false, code: 'forbidden', reasons: ['policy error'], recordScope: {} };
    }
    if (decision.code === 'approval_required' && !decision.approval) {
      decision = await this.approve(ctx, operation, decision);
      if (decision.allowed && ctx.approvalId) state.spentApprovalId = ctx.approvalId;
    }
    if (!decision.allowed) {
      // A role in shadow mode: what it would refuse passes, audited as SHADOW_DENY, still held to the tenant.
      const shadowScope = this.compiled
        ? shadowRecordScope(this.compiled, ctx.principal, operation, decision.code)
        : null;
      await this.emit({ type: 'access.denied', ctx, operation, decision, shadow: shadowScope !== null });
      if (!shadowScope) throw this.policy.permissionError(decision);
      state.recordScope = shadowScope;
      return true;
    }
    state.recordScope = decision.recordScope;
    await this.emit({ type: 'access.granted', ctx, operation, decision });
    return true;
  }

  /**
   * Emits on the sink: the default sink answers no promise while its subscribers take the event at once. A sink whose
   * `emit` is its own (another class, or a subclass overriding it) is handed every event through `emit`.
   */
  private emit(event: PolicyEvent): Promise<void> | undefined {
    const events = this.events;
    if (!events) return undefined;
    return events instanceof PolicyEventBus && events.emit === PolicyEventBus.prototype.emit
      ? events.emitNow(event)
      : events.emit(event);
  }

  /** Spends the presented approval (the call is then allowed) or stores a pending one (still `approval_required`). */
  private async approve(
    ctx: PolicyContext,
    operation: string,
    decision: PermissionDecision,
  ): Promise<PermissionDecision> {
    if (!this.approvals) return { ...decision, code: 'forbidden', reasons: [...decision.reasons, 'no approval store'] };
    const result = await this.approvals.check(operationApprovalCall(ctx, operation));
    if (result.passed)
      return {
        allowed: true,
        reasons: [...decision.reasons, `approval ${result.approvalId} used`],
        recordScope: decision.recordScope,
      };
    if (result.approval) return { ...decision, approval: result.approval };
    return {
      ...decision,
      code: 'forbidden',
      reasons: [...decision.reasons, 'the approval is not approved, expired, already used, or for another request'],
      recordScope: {},
    };
  }
}
