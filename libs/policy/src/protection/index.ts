/**
 * Field encryption at rest: AES-256-GCM column transformer, key ring, blind index, boot-time key scan and rotation.
 */

/**
 * The data-encryption keys (`DATA_KEYS`: `kid:base64key,…`; the first encrypts, all decrypt) and the blind-index
 * key (`BLIND_INDEX_KEY`).
 * @example
 * ```ts
 * const keyRing = DataKeyRing.parse(process.env.DATA_KEYS!); // throws naming the kid of a key that is not 32 bytes
 * const blindIndexKey = parseBlindIndexKey(process.env.BLIND_INDEX_KEY!);
 * ```
 */
export { DataKeyRing, parseBlindIndexKey, deriveBlindIndexKey, type DataKey } from './data-key-ring';

/**
 * The column transformer and the key holder it reads.
 * @example
 * ```ts
 * export const fieldEncryption = new FieldEncryption();
 * @Column({ type: 'text', transformer: encryptedColumn(fieldEncryption, 'customers.email') }) email!: string;
 * ```
 */
export { FieldEncryption, encryptedColumn, type FieldEncryptionKeys } from './field-encryption';

/**
 * The error an encrypted value that fails its GCM tag check (or names an unknown kid) throws on read.
 * @example
 * ```ts
 * try { fieldEncryption.decrypt(stored, 'customers.email'); } catch (e) { if (e instanceof FieldDecryptionError) log(e.kid); }
 * ```
 */
export { FieldDecryptionError, storedKeyId } from './field-cipher';

/**
 * Keyed hash for equality lookups on an encrypted column.
 * @example
 * ```ts
 * const emailIndex = fieldEncryption.blindIndex(email, normalizeEmail);
 * ```
 */
export { blindIndex, normalizeEmail } from './blind-index';

/**
 * Boot-time check that every stored kid has a key, and the batched re-encryption under the primary key.
 * @example
 * ```ts
 * await assertKeysForStoredData(dataSource, keyRing, tables); // throws naming the missing kid
 * const report = await rotateEncryptedColumns(dataSource, fieldEncryption, tables, { batchSize: 200 });
 * ```
 * @throws Error naming each kid with no key (assertKeysForStoredData).
 */
export { assertKeysForStoredData, scanStoredKeyIds, MissingDataKeyError, type StoredKeyId } from './field-key.scan';
export { rotateEncryptedColumns, type RotationOptions, type RotationReport } from './field-rotation';
export type { EncryptedTable } from './encrypted-table.interface';
