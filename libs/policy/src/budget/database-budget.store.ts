import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { MicroBatch } from '../common/micro-batch';
import { sqliteConnection, whenNoTransaction, type SqliteConnection } from '../persistence/sqlite-connection';
import type {
  BudgetCounterRef,
  BudgetCounterState,
  BudgetStore,
  ReserveRequest,
  ReserveResult,
} from './budget-store.interface';
import type { BudgetCharge } from './budget.types';
import {
  cleanupOps,
  finishTx,
  reserveTx,
  staleReservationsQuery,
  type Dialect,
  type SqlOp,
  type SqlOutcome,
  type Tx,
} from './database-budget.transactions';

export interface DatabaseBudgetStoreOptions {
  /** Clock in epoch ms (default `Date.now`). */
  clock?: () => number;
  /** Minimum ms between two lazy sweeps of expired reservations made by `reserve` (default 1,000). */
  sweepIntervalMs?: number;
  /** How long finished reservations are remembered, so a repeated settle stays a no-op (default one day). */
  tombstoneMs?: number;
  /** How long an idle counter outlives its window before it is deleted (default one hour). */
  counterGraceMs?: number;
}

/** The subset of better-sqlite3's `Database` the store uses. */
function* single(op: SqlOp): Tx<SqlOutcome> {
  const outcome = yield op;
  return { commit: true, value: outcome };
}

type SqliteOutcome = { value: unknown } | { error: unknown };

class Rollback<T> {
  constructor(readonly value: T) {}
}

/** Finished reservations and idle old counters are deleted at most this often. */
const CLEANUP_INTERVAL_MS = 60_000;

const ZERO: BudgetCharge = { costMicro: 0, tokens: 0, requests: 0 };

/**
 * Budget counters in the application's database, through TypeORM, on PostgreSQL or SQLite (better-sqlite3).
 *
 * Reservations use conditional updates inside a transaction, so admission is exact across processes sharing one
 * PostgreSQL database (READ COMMITTED suffices). On SQLite every transaction runs synchronously as one
 * `BEGIN IMMEDIATE` block, so nothing else in the process interleaves with it and other processes wait for the
 * file lock. Expired reservations are given back by `expireStale`, in the background by `reserve` (at most once per
 * `sweepIntervalMs`), and always before a reservation is refused, so a dead instance never keeps a budget blocked.
 */
export class DatabaseBudgetStore implements BudgetStore {
  private readonly clock: () => number;
  private readonly dialect: Dialect;
  private readonly sweepIntervalMs: number;
  private readonly tombstoneMs: number;
  private readonly counterGraceMs: number;
  private readonly statements = new Map<string, ReturnType<SqliteConnection['prepare']>>();
  private readonly logger = new Logger(DatabaseBudgetStore.name);
  private nextSweepAt = 0;
  private nextCleanupAt = 0;
  private sweeping: Promise<number> | null = null;
  /** On SQLite: the transactions of the current event-loop turn, committed as one group. */
  private readonly sqliteGroup: MicroBatch<Tx<unknown>, SqliteOutcome> | null;
  /** Reservations this instance has expired so far. */
  private expiredTotal = 0;

  constructor(
    private readonly dataSource: DataSource,
    options: DatabaseBudgetStoreOptions = {},
  ) {
    const type = dataSource.options.type;
    if (type !== 'postgres' && type !== 'better-sqlite3') {
      throw new Error(`DatabaseBudgetStore supports the "postgres" and "better-sqlite3" drivers, not "${type}"`);
    }
    this.dialect = { forUpdate: type === 'postgres' ? ' FOR UPDATE' : '' };
    const sqlite = sqliteConnection(dataSource);
    if (type === 'better-sqlite3' && !sqlite) throw new Error('DatabaseBudgetStore needs an initialized DataSource');
    this.sqliteGroup = sqlite ? new MicroBatch((txs) => this.runSqliteGroup(sqlite, txs)) : null;
    this.clock = options.clock ?? Date.now;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1_000;
    this.tombstoneMs = options.tombstoneMs ?? 86_400_000;
    this.counterGraceMs = options.counterGraceMs ?? 3_600_000;
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    const now = this.clock();
    if (now >= this.nextSweepAt && !this.sweeping) {
      // Routine upkeep stays off the request path; the refusal path below does what admission depends on.
      this.sweeping = this.expireStale(now)
        .catch((error: unknown) => {
          this.logger.warn(`Budget sweep failed: ${String(error)}`);
          return 0;
        })
        .finally(() => (this.sweeping = null));
    }
    const expiredBefore = this.expiredTotal;
    const result = await this.transaction(reserveTx(request, now));
    if (result.ok) return result;
    // Before refusing, give back whatever expired since the last sweep: a dead instance's reservations must not
    // keep a budget blocked. A sweep of this instance may have expired some while the reservation was being tried
    // (and finished since), so what counts is whether anything expired here after the attempt began.
    if (this.sweeping) await this.sweeping;
    await this.expireDue(now);
    return this.expiredTotal > expiredBefore ? this.transaction(reserveTx(request, now)) : result;
  }

