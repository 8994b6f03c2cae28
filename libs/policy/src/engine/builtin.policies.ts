import type { ApprovalService } from '../approval/approval.service';
import { requestDigest } from '../approval/approval.service';
import { operationNeedsApproval, type CompiledPolicy } from '../authorization/compiled-policy';
import { rolesAllowing } from '../authorization/role-resolver';
import { expandScopes, missingScopes } from '../authorization/scope-expander';
import type { Policy, PolicyInput, PolicyVerdict } from './policy.interface';

/** What the built-in policies read from `PolicyInput.context`. */
export interface BuiltinPolicyContext {
  requiredScopes?: readonly string[];
  approvalId?: string;
  body?: unknown;
}

const contextOf = (input: PolicyInput): BuiltinPolicyContext => (input.context ?? {}) as BuiltinPolicyContext;

/** Roles: one of the principal's roles must allow the operation (403 `forbidden`). Priority 100. */
export class RolePolicy implements Policy {
  readonly name = 'roles';
  readonly priority = 100;

  constructor(private readonly compiled: CompiledPolicy) {}

  evaluate(input: PolicyInput): PolicyVerdict {
    if (!this.compiled.operations.includes(input.operation)) {
      return { outcome: 'DENY', reason: `unknown operation ${input.operation}`, code: 'forbidden' };
    }
    const allowing = rolesAllowing(this.compiled.roles, input.principal.roles, input.operation);
    return allowing.length > 0
      ? { outcome: 'ALLOW', reason: `role ${allowing.map((r) => r.name).join(', ')} allows ${input.operation}` }
      : { outcome: 'DENY', reason: `no role of [${input.principal.roles.join(', ')}] allows ${input.operation}`, code: 'forbidden' };
  }
}

/** Scopes: the token must hold every scope the route requires (403 `insufficient_scope`). Priority 200. */
export class ScopePolicy implements Policy {
  readonly name = 'scopes';
  readonly priority = 200;

  constructor(private readonly compiled: CompiledPolicy) {}

  evaluate(input: PolicyInput): PolicyVerdict {
    const required = contextOf(input).requiredScopes ?? [];
    if (required.length === 0) return { outcome: 'ABSTAIN', reason: 'route requires no scope' };
    const missing = missingScopes(expandScopes(input.principal.scopes, this.compiled.scopes), required);
    return missing.length === 0
      ? { outcome: 'ALLOW', reason: `scopes cover ${required.join(' ')}` }
      : { outcome: 'DENY', reason: `missing scope ${missing.join(' ')}`, code: 'insufficient_scope', details: { missing } };
  }
}

/**
 * Human approval for the operations listed under `approvals.operations`: without an approval the call is
 * REQUIRE_APPROVAL; with `X-Approval-Id` of an approved request by the same principal, for the same operation and
 * the same request (method, path, body), it passes exactly once. Runs last among the built-ins (priority 900) so
 * an approval is spent only when everything else allowed.
 */
export class ApprovalPolicy implements Policy {
  readonly name = 'approvals';
  readonly priority = 900;

  constructor(
    private readonly compiled: CompiledPolicy,
    private readonly approvals: ApprovalService,
  ) {}

  async evaluate(input: PolicyInput): Promise<PolicyVerdict> {
    if (!operationNeedsApproval(this.compiled, input.operation)) return { outcome: 'ABSTAIN', reason: 'no approval needed' };
    const { approvalId, body } = contextOf(input);
    if (!approvalId) return { outcome: 'REQUIRE_APPROVAL', reason: `${input.operation} requires a human approval` };
    const digest = requestDigest({ method: input.request?.method ?? '', path: input.request?.path ?? '', body });
    const consumed = await this.approvals.consume(approvalId, input.principal, input.operation, digest);
    return consumed
      ? { outcome: 'ALLOW', reason: `approval ${approvalId} used` }
      : { outcome: 'DENY', reason: 'the approval is not approved, expired, already used, or for another request', code: 'forbidden' };
  }
}
