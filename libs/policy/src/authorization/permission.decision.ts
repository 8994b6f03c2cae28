import type { Principal } from '../authentication/principal.interface';
import type { CompiledPolicy } from './compiled-policy';
import {
  decisionIndexOf,
  MAX_CACHED_PRINCIPALS,
  type DecisionIndex,
  type PrincipalSlot,
  type RoleSet,
} from './decision-index';
import type { PermissionDecision } from './policy-context.interface';
import type { RecordScope } from './tenant.rules';

/**
 * The built-in permission decision, in the order of the error table: the principal's roles must allow the
 * operation (403 `forbidden`), then its token scopes must cover the route's required scopes
 * (403 `insufficient_scope`). Tenant and ownership rules are returned as the record scope the handler applies
 * (another tenant's record is a 404).
 *
 * It reads only tables built once per compiled policy (operation → index, role → bit, each role set's outcome per
 * operation, each granted scope's expansion), so a decision costs a few map lookups. The decisions of a frozen
 * principal (the library's authentication freezes them) are kept under its id while its roles, scopes and tenant stay
 * the same: asked again for the same operation and required scopes, it gets the same frozen decision. Decisions are
 * not to be modified: denials and grants of an empty record scope are shared, frozen objects too.
 */
export function decidePermission(
  policy: CompiledPolicy,
  principal: Principal,
  operation: string,
  requiredScopes: readonly string[],
): PermissionDecision {
  const index = decisionIndexOf(policy);
  const op = index.operationIndex.get(operation);
  if (op === undefined) {
    return { allowed: false, code: 'forbidden', reasons: [`unknown operation ${operation}`], recordScope: {} };
  }
  const id = principal.id;
  let slot = typeof id === 'string' ? index.principals.get(id) : undefined;
  // A slot keeps the principal object it was filled for, checked frozen then (frozen stays frozen): that object needs
  // no check again. Another object of the same id (an API key's principal is rebuilt per request, a token's when it
  // is parsed again) uses the slot while its roles, scopes and tenant are the slot's, compared now.
  if (slot === undefined || (slot.principal !== principal && !sameHolder(slot, principal))) {
    const roles = principal.roles;
    const scopes = principal.scopes;
    if (typeof id !== 'string' || !Object.isFrozen(principal) || !Object.isFrozen(roles) || !Object.isFrozen(scopes)) {
      return decide(
        index,
        principal,
        op,
        operation,
        requiredScopes,
        roleSetOf(index, roles),
        hasUnknownRole(index, roles),
        false,
      );
    }
    if (slot === undefined && index.principals.size >= MAX_CACHED_PRINCIPALS) index.principals.clear();
    slot = {
      principal,
      roles,
      scopes,
      tenantId: principal.tenantId,
      set: roleSetOf(index, roles),
      unknownRole: hasUnknownRole(index, roles),
      required: new Array<readonly string[] | undefined>(index.operationCount),
      decisions: new Array<PermissionDecision | undefined>(index.operationCount),
    };
    index.principals.set(id, slot);
  }
  const asked = slot.required[op];
  if (asked !== undefined && sameScopes(asked, requiredScopes)) return slot.decisions[op] as PermissionDecision;
  const decision = decide(index, principal, op, operation, requiredScopes, slot.set, slot.unknownRole, true);
  slot.required[op] = Object.freeze([...requiredScopes]);
  slot.decisions[op] = decision;
  return decision;
}

function decide(
  index: DecisionIndex,
  principal: Principal,
  op: number,
  operation: string,
  requiredScopes: readonly string[],
  set: RoleSet,
  unknownRole: boolean,
  frozen: boolean,
): PermissionDecision {
  const outcome = set.outcomes[op];
  if (!outcome.allowed) {
    // The shared denial names the policy's roles held; a principal holding roles the policy does not know gets them
    // named too.
    if (!unknownRole) return outcome.denied as PermissionDecision;
    const reasons = [`no role of [${principal.roles.join(', ')}] allows ${operation}`];
    return seal({ allowed: false, code: 'forbidden', reasons, recordScope: {} }, frozen);
  }
  if (requiredScopes.length > 0 && !scopesCovered(index, principal.scopes, requiredScopes)) {
    const missing = requiredScopes.filter((scope) => !index.grantCovers(principal.scopes, scope));
    const reasons = [`missing scope ${missing.join(' ')}`];
    return seal(
      { allowed: false, code: 'insufficient_scope', reasons, missingScopes: missing, recordScope: {} },
      frozen,
    );
  }
  const tenantId = principal.tenantId;
  if (!tenantId && !outcome.ownOnly) return outcome.bare as PermissionDecision;
  const recordScope: RecordScope = outcome.ownOnly
    ? tenantId
      ? { tenantId, ownerId: principal.id }
      : { ownerId: principal.id }
    : { tenantId: tenantId as string };
  return seal({ allowed: true, reasons: outcome.reasons, recordScope }, frozen);
}

/** A decision kept for a principal is shared by its requests: frozen through and through. */
function seal(decision: PermissionDecision, frozen: boolean): PermissionDecision {
  if (!frozen) return decision;
  Object.freeze(decision.reasons);
  Object.freeze(decision.recordScope);
  if (decision.missingScopes) Object.freeze(decision.missingScopes);
  return Object.freeze(decision);
}

function roleSetOf(index: DecisionIndex, roles: readonly string[]): RoleSet {
  if (!index.masked) return index.roleSetOf(roles);
  let mask = 0;
  for (let i = 0; i < roles.length; i++) {
    const bit = index.roleIndex(roles[i]);
    if (bit >= 0) mask |= 1 << bit;
  }
  return index.roleSetByMask(mask);
}

function hasUnknownRole(index: DecisionIndex, roles: readonly string[]): boolean {
  for (let i = 0; i < roles.length; i++) if (index.roleIndex(roles[i]) < 0) return true;
  return false;
}

function sameHolder(slot: PrincipalSlot, principal: Principal): boolean {
  return (
    slot.tenantId === principal.tenantId &&
    sameScopes(slot.roles, principal.roles) &&
    sameScopes(slot.scopes, principal.scopes)
  );
}

function sameScopes(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function scopesCovered(index: DecisionIndex, granted: readonly string[], required: readonly string[]): boolean {
  for (let i = 0; i < required.length; i++) if (!index.grantCovers(granted, required[i])) return false;
  return true;
}
