import type { Principal } from '../authentication/principal.interface';
import { operationNeedsApproval, type CompiledPolicy } from '../authorization/compiled-policy';
import { decidePermission } from '../authorization/permission.decision';
import { RolePolicy, ScopePolicy } from '../engine/builtin.policies';
import { PolicyEngine } from '../engine/policy.engine';
import type { Policy, PolicyDecision, PolicyVerdict } from '../engine/policy.interface';
import type { FixturePrincipal } from './policy-fixture.schema';

/**
 * The decision the request path would take for a principal and an operation with no approval in hand: roles,
 * scopes, then the approval rule of the document (`approvals.operations`), through the same `PolicyEngine` and
 * built-in evaluators the guards use. Rate limits and budgets depend on traffic and are not part of it.
 */
export interface OfflineDecision extends PolicyDecision {
  /** The record scope a granted call would be held to (`tenantId`, `ownerId`). */
  readonly recordScope: { tenantId?: string; ownerId?: string };
}

/** Says REQUIRE_APPROVAL for the operations the document puts behind an approval; the CLI has no approval to spend. */
class DeclaredApprovalPolicy implements Policy {
  readonly name = 'approvals';
  readonly priority = 900;

  constructor(private readonly compiled: CompiledPolicy) {}

  evaluate(input: { operation: string }): PolicyVerdict {
    return operationNeedsApproval(this.compiled, input.operation)
      ? { outcome: 'REQUIRE_APPROVAL', reason: `${input.operation} requires a human approval`, code: 'approval_required' }
      : { outcome: 'ABSTAIN', reason: 'no approval needed' };
  }
}

/** Builds the principal the guards would build from a token with these claims. */
export function fixturePrincipal(input: FixturePrincipal): Principal {
  const scopes = typeof input.scopes === 'string' ? input.scopes.split(' ').filter(Boolean) : (input.scopes ?? []);
  return {
    id: input.id ?? 'fixture',
    type: input.type ?? 'user',
    tenantId: input.tenant ?? null,
    roles: [...input.roles],
    scopes,
    tier: input.tier ?? null,
    tokenId: null,
  };
}

/** Decides offline; never rejects (a failing evaluator denies, as in the engine). */
export async function decideOffline(
  compiled: CompiledPolicy,
  principal: Principal,
  operation: string,
  requiredScopes: readonly string[],
): Promise<OfflineDecision> {
  const engine = new PolicyEngine([new RolePolicy(compiled), new ScopePolicy(compiled), new DeclaredApprovalPolicy(compiled)]);
  const decision = await engine.evaluate({ principal, operation, context: { requiredScopes } });
  const permission = decidePermission(compiled, principal, operation, requiredScopes);
  return { ...decision, recordScope: permission.allowed ? { ...permission.recordScope } : {} };
}
