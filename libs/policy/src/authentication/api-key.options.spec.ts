import { describe, expect, it } from '@jest/globals';
import { resolveApiKeyConfig } from './api-key.options';

describe('resolveApiKeyConfig', () => {
  it('fills in the defaults: shared limits, 90 days, at most 365, 100 live keys', () => {
    expect(resolveApiKeyConfig(undefined)).toEqual({
      limits: 'creator',
      defaultTtlMs: 90 * 86_400_000,
      maxTtlMs: 365 * 86_400_000,
      maxPerCreator: 100,
    });
    expect(resolveApiKeyConfig({ limits: 'key', defaultTtl: 60, maxTtl: 120, maxPerCreator: 2 })).toEqual({
      limits: 'key',
      defaultTtlMs: 60_000,
      maxTtlMs: 120_000,
      maxPerCreator: 2,
    });
  });

  it.each<[unknown, RegExp]>([
    [{ limits: 'shared' }, /apiKeys\.limits/],
    [{ defaultTtl: 0 }, /apiKeys\.defaultTtl/],
    [{ maxTtl: 1.5 }, /apiKeys\.maxTtl/],
    [{ maxPerCreator: -1 }, /apiKeys\.maxPerCreator/],
    [{ defaultTtl: 100, maxTtl: 50 }, /apiKeys\.defaultTtl must not exceed/],
    [{ maxTtl: 11 * 365 * 86_400 }, /apiKeys\.maxTtl/],
    [{ ttl: 5 }, /apiKeys\.ttl: unknown key/],
    [[], /apiKeys must be an object/],
  ])('refuses %p naming the key', (config, message) => {
    expect(() => resolveApiKeyConfig(config as never)).toThrow(message);
  });
});
