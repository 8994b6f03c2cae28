/**
 * Rate limits over HTTP, on Express and Fastify: headers, 429 with Retry-After, per-operation buckets, tiers,
 * anonymous callers per IP (X-Forwarded-For trusted only when configured), failed-authentication limits,
 * @Throttle/@SkipThrottle, specific limiters, and the Redis fail modes.
 */
import type { INestApplication } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { PolicyModuleOptions } from 'nest-agent-policy';
import Redis from 'ioredis';
import { REDIS_URL, itWith, redisTestPrefix } from '../support/services';
import { SECRET, ToolQuotaPolicy, rateLimitApp } from './rate-limit-test.app';

type Adapter = 'express' | 'fastify';

const token = (claims: Record<string, unknown> = {}) =>
  `Bearer ${jwt.sign({ sub: `u-${randomUUID()}`, roles: ['user'], ...claims }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;

async function boot(adapter: Adapter, options: Partial<PolicyModuleOptions>): Promise<INestApplication> {
  const ref = await Test.createTestingModule({ imports: [rateLimitApp(options)] }).compile();
  const app: INestApplication =
    adapter === 'fastify'
      ? ref.createNestApplication(new FastifyAdapter(), { logger: false })
      : ref.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  return app;
}

async function hit(
  app: INestApplication,
  path: string,
  n: number,
  headers: Record<string, string> = {},
): Promise<request.Response[]> {
  const out: request.Response[] = [];
  for (let i = 0; i < n; i++) out.push(await request(app.getHttpServer()).get(path).set(headers));
  return out;
}

describe.each(['express', 'fastify'] as Adapter[])('rate limits over HTTP (%s)', (adapter) => {
  describe('buckets and headers', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await boot(adapter, {
        rateLimits: {
          default: { limit: 5, ttl: 60 },
          anonymous: { limit: 3, ttl: 60 },
          authFailures: { limit: 3, ttl: 60 },
          operations: { 'agent.list': { limit: 2, ttl: 60 } },
          tiers: { pro: { multiplier: 3 } },
        },
      });
    });
    afterAll(() => app.close());

    it('sets X-RateLimit-* on every limited response and answers 429 rate_limited with Retry-After', async () => {
      const auth = { Authorization: token() };
      const [first, second, third] = await hit(app, '/agents', 3, auth);
      expect(first.status).toBe(200);
      expect(first.headers['x-ratelimit-limit']).toBe('2');
      expect(first.headers['x-ratelimit-remaining']).toBe('1');
      expect(Number(first.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
      expect(second.headers['x-ratelimit-remaining']).toBe('0');
      expect(third.status).toBe(429);
      expect(third.body).toEqual({ statusCode: 429, code: 'rate_limited', message: expect.any(String) });
      expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    });

    it('counts the operation bucket apart from the default bucket', async () => {
      const auth = { Authorization: token() };
      await hit(app, '/agents', 2, auth);
      expect((await hit(app, '/agents', 1, auth))[0].status).toBe(429);
      const other = await hit(app, '/throttled', 1, auth);
      expect(other[0].status).toBe(200);
    });

    it('scales limits by tier', async () => {
      const res = await hit(app, '/agents', 7, { Authorization: token({ tier: 'pro' }) });
      expect(res.filter((r) => r.status === 200)).toHaveLength(6);
      expect(res[6].status).toBe(429);
    });

    it('lets @Throttle() replace the default bucket and @SkipThrottle() skip limits', async () => {
      const auth = { Authorization: token() };
      const throttled = await hit(app, '/throttled', 3, auth);
      expect(throttled.map((r) => r.status)).toEqual([200, 200, 429]);
      expect(throttled[0].headers['x-ratelimit-limit']).toBe('2');
      const skipped = await hit(app, '/unlimited', 12, auth);
      expect(skipped.every((r) => r.status === 200)).toBe(true);
      expect(skipped[0].headers['x-ratelimit-limit']).toBeUndefined();
    });

    it('limits anonymous callers per IP and ignores X-Forwarded-For from an untrusted peer', async () => {
      const res = await Promise.all(
        [1, 2, 3, 4].map((i) => request(app.getHttpServer()).get('/open').set('X-Forwarded-For', `198.51.100.${i}`)),
      );
      expect(res.filter((r) => r.status === 429)).toHaveLength(1);
    });
  });

  describe('denied requests', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await boot(adapter, {
        roles: { user: { operations: ['agent.*', 'tool.*'] }, viewer: { operations: ['agent.read', 'agent.list'] } },
        rateLimits: {
          default: { limit: 5, ttl: 60 },
          anonymous: { limit: 3, ttl: 60 },
          authFailures: { limit: 3, ttl: 60 },
        },
      });
    });
    afterAll(() => app.close());

    it('counts 403s in the principal’s bucket: once it is spent, forbidden attempts get 429 with Retry-After', async () => {
      const auth = { Authorization: token({ roles: ['viewer'] }) };
      const res = await hit(app, '/tools', 8, auth);
      expect(res.slice(0, 5).map((r) => r.status)).toEqual([403, 403, 403, 403, 403]);
      expect(res[0].headers['x-ratelimit-remaining']).toBe('4');
      expect(res.slice(5).map((r) => r.status)).toEqual([429, 429, 429]);
      expect(res[5].body).toEqual({ statusCode: 429, code: 'rate_limited', message: expect.any(String) });
      expect(Number(res[5].headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // The denials spent the same bucket as the principal's permitted calls.
      expect((await hit(app, '/agents', 1, auth))[0].status).toBe(429);
      // Another principal is untouched.
      expect((await hit(app, '/agents', 1, { Authorization: token({ roles: ['viewer'] }) }))[0].status).toBe(200);
    });

    it('counts calls answered approval_required: past the limit they get 429 rate_limited, with no approval id', async () => {
      const approvals = await boot(adapter, {
        approvals: { operations: ['tool.invoke'] },
        rateLimits: {
          default: { limit: 3, ttl: 60 },
          anonymous: { limit: 3, ttl: 60 },
          authFailures: { limit: 3, ttl: 60 },
        },
      });
      try {
        const res = await hit(approvals, '/tools', 5, { Authorization: token() });
        expect(res.map((r) => r.status)).toEqual([403, 403, 403, 429, 429]);
        expect(res.slice(0, 3).map((r) => r.body.code)).toEqual([
          'approval_required',
          'approval_required',
          'approval_required',
        ]);
        // The same request while its approval is pending answers that approval again: one pending approval, not three.
        expect(new Set(res.slice(0, 3).map((r) => r.body.approvalId)).size).toBe(1);
        expect(res.slice(3).every((r) => r.body.code === 'rate_limited' && r.body.approvalId === undefined)).toBe(true);
      } finally {
        await approvals.close();
      }
    });

    it('counts a mix of permitted and forbidden calls together', async () => {
      const auth = { Authorization: token({ roles: ['viewer'] }) };
      const statuses = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await hit(app, '/agents', 1, auth))[0].status);
        statuses.push((await hit(app, '/tools', 1, auth))[0].status);
      }
      expect(statuses).toEqual([200, 403, 200, 403, 200, 429, 429, 429]);
    });
  });

  describe('failed authentication', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await boot(adapter, { rateLimits: { authFailures: { limit: 3, ttl: 60 } } });
    });
    afterAll(() => app.close());

    it('limits failed attempts per IP, before credentials are even checked', async () => {
      const bad = await hit(app, '/agents', 3, { Authorization: 'Bearer not-a-token' });
      expect(bad.every((r) => r.status === 401)).toBe(true);
      const blocked = await hit(app, '/agents', 1, { 'X-API-Key': 'apk_0000000000000000_' + 'x'.repeat(43) });
      expect(blocked[0].status).toBe(429);
      expect(blocked[0].body.code).toBe('rate_limited');
      expect(blocked[0].headers['retry-after']).toBeDefined();
    });
  });

  describe('trusted proxy', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await boot(adapter, { trustProxy: 1, rateLimits: { anonymous: { limit: 1, ttl: 60 } } });
    });
    afterAll(() => app.close());

    it('counts each forwarded client separately when the proxy is trusted', async () => {
      const a = await hit(app, '/open', 2, { 'X-Forwarded-For': '203.0.113.10' });
      const b = await hit(app, '/open', 1, { 'X-Forwarded-For': '203.0.113.11' });
      expect(a.map((r) => r.status)).toEqual([200, 429]);
      expect(b[0].status).toBe(200);
    });
  });

  describe('specificLimiters (Parlant parity)', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await boot(adapter, { policy: ToolQuotaPolicy });
    });
    afterAll(() => app.close());

    it('replaces the default limiter for its operation only', async () => {
      const before = ToolQuotaPolicy.calls;
      const denied = await hit(app, '/tools', 1, { Authorization: token() });
      expect(denied[0].status).toBe(429);
      expect(denied[0].headers['retry-after']).toBe('30');
      expect((await hit(app, '/tools', 1, { Authorization: token({ tier: 'internal' }) }))[0].status).toBe(200);
      expect(ToolQuotaPolicy.calls).toBe(before + 2);
      expect((await hit(app, '/agents', 1, { Authorization: token() }))[0].status).toBe(200);
    });
  });

  describe('Redis fail modes', () => {
    it('answers 503 unavailable when Redis is down and the mode is closed (default)', async () => {
      const app = await boot(adapter, { redisUrl: 'redis://127.0.0.1:1' });
      const res = await hit(app, '/agents', 1, { Authorization: token() });
      expect(res[0].status).toBe(503);
      expect(res[0].body.code).toBe('unavailable');
      await app.close();
    });

    it('falls back to a per-process memory limiter when the mode is open', async () => {
      const app = await boot(adapter, {
        redisUrl: 'redis://127.0.0.1:1',
        rateLimits: { failMode: 'open', default: { limit: 2, ttl: 60 } },
      });
      const res = await hit(app, '/agents', 3, { Authorization: token() });
      expect(res.map((r) => r.status)).toEqual([200, 200, 429]);
      await app.close();
    });

    itWith('redis')('counts in Redis when it is up', async () => {
      const { prefix, cleanup } = redisTestPrefix('rl-http');
      const app = await boot(adapter, {
        redisUrl: REDIS_URL,
        rateLimits: { keyPrefix: prefix, default: { limit: 2, ttl: 60 } },
      });
      const res = await hit(app, '/agents', 3, { Authorization: token() });
      expect(res.map((r) => r.status)).toEqual([200, 200, 429]);
      expect(res[0].headers['x-ratelimit-limit']).toBe('2');
      await app.close();
      const redis = new Redis(REDIS_URL);
      expect((await redis.keys(`${prefix}*`)).length).toBeGreaterThan(0);
      await cleanup(redis);
      redis.disconnect();
    });
  });
});
