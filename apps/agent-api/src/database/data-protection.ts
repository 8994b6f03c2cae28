import type { DataSource } from 'typeorm';
import { assertKeysForStoredData, FieldEncryption, normalizeEmail, type EncryptedTable } from 'nest-agent-policy';

/**
 * The keys the app's encrypted columns use. Entities bind their transformers to it when their classes load;
 * `openDatabase` installs the configured keys before the first query.
 */
export const fieldEncryption = new FieldEncryption();

/** Where the app keeps encrypted values (database names): checked at boot, rewritten by `data rotate`. */
export const ENCRYPTED_TABLES: EncryptedTable[] = [
  {
    table: 'customers',
    idColumn: 'id',
    columns: ['name', 'email', 'phone'],
    blindIndexes: [{ column: 'email_bidx', source: 'email', normalize: normalizeEmail }],
  },
  { table: 'events', idColumn: 'id', columns: ['message'] },
];

/** Fails the boot when a stored value names a kid that `DATA_KEYS` does not hold. */
export function checkStoredKeys(dataSource: DataSource): Promise<void> {
  return assertKeysForStoredData(dataSource, fieldEncryption.keyRing, ENCRYPTED_TABLES);
}
