/**
 * The approval gate runs after the final allow: an evaluator that denies after the built-in approval policy must
 * leave the caller's approval unspent (and store no new one), and the same approval passes once the denial is gone.
 */
import { Injectable, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import {
  ApprovalService,
  PolicyEvaluator,
  PolicyModule,
  type Policy,
  type PolicyInput,
  type PolicyVerdict,
  type Principal,
} from 'nest-agent-policy';
import { BASE_OPTIONS, PolicyTestAppModule, SECRET } from './policy-test.app';

/** Runs after the built-in approval policy (900) and denies while `deny` is on. */
@PolicyEvaluator()
@Injectable()
class LateDenyPolicy implements Policy {
  static deny = false;
  readonly name = 'late-deny';
  readonly priority = 950;
  evaluate(_input: PolicyInput): PolicyVerdict {
    return LateDenyPolicy.deny
      ? { outcome: 'DENY', reason: 'maintenance window' }
      : { outcome: 'ABSTAIN', reason: 'open' };
  }
}

const auth = `Bearer ${jwt.sign({ sub: 'u1', roles: ['reader'], scope: 'reports:read' }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;
const approver: Principal = {
  id: 'boss',
  type: 'user',
  tenantId: null,
  roles: ['admin'],
  scopes: [],
  tier: null,
  tokenId: null,
};

describe.each(['express'] as const)('the approval gate (%s)', () => {
  let app: INestApplication;
  beforeAll(async () => {
    const ref = await Test.createTestingModule({
      imports: [
        PolicyTestAppModule.with(
          PolicyModule.forRoot({ ...BASE_OPTIONS, approvals: { operations: ['report.read'] } }),
          [LateDenyPolicy],
        ),
      ],
    }).compile();
    app = ref.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
  });
  afterAll(() => app.close());

  it('never spends an approval on a call a later evaluator denies', async () => {
    const asked = await request(app.getHttpServer()).get('/reports').set('Authorization', auth);
    expect(asked.status).toBe(403);
    expect(asked.body).toMatchObject({ code: 'approval_required', approvalId: expect.any(String) });
    const approvals = app.get(ApprovalService);
    await approvals.decide(asked.body.approvalId, approver, 'approve');

    LateDenyPolicy.deny = true;
    const denied = await request(app.getHttpServer())
      .get('/reports')
      .set('Authorization', auth)
      .set('X-Approval-Id', asked.body.approvalId);
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('forbidden');
    const afterDenial = await approvals.list();
    expect(afterDenial.items).toHaveLength(1);
    expect(afterDenial.items[0]).toMatchObject({ id: asked.body.approvalId, status: 'approved', consumedAt: null });

    LateDenyPolicy.deny = false;
    const passed = await request(app.getHttpServer())
      .get('/reports')
      .set('Authorization', auth)
      .set('X-Approval-Id', asked.body.approvalId);
    expect(passed.status).toBe(200);
    expect((await approvals.list()).items[0]).toMatchObject({ id: asked.body.approvalId, status: 'consumed' });

    const again = await request(app.getHttpServer())
      .get('/reports')
      .set('Authorization', auth)
      .set('X-Approval-Id', asked.body.approvalId);
    expect(again.status).toBe(403);
    expect(again.body.code).toBe('forbidden');
  });

  it('stores no approval for a call a later evaluator denies', async () => {
    const approvals = app.get(ApprovalService);
    const before = (await approvals.list()).items.length;
    LateDenyPolicy.deny = true;
    try {
      const denied = await request(app.getHttpServer()).get('/reports').set('Authorization', auth);
      expect(denied.status).toBe(403);
      expect(denied.body.code).toBe('forbidden');
    } finally {
      LateDenyPolicy.deny = false;
    }
    expect((await approvals.list()).items).toHaveLength(before);
  });
});
