import { QueryFailedError, type DataSource, type EntityTarget, type ObjectLiteral } from 'typeorm';

/** The part of a better-sqlite3 connection a bulk insert uses. */
interface SqliteConnection {
  readonly inTransaction: boolean;
  prepare(sql: string): { run(...values: unknown[]): unknown };
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
}

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
  let columns: string[] | null = null;
  const columnNames = (): string[] => {
    if (columns) return columns;
    const metadata = dataSource.getMetadata(entity);
    columns = properties.map((property) => {
      const column = metadata.findColumnWithPropertyName(property);
      if (!column) throw new Error(`${metadata.name}: column ${property} is not mapped`);
      return column.databaseName;
    });
    return columns;
  };
  let sqliteInsert: ((rows: readonly T[]) => void) | null = null;
  let sqliteSql: string | null = null;

  return async (rows) => {
    if (!rows.length) return;
    const { driver } = dataSource;
    const table = dataSource.getMetadata(entity).tableName;
    const sqlite =
      dataSource.options.type === 'better-sqlite3'
        ? ((driver as unknown as { databaseConnection?: SqliteConnection }).databaseConnection ?? null)
        : null;
    if (sqlite) {
      while (sqlite.inTransaction) await new Promise((resolve) => setImmediate(resolve));
      const sql = (sqliteSql ??= `INSERT INTO ${driver.escape(table)} (${columnNames()
        .map((c) => driver.escape(c))
        .join(', ')}) VALUES (${properties.map(() => '?').join(', ')})`);
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
    const head = `INSERT INTO ${driver.escape(table)} (${columnNames().map((c) => driver.escape(c)).join(', ')}) VALUES `;
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
