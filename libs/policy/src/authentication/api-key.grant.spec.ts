import { describe, expect, it } from '@jest/globals';
import { compilePolicy } from '../authorization/compiled-policy';
import { checkApiKeyGrant } from './api-key.grant';
import type { Principal } from './principal.interface';

const policy = compilePolicy({
  roles: {
    admin: { operations: ['*'] },
    viewer: { operations: ['agent.read', 'agent.list'] },
    reader: { operations: ['agent.list', 'agent.read'] },
    operator: { operations: ['agent.*'] },
    customer: { operations: ['session.read', 'session.create'], own: true },
    supporter: { operations: ['session.read', 'session.create'] },
    'own-reader': { operations: ['session.read'], own: true },
  },
  scopes: {
    'agents:write': { implies: ['agents:read'] },
    admin: { implies: ['*'] },
    sneaky: { implies: ['audit:read'] },
  },
  rateLimits: { tiers: { pro: { multiplier: 5 }, basic: { multiplier: 1 }, lite: { multiplier: 0.5 } } },
});

const creator = (over: Partial<Principal> = {}): Principal => ({
  id: 'alice',
  type: 'user',
  tenantId: null,
  roles: ['admin'],
  scopes: ['admin'],
  tier: null,
  tokenId: null,
  ...over,
});

describe('checkApiKeyGrant', () => {
  it('compares roles by what they allow, not by name', () => {
    expect(checkApiKeyGrant(creator(), { roles: ['viewer'], scopes: [] }, policy)).toBeNull();
    expect(
      checkApiKeyGrant(creator({ roles: ['operator'] }), { roles: ['viewer', 'reader'], scopes: [] }, policy),
    ).toBeNull();
    expect(checkApiKeyGrant(creator({ roles: ['viewer'] }), { roles: ['reader'], scopes: [] }, policy)).toBeNull();
    expect(checkApiKeyGrant(creator({ roles: ['viewer'] }), { roles: ['operator'], scopes: [] }, policy)).toMatchObject(
      { code: 'forbidden' },
    );
    expect(checkApiKeyGrant(creator({ roles: ['operator'] }), { roles: ['admin'], scopes: [] }, policy)).toMatchObject({
      code: 'forbidden',
    });
  });

  it('refuses unknown roles as invalid', () => {
    expect(checkApiKeyGrant(creator(), { roles: ['ghost'], scopes: [] }, policy)).toMatchObject({ code: 'invalid' });
  });

  it('keeps a creator that reaches only its own records to own-only keys', () => {
    const customer = creator({ roles: ['customer'] });
    expect(checkApiKeyGrant(customer, { roles: ['own-reader'], scopes: [] }, policy)).toBeNull();
    expect(checkApiKeyGrant(customer, { roles: ['customer'], scopes: [] }, policy)).toBeNull();
    expect(checkApiKeyGrant(customer, { roles: ['supporter'], scopes: [] }, policy)).toMatchObject({
      code: 'forbidden',
    });
    expect(checkApiKeyGrant(creator({ roles: ['supporter'] }), { roles: ['customer'], scopes: [] }, policy)).toBeNull();
  });

  it("checks every scope a requested scope implies against the creator's expanded scopes", () => {
    expect(
      checkApiKeyGrant(creator({ scopes: ['agents:write'] }), { roles: [], scopes: ['agents:read'] }, policy),
    ).toBeNull();
    expect(
      checkApiKeyGrant(creator({ scopes: ['agents:read'] }), { roles: [], scopes: ['agents:write'] }, policy),
    ).toMatchObject({ code: 'forbidden' });
    expect(checkApiKeyGrant(creator({ scopes: ['sneaky'] }), { roles: [], scopes: ['sneaky'] }, policy)).toBeNull();
    expect(checkApiKeyGrant(creator({ scopes: ['agents:*'] }), { roles: [], scopes: ['admin'] }, policy)).toMatchObject(
      { code: 'forbidden' },
    );
  });

  it('keeps a tenant-bound creator to its own tenant', () => {
    const bound = creator({ tenantId: 't1' });
    expect(checkApiKeyGrant(bound, { roles: [], scopes: [], tenantId: 't1' }, policy)).toBeNull();
    expect(checkApiKeyGrant(bound, { roles: [], scopes: [], tenantId: 't2' }, policy)).toMatchObject({
      code: 'forbidden',
    });
    expect(checkApiKeyGrant(creator(), { roles: [], scopes: [], tenantId: 't2' }, policy)).toBeNull();
  });

  it("never grants a tier that scales limits above the creator's", () => {
    expect(checkApiKeyGrant(creator(), { roles: [], scopes: [], tier: 'pro' }, policy)).toMatchObject({
      code: 'forbidden',
    });
    expect(checkApiKeyGrant(creator(), { roles: [], scopes: [], tier: 'basic' }, policy)).toBeNull();
    expect(checkApiKeyGrant(creator(), { roles: [], scopes: [], tier: 'lite' }, policy)).toBeNull();
    expect(checkApiKeyGrant(creator({ tier: 'pro' }), { roles: [], scopes: [], tier: 'pro' }, policy)).toBeNull();
    expect(checkApiKeyGrant(creator({ tier: 'pro' }), { roles: [], scopes: [], tier: 'basic' }, policy)).toBeNull();
    expect(checkApiKeyGrant(creator({ tier: 'lite' }), { roles: [], scopes: [], tier: 'basic' }, policy)).toMatchObject(
      { code: 'forbidden' },
    );
    expect(checkApiKeyGrant(creator({ tier: 'pro' }), { roles: [], scopes: [], tier: 'gold' }, policy)).toMatchObject({
      code: 'invalid',
    });
  });
});
