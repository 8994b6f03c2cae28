import { Inject, Injectable, Optional, type HttpException } from '@nestjs/common';
import type { AuditOrigin } from '../audit/audit-event.interface';
import type { Principal } from '../authentication/principal.interface';
import { approvalTtlMs, type CompiledPolicy } from '../authorization/compiled-policy';
import type { PolicyContext } from '../authorization/policy-context.interface';
import { COMPILED_POLICY } from '../policy.constants';
import { ApprovalRequiredException, PolicyForbiddenException } from '../policy.exceptions';
import type { ApprovalStatus } from './approval.entity';
import { ApprovalStore } from './approval.store';
import { requestDigest, type ApprovalRequestShape } from './request-digest';

/** A call that was decided REQUIRE_APPROVAL and allowed by everything else. */
export interface ApprovalCall {
  readonly principal: Principal;
  /** The operation the approval is for (`budget` for a budget approval of a route without one). */
  readonly operation: string;
  /** The exact call the approval is bound to (its {@link requestDigest}). */
  readonly request: ApprovalRequestShape;
  /** The approval id the caller presents (`X-Approval-Id`), if any. */
  readonly approvalId?: string;
  /** Why the call needs an approval: stored with a new approval and put in the 403 message. */
  readonly reason: string;
  /** The request that asked, for the `approval.requested` audit event. */
  readonly origin?: AuditOrigin;
}

/** The approval call of an operation that needs a human approval (`approvals.operations`), from its context. */
export function operationApprovalCall(ctx: PolicyContext, operation: string): ApprovalCall {
  return {
    principal: ctx.principal,
    operation,
    request: { method: ctx.method ?? '', path: ctx.path ?? '', body: ctx.body },
    approvalId: ctx.approvalId,
    reason: `${operation} requires a human approval`,
    origin: { requestId: ctx.requestId, ip: ctx.ip },
  };
}

/** What the gate made of a call: passed (an approval was spent), or refused with the error to answer. */
export type ApprovalGateResult =
  | { readonly passed: true; readonly approvalId: string }
  | {
      readonly passed: false;
      readonly error: HttpException;
      /** The pending approval stored for the call, when one was. */
      readonly approval?: { readonly id: string; readonly expiresAt: string };
    };

/**
 * The one place where approvals are asked for and spent. The authorization guard, the budget interceptor and the
 * tool executor call it only after everything else allowed the call, so a call refused for any other reason never
 * spends an approval nor stores one. With `X-Approval-Id` of an approval granted for this exact call it passes, once;
 * without one it stores a pending approval and refuses with 403 `approval_required` carrying its id. Without an
 * approval store it refuses (fail closed).
 */
@Injectable()
export class ApprovalGate {
  constructor(
    @Optional() @Inject(ApprovalStore) private readonly store: ApprovalStore | null,
    @Optional() @Inject(COMPILED_POLICY) private readonly compiled: CompiledPolicy | null = null,
  ) {}

  async check(call: ApprovalCall): Promise<ApprovalGateResult> {
    if (!this.store)
      return {
        passed: false,
        error: new PolicyForbiddenException('This call requires approval and no approval store is configured'),
      };
    const digest = requestDigest(call.request);
    if (call.approvalId) {
      if (await this.store.consume(call.approvalId, call.principal, call.operation, digest))
        return { passed: true, approvalId: call.approvalId };
      return {
        passed: false,
        error: new PolicyForbiddenException(
          'The approval is not approved, expired, already used, or for another request',
        ),
      };
    }
    const approval = await this.store.create({
      principal: call.principal,
      operation: call.operation,
      digest,
      reason: call.reason,
      ttlMs: this.compiled ? approvalTtlMs(this.compiled) : undefined,
      origin: call.origin,
    });
    return {
      passed: false,
      error: new ApprovalRequiredException(
        approval.id,
        approval.expiresAt,
        `This call requires approval: ${call.reason}`,
      ),
      approval: { id: approval.id, expiresAt: approval.expiresAt },
    };
  }

  /**
   * Gives back an approval {@link check} spent for `principal` on a call that was refused afterwards, before it ran
   * (the budget interceptor after the authorization guard spent it): the same call may present it again. False when
   * the store cannot give it back (it stays spent).
   */
  async giveBack(approvalId: string, principal: Principal): Promise<boolean> {
    if (!this.store) return false;
    return this.store.restore(approvalId, principal);
  }

  /** The status of an approval as its store knows it; null when unknown (or without a store). */
  async status(approvalId: string): Promise<ApprovalStatus | null> {
    return this.store ? this.store.status(approvalId) : null;
  }

  /**
   * {@link check}, throwing the refusal.
   * @throws ApprovalRequiredException (403 `approval_required`) with the id of the approval stored for the call;
   * PolicyForbiddenException when the presented approval cannot be spent or no store is configured.
   */
  async pass(call: ApprovalCall): Promise<string> {
    const result = await this.check(call);
    if (!result.passed) throw result.error;
    return result.approvalId;
  }
}
