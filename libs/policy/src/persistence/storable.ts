import { QueryFailedError } from 'typeorm';

// eslint-disable-next-line no-control-regex -- NUL is exactly what this pattern finds
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text as every supported database stores it unchanged: NUL (which PostgreSQL refuses in text) and lone UTF-16
 * surrogates (which drivers silently re-encode, so the stored text would no longer match its hash) become U+FFFD.
 */
export function storableText(text: string): string {
  return text.replace(UNSTORABLE, '\uFFFD');
}

/** A value that survives a JSON round trip (the shape of `audit/canonical-json`'s JsonValue). */
type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A JSON value with {@link storableText} applied to every string and key, so its JSON text holds no `\u0000`. */
export function storableJson<T extends JsonValue>(value: T): T;
export function storableJson(value: JsonValue): JsonValue {
  if (typeof value === 'string') return storableText(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(storableJson);
  const out: { [key: string]: JsonValue } = {};
  for (const [key, item] of Object.entries(value)) out[storableText(key)] = storableJson(item);
  return out;
}

/**
 * Whether a failed write would fail again however often it is retried, because the database refused the data
 * itself: PostgreSQL data exceptions and integrity violations (SQL states 22xxx, 23xxx), SQLite constraint, size
 * and type errors. Anything else (connection lost, lock timeout, server shutting down) is worth retrying.
 */
export function isPermanentWriteError(error: unknown): boolean {
  if (!(error instanceof QueryFailedError)) return false;
  const code = (error.driverError as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return false;
  if (/^2[23][0-9A-Z]{3}$/.test(code)) return true;
  return /^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH|RANGE)/.test(code);
}
