import { accountIdOf, type Principal } from '../authentication/principal.interface';
import type { RateLimitConfig, RateLimitRule } from '../policy-module-options.interface';
import type { RateLimitBucket } from './rate-limit.interfaces';

/**
 * Every principal's bucket when the config names none: 600 requests per minute.
 * @example
 * resolveBuckets(principal, null, {}, ip)[0].limit === DEFAULT_RATE_LIMIT_RULE.limit; // true
 */
export const DEFAULT_RATE_LIMIT_RULE: Readonly<RateLimitRule> = Object.freeze({ limit: 600, ttl: 60 });
/**
 * Anonymous callers (per client IP) when the config names none: 60 requests per minute.
 * @example
 * authFailureBucket(ip, {}).limit === DEFAULT_ANONYMOUS_RATE_LIMIT_RULE.limit; // true
 */
export const DEFAULT_ANONYMOUS_RATE_LIMIT_RULE: Readonly<RateLimitRule> = Object.freeze({ limit: 60, ttl: 60 });

function toBucket(name: string, key: string, rule: RateLimitRule, multiplier: number): RateLimitBucket {
  return {
    name,
    key,
    limit: Math.max(1, Math.floor(rule.limit * multiplier)),
    ttlMs: rule.ttl * 1000,
    blockDurationMs: (rule.blockDuration ?? 0) * 1000,
  };
}

function tierMultiplier(principal: Principal, config: RateLimitConfig): number {
  if (principal.tier === null) return 1;
  const tier = config.tiers?.[principal.tier];
  return tier === undefined ? 1 : tier.multiplier;
}

/**
 * The buckets a request is charged against: the principal's default bucket (per client IP for anonymous callers),
 * plus the operation's own bucket when the config names one. The principal's tier multiplies every limit
 * (rounded down, at least 1). Pure: no I/O, no clock.
 *
 * @example
 * resolveBuckets(principal, 'event.create', { operations: { 'event.create': { limit: 30, ttl: 60 } } }, '203.0.113.7');
 * // [{ name: 'default', key: 'principal:t1:user-1', limit: 600, ttlMs: 60000, blockDurationMs: 0 },
 * //  { name: 'operation:event.create', key: 'operation:event.create:principal:t1:user-1', limit: 30, ... }]
 */
export function resolveBuckets(
  principal: Principal,
  operation: string | null,
  config: RateLimitConfig,
  clientIp: string,
): RateLimitBucket[] {
  const multiplier = tierMultiplier(principal, config);
  const anonymous = principal.type === 'anonymous';
  // Tenants issue their own subjects, so the same `sub` in two tenants is two callers. An API key counts under its
  // creator's id unless the policy gives keys limits of their own (`accountId`).
  const subject = anonymous
    ? `anonymous:${clientIp}`
    : `principal:${principal.tenantId ?? '-'}:${accountIdOf(principal)}`;
  const buckets = [
    anonymous
      ? toBucket('anonymous', subject, config.anonymous ?? DEFAULT_ANONYMOUS_RATE_LIMIT_RULE, multiplier)
      : toBucket('default', subject, config.default ?? DEFAULT_RATE_LIMIT_RULE, multiplier),
  ];
  const operationRule = operation === null ? undefined : config.operations?.[operation];
  if (operation !== null && operationRule !== undefined) {
    buckets.push(toBucket(`operation:${operation}`, `operation:${operation}:${subject}`, operationRule, multiplier));
  }
  return buckets;
}

/**
 * The bucket counting failed authentication attempts from one client IP (`rateLimits.authFailures`, by default
 * the anonymous rule).
 *
 * @example
 * authFailureBucket('203.0.113.7', {}); // { name: 'auth-failures', key: 'auth-failures:203.0.113.7', limit: 60, ... }
 */
export function authFailureBucket(clientIp: string, config: RateLimitConfig): RateLimitBucket {
  const rule = config.authFailures ?? config.anonymous ?? DEFAULT_ANONYMOUS_RATE_LIMIT_RULE;
  return toBucket('auth-failures', `auth-failures:${clientIp}`, rule, 1);
}
