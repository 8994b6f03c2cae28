import { describe, expect, it } from '@jest/globals';
import type { Principal } from '../authentication/principal.interface';
import { recordInScope, recordScopeFor } from './tenant.rules';

const principal = (overrides: Partial<Principal> = {}): Principal => ({
  id: 'user-1',
  type: 'user',
  tenantId: null,
  roles: [],
  scopes: [],
  tier: null,
  tokenId: null,
  ...overrides,
});

describe('recordScopeFor', () => {
  it('limits a tenant principal to its tenant', () => {
    expect(recordScopeFor(principal({ tenantId: 't1' }), false)).toEqual({ tenantId: 't1' });
  });

  it('adds the principal as owner for own-only roles', () => {
    expect(recordScopeFor(principal({ tenantId: 't1' }), true)).toEqual({ tenantId: 't1', ownerId: 'user-1' });
    expect(recordScopeFor(principal(), true)).toEqual({ ownerId: 'user-1' });
  });

  it('puts no restriction on a principal without tenant and without own-only roles', () => {
    expect(recordScopeFor(principal(), false)).toEqual({});
  });
});

describe('recordInScope', () => {
  const tenantScope = recordScopeFor(principal({ tenantId: 't1' }), false);
  const ownScope = recordScopeFor(principal({ tenantId: 't1' }), true);
  const globalScope = recordScopeFor(principal(), false);

  it.each([
    ['own tenant', { tenantId: 't1', ownerId: 'someone' }, true],
    ['another tenant', { tenantId: 't2', ownerId: 'someone' }, false],
    ['no tenant', { tenantId: null }, false],
    ['tenant missing', {}, false],
  ])('tenant principal, record of %s → %s', (_name, record, expected) => {
    expect(recordInScope(record, tenantScope)).toBe(expected);
  });

  it.each([
    ['own record in own tenant', { tenantId: 't1', ownerId: 'user-1' }, true],
    ['another owner in own tenant', { tenantId: 't1', ownerId: 'user-2' }, false],
    ['own id but another tenant', { tenantId: 't2', ownerId: 'user-1' }, false],
    ['record without owner', { tenantId: 't1', ownerId: null }, false],
  ])('own-only principal, %s → %s', (_name, record, expected) => {
    expect(recordInScope(record, ownScope)).toBe(expected);
  });

  it.each([[{ tenantId: 't1' }], [{ tenantId: 't2', ownerId: 'x' }], [{ tenantId: null }], [{}]])(
    'principal without tenant sees records of every tenant (%j)',
    (record) => {
      expect(recordInScope(record, globalScope)).toBe(true);
    },
  );
});
