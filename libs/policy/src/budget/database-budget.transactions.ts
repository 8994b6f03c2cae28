import type { BudgetCounterState, ReserveRequest, ReserveResult } from './budget-store.interface';
import type { BudgetReservationState, ReservedCounter } from './budget-reservation.entity';
import type { BudgetCharge } from './budget.types';

/**
 * The database store's transactions, written once as generators that yield SQL and receive its outcome, so the
 * same logic runs synchronously inside a better-sqlite3 transaction and asynchronously on a PostgreSQL connection.
 * SQL uses `?` placeholders and double-quoted identifiers (valid on both).
 */
export interface SqlOp {
  sql: string;
  params: unknown[];
  /** `all` returns rows; `run` returns the number of affected rows. */
  kind: 'all' | 'run';
}

export interface SqlOutcome {
  rows: Array<Record<string, unknown>>;
  affected: number;
}

/** `commit: false` rolls the transaction back. */
export type Tx<T> = Generator<SqlOp, { commit: boolean; value: T }, SqlOutcome>;

export interface Dialect {
  /** ` FOR UPDATE` where row locks exist (PostgreSQL); empty where transactions are serialised (SQLite). */
  forUpdate: string;
}

const COUNTERS = '"policy_budget_counters"';
const RESERVATIONS = '"policy_budget_reservations"';

const all = (sql: string, params: unknown[] = []): SqlOp => ({ sql, params, kind: 'all' });
const run = (sql: string, params: unknown[] = []): SqlOp => ({ sql, params, kind: 'run' });
const marks = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

const byKey =
  <T>(key: (item: T) => string) =>
  (a: T, b: T): number =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

function toState(row: Record<string, unknown> | undefined, key: string, limit: number): BudgetCounterState {
  return { key, limit, used: Number(row?.used ?? 0), reserved: Number(row?.reserved ?? 0) };
}

function* readCounters(keys: string[]): Generator<SqlOp, Map<string, Record<string, unknown>>, SqlOutcome> {
  const { rows } = yield all(
    `SELECT "key", "used", "reserved" FROM ${COUNTERS} WHERE "key" IN (${marks(keys.length)})`,
    keys,
  );
  return new Map(rows.map((row) => [String(row.key), row]));
}

/** Creates missing counters, in key order so that concurrent inserts cannot deadlock. */
function* ensureCounters(
  counters: Array<{ key: string; limit: number; windowEnd: number }>,
): Generator<SqlOp, void, SqlOutcome> {
  const unique = new Map(counters.map((c) => [c.key, c]));
  const sorted = [...unique.values()].sort(byKey((c) => c.key));
  if (!sorted.length) return;
  yield run(
    `INSERT INTO ${COUNTERS} ("key", "limit", "used", "reserved", "window_end") VALUES ${sorted
      .map(() => '(?, ?, 0, 0, ?)')
      .join(', ')} ON CONFLICT ("key") DO NOTHING`,
    sorted.flatMap((c) => [c.key, c.limit, c.windowEnd]),
  );
}

/**
 * Reserves on every counter or none. Each counter is charged with a conditional update that only succeeds while
 * `used + reserved + amount <= limit`, so admission is exact even under READ COMMITTED. Counters are updated in
 * key order, so concurrent reservations lock rows in the same order and cannot deadlock.
 */
export function* reserveTx(request: ReserveRequest, now: number): Tx<ReserveResult> {
  const { counters } = request;
  yield* ensureCounters(counters.map((c) => ({ key: c.key, limit: c.limit, windowEnd: c.expiresAt })));
  // The reservation row goes first so the counter rows stay locked for as short a time as possible.
  const held: ReservedCounter[] = counters.map((c) => ({
    k: c.key,
    a: c.amount,
    u: c.unit,
    e: c.expiresAt,
    l: c.limit,
  }));
  yield run(`INSERT INTO ${RESERVATIONS} ("id", "counters", "expires_at", "state") VALUES (?, ?, ?, 'reserved')`, [
    request.reservationId,
    JSON.stringify(held),
    now + request.ttlMs,
  ]);
  const states = new Map<string, BudgetCounterState>();
  for (const c of [...counters].sort(byKey((x) => x.key))) {
    const { rows } = yield all(
      `UPDATE ${COUNTERS} SET "reserved" = "reserved" + ?, "limit" = ? WHERE "key" = ? AND "used" + "reserved" + ? <= ? RETURNING "used", "reserved"`,
      [c.amount, c.limit, c.key, c.amount, c.limit],
    );
    if (rows.length !== 1) {
      // Name the first failing counter in request order, as seen from this transaction.
      const current = yield* readCounters(counters.map((x) => x.key));
      const index = counters.findIndex((x) => {
        const seen = states.get(x.key) ?? toState(current.get(x.key), x.key, x.limit);
        const own = states.has(x.key) ? x.amount : 0;
        return seen.used + seen.reserved - own + x.amount > x.limit;
      });
      const failedIndex = index >= 0 ? index : counters.indexOf(c);
      const failed = counters[failedIndex];
      const seen = states.get(failed.key) ?? toState(current.get(failed.key), failed.key, failed.limit);
      const own = states.has(failed.key) ? failed.amount : 0;
      return { commit: false, value: { ok: false, failedIndex, failed: { ...seen, reserved: seen.reserved - own } } };
    }
    states.set(c.key, toState(rows[0], c.key, c.limit));
  }
  return { commit: true, value: { ok: true, counters: counters.map((c) => states.get(c.key) as BudgetCounterState) } };
}

