import type { ValueTransformer } from 'typeorm';
import { blindIndex } from './blind-index';
import type { DataKeyRing } from './data-key-ring';
import { decryptField, encryptField, isEncryptedValue } from './field-cipher';

/** The keys of field encryption: the data-key ring and the blind-index key. */
export interface FieldEncryptionKeys {
  keyRing: DataKeyRing;
  blindIndexKey: Buffer;
}

/**
 * Holds the keys that encrypted columns use. Entities are decorated once, when their class loads, before any
 * configuration is read, so their transformers point at a `FieldEncryption` that the app fills in at boot with
 * {@link FieldEncryption.use}. Until then every write and every read of an encrypted value throws: nothing is ever
 * stored in clear by accident.
 */
export class FieldEncryption {
  private keys?: FieldEncryptionKeys;

  /** Installs (or replaces, e.g. after a rotation) the keys. */
  use(keys: FieldEncryptionKeys): void {
    this.keys = keys;
  }

  get configured(): boolean {
    return this.keys !== undefined;
  }

  get keyRing(): DataKeyRing {
    return this.current().keyRing;
  }

  /** Encrypts under the primary key; `context` (e.g. `customers.email`) is bound to the value. */
  encrypt(plaintext: string, context: string): string {
    return encryptField(this.current().keyRing, plaintext, context);
  }

  /**
   * Decrypts a stored value; a legacy plaintext (written before the column was encrypted) is returned as it is.
   * @throws FieldDecryptionError when an encrypted value is tampered with or its kid is unknown.
   */
  decrypt(stored: string, context: string): string {
    return isEncryptedValue(stored) ? decryptField(this.current().keyRing, stored, context) : stored;
  }

  /** The blind index of a value (HMAC-SHA256 with the blind-index key) after `normalize`. */
  blindIndex(value: string, normalize?: (value: string) => string): string {
    return blindIndex(this.current().blindIndexKey, value, normalize);
  }

  private current(): FieldEncryptionKeys {
    if (!this.keys)
      throw new Error(
        'Field encryption is not configured: call FieldEncryption.use() with the keys before using the database',
      );
    return this.keys;
  }
}

/**
 * A TypeORM column transformer that encrypts a string column with AES-256-GCM (see {@link FieldEncryption}).
 * `null`/`undefined` pass through. Declare the column as `text`: ciphertext is longer than the plaintext.
 * @example
 * ```ts
 * export const fieldEncryption = new FieldEncryption();
 * @Entity('customers')
 * class Customer {
 *   @Column({ type: 'text', transformer: encryptedColumn(fieldEncryption, 'customers.email') })
 *   email!: string;
 * }
 * // at boot: fieldEncryption.use({ keyRing: DataKeyRing.parse(process.env.DATA_KEYS!), blindIndexKey });
 * ```
 * @throws FieldDecryptionError on read when a stored value fails its integrity check or its kid has no key.
 */
export function encryptedColumn(encryption: FieldEncryption, context: string): ValueTransformer {
  return {
    to: (value: unknown) => (typeof value === 'string' ? encryption.encrypt(value, context) : value),
    from: (value: unknown) => (typeof value === 'string' ? encryption.decrypt(value, context) : value),
  };
}
