import { describe, expect, it } from '@jest/globals';
import type { Principal } from '../authentication/principal.interface';
import type { RateLimitConfig } from '../policy-module-options.interface';
import { authFailureBucket, resolveBuckets } from './rate-limit.buckets';

function principal(overrides: Partial<Principal> = {}): Principal {
  return { id: 'user-1', type: 'user', tenantId: 't1', roles: [], scopes: [], tier: null, tokenId: null, ...overrides };
}

const config: RateLimitConfig = {
  default: { limit: 100, ttl: 60 },
  anonymous: { limit: 10, ttl: 30, blockDuration: 120 },
  operations: { 'event.create': { limit: 30, ttl: 60 } },
  tiers: { pro: { multiplier: 5 }, trial: { multiplier: 0.01 }, half: { multiplier: 0.5 } },
};

describe('resolveBuckets', () => {
  it('gives a principal its default bucket, keyed by tenant and id', () => {
    expect(resolveBuckets(principal(), 'agent.read', config, '203.0.113.7')).toEqual([
      { name: 'default', key: 'principal:t1:user-1', limit: 100, ttlMs: 60_000, blockDurationMs: 0 },
    ]);
  });

  it('adds the operation bucket when the config names the operation', () => {
    const buckets = resolveBuckets(principal(), 'event.create', config, '203.0.113.7');
    expect(buckets).toHaveLength(2);
    expect(buckets[1]).toEqual({
      name: 'operation:event.create',
      key: 'operation:event.create:principal:t1:user-1',
      limit: 30,
      ttlMs: 60_000,
      blockDurationMs: 0,
    });
  });

  it('keeps the same subject apart across tenants', () => {
    const a = resolveBuckets(principal({ tenantId: 'a' }), null, config, '::1')[0].key;
    const b = resolveBuckets(principal({ tenantId: 'b' }), null, config, '::1')[0].key;
    const none = resolveBuckets(principal({ tenantId: null }), null, config, '::1')[0].key;
    expect(new Set([a, b, none]).size).toBe(3);
  });

  it('limits anonymous callers per client IP with the anonymous rule', () => {
    const anon = principal({ id: 'ip:198.51.100.1', type: 'anonymous', tenantId: null });
    const buckets = resolveBuckets(anon, 'event.create', config, '198.51.100.1');
    expect(buckets[0]).toEqual({
      name: 'anonymous',
      key: 'anonymous:198.51.100.1',
      limit: 10,
      ttlMs: 30_000,
      blockDurationMs: 120_000,
    });
    expect(buckets[1].key).toBe('operation:event.create:anonymous:198.51.100.1');
    expect(resolveBuckets(anon, null, config, '198.51.100.2')[0].key).not.toBe(buckets[0].key);
  });

  it('scales every limit by the tier multiplier, rounded down, at least 1', () => {
    const pro = resolveBuckets(principal({ tier: 'pro' }), 'event.create', config, '::1');
    expect(pro.map((b) => b.limit)).toEqual([500, 150]);
    expect(resolveBuckets(principal({ tier: 'trial' }), 'event.create', config, '::1').map((b) => b.limit)).toEqual([
      1, 1,
    ]);
    expect(resolveBuckets(principal({ tier: 'half' }), 'event.create', config, '::1').map((b) => b.limit)).toEqual([
      50, 15,
    ]);
    expect(resolveBuckets(principal({ tier: 'unknown' }), null, config, '::1')[0].limit).toBe(100);
  });

  it('falls back to 600/60 s and 60/60 s when the config is empty', () => {
    expect(resolveBuckets(principal(), 'event.create', {}, '::1')).toEqual([
      { name: 'default', key: 'principal:t1:user-1', limit: 600, ttlMs: 60_000, blockDurationMs: 0 },
    ]);
    expect(resolveBuckets(principal({ type: 'anonymous' }), null, {}, '::1')[0]).toMatchObject({
      limit: 60,
      ttlMs: 60_000,
    });
  });
});

describe('authFailureBucket', () => {
  it('uses rateLimits.authFailures, else the anonymous rule, else 60/60 s', () => {
    expect(authFailureBucket('1.2.3.4', { ...config, authFailures: { limit: 5, ttl: 900 } })).toEqual({
      name: 'auth-failures',
      key: 'auth-failures:1.2.3.4',
      limit: 5,
      ttlMs: 900_000,
      blockDurationMs: 0,
    });
    expect(authFailureBucket('1.2.3.4', config)).toMatchObject({ limit: 10, ttlMs: 30_000, blockDurationMs: 120_000 });
    expect(authFailureBucket('1.2.3.4', {})).toMatchObject({ limit: 60, ttlMs: 60_000 });
  });
});
