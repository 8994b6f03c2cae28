import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { JwtAlgorithm, JwtOptions } from '../policy-module-options.interface';

/** JWT verification settings after validation. */
export interface ResolvedJwtOptions {
  /**
   * The verification key as a `KeyObject`. Handing jsonwebtoken a string makes it try to parse the string as a
   * public key on every verification (an OpenSSL decode that fails), which costs about 1.5 ms per request.
   */
  key: KeyObject;
  algorithms: JwtAlgorithm[];
  issuer?: string;
  audience?: string | string[];
  clockTolerance: number;
  /** Seconds a token may claim to live (`exp - iat`, or `exp - now` without `iat`). */
  maxLifetime: number;
  /** Seconds `iat` may lie in the future. */
  iatLeeway: number;
}

/** Default of `jwt.maxLifetime`: a token may claim to live at most 24 hours. */
export const DEFAULT_JWT_MAX_LIFETIME = 86_400;
/** Default of `jwt.iatLeeway`: `iat` may lie at most 5 seconds in the future. */
export const DEFAULT_JWT_IAT_LEEWAY = 5;

function seconds(value: unknown, key: string, fallback: number, allowZero: boolean): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    (!allowZero && value === 0) ||
    value > 10 * 365 * 86_400
  ) {
    throw new Error(
      `${key} must be a ${allowZero ? 'non-negative' : 'positive'} number of seconds (at most ten years)`,
    );
  }
  return value;
}

/**
 * Validates the JWT settings and pins the algorithms to the key type: an HS256 secret of at least 32 bytes, or an
 * RSA (RS256) / EC (ES256) public key. A public key is never usable as an HMAC secret, which is what defeats
 * algorithm confusion, and `none` is never accepted.
 * @throws Error naming the key (`jwt.secret`, `jwt.publicKey`, `jwt.algorithms`, `jwt.maxLifetime`, `jwt.iatLeeway`,
 * `jwt.clockTolerance`).
 * @returns null when no key is configured (JWT authentication is then off: every bearer token is refused).
 */
export function resolveJwtOptions(jwt: JwtOptions | undefined, production: boolean): ResolvedJwtOptions | null {
  const secret = jwt?.secret;
  const publicKey = jwt?.publicKey;
  if (secret && publicKey)
    throw new Error('jwt: set either jwt.secret (HS256) or jwt.publicKey (RS256/ES256), not both');
  if (!secret && !publicKey) {
    if (production) throw new Error('jwt.secret: a JWT key (JWT_SECRET or JWT_PUBLIC_KEY) is required in production');
    return null;
  }
  const common = {
    issuer: jwt?.issuer || undefined,
    audience: jwt?.audience || undefined,
    clockTolerance: seconds(jwt?.clockTolerance, 'jwt.clockTolerance', 0, true),
    maxLifetime: seconds(jwt?.maxLifetime, 'jwt.maxLifetime', DEFAULT_JWT_MAX_LIFETIME, false),
    iatLeeway: seconds(jwt?.iatLeeway, 'jwt.iatLeeway', DEFAULT_JWT_IAT_LEEWAY, true),
  };
  if (secret) {
    if (Buffer.byteLength(secret, 'utf8') < 32)
      throw new Error('jwt.secret: an HS256 secret must be at least 32 bytes');
    const algorithms = jwt?.algorithms ?? ['HS256'];
    if (algorithms.length === 0 || algorithms.some((a) => a !== 'HS256')) {
      throw new Error('jwt.algorithms: a secret can only verify HS256');
    }
    return { key: createSecretKey(Buffer.from(secret, 'utf8')), algorithms, ...common };
  }
  let keyType: string | undefined;
  let key: KeyObject;
  try {
    key = createPublicKey(publicKey as string);
    keyType = key.asymmetricKeyType;
  } catch {
    throw new Error('jwt.publicKey: not a PEM public key');
  }
  const expected: JwtAlgorithm | undefined = keyType === 'rsa' ? 'RS256' : keyType === 'ec' ? 'ES256' : undefined;
  if (!expected) throw new Error(`jwt.publicKey: unsupported key type ${keyType}`);
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (keyType === 'ec' && curve !== 'prime256v1') {
    throw new Error(`jwt.publicKey: ES256 needs a P-256 (prime256v1) key, not ${curve ?? 'an unknown curve'}`);
  }
  const algorithms = jwt?.algorithms ?? [expected];
  if (algorithms.length === 0 || algorithms.some((a) => a !== expected)) {
    throw new Error(`jwt.algorithms: a ${keyType} public key can only verify ${expected}`);
  }
  return { key, algorithms, ...common };
}
