import type { Principal } from '../authentication/principal.interface';
import { operationNeedsApproval, type CompiledPolicy } from './compiled-policy';
import type { PermissionDenialCode } from './policy-context.interface';
import { recordScopeFor, type RecordScope } from './tenant.rules';

/**
 * Whether a refusal is let through because the principal holds a role in shadow mode (`roles.<name>.mode: shadow`),
 * and then the record scope the call is held to: the principal's tenant always, and its own records only when every
 * role it holds (that the policy knows) is an `own` role. Only role and scope refusals are shadowed, and never for
 * an operation that needs a human approval: an approval, a missing credential or a tenant's record are never
 * waived. Null when the refusal stands.
 */
export function shadowRecordScope(
  policy: CompiledPolicy,
  principal: Principal,
  operation: string,
  code: PermissionDenialCode | undefined,
): RecordScope | null {
  if (code !== 'forbidden' && code !== 'insufficient_scope') return null;
  if (operationNeedsApproval(policy, operation)) return null;
  const roles = principal.roles.map((name) => policy.document.roles[name]).filter((role) => role !== undefined);
  if (!roles.some((role) => role.mode === 'shadow')) return null;
  return recordScopeFor(
    principal,
    roles.every((role) => role.own === true),
  );
}
