/**
 * A budgeted `@Sse()` route is admitted (its budget reserved) only once authorization has allowed the call: a
 * principal refused 403 (`forbidden`, `insufficient_scope`) reserves nothing, so denied requests cannot hold a shared
 * (global) budget and lock out those who are allowed — on Express and Fastify.
 */
import { Controller, Sse, type INestApplication } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { interval, map, take } from 'rxjs';
import { Budget, BudgetMeter, PolicyModule, RequireOperation, RequireScopes } from 'nest-agent-policy';
import { BASE_OPTIONS, PolicyTestAppModule, SECRET } from '../policy-module/policy-test.app';

@Controller('feed')
class FeedController {
  @Sse('words')
  @RequireOperation('report.read')
  @RequireScopes('reports:read')
  @Budget({ model: 'echo-1', estimate: { inputTokens: 5, outputTokens: 20 } })
  words(@BudgetMeter() meter: BudgetMeter) {
    meter.record({ inputTokens: 5, outputTokens: 0 });
    return interval(1).pipe(
      take(3),
      map((i) => {
        meter.record({ inputTokens: 0, outputTokens: 1 });
        return { type: 'token', data: { text: `w${i}` } };
      }),
    );
  }
}

const bearer = (claims: Record<string, unknown>) => ({
  Authorization: `Bearer ${jwt.sign({ sub: `sse-${randomUUID()}`, ...claims }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`,
});

describe.each(['express', 'fastify'] as const)('budgeted @Sse() admission after authorization (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    const module = PolicyTestAppModule.with(
      PolicyModule.forRoot({
        ...BASE_OPTIONS,
        // Room for two admissions of 25 tokens a day, for everyone together.
        budgets: { global: { day: { tokens: 50 } } },
        pricing: { 'echo-1': { input: 0.5, output: 1.5 } },
      }),
      [],
      [FeedController],
    );
    const ref = await Test.createTestingModule({ imports: [module] }).compile();
    app =
      adapter === 'fastify'
        ? ref.createNestApplication(new FastifyAdapter(), { logger: false })
        : ref.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(() => app.close());

  it('reserves nothing for a refused caller, so an allowed one still streams', async () => {
    const noScope = bearer({ roles: ['reader'], scope: 'other:read' });
    const noRole = bearer({ roles: ['nobody'], scope: 'reports:read' });
    for (let i = 0; i < 4; i++) {
      const refused = await fetch(`${url}/feed/words`, { headers: i % 2 ? noScope : noRole });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('content-type')).toMatch(/application\/json/);
      expect(((await refused.json()) as { code: string }).code).toMatch(/^(forbidden|insufficient_scope)$/);
    }
    const allowed = await fetch(`${url}/feed/words`, { headers: bearer({ roles: ['reader'], scope: 'reports:read' }) });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await allowed.text();
    expect(text.match(/^event: token$/gm)).toHaveLength(3);
  });
});
