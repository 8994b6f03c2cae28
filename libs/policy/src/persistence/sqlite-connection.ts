import type { DataSource } from 'typeorm';

/** The part of a better-sqlite3 connection the library's own writers use. */
export interface SqliteConnection {
  readonly inTransaction: boolean;
  prepare(sql: string): {
    all(...params: unknown[]): unknown[];
    run(...params: unknown[]): { changes: number };
  };
  transaction<A extends unknown[], T>(fn: (...args: A) => T): ((...args: A) => T) & { immediate(...args: A): T };
}

/** The raw better-sqlite3 connection behind a data source, or null on any other driver (or before initialisation). */
export function sqliteConnection(dataSource: DataSource): SqliteConnection | null {
  if (dataSource.options.type !== 'better-sqlite3') return null;
  return (dataSource.driver as unknown as { databaseConnection?: SqliteConnection }).databaseConnection ?? null;
}

/**
 * Resolves once no transaction is open on the connection. It is shared with the rest of the application, so a
 * writer that begins its own transaction only then never becomes part of (and rolls back with) someone else's.
 */
export async function whenNoTransaction(db: SqliteConnection): Promise<void> {
  while (db.inTransaction) await new Promise((resolve) => setImmediate(resolve));
}
