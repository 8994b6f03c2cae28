import type { DataSource } from 'typeorm';
import type { EncryptedTable } from './encrypted-table.interface';
import { ENCRYPTED_PREFIX } from './field-cipher';
import type { FieldEncryption } from './field-encryption';

/** Progress of a rotation. */
export interface RotationReport {
  /** Rows rewritten. */
  rows: number;
  /** Rows changed by someone else between read and write (retried in a later pass). */
  conflicts: number;
  /** Full passes over the tables; the last one found nothing left to do. */
  passes: number;
}

export interface RotationOptions {
  /** Rows read and rewritten per batch (default 200). */
  batchSize?: number;
  /** Called after each batch. */
  onBatch?: (table: string, rows: number) => void;
  /** Safety stop: at most this many passes (default 50). */
  maxPasses?: number;
}

type Row = Record<string, string | null>;

/**
 * Re-encrypts every value not under the ring's primary key (older kids and legacy plaintexts) and fills missing
 * blind indexes, in batches, while the application keeps serving. Each row is rewritten with a compare-and-set on
 * its old values, so a concurrent update is never overwritten; passes repeat until one finds nothing left, so when
 * this resolves every value is under the primary key. Readers are correct throughout: a value is always either
 * its old ciphertext or its new one, and the app's ring holds both keys.
 */
export async function rotateEncryptedColumns(
  ds: DataSource,
  encryption: FieldEncryption,
  tables: EncryptedTable[],
  options: RotationOptions = {},
): Promise<RotationReport> {
  const batchSize = options.batchSize ?? 200;
  const maxPasses = options.maxPasses ?? 50;
  const q = (name: string) => ds.driver.escape(name);
  const primary = `${ENCRYPTED_PREFIX}${encryption.keyRing.primary.kid}:`;
  const report: RotationReport = { rows: 0, conflicts: 0, passes: 0 };
  for (;;) {
    if (report.passes >= maxPasses)
      throw new Error(`data rotate: still finding rows to rotate after ${maxPasses} passes`);
    report.passes += 1;
    let touched = 0;
    for (const t of tables) {
      const stale = t.columns.map((c) => `(${q(c)} IS NOT NULL AND substr(${q(c)}, 1, ${primary.length}) <> :primary)`);
      const unindexed = (t.blindIndexes ?? []).map((b) => `(${q(b.column)} IS NULL AND ${q(b.source)} IS NOT NULL)`);
      const selected = [t.idColumn, ...t.columns, ...(t.blindIndexes ?? []).map((b) => b.column)];
      let after = '';
      for (;;) {
        const [sql, params] = ds.driver.escapeQueryWithParameters(
          `SELECT ${selected.map(q).join(', ')} FROM ${q(t.table)} WHERE ${q(t.idColumn)} > :after AND (${[...stale, ...unindexed].join(' OR ')}) ORDER BY ${q(t.idColumn)} LIMIT ${batchSize}`,
          { after, primary },
        );
        const rows: Row[] = await ds.query(sql, params);
        if (rows.length === 0) break;
        for (const row of rows) {
          const changed = await rewriteRow(ds, encryption, t, row);
          if (changed) report.rows += 1;
          else report.conflicts += 1;
          touched += 1;
        }
        after = String(rows[rows.length - 1][t.idColumn]);
        options.onBatch?.(t.table, rows.length);
      }
    }
    if (touched === 0) return report;
  }
}

async function rewriteRow(ds: DataSource, encryption: FieldEncryption, t: EncryptedTable, row: Row): Promise<boolean> {
  const q = (name: string) => ds.driver.escape(name);
  const set: Record<string, string | null> = {};
  for (const column of t.columns) {
    const stored = row[column];
    if (stored === null || stored === undefined) continue;
    const context = `${t.table}.${column}`;
    set[column] = encryption.encrypt(encryption.decrypt(stored, context), context);
  }
  for (const b of t.blindIndexes ?? []) {
    const source = row[b.source];
    if (row[b.column] === null && source !== null && source !== undefined) {
      set[b.column] = encryption.blindIndex(encryption.decrypt(source, `${t.table}.${b.source}`), b.normalize);
    }
  }
  const params: Record<string, unknown> = { id: row[t.idColumn] };
  const assignments = Object.keys(set).map((c, i) => {
    params[`s${i}`] = set[c];
    return `${q(c)} = :s${i}`;
  });
  // Compare-and-set on every column read: a concurrent write (already under the primary key) wins.
  const guards = Object.keys(row).map((c, i) => {
    if (row[c] === null) return `${q(c)} IS NULL`;
    params[`o${i}`] = row[c];
    return `${q(c)} = :o${i}`;
  });
  if (assignments.length === 0) return true;
  const [sql, values] = ds.driver.escapeQueryWithParameters(
    `UPDATE ${q(t.table)} SET ${assignments.join(', ')} WHERE ${guards.join(' AND ')}`,
    params,
  );
  const runner = ds.createQueryRunner();
  try {
    const result = (await runner.query(sql, values, true)) as { affected?: number };
    return (result.affected ?? 0) > 0;
  } finally {
    await runner.release();
  }
}
