import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataKeyRing } from './data-key-ring';

/** Stored values start with this version tag: `v1:<kid>:<iv>:<tag>:<ciphertext>`, each part base64url. */
export const ENCRYPTED_PREFIX = 'v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A stored value that cannot be decrypted: tampered, truncated, or written under a key the ring does not hold. */
export class FieldDecryptionError extends Error {
  constructor(
    message: string,
    readonly context: string,
    readonly kid?: string,
  ) {
    super(message);
    this.name = 'FieldDecryptionError';
  }
}

/** Whether a stored value is in the encrypted format (anything else is a legacy plaintext). */
export function isEncryptedValue(stored: string): boolean {
  return stored.startsWith(ENCRYPTED_PREFIX);
}

/** The kid a stored value was encrypted under, or undefined for a legacy plaintext. */
export function storedKeyId(stored: string): string | undefined {
  if (!isEncryptedValue(stored)) return undefined;
  const end = stored.indexOf(':', ENCRYPTED_PREFIX.length);
  return end < 0 ? undefined : stored.slice(ENCRYPTED_PREFIX.length, end);
}

/**
 * Encrypts with AES-256-GCM under the ring's primary key, a fresh random 96-bit IV per value, and `context`
 * (e.g. `customers.email`) as additional authenticated data, so a value moved to another column is refused too.
 */
export function encryptField(ring: DataKeyRing, plaintext: string, context: string): string {
  const { kid, key } = ring.primary;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return `${ENCRYPTED_PREFIX}${kid}:${iv.toString('base64url')}:${tag.toString('base64url')}:${ct.toString('base64url')}`;
}

/**
 * Decrypts a value written by {@link encryptField}.
 * @throws FieldDecryptionError naming the context and kid when the value is malformed, its kid is unknown, or the
 * GCM tag does not verify (tampering or a wrong key): never returns garbage.
 */
export function decryptField(ring: DataKeyRing, stored: string, context: string): string {
  const parts = stored.split(':');
  if (parts.length !== 5 || `${parts[0]}:` !== ENCRYPTED_PREFIX) {
    throw new FieldDecryptionError(`${context}: stored value is not in the v1 encrypted format`, context);
  }
  const [, kid, ivText, tagText, ctText] = parts;
  const entry = ring.get(kid);
  if (!entry)
    throw new FieldDecryptionError(`${context}: no data key for kid "${kid}" (add it to DATA_KEYS)`, context, kid);
  const iv = Buffer.from(ivText, 'base64url');
  const tag = Buffer.from(tagText, 'base64url');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new FieldDecryptionError(`${context}: encrypted value under kid "${kid}" is malformed`, context, kid);
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', entry.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(ctText, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new FieldDecryptionError(
      `${context}: encrypted value under kid "${kid}" failed its integrity check (GCM tag): it was altered or written with another key`,
      context,
      kid,
    );
  }
}
