import { describe, expect, it } from '@jest/globals';
import type { ScopeDefinition } from '../policy-module-options.interface';
import { expandScopes, missingScopes, scopeCovers, validateScopes } from './scope-expander';

const sorted = (set: Set<string>) => [...set].sort();

describe('expandScopes', () => {
  it('returns the granted scopes when nothing is implied', () => {
    expect(sorted(expandScopes(['agents:read', 'tools:list'], {}))).toEqual(['agents:read', 'tools:list']);
    expect(expandScopes([], { a: { implies: ['b'] } }).size).toBe(0);
  });

  it('adds implied scopes', () => {
    expect(sorted(expandScopes(['agents:write'], { 'agents:write': { implies: ['agents:read'] } }))).toEqual([
      'agents:read',
      'agents:write',
    ]);
  });

  it('follows implies transitively', () => {
    const defs: Record<string, ScopeDefinition> = {
      owner: { implies: ['agents:admin'] },
      'agents:admin': { implies: ['agents:write', 'tools:invoke'] },
      'agents:write': { implies: ['agents:read'] },
    };
    expect(sorted(expandScopes(['owner'], defs))).toEqual([
      'agents:admin',
      'agents:read',
      'agents:write',
      'owner',
      'tools:invoke',
    ]);
  });

  it('does not expand in the reverse direction', () => {
    const defs = { 'agents:write': { implies: ['agents:read'] } };
    expect(sorted(expandScopes(['agents:read'], defs))).toEqual(['agents:read']);
  });

  it('terminates on a two-scope cycle (a → b → a)', () => {
    const defs = { a: { implies: ['b'] }, b: { implies: ['a'] } };
    expect(sorted(expandScopes(['a'], defs))).toEqual(['a', 'b']);
    expect(sorted(expandScopes(['b'], defs))).toEqual(['a', 'b']);
  });

  it('terminates on a self-cycle and a longer cycle', () => {
    expect(sorted(expandScopes(['a'], { a: { implies: ['a'] } }))).toEqual(['a']);
    const defs = { a: { implies: ['b'] }, b: { implies: ['c'] }, c: { implies: ['a', 'd'] } };
    expect(sorted(expandScopes(['a'], defs))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('ignores scope names that only exist on Object.prototype', () => {
    expect(sorted(expandScopes(['constructor', 'toString'], {}))).toEqual(['constructor', 'toString']);
  });

  it('admin implying "*" yields a grant that covers everything', () => {
    const expanded = expandScopes(['admin'], { admin: { implies: ['*'] } });
    expect(expanded.has('*')).toBe(true);
    expect(missingScopes(expanded, ['agents:write', 'audit:read', 'anything'])).toEqual([]);
  });
});

describe('scopeCovers', () => {
  it.each([
    ['agents:read', 'agents:read', true],
    ['agents:read', 'agents:write', false],
    ['agents:write', 'agents:read', false],
    ['*', 'agents:read', true],
    ['*', 'admin', true],
    ['tools:*', 'tools:invoke', true],
    ['tools:*', 'tools:list', true],
    ['tools:*', 'tools:a:b', true],
    ['tools:*', 'toolsX:y', false],
    ['tools:*', 'tools', false],
    ['tools:*', 'tools:', false],
    ['tools:*', 'xtools:invoke', false],
    ['tools:*', 'agents:read', false],
    ['tools', 'tools:invoke', false],
    ['tools:inv*', 'tools:invoke', false],
    ['agents:read', '*', false],
  ])('granted %s covers %s → %s', (granted, required, expected) => {
    expect(scopeCovers(granted, required)).toBe(expected);
  });
});

describe('missingScopes', () => {
  it('answers empty when every required scope is covered', () => {
    expect(missingScopes(new Set(['agents:read', 'tools:*']), ['agents:read', 'tools:invoke'])).toEqual([]);
    expect(missingScopes(new Set(), [])).toEqual([]);
  });

  it('lists every uncovered scope in the required order', () => {
    expect(missingScopes(new Set(['agents:read']), ['sessions:write', 'agents:read', 'agents:write'])).toEqual([
      'sessions:write',
      'agents:write',
    ]);
  });

  it('does not let a namespace wildcard cover a look-alike namespace', () => {
    expect(missingScopes(new Set(['tools:*']), ['toolsX:y', 'tools'])).toEqual(['toolsX:y', 'tools']);
  });

  it('works on the output of expandScopes (write implies read)', () => {
    const expanded = expandScopes(['agents:write'], { 'agents:write': { implies: ['agents:read'] } });
    expect(missingScopes(expanded, ['agents:read', 'agents:write'])).toEqual([]);
    expect(missingScopes(expanded, ['sessions:read'])).toEqual(['sessions:read']);
  });
});

describe('validateScopes', () => {
  it('accepts well-formed definitions', () => {
    expect(() =>
      validateScopes({ 'agents:write': { implies: ['agents:read'] }, admin: { implies: ['*'] }, plain: {} }),
    ).not.toThrow();
    expect(() => validateScopes({})).not.toThrow();
  });

  it.each([
    [{ bad: null }, /scopes\.bad must be an object/],
    [{ bad: 'agents:read' }, /scopes\.bad must be an object/],
    [{ bad: { implies: 'agents:read' } }, /scopes\.bad\.implies must be a list/],
    [{ bad: { implies: ['agents:read', 42] } }, /scopes\.bad\.implies\[1\]/],
    [{ bad: { implies: [''] } }, /scopes\.bad\.implies\[0\]/],
  ])('rejects a malformed definition naming the key (%#)', (defs, message) => {
    expect(() => validateScopes(defs as unknown as Record<string, ScopeDefinition>)).toThrow(message);
  });
});

describe('expandScopes: prototype-ish names', () => {
  it.each(['constructor', '__proto__', 'toString'])(
    'expands a granted %s the definitions do not own to itself only',
    (name) => {
      expect([...expandScopes([name], { 'agents:write': { implies: ['agents:read'] } })]).toEqual([name]);
    },
  );
});