export type FinishMode = 'settle' | 'release' | 'expire';

/**
 * Finishes a reservation once: `settle` charges the actual amounts (and gives back what was held), `release` and
 * `expire` give back what was held. A reservation already finished is left alone; `expire` only takes reservations
 * still open past their expiry. Answers whether it changed anything.
 */
export function* finishTx(
  id: string,
  mode: FinishMode,
  actual: BudgetCharge,
  now: number,
  dialect: Dialect,
): Tx<boolean> {
  const { rows } = yield all(
    `SELECT "state", "counters", "expires_at" FROM ${RESERVATIONS} WHERE "id" = ?${dialect.forUpdate}`,
    [id],
  );
  const row = rows[0];
  if (!row) return { commit: true, value: false };
  const previous = String(row.state) as BudgetReservationState;
  const open = previous === 'reserved';
  if (mode === 'expire' && (!open || Number(row.expires_at) > now)) return { commit: true, value: false };
  if (mode !== 'expire' && previous !== 'reserved' && previous !== 'expired') return { commit: true, value: false };
  const next: BudgetReservationState = mode === 'settle' ? 'settled' : mode === 'release' ? 'released' : 'expired';
  const { affected } = yield run(`UPDATE ${RESERVATIONS} SET "state" = ? WHERE "id" = ? AND "state" = ?`, [
    next,
    id,
    previous,
  ]);
  if (affected !== 1) return { commit: false, value: false };
  const held = (JSON.parse(String(row.counters)) as ReservedCounter[]).sort(byKey((c) => c.k));
  for (const c of held) {
    const giveBack = open ? c.a : 0;
    const charge =
      mode === 'settle' ? (c.u === 'cost' ? actual.costMicro : c.u === 'tokens' ? actual.tokens : actual.requests) : 0;
    if (!giveBack && !charge) continue;
    const update = run(
      `UPDATE ${COUNTERS} SET "used" = "used" + ?, "reserved" = CASE WHEN "reserved" > ? THEN "reserved" - ? ELSE 0 END WHERE "key" = ?`,
      [charge, giveBack, giveBack, c.k],
    );
    const { affected } = yield update;
    if (affected === 0 && charge > 0) {
      // A late settlement may find its counter already cleaned up; the usage happened, so it is recorded anyway.
      yield* ensureCounters([{ key: c.k, limit: c.l, windowEnd: c.e }]);
      yield update;
    }
  }
  return { commit: true, value: true };
}

/** Open reservations past their expiry, oldest first. */
export function staleReservationsQuery(now: number, max: number): SqlOp {
  return all(
    `SELECT "id" FROM ${RESERVATIONS} WHERE "state" = 'reserved' AND "expires_at" <= ? ORDER BY "expires_at" LIMIT ${Math.floor(max)}`,
    [now],
  );
}

/** Forgets finished reservations and idle counters of windows long over. */
export function cleanupOps(now: number, tombstoneMs: number, counterGraceMs: number): SqlOp[] {
  return [
    run(`DELETE FROM ${RESERVATIONS} WHERE "state" IN ('settled', 'released', 'expired') AND "expires_at" < ?`, [
      now - tombstoneMs,
    ]),
    run(`DELETE FROM ${COUNTERS} WHERE "window_end" < ? AND "reserved" = 0`, [now - counterGraceMs]),
  ];
}
