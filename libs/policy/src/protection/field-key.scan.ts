import type { DataSource } from 'typeorm';
import type { DataKeyRing } from './data-key-ring';
import { ENCRYPTED_PREFIX } from './field-cipher';
import type { EncryptedTable } from './encrypted-table.interface';

/** A kid found in stored data, and where. */
export interface StoredKeyId {
  kid: string;
  table: string;
  column: string;
}

const quote = (ds: DataSource, name: string) => ds.driver.escape(name);

/** The SQL expression extracting the kid of a `v1:<kid>:…` value, per dialect. */
function kidExpression(ds: DataSource, column: string): string {
  const col = quote(ds, column);
  const rest = `substr(${col}, ${ENCRYPTED_PREFIX.length + 1})`;
  if (ds.options.type === 'postgres') return `split_part(${rest}, ':', 1)`;
  return `substr(${rest}, 1, instr(${rest}, ':') - 1)`;
}

/** Every distinct kid stored in the given columns (one `SELECT DISTINCT` per column). */
export async function scanStoredKeyIds(ds: DataSource, tables: EncryptedTable[]): Promise<StoredKeyId[]> {
  const found: StoredKeyId[] = [];
  for (const t of tables) {
    for (const column of t.columns) {
      const col = quote(ds, column);
      const rows: Array<{ kid: string }> = await ds.query(
        `SELECT DISTINCT ${kidExpression(ds, column)} AS kid FROM ${quote(ds, t.table)} WHERE substr(${col}, 1, ${ENCRYPTED_PREFIX.length}) = '${ENCRYPTED_PREFIX}'`,
      );
      for (const row of rows) found.push({ kid: String(row.kid), table: t.table, column });
    }
  }
  return found;
}

/** Stored data names a kid the key ring does not hold; retrying cannot help. */
export class MissingDataKeyError extends Error {
  constructor(
    message: string,
    readonly kids: string[],
  ) {
    super(message);
    this.name = 'MissingDataKeyError';
  }
}

/**
 * Fails the boot when stored data names a kid the key ring does not hold (a key dropped from `DATA_KEYS` too soon,
 * or the wrong environment's keys).
 * @throws MissingDataKeyError naming every missing kid and where it was found.
 */
export async function assertKeysForStoredData(
  ds: DataSource,
  ring: DataKeyRing,
  tables: EncryptedTable[],
): Promise<void> {
  const missing = (await scanStoredKeyIds(ds, tables)).filter((s) => !ring.has(s.kid));
  if (missing.length === 0) return;
  const kids = [...new Set(missing.map((m) => m.kid))];
  const where = missing.map((m) => `${m.table}.${m.column}`);
  throw new MissingDataKeyError(
    `DATA_KEYS has no key for kid ${kids.map((k) => `"${k}"`).join(', ')} found in ${[...new Set(where)].join(', ')}: add the key(s) to DATA_KEYS`,
    kids,
  );
}
