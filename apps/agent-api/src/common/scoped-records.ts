import type { ObjectLiteral, Repository, SelectQueryBuilder } from 'typeorm';
import { RawSqlResultsToEntityTransformer } from 'typeorm/query-builder/transformer/RawSqlResultsToEntityTransformer';
import { PolicyNotFoundException, type RecordScopeFilter } from 'nest-agent-policy';

/** A query over the records the caller may reach: its tenant, and itself as owner for `own` roles. */
export function scopedQuery<T extends ObjectLiteral>(
  repo: Repository<T>,
  alias: string,
  scope: RecordScopeFilter,
): SelectQueryBuilder<T> {
  const qb = repo.createQueryBuilder(alias);
  if (scope.tenantId !== undefined) qb.andWhere(`${alias}.tenantId = :scopeTenant`, { scopeTenant: scope.tenantId });
  if (scope.ownerId !== undefined) qb.andWhere(`${alias}.ownerId = :scopeOwner`, { scopeOwner: scope.ownerId });
  return qb;
}

/** A read by id, its SQL built once per repository and scope shape (TypeORM rebuilds it on every `getOne`). */
interface PreparedRead {
  qb: SelectQueryBuilder<ObjectLiteral>;
  /** The statement with its `:named` parameters still in place. */
  sql: string;
}

const preparedReads = new WeakMap<Repository<ObjectLiteral>, Map<string, PreparedRead>>();

function preparedRead<T extends ObjectLiteral>(
  repo: Repository<T>,
  alias: string,
  scope: RecordScopeFilter,
): PreparedRead {
  let byShape = preparedReads.get(repo);
  if (!byShape) preparedReads.set(repo, (byShape = new Map<string, PreparedRead>()));
  const shape = `${alias}|${scope.tenantId !== undefined ? 'tenant' : ''}|${scope.ownerId !== undefined ? 'owner' : ''}`;
  let read = byShape.get(shape);
  if (!read) {
    const qb = scopedQuery(repo, alias, scope).andWhere(
      `${alias}.id = :id`,
    ) as unknown as SelectQueryBuilder<ObjectLiteral>;
    read = { qb, sql: qb.getQuery() };
    byShape.set(shape, read);
  }
  return read;
}

/**
 * One record inside the caller's scope; a missing record and one outside the scope are the same 404. The statement
 * is TypeORM's own (`getOne` of {@link scopedQuery} + id), built once per scope shape; its rows become entities
 * through TypeORM's own transformer (column transformers such as field encryption included).
 */
export async function findScoped<T extends ObjectLiteral>(
  repo: Repository<T>,
  alias: string,
  id: string,
  scope: RecordScopeFilter,
): Promise<T> {
  const read = preparedRead(repo, alias, scope);
  const parameters: Record<string, unknown> = { id };
  if (scope.tenantId !== undefined) parameters.scopeTenant = scope.tenantId;
  if (scope.ownerId !== undefined) parameters.scopeOwner = scope.ownerId;
  const driver = repo.manager.connection.driver;
  const [sql, values] = driver.escapeQueryWithParameters(read.sql, parameters);
  const raw = await repo.query<unknown[]>(sql, values);
  const mainAlias = read.qb.expressionMap.mainAlias!;
  const [found] = new RawSqlResultsToEntityTransformer(read.qb.expressionMap, driver, [], undefined).transform(
    raw,
    mainAlias,
  ) as T[];
  if (!found) throw new PolicyNotFoundException();
  return found;
}