  async settle(reservationId: string, actual: BudgetCharge): Promise<void> {
    await this.transaction(finishTx(reservationId, 'settle', actual, this.clock(), this.dialect));
  }

  async release(reservationId: string): Promise<void> {
    await this.transaction(finishTx(reservationId, 'release', ZERO, this.clock(), this.dialect));
  }

  async snapshot(counters: BudgetCounterRef[]): Promise<BudgetCounterState[]> {
    if (!counters.length) return [];
    const keys = counters.map((c) => c.key);
    const { rows } = await this.transaction(
      single({
        sql: `SELECT "key", "used", "reserved" FROM "policy_budget_counters" WHERE "key" IN (${keys.map(() => '?').join(', ')})`,
        params: keys,
        kind: 'all',
      }),
    );
    const byKey = new Map(rows.map((row) => [String(row.key), row]));
    return counters.map((c) => {
      const row = byKey.get(c.key);
      return { key: c.key, limit: c.limit, used: Number(row?.used ?? 0), reserved: Number(row?.reserved ?? 0) };
    });
  }

  async expireStale(now: number = this.clock()): Promise<number> {
    this.nextSweepAt = now + this.sweepIntervalMs;
    const expired = await this.expireDue(now);
    if (now >= this.nextCleanupAt) {
      this.nextCleanupAt = now + CLEANUP_INTERVAL_MS;
      for (const op of cleanupOps(now, this.tombstoneMs, this.counterGraceMs)) await this.transaction(single(op));
    }
    return expired;
  }

  /** Expires the open reservations past their ttl at `now`. */
  private async expireDue(now: number): Promise<number> {
    let expired = 0;
    for (;;) {
      const { rows } = await this.transaction(single(staleReservationsQuery(now, 200)));
      for (const row of rows) {
        if (await this.transaction(finishTx(String(row.id), 'expire', ZERO, now, this.dialect))) {
          expired += 1;
          this.expiredTotal += 1;
        }
      }
      if (rows.length < 200) return expired;
    }
  }

  /** Runs a transaction generator to completion on the right connection, committing or rolling back. */
  private async transaction<T>(tx: Tx<T>): Promise<T> {
    return this.sqliteGroup ? this.sqliteTransaction(this.sqliteGroup, tx) : this.postgresTransaction(tx);
  }

  /**
   * On SQLite the transactions of one event-loop turn share one database transaction (a group commit), each in a
   * savepoint of its own: a transaction that rolls back or fails leaves the others alone, and every caller is
   * answered only once the whole group has committed.
   */
  private async sqliteTransaction<T>(group: MicroBatch<Tx<unknown>, SqliteOutcome>, tx: Tx<T>): Promise<T> {
    const outcome = await group.add(tx);
    if ('error' in outcome) throw outcome.error;
    return outcome.value as T;
  }

  private async runSqliteGroup(db: SqliteConnection, txs: Array<Tx<unknown>>): Promise<SqliteOutcome[]> {
    await whenNoTransaction(db);
    const execute = (op: SqlOp): SqlOutcome => {
      const statement = this.prepare(db, op.sql);
      if (op.kind === 'all')
        return { rows: statement.all(...op.params) as Array<Record<string, unknown>>, affected: 0 };
      return { rows: [], affected: statement.run(...op.params).changes };
    };
    // Called inside the group's transaction, better-sqlite3 runs this in a SAVEPOINT, rolled back when it throws.
    const savepoint = db.transaction((tx: Tx<unknown>): unknown => {
      let step = tx.next();
      while (!step.done) step = tx.next(execute(step.value));
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- a sentinel caught below, not an error: no stack to capture
      if (!step.value.commit) throw new Rollback(step.value.value);
      return step.value.value;
    });
    const outcomes: SqliteOutcome[] = [];
    db.transaction(() => {
      for (const tx of txs) {
        try {
          outcomes.push({ value: savepoint(tx) });
        } catch (error) {
          outcomes.push(error instanceof Rollback ? { value: error.value } : { error });
        }
      }
    }).immediate();
    return outcomes;
  }

  private async postgresTransaction<T>(tx: Tx<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction('READ COMMITTED');
      try {
        let step = tx.next();
        while (!step.done) {
          const result = await runner.query(this.sql(step.value.sql), step.value.params, true);
          step = tx.next({
            rows: (result.records ?? []) as Array<Record<string, unknown>>,
            affected: result.affected ?? 0,
          });
        }
        if (step.value.commit) await runner.commitTransaction();
        else await runner.rollbackTransaction();
        return step.value.value;
      } catch (error) {
        if (runner.isTransactionActive) await runner.rollbackTransaction();
        throw error;
      }
    } finally {
      await runner.release();
    }
  }

  private prepare(db: SqliteConnection, sql: string): ReturnType<SqliteConnection['prepare']> {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      if (this.statements.size >= 200) this.statements.clear();
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Numbered placeholders for PostgreSQL. */
  private sql(text: string): string {
    let n = 0;
    return text.replace(/\?/g, () => `$${++n}`);
  }
}
