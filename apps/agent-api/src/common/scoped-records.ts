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
  /** On SQLite, the statement prepared on the connection and the names of its parameters in binding order. */
  sqlite?: SqliteRead;
}

/** The part of a better-sqlite3 connection a read uses. */
interface SqliteDatabase {
  prepare(sql: string): { all(...values: unknown[]): unknown[] };
}

interface SqliteRead {
  db: SqliteDatabase;
  statement: { all(...values: unknown[]): unknown[] };
  order: readonly (keyof ReadParameters)[];
}

interface ReadParameters {
  id: string;
  scopeTenant?: unknown;
  scopeOwner?: unknown;
}

/** The raw better-sqlite3 connection behind a repository, or null on any other driver. */
function sqliteDatabase(repo: Repository<ObjectLiteral>): SqliteDatabase | null {
  const connection = repo.manager.connection;
  if (connection.options.type !== 'better-sqlite3') return null;
  return (connection.driver as unknown as { databaseConnection?: SqliteDatabase }).databaseConnection ?? null;
}

/**
 * On SQLite, the read's statement prepared once on the connection: TypeORM's driver turns the `:named` parameters into
 * positional ones (given stand-ins, to learn their order), and each read binds its values in that order.
 */
function sqliteRead(repo: Repository<ObjectLiteral>, read: PreparedRead): SqliteRead | null {
  const db = sqliteDatabase(repo);
  if (!db) return null;
  if (read.sqlite?.db === db) return read.sqlite;
  const names = ['id', 'scopeTenant', 'scopeOwner'] as const;
  const standIns = Object.fromEntries(names.map((name) => [name, `\u0000${name}`]));
  const [sql, values] = repo.manager.connection.driver.escapeQueryWithParameters(read.sql, standIns);
  const positions = values.map((value) => names.findIndex((name) => standIns[name] === value));
  if (positions.includes(-1)) return null;
  read.sqlite = { db, statement: db.prepare(sql), order: positions.map((i) => names[i]) };
  return read.sqlite;
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
  const parameters: ReadParameters = { id };
  if (scope.tenantId !== undefined) parameters.scopeTenant = scope.tenantId;
  if (scope.ownerId !== undefined) parameters.scopeOwner = scope.ownerId;
  const driver = repo.manager.connection.driver;
  // better-sqlite3 answers at once: the statement runs on the connection TypeORM uses, without its query runner.
  const sqlite = sqliteRead(repo, read);
  let raw: unknown[];
  if (sqlite) {
    raw = sqlite.statement.all(...sqlite.order.map((name) => parameters[name]));
  } else {
    const [sql, values] = driver.escapeQueryWithParameters(read.sql, { ...parameters });
    raw = await repo.query<unknown[]>(sql, values);
  }
  const mainAlias = read.qb.expressionMap.mainAlias!;
  const [found] = new RawSqlResultsToEntityTransformer(read.qb.expressionMap, driver, [], undefined).transform(
    raw,
    mainAlias,
  ) as T[];
  if (!found) throw new PolicyNotFoundException();
  return found;
}
