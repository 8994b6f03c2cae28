import { describe, expect, it } from '@jest/globals';
import type { ApprovalCall, ApprovalGate } from '../approval/approval.gate';
import type { Principal } from '../authentication/principal.interface';
import { AuthorizationPolicy } from './authorization-policy';
import type { PermissionDecision, PolicyContext, RateLimitDecision } from './policy-context.interface';

const principal: Principal = {
  id: 'u1',
  type: 'user',
  tenantId: 't1',
  roles: [],
  scopes: [],
  tier: null,
  tokenId: null,
};
const ctx: PolicyContext = {
  principal,
  requiredScopes: [],
  requestId: 'r1',
  ip: '10.0.0.1',
  method: 'TOOL',
  path: '/tools/x',
  body: { a: 1 },
  approvalId: 'ap-1',
};

class ApprovalPolicyStub extends AuthorizationPolicy {
  limited = false;
  async checkPermission(): Promise<PermissionDecision> {
    return {
      allowed: false,
      code: 'approval_required',
      reasons: ['approvals: needs a human'],
      recordScope: { tenantId: 't1' },
    };
  }
  async checkRateLimit(): Promise<RateLimitDecision | null> {
    return this.limited
      ? { allowed: false, limit: 1, remaining: 0, resetSeconds: 5, retryAfterSeconds: 5, bucket: 'b' }
      : null;
  }
}

const gate = (calls: ApprovalCall[]) =>
  ({ pass: async (call: ApprovalCall) => (calls.push(call), call.approvalId ?? 'none') }) as unknown as ApprovalGate;

describe('AuthorizationPolicy.authorize', () => {
  it('hands a REQUIRE_APPROVAL decision to the gate after the rate limits, and allows what it passes', async () => {
    const calls: ApprovalCall[] = [];
    const result = await new ApprovalPolicyStub().authorize(ctx, 'tool.invoke', gate(calls));
    expect(result.permission).toMatchObject({ allowed: true, recordScope: { tenantId: 't1' } });
    expect(calls).toEqual([
      expect.objectContaining({
        operation: 'tool.invoke',
        approvalId: 'ap-1',
        request: { method: 'TOOL', path: '/tools/x', body: { a: 1 } },
      }),
    ]);
  });

  it('never reaches the gate when the rate limits refuse', async () => {
    const calls: ApprovalCall[] = [];
    const policy = new ApprovalPolicyStub();
    policy.limited = true;
    await expect(policy.authorize(ctx, 'tool.invoke', gate(calls))).rejects.toMatchObject({ status: 429 });
    expect(calls).toEqual([]);
  });

  it('refuses a REQUIRE_APPROVAL decision without a gate', async () => {
    await expect(new ApprovalPolicyStub().authorize(ctx, 'tool.invoke')).rejects.toMatchObject({ status: 403 });
  });
});
