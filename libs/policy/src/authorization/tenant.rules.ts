import type { Principal } from '../authentication/principal.interface';

/** What a record exposes to tenant and ownership rules. */
export interface OwnedRecord {
  tenantId?: string | null;
  ownerId?: string | null;
}

/** The filter a list query must apply for this principal: its tenant and, for `own` roles, itself as owner. */
export interface RecordScope {
  tenantId?: string;
  ownerId?: string;
}

/**
 * The scope of records a principal may reach. A principal with a tenant sees only that tenant; a principal whose
 * every allowing role is marked `own` sees only records it owns.
 */
export function recordScopeFor(principal: Principal, ownOnly: boolean): RecordScope {
  const scope: RecordScope = {};
  if (principal.tenantId) scope.tenantId = principal.tenantId;
  if (ownOnly) scope.ownerId = principal.id;
  return scope;
}

/** True when the record lies inside the scope. A record of another tenant or owner is reported as missing (404). */
export function recordInScope(record: OwnedRecord, scope: RecordScope): boolean {
  if (scope.tenantId !== undefined && record.tenantId !== scope.tenantId) return false;
  if (scope.ownerId !== undefined && record.ownerId !== scope.ownerId) return false;
  return true;
}
