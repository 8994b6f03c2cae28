import type { Principal } from '../authentication/principal.interface';
import type { CompiledPolicy } from '../authorization/compiled-policy';
import { builtinPolicies, decisionRecordScope } from '../engine/builtin.policies';
import { PolicyEngine } from '../engine/policy.engine';
import type { PolicyDecision } from '../engine/policy.interface';
import type { FixturePrincipal } from './policy-fixture.schema';

/**
 * The decision the request path would take for a principal and an operation with no approval in hand: roles,
 * scopes, then the approval rule of the document (`approvals.operations`), through the same `PolicyEngine` and
 * built-in evaluators the guards use. Rate limits and budgets depend on traffic and are not part of it.
 */
export interface OfflineDecision extends Omit<PolicyDecision, 'details'> {
  /** The record scope a granted call would be held to (`tenantId`, `ownerId`). */
  readonly recordScope: { tenantId?: string; ownerId?: string };
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
  const { policies, fastPath } = builtinPolicies(compiled);
  const full = await new PolicyEngine(policies)
    .useFastPath(fastPath)
    .evaluate({ principal, operation, context: { requiredScopes } });
  const { details: _details, ...decision } = full;
  return { ...decision, recordScope: decision.outcome === 'ALLOW' ? { ...decisionRecordScope(full, principal) } : {} };
}
