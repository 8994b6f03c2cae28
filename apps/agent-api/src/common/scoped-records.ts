import type { ObjectLiteral, Repository, SelectQueryBuilder } from 'typeorm';
import { PolicyNotFoundException, type RecordScopeFilter } from 'nest-agent-policy';

/** A query over the records the caller may reach: its tenant, and itself as owner for `own` roles. */
export function scopedQuery<T extends ObjectLiteral>(repo: Repository<T>, alias: string, scope: RecordScopeFilter): SelectQueryBuilder<T> {
  const qb = repo.createQueryBuilder(alias);
  if (scope.tenantId !== undefined) qb.andWhere(`${alias}.tenantId = :scopeTenant`, { scopeTenant: scope.tenantId });
  if (scope.ownerId !== undefined) qb.andWhere(`${alias}.ownerId = :scopeOwner`, { scopeOwner: scope.ownerId });
  return qb;
}

/** One record inside the caller's scope; a missing record and one outside the scope are the same 404. */
export async function findScoped<T extends ObjectLiteral>(
  repo: Repository<T>,
  alias: string,
  id: string,
  scope: RecordScopeFilter,
): Promise<T> {
  const found = await scopedQuery(repo, alias, scope).andWhere(`${alias}.id = :id`, { id }).getOne();
  if (!found) throw new PolicyNotFoundException();
  return found;
}
