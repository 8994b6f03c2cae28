import type { Principal } from './principal.interface';
import { hasNulInClaims } from './claim-text';

/** The JWT claims the library reads (RFC 9068 style). */
export interface PolicyJwtClaims {
  sub?: unknown;
  exp?: unknown;
  scope?: unknown;
  scp?: unknown;
  roles?: unknown;
  tenant_id?: unknown;
  tier?: unknown;
  token_type?: unknown;
  jti?: unknown;
}

const stringList = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v.length > 0) : [];

/**
 * Builds a principal from verified claims, or answers why it cannot: `sub` and a numeric `exp` are required.
 * Claims of the wrong type are ignored rather than trusted.
 */
export function principalFromClaims(claims: PolicyJwtClaims): Principal | string {
  if (typeof claims.sub !== 'string' || claims.sub.length === 0) return 'token has no subject';
  if (hasNulInClaims(claims)) return 'token has a claim with a NUL character';
  if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) return 'token has no expiry';
  const scopes =
    typeof claims.scope === 'string' ? claims.scope.split(' ').filter((s) => s.length > 0) : stringList(claims.scp);
  return Object.freeze({
    id: claims.sub,
    type: claims.token_type === 'm2m' ? 'service' : 'user',
    tenantId: typeof claims.tenant_id === 'string' && claims.tenant_id.length > 0 ? claims.tenant_id : null,
    roles: Object.freeze(stringList(claims.roles)),
    scopes: Object.freeze(scopes),
    tier: typeof claims.tier === 'string' ? claims.tier : null,
    tokenId: typeof claims.jti === 'string' ? claims.jti : null,
    apiKeyId: null,
  } satisfies Principal);
}
