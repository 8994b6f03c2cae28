import type { JsonValue } from './canonical-json';

/** What a redacted value is replaced with. */
export const REDACTED = '[REDACTED]';

/** Key names (compared lower-case with `-`, `_` and other separators removed) whose values are always secret. */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'token',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'password',
  'passwd',
  'pwd',
  'secret',
  'clientsecret',
  'apikey',
  'xapikey',
  'privatekey',
  'jwt',
  'credential',
  'credentials',
  'sessionid',
  'otp',
  'passphrase',
]);

/**
 * Endings that mark a key as secret too (`sessionToken`, `dbPassword`, `webhookSecret`). `tokens` (a count) and
 * `tokenId` (an identifier) do not end in `token`, so usage figures and token ids stay readable.
 */
const SECRET_KEY_SUFFIXES = [
  'token',
  'password',
  'passwd',
  'secret',
  'apikey',
  'privatekey',
  'credential',
  'credentials',
  'cookie',
  'authorization',
];

/** Words that follow "bearer" in the library's and users' prose, never a credential. */
const PROSE_AFTER_BEARER: ReadonlySet<string> = new Set([
  'token',
  'tokens',
  'credential',
  'credentials',
  'auth',
  'authentication',
  'authorization',
  'scheme',
  'header',
  'headers',
  'string',
  'value',
  'format',
  'prefix',
  'missing',
  'required',
  'invalid',
  'expected',
  'and',
  'or',
  'is',
  'was',
  'the',
  'a',
  'an',
  'with',
  'without',
  'not',
  'only',
  'type',
]);

/**
 * Values under a secret-named key that name a kind of credential rather than hold one (the library's own
 * `details.credential: "api-key"`); they stay readable.
 */
const CREDENTIAL_KINDS: ReadonlySet<string> = new Set([
  'jwt',
  'api-key',
  'apikey',
  'bearer',
  'basic',
  'none',
  'session',
  'oauth2',
  'mtls',
]);

type Replacement = string | ((match: string, ...groups: string[]) => string);

/** Secret-looking text found anywhere in a string. */
const STRING_PATTERNS: ReadonlyArray<[RegExp, Replacement]> = [
  // PEM private keys.
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED],
  // JWS/JWE compact serialisations: a base64url JSON header (`eyJ…`) followed by dot-separated segments.
  [/eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){1,4}/g, REDACTED],
  // Bearer credentials, as in an `Authorization` header copied into a message; prose such as "invalid bearer token"
  // (the scheme followed by an ordinary word) is left alone.
  [
    /\b(Bearer)\s+([A-Za-z0-9\-._~+/]+=*)/gi,
    (match: string, scheme: string, value: string) => (PROSE_AFTER_BEARER.has(value) ? match : `${scheme} ${REDACTED}`),
  ],
  // API keys `apk_<id>_<secret>`.
  [/(?<![A-Za-z0-9])apk_[A-Za-z0-9-]+_[A-Za-z0-9_-]+/g, REDACTED],
  // `name=value` pairs of secret names, as in query strings, cookies and form bodies.
  [
    /\b((?:access_|refresh_|id_|session_)?token|password|passwd|secret|client_secret|api_?key|jwt|code|sig|signature)=([^&\s;,"']+)/gi,
    `$1=${REDACTED}`,
  ],
];

/** True when a property name says its value is a secret. */
export function isSecretKey(key: string): boolean {
  const normalized = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_KEYS.has(normalized) || SECRET_KEY_SUFFIXES.some((suffix) => normalized.endsWith(suffix));
}

/** Replaces secret-looking text (JWTs, `Bearer …`, `apk_…` API keys, `password=…`) inside a string. */
export function redactString(text: string): string {
  let result = text;
  for (const [pattern, replacement] of STRING_PATTERNS) {
    result =
      typeof replacement === 'string' ? result.replace(pattern, replacement) : result.replace(pattern, replacement);
  }
  return result;
}

/**
 * Deep-copies `value` into plain JSON with secrets removed: values of secret keys (authorization, cookie, token,
 * password, secret, api key, private key, credentials…, at any depth, in objects and arrays, case-insensitive)
 * become `[REDACTED]` — except booleans, null and names of credential kinds (`credential: "api-key"`) — and
 * secret-looking strings anywhere (JWTs, `Bearer <credential>`, `apk_` keys, `password=…`) are scrubbed, while the
 * library's own words ("invalid bearer token") stay readable. Cycles become `[Circular]`; dates become
 * ISO strings; functions, symbols and `undefined` properties are dropped, as `JSON.stringify` would.
 * The input is never modified.
 */
export function redact(value: unknown): JsonValue {
  return copy(value, new WeakSet<object>()) ?? null;
}

function copy(value: unknown, ancestors: WeakSet<object>): JsonValue | undefined {
  switch (typeof value) {
    case 'string':
      return redactString(value);
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  const object = value as object;
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? null : object.toISOString();
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) return '[Binary]';
  if (ancestors.has(object)) return '[Circular]';
  ancestors.add(object);
  try {
    if (Array.isArray(object)) return object.map((item) => copy(item, ancestors) ?? null);
    if (object instanceof Map)
      return copyEntries(
        [...object.entries()].map(([k, v]) => [String(k), v]),
        ancestors,
      );
    if (object instanceof Set) return [...object].map((item) => copy(item, ancestors) ?? null);
    const entries: Array<[string, unknown]> = Object.entries(object);
    if (object instanceof Error) entries.unshift(['name', object.name], ['message', object.message]);
    return copyEntries(entries, ancestors);
  } finally {
    // Only ancestors count as cycles: the same object reached twice through siblings is copied twice.
    ancestors.delete(object);
  }
}

function copyEntries(entries: Array<[string, unknown]>, ancestors: WeakSet<object>): { [key: string]: JsonValue } {
  const result: { [key: string]: JsonValue } = {};
  for (const [key, item] of entries) {
    if (isSecretKey(key)) {
      if (item === undefined) continue;
      // A flag, an absent value or the name of a credential kind is not a secret; anything else is masked whole.
      if (item === null || typeof item === 'boolean' || (typeof item === 'string' && CREDENTIAL_KINDS.has(item)))
        result[key] = item;
      else result[key] = REDACTED;
      continue;
    }
    const copied = copy(item, ancestors);
    if (copied !== undefined) result[key] = copied;
  }
  return result;
}
