import { describe, expect, it } from '@jest/globals';
import { suggestKey } from './key-suggestion';

describe('suggestKey', () => {
  it.each([
    ['defualt', ['default', 'anonymous'], 'default'],
    ['inherit', ['operations', 'inherits', 'own'], 'inherits'],
    ['RateLimits', ['roles', 'rateLimits'], 'rateLimits'],
    ['cots', ['cost', 'tokens', 'requests'], 'cost'],
    ['operation', ['operations', 'inherits'], 'operations'],
    ['softLimit', ['softLimitPercent', 'principal'], 'softLimitPercent'],
    ['ttl', ['limit', 'ttl', 'blockDuration'], 'ttl'],
  ])('suggests a close key for %s', (unknown, known, expected) => {
    expect(suggestKey(unknown, known)).toBe(expected);
  });

  it.each([
    ['colour', ['roles', 'scopes']],
    ['x', ['own']],
  ])('suggests nothing when no key is close (%s)', (unknown, known) => {
    expect(suggestKey(unknown, known)).toBeUndefined();
  });

  it('prefers the nearest of several close keys', () => {
    expect(suggestKey('tenat', ['tenant', 'tenants-x'])).toBe('tenant');
  });
});
