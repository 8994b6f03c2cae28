import { AsyncLocalStorage } from 'node:async_hooks';
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

const serialized = new WeakSet<DataSource>();
const insideTransaction = new AsyncLocalStorage<true>();

/**
 * Makes the TypeORM transactions of a SQLite data source run one at a time. better-sqlite3 has one connection and
 * TypeORM one query runner for it, so two `dataSource.transaction()` calls in flight at once would otherwise share
 * one transaction: the second `BEGIN` fails (`cannot start a transaction within a transaction`), the first commit
 * ends both, and the other's `COMMIT` fails (`TransactionNotStartedError`) after its rows were already committed.
 * Queued in call order; a transaction started from inside another one's callback nests as TypeORM makes it (a
 * savepoint) instead of waiting for itself. Idempotent; does nothing on other drivers.
 */
export function serializeSqliteTransactions(dataSource: DataSource): void {
  if (dataSource.options.type !== 'better-sqlite3' || serialized.has(dataSource)) return;
  serialized.add(dataSource);
  const manager = dataSource.manager;
  const original = manager.transaction.bind(manager) as (...args: unknown[]) => Promise<unknown>;
  let tail: Promise<unknown> = Promise.resolve();
  const gated = (...args: unknown[]): Promise<unknown> => {
    if (insideTransaction.getStore()) return original(...args);
    const run = tail.then(() => insideTransaction.run(true, () => original(...args)));
    tail = run.catch(() => undefined);
    return run;
  };
  manager.transaction = gated;
}
