import type { Principal } from '../authentication/principal.interface';
import type { CompiledPolicy } from './compiled-policy';
import type { PermissionDecision } from './policy-context.interface';
import { rolesAllowing } from './role-resolver';
import { expandScopes, missingScopes } from './scope-expander';
import { recordScopeFor } from './tenant.rules';

/**
 * The built-in permission decision, in the order of the error table: the principal's roles must allow the
 * operation (403 `forbidden`), then its token scopes must cover the route's required scopes
 * (403 `insufficient_scope`). Tenant and ownership rules are returned as the record scope the handler applies
 * (another tenant's record is a 404).
 */
export function decidePermission(
  policy: CompiledPolicy,
  principal: Principal,
  operation: string,
  requiredScopes: readonly string[],
): PermissionDecision {
  if (!policy.operations.includes(operation)) {
    return { allowed: false, code: 'forbidden', reasons: [`unknown operation ${operation}`], recordScope: {} };
  }
  const allowing = rolesAllowing(policy.roles, principal.roles, operation);
  if (allowing.length === 0) {
    return {
      allowed: false,
      code: 'forbidden',
      reasons: [`no role of [${principal.roles.join(', ')}] allows ${operation}`],
      recordScope: {},
    };
  }
  const missing = missingScopes(expandScopes(principal.scopes, policy.scopes), requiredScopes);
  if (missing.length > 0) {
    return {
      allowed: false,
      code: 'insufficient_scope',
      reasons: [`missing scope ${missing.join(' ')}`],
      missingScopes: missing,
      recordScope: {},
    };
  }
  const ownOnly = allowing.every((role) => role.own);
  return {
    allowed: true,
    reasons: [`role ${allowing.map((r) => r.name).join(', ')} allows ${operation}`],
    recordScope: recordScopeFor(principal, ownOnly),
  };
}
