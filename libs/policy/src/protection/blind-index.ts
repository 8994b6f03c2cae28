import { createHmac } from 'node:crypto';

/** Normalises an e-mail address for equality lookups: trimmed and lower-cased. */
export const normalizeEmail = (value: string): string => value.trim().toLowerCase();

/**
 * A keyed hash (HMAC-SHA256, hex) of a normalised value, stored beside an encrypted column so equality lookups
 * work without decrypting: equal inputs give equal hashes, and without the key nothing can be guessed from them.
 */
export function blindIndex(key: Buffer, value: string, normalize: (value: string) => string = (v) => v): string {
  return createHmac('sha256', key).update(normalize(value), 'utf8').digest('hex');
}
