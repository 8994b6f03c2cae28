import { QueryFailedError, type DataSource, type EntityTarget, type ObjectLiteral } from 'typeorm';
import { sqliteConnection, whenNoTransaction } from './sqlite-connection';

/** Rows per INSERT statement, well under the bind-parameter limits of SQLite and PostgreSQL. */
const ROWS_PER_STATEMENT = 400;

/** Writes a batch of rows of one entity in one transaction; resolves once it is committed. */
export type BulkInsert<T> = (rows: readonly T[]) => Promise<void>;

/**
 * A batch writer for append-only tables (audit events, the usage ledger) that skips the query builder, whose
 * per-value work costs more than the write itself. `properties` are entity property names; their values are
 * written as they are (no column transformers), so they must already be in the column's type.
 *
 * On better-sqlite3 a batch is one synchronous transaction over a prepared single-row INSERT: the driver runs on
 * the event loop, so the write is kept as short as it can be (a few µs a row instead of parsing a multi-row
 * statement per batch). It waits for a transaction another part of the app has open on the shared connection to
 * end, so the batch never becomes part of it. Elsewhere a batch is plain multi-row INSERTs in one transaction.
 */
export function createBulkInsert<T extends ObjectLiteral>(
  dataSource: DataSource,
  entity: EntityTarget<T>,
  properties: ReadonlyArray<keyof T & string>,
): BulkInsert<T> {
  // `INSERT INTO "table" ("a", "b", …)`, built once the data source knows the entity.
  let into: string | null = null;
  const insertInto = (): string => {
    if (into) return into;
    const metadata = dataSource.getMetadata(entity);
    const columns = properties.map((property) => {
      const column = metadata.findColumnWithPropertyName(property);
      if (!column) throw new Error(`${metadata.name}: column ${property} is not mapped`);
      return dataSource.driver.escape(column.databaseName);
    });
    into = `INSERT INTO ${dataSource.driver.escape(metadata.tableName)} (${columns.join(', ')})`;
    return into;
  };
  let sqliteInsert: ((rows: readonly T[]) => void) | null = null;

  return async (rows) => {
    if (!rows.length) return;
    const sqlite = sqliteConnection(dataSource);
    if (sqlite) {
      await whenNoTransaction(sqlite);
      const sql = `${insertInto()} VALUES (${properties.map(() => '?').join(', ')})`;
      try {
        if (!sqliteInsert) {
          const statement = sqlite.prepare(sql);
          sqliteInsert = sqlite.transaction((batch: readonly T[]) => {
            for (const row of batch) statement.run(...properties.map((property) => row[property]));
          });
        }
        sqliteInsert(rows);
      } catch (error) {
        // The same error type as every other TypeORM write, whatever the driver.
        throw new QueryFailedError(sql, [], error as Error);
      }
      return;
    }
    const { driver } = dataSource;
    const head = `${insertInto()} VALUES `;
    await dataSource.transaction(async (manager) => {
      for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
        const parameters: unknown[] = [];
        const tuples = rows.slice(start, start + ROWS_PER_STATEMENT).map((row) => {
          const slots = properties.map((property) => {
            parameters.push(row[property]);
            return driver.createParameter(`p${parameters.length}`, parameters.length - 1);
          });
          return `(${slots.join(', ')})`;
        });
        await manager.query(head + tuples.join(', '), parameters);
      }
    });
  };
}
