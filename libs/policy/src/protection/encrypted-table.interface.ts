/** A table with encrypted columns, as the key scan and the rotation see it (database names, not property names). */
export interface EncryptedTable {
  /** Table name, e.g. `customers`. */
  table: string;
  /** Primary-key column (a single, sortable column), e.g. `id`. */
  idColumn: string;
  /** Encrypted columns; each value's context is `<table>.<column>`. */
  columns: string[];
  /** Blind-index columns kept beside an encrypted column, filled in by the rotation where missing. */
  blindIndexes?: Array<{ column: string; source: string; normalize?: (value: string) => string }>;
}
