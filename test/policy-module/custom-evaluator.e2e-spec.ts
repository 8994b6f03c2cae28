/**
 * An app adds its own rule to the PolicyEngine with one provider, and the production policy honours it: a DENY
 * from it denies, a throw from it denies, and REQUIRE_APPROVAL from it asks for an approval.
 */
import { Injectable, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { PolicyEvaluator, PolicyModule, type Policy, type PolicyInput, type PolicyVerdict } from 'nest-agent-policy';
import { BASE_OPTIONS, PolicyTestAppModule, SECRET } from './policy-test.app';

@PolicyEvaluator()
@Injectable()
class HeaderRulesPolicy implements Policy {
  readonly name = 'header-rules';
  readonly priority = 500;
  evaluate(input: PolicyInput): PolicyVerdict {
    const sub = input.principal.id;
    if (sub === 'banned') return { outcome: 'DENY', reason: 'subject is banned' };
    if (sub === 'boom') throw new Error('rule store unreachable');
    if (sub === 'needs-approval') return { outcome: 'REQUIRE_APPROVAL', reason: 'first call of the day' };
    return { outcome: 'ABSTAIN', reason: 'no rule' };
  }
}

const auth = (sub: string) =>
  `Bearer ${jwt.sign({ sub, roles: ['reader'], scope: 'reports:read' }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;

describe('a custom @PolicyEvaluator provider', () => {
  let app: INestApplication;
  beforeAll(async () => {
    const ref = await Test.createTestingModule({
      imports: [PolicyTestAppModule.with(PolicyModule.forRoot(BASE_OPTIONS), [HeaderRulesPolicy])],
    }).compile();
    app = ref.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
  });
  afterAll(() => app.close());

  it('leaves other callers alone', async () => {
    expect((await request(app.getHttpServer()).get('/reports').set('Authorization', auth('alice'))).status).toBe(200);
  });

  it('denies when it says DENY, although roles and scopes allow', async () => {
    const res = await request(app.getHttpServer()).get('/reports').set('Authorization', auth('banned'));
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('forbidden');
  });

  it('denies when it throws, without leaking the error', async () => {
    const res = await request(app.getHttpServer()).get('/reports').set('Authorization', auth('boom'));
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).not.toContain('unreachable');
  });

  it('asks for an approval when it says REQUIRE_APPROVAL', async () => {
    const res = await request(app.getHttpServer()).get('/reports').set('Authorization', auth('needs-approval'));
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'approval_required', approvalId: expect.any(String) });
  });
});
