import type { PolicyJwtClaims } from './jwt-claims';

const TEXT_CLAIMS = ['sub', 'tenant_id', 'tier', 'token_type', 'jti', 'scope'] as const;
const LIST_CLAIMS = ['roles', 'scp'] as const;

/**
 * Whether a claim the library reads holds a NUL character. Such a claim is refused: it names no real principal,
 * and PostgreSQL cannot store it, so it would fail every write that records who acted.
 */
export function hasNulInClaims(claims: PolicyJwtClaims): boolean {
  const nul = (value: unknown): boolean => typeof value === 'string' && value.includes('\u0000');
  return TEXT_CLAIMS.some((name) => nul(claims[name])) || LIST_CLAIMS.some((name) => Array.isArray(claims[name]) && (claims[name] as unknown[]).some(nul));
}
