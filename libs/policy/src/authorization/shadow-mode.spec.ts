import { describe, expect, it } from '@jest/globals';
import type { Principal } from '../authentication/principal.interface';
import { compilePolicy } from './compiled-policy';
import { shadowRecordScope } from './shadow-mode';

const policy = compilePolicy({
  roles: {
    trial: { operations: ['agent.read'], mode: 'shadow' },
    trialOwn: { operations: ['session.read'], own: true, mode: 'shadow' },
    customer: { operations: ['session.read'], own: true },
    operator: { operations: ['agent.*'] },
  },
  approvals: { operations: ['agent.delete'] },
});
const principal = (roles: string[], tenantId: string | null = 't1'): Principal => ({
  id: 'p1',
  type: 'user',
  tenantId,
  roles,
  scopes: [],
  tier: null,
  tokenId: null,
});

describe('shadowRecordScope', () => {
  it('waives a role or scope refusal for a holder of a shadow role, held to its tenant', () => {
    expect(shadowRecordScope(policy, principal(['trial']), 'agent.update', 'forbidden')).toEqual({ tenantId: 't1' });
    expect(shadowRecordScope(policy, principal(['trial', 'operator']), 'agent.update', 'insufficient_scope')).toEqual({
      tenantId: 't1',
    });
  });

  it('holds an own-only principal to its own records', () => {
    expect(shadowRecordScope(policy, principal(['trialOwn']), 'agent.list', 'forbidden')).toMatchObject({
      ownerId: 'p1',
    });
    expect(shadowRecordScope(policy, principal(['trialOwn', 'customer']), 'agent.list', 'forbidden')).toMatchObject({
      ownerId: 'p1',
    });
  });

  it('keeps the refusal without a shadow role, for approvals, for other codes', () => {
    expect(shadowRecordScope(policy, principal(['operator']), 'agent.update', 'forbidden')).toBeNull();
    expect(shadowRecordScope(policy, principal(['ghost']), 'agent.update', 'forbidden')).toBeNull();
    expect(shadowRecordScope(policy, principal(['trial']), 'agent.delete', 'forbidden')).toBeNull();
    expect(shadowRecordScope(policy, principal(['trial']), 'agent.update', 'approval_required')).toBeNull();
    expect(shadowRecordScope(policy, principal(['trial']), 'agent.update', 'not_found')).toBeNull();
    expect(shadowRecordScope(policy, principal(['trial']), 'agent.update', undefined)).toBeNull();
  });
});
