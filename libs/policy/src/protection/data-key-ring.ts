import { createHash, hkdfSync } from 'node:crypto';

/** A key id: letters, digits, `_`, `.` and `-`, 1 to 32 characters (never `:`, the separator of stored values). */
const KID = /^[A-Za-z0-9_.-]{1,32}$/;
/** AES-256 and the blind-index HMAC both take 32-byte keys. */
export const DATA_KEY_BYTES = 32;

/** One data-encryption key and its id. */
export interface DataKey {
  readonly kid: string;
  readonly key: Buffer;
}

function decodeKey(text: string, what: string): Buffer {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) throw new Error(`${what} is not base64`);
  return Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/**
 * The data-encryption keys: the first encrypts, every one decrypts. Built from `DATA_KEYS`
 * (`kid:base64key,kid:base64key,…`) with {@link DataKeyRing.parse}.
 */
export class DataKeyRing {
  private readonly byKid: ReadonlyMap<string, DataKey>;

  constructor(readonly keys: readonly DataKey[]) {
    if (keys.length === 0) throw new Error('DATA_KEYS: at least one key is required');
    const map = new Map<string, DataKey>();
    for (const k of keys) {
      if (!KID.test(k.kid)) throw new Error(`DATA_KEYS: key id "${k.kid}" must match ${KID}`);
      if (map.has(k.kid)) throw new Error(`DATA_KEYS: key id "${k.kid}" appears twice`);
      if (k.key.length !== DATA_KEY_BYTES)
        throw new Error(`DATA_KEYS: key "${k.kid}" is ${k.key.length} bytes; AES-256 needs ${DATA_KEY_BYTES}`);
      map.set(k.kid, k);
    }
    this.byKid = map;
  }

  /**
   * Parses `kid:base64key,…`.
   * @throws Error naming the entry or kid at fault (never the key material).
   */
  static parse(text: string): DataKeyRing {
    const entries = text
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e.length > 0);
    return new DataKeyRing(
      entries.map((entry, i) => {
        const colon = entry.indexOf(':');
        if (colon <= 0) throw new Error(`DATA_KEYS: entry ${i + 1} must be kid:base64key`);
        const kid = entry.slice(0, colon).trim();
        return { kid, key: decodeKey(entry.slice(colon + 1), `DATA_KEYS: key "${kid}"`) };
      }),
    );
  }

  /** A development key ring derived from some secret material; its kid carries a fingerprint so another run's data is named at boot. */
  static derived(material: string): DataKeyRing {
    const key = Buffer.from(hkdfSync('sha256', material, 'nest-agent-policy', 'data-key', DATA_KEY_BYTES));
    return new DataKeyRing([{ kid: `dev-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`, key }]);
  }

  /** The key new values are encrypted with. */
  get primary(): DataKey {
    return this.keys[0];
  }

  /** The key of a kid, or undefined when the ring does not hold it. */
  get(kid: string): DataKey | undefined {
    return this.byKid.get(kid);
  }

  has(kid: string): boolean {
    return this.byKid.has(kid);
  }
}

/**
 * Parses `BLIND_INDEX_KEY` (base64, at least 32 bytes).
 * @throws Error naming the variable.
 */
export function parseBlindIndexKey(text: string): Buffer {
  const key = decodeKey(text, 'BLIND_INDEX_KEY');
  if (key.length < DATA_KEY_BYTES)
    throw new Error(`BLIND_INDEX_KEY is ${key.length} bytes; at least ${DATA_KEY_BYTES} are required`);
  return key;
}

/** A development blind-index key derived from the same material as {@link DataKeyRing.derived}. */
export function deriveBlindIndexKey(material: string): Buffer {
  return Buffer.from(hkdfSync('sha256', material, 'nest-agent-policy', 'blind-index', DATA_KEY_BYTES));
}
