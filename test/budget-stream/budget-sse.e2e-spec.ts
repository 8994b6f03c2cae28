/**
 * `@Budget` on a Nest `@Sse()` route: a refused admission is a plain JSON 402 (nothing of the stream is sent), an
 * admitted stream is metered and cut with an `error` event `budget_exceeded` where its reservation ends, and its
 * final `done` carries the settled usage. Express and Fastify.
 */
import { Controller, Sse, type INestApplication } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { interval, map, take } from 'rxjs';
import { Budget, BudgetMeter, PolicyModule, RequireOperation, RequireScopes } from 'nest-agent-policy';
import { BASE_OPTIONS, PolicyTestAppModule, SECRET } from '../policy-module/policy-test.app';

const TOKENS_PER_DAY = 30;

@Controller('feed')
class FeedController {
  /** 50 tokens, each recorded on the meter before it is sent; 5 input tokens. */
  @Sse('words')
  @RequireOperation('report.read')
  @RequireScopes('reports:read')
  @Budget({ model: 'echo-1', estimate: { inputTokens: 5, outputTokens: 50 } })
  words(@BudgetMeter() meter: BudgetMeter) {
    meter.record({ inputTokens: 5, outputTokens: 0 });
    return interval(1).pipe(
      take(50),
      map((i) => {
        meter.record({ inputTokens: 0, outputTokens: 1 });
        return { type: 'token', data: { text: `w${i}` } };
      }),
    );
  }
}

interface Received {
  status: number;
  contentType: string | null;
  text: string;
}

async function get(url: string, headers: Record<string, string>): Promise<Received> {
  const res = await fetch(url, { headers });
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
}

describe.each(['express', 'fastify'] as const)('@Budget on an @Sse() route (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    const module = PolicyTestAppModule.with(
      PolicyModule.forRoot({
        ...BASE_OPTIONS,
        budgets: { principal: { day: { tokens: TOKENS_PER_DAY } } },
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

  it('meters the stream, cuts it where the budget ends, then refuses the next one with a JSON 402', async () => {
    const token = jwt.sign({ sub: `sse-${randomUUID()}`, roles: ['reader'], scope: 'reports:read' }, SECRET, {
      algorithm: 'HS256',
      expiresIn: 600,
    });
    const headers = { Authorization: `Bearer ${token}` };

    const first = await get(`${url}/feed/words`, headers);
    expect(first.status).toBe(200);
    expect(first.contentType).toMatch(/^text\/event-stream/);
    // 30 tokens a day: 5 input, so 25 output tokens are sent, then the budget ends the stream.
    expect(first.text.match(/^event: token$/gm)).toHaveLength(TOKENS_PER_DAY - 5);
    expect(first.text).toMatch(/event: error\n(id: \d+\n)?data: \{"code":"budget_exceeded"/);

    const second = await get(`${url}/feed/words`, headers);
    expect(second.status).toBe(402);
    expect(second.contentType).toMatch(/application\/json/);
    expect(JSON.parse(second.text)).toMatchObject({
      statusCode: 402,
      code: 'budget_exceeded',
      scope: 'principal',
      unit: 'tokens',
    });
  });
});
