import type { Principal } from './principal.interface';

/** The JWT claims the library reads (RFC 9068 style). */
export interface PolicyJwtClaims {
  sub?: unknown;
  exp?: unknown;
  iat?: unknown;
  scope?: unknown;
  scp?: unknown;
  roles?: unknown;
  tenant_id?: unknown;
  tier?: unknown;
  token_type?: unknown;
  jti?: unknown;
}

/** Time limits a token's claims are checked against (see {@link ResolvedJwtOptions}). */
export interface ClaimTimeLimits {
  /** Now, in epoch milliseconds. */
  readonly nowMs: number;
  /** Seconds a token may claim to live: `exp - iat`, or `exp - now` when it has no `iat`. */
  readonly maxLifetime: number;
  /** Seconds `iat` may lie in the future (clock skew between the issuer and this server). */
  readonly iatLeeway: number;
}

/** Longest accepted identifier claim (`sub`, `tenant_id`, `jti`, `tier`, `token_type`, a role, a scope). */
export const MAX_CLAIM_LENGTH = 256;
/** Most entries accepted in `roles`, and in `scope`/`scp`. */
export const MAX_CLAIM_ENTRIES = 100;

// C0 controls (NUL included), DEL and the C1 controls: never part of an identifier, and PostgreSQL refuses NUL.
// eslint-disable-next-line no-control-regex -- matching control characters is this pattern's purpose
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A non-empty string of at most {@link MAX_CLAIM_LENGTH} characters without control characters. */
function isIdentifier(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_CLAIM_LENGTH && !CONTROL.test(value);
}

/** A non-empty list of identifiers of bounded length; null when malformed. */
function identifierList(value: unknown): string[] | null {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_CLAIM_ENTRIES) return null;
  return value.every(isIdentifier) ? [...value] : null;
}

/** `scope` (space-separated) or `scp` (array); null when a present one is malformed or empty. */
function scopesOf(claims: PolicyJwtClaims): string[] | null | undefined {
  let fromScope: string[] | undefined;
  if (claims.scope !== undefined) {
    if (typeof claims.scope !== 'string' || claims.scope.length > MAX_CLAIM_ENTRIES * (MAX_CLAIM_LENGTH + 1))
      return null;
    const parts = claims.scope.split(' ').filter((s) => s.length > 0);
    if (parts.length === 0 || parts.length > MAX_CLAIM_ENTRIES || !parts.every(isIdentifier)) return null;
    fromScope = parts;
  }
  let fromScp: string[] | undefined;
  if (claims.scp !== undefined) {
    const list = identifierList(claims.scp);
    if (list === null || list.some((s) => s.includes(' '))) return null;
    fromScp = list;
  }
  return fromScope ?? fromScp;
}

/** Seconds since the epoch, a finite number (RFC 7519 NumericDate); fractions are allowed. */
const isNumericDate = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0;

/**
 * Builds a principal from verified claims, or answers why it cannot.
 *
 * Every claim the library reads must, when present, have its documented type; a claim present with another type,
 * empty, too long or holding control characters refuses the whole token (401 `invalid_token`) — it is never read as
 * absent, because an absent `tenant_id` means "every tenant" and an absent role list is not the same as a broken one.
 * - `sub` (required), `tenant_id`, `jti`, `tier`, `token_type`: non-empty strings of at most 256 characters without
 *   control characters. A numeric `tenant_id` is refused, not converted: issue tenant ids as strings.
 * - `roles`, `scp`: non-empty arrays of such strings (at most 100); `scope`: a space-separated string of them.
 * - `exp` (required) and `iat`: NumericDates. With `limits`, `iat` may not lie more than `iatLeeway` seconds in the
 *   future, and the token may not claim to live longer than `maxLifetime` seconds (`exp - iat`, or `exp - now`
 *   without `iat`), so `exp: 1e308` is refused.
 *
 * @example
 * principalFromClaims({ sub: 'u1', exp: 1900000000, tenant_id: 't1' }); // { id: 'u1', tenantId: 't1', ... }
 * principalFromClaims({ sub: 'u1', exp: 1900000000, tenant_id: 42 });   // 'token has a malformed tenant_id'
 */
export function principalFromClaims(claims: PolicyJwtClaims, limits?: ClaimTimeLimits): Principal | string {
  if (!isIdentifier(claims.sub)) return 'token has no subject';
  if (!isNumericDate(claims.exp)) return 'token has no expiry';
  if (claims.iat !== undefined && !isNumericDate(claims.iat)) return 'token has a malformed iat';
  if (limits) {
    const now = limits.nowMs / 1000;
    if (typeof claims.iat === 'number' && claims.iat > now + limits.iatLeeway) return 'token was issued in the future';
    const start = typeof claims.iat === 'number' ? claims.iat : now;
    if (claims.exp - start > limits.maxLifetime) return 'token claims a lifetime over the maximum';
  }
  for (const claim of ['tenant_id', 'tier', 'token_type', 'jti'] as const) {
    if (claims[claim] !== undefined && !isIdentifier(claims[claim])) return `token has a malformed ${claim}`;
  }
  let roles: string[] = [];
  if (claims.roles !== undefined) {
    const list = identifierList(claims.roles);
    if (list === null) return 'token has malformed roles';
    roles = list;
  }
  const scopes = scopesOf(claims);
  if (scopes === null) return 'token has malformed scopes';
  return Object.freeze({
    id: claims.sub,
    type: claims.token_type === 'm2m' ? 'service' : 'user',
    tenantId: (claims.tenant_id as string | undefined) ?? null,
    roles: Object.freeze([...new Set(roles)]),
    scopes: Object.freeze([...new Set(scopes ?? [])]),
    tier: (claims.tier as string | undefined) ?? null,
    tokenId: (claims.jti as string | undefined) ?? null,
    apiKeyId: null,
  } satisfies Principal);
}

/**
 * Checks a verified token's protected header: a `crit` parameter lists extensions the verifier must understand
 * (RFC 7515 §4.1.11); this library understands none, so a token naming any is refused.
 * @example
 * jwtHeaderProblem({ alg: 'HS256', crit: ['exp'] }); // 'token has critical header extensions'
 */
export function jwtHeaderProblem(header: Record<string, unknown> | undefined): string | null {
  if (!header || typeof header !== 'object') return 'token has no header';
  if (header.crit !== undefined) return 'token has critical header extensions';
  return null;
}
