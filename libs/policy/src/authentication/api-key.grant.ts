import type { CompiledPolicy } from '../authorization/compiled-policy';
import { rolesAllowing } from '../authorization/role-resolver';
import { expandScopes, scopeCovers } from '../authorization/scope-expander';
import type { Principal } from './principal.interface';

/** What a creator asks a new key to hold. */
export interface ApiKeyGrantRequest {
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  readonly tenantId?: string | null;
  readonly tier?: string | null;
}

/** Why a grant is refused: `invalid` (400: the request names something unknown) or `forbidden` (403: more power). */
export interface ApiKeyGrantRefusal {
  readonly code: 'invalid' | 'forbidden';
  readonly message: string;
}

/** The rate-limit multiplier of a tier (no tier, or a tier the policy does not name, multiplies by 1). */
function multiplierOf(policy: CompiledPolicy, tier: string | null | undefined): number {
  if (!tier) return 1;
  return policy.document.rateLimits?.tiers?.[tier]?.multiplier ?? 1;
}

/**
 * Decides whether `creator` may mint a key holding `request`: a key never holds more than its creator.
 * - Roles are compared by what they allow, not by name: every operation a requested role allows must be allowed by
 *   the creator's roles (so an admin with `*` may mint a `viewer` key), and an operation the creator reaches only
 *   for its own records (`own` roles) must be `own` for the key too.
 * - Every scope the requested scopes expand to must be covered by the creator's expanded scopes.
 * - The tenant is the creator's own when it has one.
 * - The tier may not scale limits above the creator's tier (no tier counts as a multiplier of 1), and must be a
 *   tier the policy names unless it is the creator's own.
 * Pure: no I/O.
 * @returns null when allowed, else the refusal.
 * @example
 * checkApiKeyGrant(admin, { roles: ['viewer'], scopes: ['agents:read'] }, policy); // null
 * checkApiKeyGrant(user, { roles: [], scopes: [], tier: 'pro' }, policy);          // { code: 'forbidden', ... }
 */
export function checkApiKeyGrant(
  creator: Principal,
  request: ApiKeyGrantRequest,
  policy: CompiledPolicy,
): ApiKeyGrantRefusal | null {
  for (const role of request.roles) {
    if (!policy.roles.has(role)) return { code: 'invalid', message: `roles: unknown role "${role}"` };
  }
  for (const operation of policy.operations) {
    const granted = rolesAllowing(policy.roles, request.roles, operation);
    if (granted.length === 0) continue;
    const held = rolesAllowing(policy.roles, creator.roles, operation);
    const role = granted[0].name;
    if (held.length === 0)
      return { code: 'forbidden', message: `You cannot grant role "${role}": it allows ${operation}` };
    const creatorOwnOnly = held.every((r) => r.own);
    const keyOwnOnly = granted.every((r) => r.own);
    if (creatorOwnOnly && !keyOwnOnly) {
      return {
        code: 'forbidden',
        message: `You cannot grant role "${granted.find((r) => !r.own)!.name}": you reach only your own records for ${operation}`,
      };
    }
  }
  const held = [...expandScopes(creator.scopes, policy.scopes)];
  for (const scope of request.scopes) {
    for (const implied of expandScopes([scope], policy.scopes)) {
      if (!held.some((h) => scopeCovers(h, implied)))
        return { code: 'forbidden', message: `You cannot grant scope "${scope}"` };
    }
  }
  if (
    creator.tenantId &&
    request.tenantId !== undefined &&
    request.tenantId !== null &&
    request.tenantId !== creator.tenantId
  ) {
    return { code: 'forbidden', message: 'You cannot create keys for another tenant' };
  }
  const tier = request.tier ?? null;
  if (tier !== null && tier !== creator.tier) {
    if (policy.document.rateLimits?.tiers?.[tier] === undefined)
      return { code: 'invalid', message: `tier: unknown tier "${tier}"` };
    if (multiplierOf(policy, tier) > multiplierOf(policy, creator.tier)) {
      return { code: 'forbidden', message: `You cannot grant tier "${tier}": it is above your own` };
    }
  }
  return null;
}
