/**
 * A tool call spends its approval only when it runs: a call with an approved `X-Approval-Id` that its budget (402)
 * or its concurrency cap (429) then refuses leaves the approval approved, and the same call passes once the refusal
 * is gone — on Express and Fastify.
 */
import type { INestApplication } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { ApprovalService, type Principal } from 'nest-agent-policy';
import { SECRET, TOOLS_OPTIONS, ToolsTestAppModule } from '../tools/tools-test.app';

const approver: Principal = {
  id: 'tool-boss',
  type: 'user',
  tenantId: null,
  roles: ['admin'],
  scopes: [],
  tier: null,
  tokenId: null,
};

describe.each(['express', 'fastify'] as const)('a tool approval refused later (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;
  const auth = (sub: string) =>
    `Bearer ${jwt.sign({ sub, roles: ['caller'], scope: 'tools:write' }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;
  const call = (sub: string, name: string, approvalId?: string) => {
    const req = request(url).post(`/tools/${name}`).set('Authorization', auth(sub));
    if (approvalId) req.set('X-Approval-Id', approvalId);
    return req.send({ args: {} });
  };

  beforeAll(async () => {
    const ref = await Test.createTestingModule({
      imports: [
        ToolsTestAppModule.with({
          ...TOOLS_OPTIONS,
          approvals: { tools: ['priced', 'hold'] },
          budgets: { principal: { day: { cost: 1.5 } } },
        }),
      ],
    }).compile();
    app =
      adapter === 'fastify'
        ? ref.createNestApplication(new FastifyAdapter(), { logger: false })
        : ref.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(() => app.close());

  async function approved(sub: string, name: string): Promise<string> {
    const asked = await call(sub, name);
    expect(asked.status).toBe(403);
    expect(asked.body.code).toBe('approval_required');
    await app.get(ApprovalService).decide(asked.body.approvalId as string, approver, 'approve');
    return asked.body.approvalId as string;
  }

  async function statusOf(id: string): Promise<string> {
    const { items } = await app.get(ApprovalService).list();
    return items.find((a) => a.id === id)?.status ?? 'missing';
  }

  it('keeps the approval of a call the budget refuses', async () => {
    const sub = `priced-${adapter}`;
    // Both approved while the budget has room (1.5 USD a day, `priced` costs 1); the first call spends it down.
    const first = await approved(sub, 'priced');
    const second = await approved(sub, 'priced');
    expect((await call(sub, 'priced', first)).status).toBe(200);
    const refused = await call(sub, 'priced', second);
    expect(refused.status).toBe(402);
    expect(refused.body.code).toBe('budget_exceeded');
    // Without an approval the budget refuses first: no approval is stored for a call that cannot run.
    const before = (await app.get(ApprovalService).list()).items.length;
    const unasked = await call(sub, 'priced');
    expect(unasked.status).toBe(402);
    expect((await app.get(ApprovalService).list()).items).toHaveLength(before);
    expect(await statusOf(second)).toBe('approved');
    expect(await statusOf(first)).toBe('consumed');
  });

  it('keeps the approval of a call the concurrency cap refuses, and spends it on the call that runs', async () => {
    const sub = `hold-${adapter}`;
    // `hold` allows 2 concurrent calls per principal and runs for 300 ms; two approved calls fill it.
    const a = await approved(sub, 'hold');
    const b = await approved(sub, 'hold');
    const c = await approved(sub, 'hold');
    const held = Promise.all([call(sub, 'hold', a), call(sub, 'hold', b)]);
    await new Promise((r) => setTimeout(r, 100));
    const refused = await call(sub, 'hold', c);
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('rate_limited');
    expect(await statusOf(c)).toBe('approved');
    expect((await held).map((r) => r.status)).toEqual([200, 200]);
    const passed = await call(sub, 'hold', c);
    expect(passed.status).toBe(200);
    expect(await statusOf(c)).toBe('consumed');
  });
});
