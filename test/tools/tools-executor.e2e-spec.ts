/**
 * The ToolExecutor over HTTP, on Express and Fastify: timeouts (504), failures (502, nothing leaked), the
 * concurrency cap (429), rate limits per tool, sanitization, budgets, and refusals audited.
 */
import { Injectable, type INestApplication } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import {
  AgentTool,
  AuditService,
  AuthorizationPolicy,
  SandboxFailedError,
  SandboxTimeoutError,
  ToolExecutor,
  ToolSandbox,
  type Principal,
  type SandboxTask,
} from 'nest-agent-policy';
import { received, SECRET, TOOLS_OPTIONS, ToolsTestAppModule } from './tools-test.app';

const auth = (sub: string, roles = ['caller'], scope = 'tools:write') =>
  `Bearer ${jwt.sign({ sub, roles, scope }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;

describe.each(['express', 'fastify'] as const)('ToolExecutor over HTTP (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;
  const call = (name: string, args: unknown, sub = 'alice', roles?: string[]) =>
    request(url).post(`/tools/${name}`).set('Authorization', auth(sub, roles)).send({ args });

  beforeAll(async () => {
    const ref = await Test.createTestingModule({
      imports: [ToolsTestAppModule.with({ ...TOOLS_OPTIONS, budgets: { principal: { day: { cost: 2 } } } })],
    }).compile();
    app =
      adapter === 'fastify'
        ? ref.createNestApplication(new FastifyAdapter(), { logger: false })
        : ref.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(() => app.close());

  async function events(type: string, principalId: string, count = 1) {
    const audit = app.get(AuditService);
    let items: Awaited<ReturnType<AuditService['query']>>['items'] = [];
    for (let i = 0; i < 40; i++) {
      items = (await audit.query({ type, principalId, limit: 100 })).items;
      if (items.length >= count) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return items;
  }

  it('answers 504 tool_timeout when a tool runs past timeoutMs, and audits TIMEOUT', async () => {
    const started = Date.now();
    const res = await call('slow', {}, 'timeout-user');
    expect(res.status).toBe(504);
    expect(res.body).toMatchObject({ statusCode: 504, code: 'tool_timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
    const [event] = await events('tool.invoked', 'timeout-user');
    expect(event).toMatchObject({
      outcome: 'TIMEOUT',
      details: expect.objectContaining({ tool: 'slow', durationMs: expect.any(Number) }),
    });
  });

  it('answers 502 tool_failed without the tool message or stack', async () => {
    const res = await call('explode', {}, 'boom-user');
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ statusCode: 502, code: 'tool_failed', message: 'Tool explode failed' });
    const text = JSON.stringify(res.body);
    expect(text).not.toMatch(/hunter2|secret|password|at \//);
    const [event] = await events('tool.invoked', 'boom-user');
    expect(event.outcome).toBe('FAILURE');
    expect(JSON.stringify(event)).not.toContain('hunter2');
  });

  it('answers 429 rate_limited past maxConcurrent calls of one principal, and lets others through', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => call('hold', {}, 'busy-user')));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(results.find((r) => r.status === 429)?.body.code).toBe('rate_limited');
    // Another principal is not capped by busy-user's calls; slots come back after a call ends.
    const [other, again] = await Promise.all([call('hold', {}, 'idle-user'), call('hold', {}, 'busy-user')]);
    expect(other.status).toBe(200);
    expect(again.status).toBe(200);
  });

  it('holds rateLimits.tools.<name> per principal', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call('echo_text', { text: 'hi' }, 'rate-user')).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await call('echo_text', { text: 'hi' }, 'rate-user');
    expect(limited.headers['retry-after']).toBeDefined();
    expect((await call('echo_text', { text: 'hi' }, 'other-rate-user')).status).toBe(200);
  });

  it('never lets <script> reach the tool through x-sanitize fields; html keeps a safe allowlist', async () => {
    received.length = 0;
    const res = await call(
      'echo_text',
      {
        text: 'hello <script>alert(1)</script><b>world</b> &lt;script&gt;x&lt;/script&gt;',
        html: '<p onclick="steal()">Hi <a href="javascript:alert(1)">x</a><a href="https://example.com">ok</a><script>alert(1)</script></p>',
        nested: { note: '<iframe src="https://evil.example"></iframe>note' },
      },
      'sanitize-user',
    );
    expect(res.status).toBe(200);
    const seen = received[0] as { text: string; html: string; nested: { note: string } };
    expect(seen.text).toBe('hello world ');
    expect(seen.html).not.toMatch(/script|onclick|javascript:/i);
    expect(seen.html).toContain('<p>');
    expect(seen.html).toContain('<a href="https://example.com">ok</a>');
    expect(seen.nested.note).toBe('note');
  });

  it('denies a tool outside the role patterns and an unknown tool alike, and audits tool.denied with redacted args', async () => {
    const outside = await call('slow', {}, 'limited-user', ['limited']);
    const unknown = await call('nope', {}, 'limited-user', ['limited']);
    expect(outside.status).toBe(403);
    expect(unknown.body).toEqual(outside.body);
    const bad = await call('echo_text', { secret: 'tok-123', extra: 1 }, 'limited-user', ['limited']);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('/extra');
    const denied = await events('tool.denied', 'limited-user', 3);
    const validation = denied.find((e) => (e.details as { code?: string }).code === 'validation_failed');
    expect((validation?.details as { args: Record<string, unknown> }).args).toEqual({ secret: '[REDACTED]', extra: 1 });
    const outsideEvent = denied.find((e) => (e.details as { tool?: string }).tool === 'slow');
    expect(JSON.stringify(outsideEvent?.reasons)).toContain('no role of [limited] allows tool slow');
  });

  it("reserves a tool's cost against the budget and refuses with 402 once spent", async () => {
    expect((await call('priced', {}, 'spender')).status).toBe(200);
    expect((await call('priced', {}, 'spender')).status).toBe(200);
    const third = await call('priced', {}, 'spender');
    expect(third.status).toBe(402);
    expect(third.body.code).toBe('budget_exceeded');
  });
});

describe('ToolExecutor outside HTTP', () => {
  it('denies (403) when the authorization policy throws: an unexpected error never allows', async () => {
    class ThrowingPolicy extends AuthorizationPolicy {
      async checkPermission(): Promise<never> {
        throw new Error('policy store down');
      }
      async checkRateLimit() {
        return null;
      }
    }
    const ref = await Test.createTestingModule({
      imports: [ToolsTestAppModule.with({ ...TOOLS_OPTIONS, policy: ThrowingPolicy })],
    }).compile();
    const app = ref.createNestApplication({ logger: false });
    await app.init();
    try {
      const principal: Principal = {
        id: 'p',
        type: 'user',
        tenantId: null,
        roles: ['caller'],
        scopes: ['tools:write'],
        tier: null,
        tokenId: null,
      };
      received.length = 0;
      await expect(app.get(ToolExecutor).invoke(principal, 'echo_text', { text: 'x' })).rejects.toMatchObject({
        status: 403,
      });
      expect(received).toHaveLength(0);
    } finally {
      await app.close();
    }
  });
});

describe('sandboxed tools and the ToolSandbox contract', () => {
  @Injectable()
  class SandboxedTools {
    @AgentTool({
      name: 'compute',
      description: 'Runs in the sandbox',
      input: {
        type: 'object',
        properties: { n: { type: 'integer' }, label: { type: 'string', 'x-sanitize': 'text' } },
        required: ['n'],
      },
      sandbox: { env: ['TZ'], memoryMb: 64 },
      timeoutMs: 300,
    })
    async compute(args: { n: number; label?: string }) {
      if (args.n < 0) throw new Error('negative: secret detail');
      return { double: args.n * 2, label: args.label ?? null };
    }
  }

  const principal: Principal = {
    id: 'sbx',
    type: 'user',
    tenantId: null,
    roles: ['caller'],
    scopes: ['tools:write'],
    tier: null,
    tokenId: null,
  };
  const tasks: SandboxTask[] = [];
  // Runs the task's source as the real sandbox would receive it, in a fresh function scope.
  const fakeSandbox: ToolSandbox = {
    async run(task) {
      tasks.push(task);
      if ((task.args as { n: number }).n === 999) throw new SandboxTimeoutError(task.timeoutMs);
      // eslint-disable-next-line @typescript-eslint/no-implied-eval -- this fake sandbox runs the tool's source in-process
      const fn = new Function(`return ${task.source};`)() as (args: unknown) => unknown;
      try {
        return await fn(task.args);
      } catch (error) {
        throw new SandboxFailedError('error', (error as Error).message);
      }
    },
    async close() {},
  };

  async function boot(withSandbox: boolean) {
    // Without one: the default ProcessToolSandbox replaced by none, as an app that removes it would.
    const providers = [{ provide: ToolSandbox, useValue: withSandbox ? fakeSandbox : null }];
    const ref = await Test.createTestingModule({
      imports: [
        ToolsTestAppModule.with(
          {
            ...TOOLS_OPTIONS,
            roles: { caller: { operations: ['tool.invoke'], tools: ['*'] } },
            rateLimits: {},
            providers,
          },
          [SandboxedTools],
        ),
      ],
    }).compile();
    const app = ref.createNestApplication({ logger: false });
    await app.init();
    return app;
  }

  it('sends the method as a self-contained function with the cleaned arguments, timeout and limits', async () => {
    const app = await boot(true);
    try {
      const tools = app.get(ToolExecutor);
      const out = await tools.invoke(principal, 'compute', { n: 21, label: '<script>x()</script>ok' });
      expect(out.result).toEqual({ double: 42, label: 'ok' });
      expect(tasks[0]).toMatchObject({
        args: { n: 21, label: 'ok' },
        timeoutMs: 300,
        limits: { env: ['TZ'], memoryMb: 64, readPaths: [] },
      });
      await expect(tools.invoke(principal, 'compute', { n: 999 })).rejects.toMatchObject({ status: 504 });
      const failed = tools.invoke(principal, 'compute', { n: -1 });
      await expect(failed).rejects.toMatchObject({ status: 502 });
      await expect(failed).rejects.not.toMatchObject({ message: expect.stringContaining('secret') });
    } finally {
      await app.close();
    }
  });

  it('never runs a sandboxed tool in process when the ToolSandbox is replaced by none (503)', async () => {
    const app = await boot(false);
    try {
      await expect(app.get(ToolExecutor).invoke(principal, 'compute', { n: 1 })).rejects.toMatchObject({ status: 503 });
    } finally {
      await app.close();
    }
  });
});
