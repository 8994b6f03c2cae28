import type { Principal } from '../authentication/principal.interface';
import { operationNeedsApproval, type CompiledPolicy } from '../authorization/compiled-policy';
import { decidePermission } from '../authorization/permission.decision';
import { rolesAllowing } from '../authorization/role-resolver';
import { expandScopes, missingScopes } from '../authorization/scope-expander';
import { recordScopeFor, type RecordScope } from '../authorization/tenant.rules';
import type { PolicyFastPath } from './policy.engine';
import type { Policy, PolicyDecision, PolicyInput, PolicyReason, PolicyVerdict } from './policy.interface';

/** What the built-in policies read from `PolicyInput.context`. */
export interface BuiltinPolicyContext {
  requiredScopes?: readonly string[];
}

const requiredScopesOf = (input: PolicyInput): readonly string[] =>
  ((input.context ?? {}) as BuiltinPolicyContext).requiredScopes ?? [];

const NO_SCOPE_REQUIRED = 'route requires no scope';
const NO_APPROVAL_NEEDED = 'no approval needed';

/**
 * Roles: one of the principal's roles must allow the operation (403 `forbidden`). Priority 100. An ALLOW carries
 * `details.recordScope`: the principal's tenant, and itself as owner when every allowing role is an `own` role.
 */
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
      ? {
          outcome: 'ALLOW',
          reason: `role ${allowing.map((r) => r.name).join(', ')} allows ${input.operation}`,
          details: {
            recordScope: recordScopeFor(
              input.principal,
              allowing.every((role) => role.own),
            ),
          },
        }
      : {
          outcome: 'DENY',
          reason: `no role of [${input.principal.roles.join(', ')}] allows ${input.operation}`,
          code: 'forbidden',
        };
  }
}

/**
 * Scopes: the token must hold every scope the route requires (403 `insufficient_scope`). Priority 200. A DENY
 * carries `details.missing`.
 */
export class ScopePolicy implements Policy {
  readonly name = 'scopes';
  readonly priority = 200;

  constructor(private readonly compiled: CompiledPolicy) {}

  evaluate(input: PolicyInput): PolicyVerdict {
    const required = requiredScopesOf(input);
    if (required.length === 0) return { outcome: 'ABSTAIN', reason: NO_SCOPE_REQUIRED };
    const missing = missingScopes(expandScopes(input.principal.scopes, this.compiled.scopes), required);
    return missing.length === 0
      ? { outcome: 'ALLOW', reason: `scopes cover ${required.join(' ')}` }
      : {
          outcome: 'DENY',
          reason: `missing scope ${missing.join(' ')}`,
          code: 'insufficient_scope',
          details: { missing },
        };
  }
}

/**
 * Human approval for the operations listed under `approvals.operations`: says REQUIRE_APPROVAL, nothing more. The
 * approval itself is asked for or spent by the `ApprovalGate` once everything else allowed the call, so a policy
 * that denies never costs the caller its approval. Priority 900.
 */
export class ApprovalPolicy implements Policy {
  readonly name = 'approvals';
  readonly priority = 900;

  constructor(private readonly compiled: CompiledPolicy) {}

  evaluate(input: PolicyInput): PolicyVerdict {
    return operationNeedsApproval(this.compiled, input.operation)
      ? {
          outcome: 'REQUIRE_APPROVAL',
          reason: `${input.operation} requires a human approval`,
          code: 'approval_required',
        }
      : { outcome: 'ABSTAIN', reason: NO_APPROVAL_NEEDED };
  }
}

/** The record scope the `roles` policy gave an allowed (or approval-bound) decision; the tenant alone otherwise. */
export function decisionRecordScope(decision: PolicyDecision, principal: Principal): RecordScope {
  const given = decision.details?.roles?.recordScope as RecordScope | undefined;
  return given ?? recordScopeFor(principal, false);
}

/** The scopes the `scopes` policy found missing, for an `insufficient_scope` decision. */
export function decisionMissingScopes(decision: PolicyDecision): readonly string[] {
  return (decision.details?.scopes?.missing as readonly string[] | undefined) ?? [];
}

/**
 * The built-in policies of the request path, with their compiled fast path: while no other policy is registered,
 * the engine decides with `decidePermission` (roles then scopes over the compiled document, synchronously) and gives
 * the same decision, reasons and details the three policies would. Operations behind an approval and scope refusals
 * run the policies.
 */
export function builtinPolicies(compiled: CompiledPolicy): { policies: Policy[]; fastPath: PolicyFastPath } {
  const policies: Policy[] = [new RolePolicy(compiled), new ScopePolicy(compiled), new ApprovalPolicy(compiled)];
  const decide = (input: PolicyInput): PolicyDecision | null => {
    if (operationNeedsApproval(compiled, input.operation)) return null;
    const required = requiredScopesOf(input);
    const permission = decidePermission(compiled, input.principal, input.operation, required);
    const roleReason = permission.reasons[0] ?? '';
    if (!permission.allowed) {
      if (permission.code !== 'forbidden') return null;
      return {
        outcome: 'DENY',
        reasons: [{ policy: 'roles', outcome: 'DENY', reason: roleReason, code: 'forbidden' }],
        deniedBy: 'roles',
        code: 'forbidden',
      };
    }
    const reasons: PolicyReason[] = [
      { policy: 'roles', outcome: 'ALLOW', reason: roleReason },
      required.length === 0
        ? { policy: 'scopes', outcome: 'ABSTAIN', reason: NO_SCOPE_REQUIRED }
        : { policy: 'scopes', outcome: 'ALLOW', reason: `scopes cover ${required.join(' ')}` },
      { policy: 'approvals', outcome: 'ABSTAIN', reason: NO_APPROVAL_NEEDED },
    ];
    return { outcome: 'ALLOW', reasons, details: { roles: { recordScope: permission.recordScope } } };
  };
  return { policies, fastPath: { policies, decide } };
}
