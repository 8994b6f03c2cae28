import { afterEach, describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import type { ThrottlerStorage } from '@nestjs/throttler';
import Redis from 'ioredis';
import type { RateLimitConfig } from '../policy-module-options.interface';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import type { RateLimitBucket } from './rate-limit.interfaces';
import {
  RateLimitService,
  createThrottlerStorage,
  rateLimitHeaders,
  writeRateLimitHeaders,
} from './rate-limit.service';
import { ResilientThrottlerStorage } from './resilient-throttler.storage';

function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

const bucket = (name: string, limit: number, ttlMs = 60_000, blockDurationMs = 0): RateLimitBucket => ({
  name,
  key: `user-1:${name}`,
  limit,
  ttlMs,
  blockDurationMs,
});

describe('RateLimitService', () => {
  let storage: MemoryThrottlerStorage;
  afterEach(() => storage?.close());

  function service(config: RateLimitConfig = {}) {
    const clock = fakeClock();
    storage = new MemoryThrottlerStorage({ strategy: 'fixed-window', now: clock.now });
    return { clock, service: new RateLimitService(storage, config, clock.now) };
  }

  it('charges every bucket and reports the one nearest exhaustion', async () => {
    const { service: s } = service();
    const buckets = [bucket('default', 100), bucket('operation:event.create', 4)];
    await s.consume(buckets);
    const outcome = await s.consume(buckets);
    expect(outcome).toEqual({
      allowed: true,
      limit: 4,
      remaining: 2,
      resetSeconds: 60,
      retryAfterSeconds: 0,
      bucket: 'operation:event.create',
      windowSeconds: 60,
    });
    expect(await storage.peek('user-1:default', 60_000, 100, 0, 'default')).toMatchObject({ totalHits: 2 });
  });

  it('denies when any bucket is over, reporting the longest wait', async () => {
    const { service: s, clock } = service();
    const buckets = [bucket('short', 1, 10_000), bucket('long', 1, 60_000), bucket('roomy', 100)];
    await s.consume(buckets);
    clock.advance(1000);
    const outcome = await s.consume(buckets);
    expect(outcome).toMatchObject({ allowed: false, bucket: 'long', limit: 1, remaining: 0, retryAfterSeconds: 59 });
  });

  it('refuses an empty bucket list rather than allowing', async () => {
    const { service: s } = service();
    await expect(s.consume([])).rejects.toThrow(TypeError);
  });

  it('blocks an IP after `authFailures.limit` failed attempts, per IP', async () => {
    const { service: s, clock } = service({ authFailures: { limit: 3, ttl: 60 } });
    for (let i = 0; i < 3; i++) {
      expect(await s.isAuthBlocked('10.0.0.1')).toBe(false);
      await s.recordAuthFailure('10.0.0.1');
    }
    expect(await s.isAuthBlocked('10.0.0.1')).toBe(true);
    expect(await s.isAuthBlocked('10.0.0.2')).toBe(false);
    expect((await s.recordAuthFailure('10.0.0.1')).allowed).toBe(false);
    clock.advance(60_000);
    expect(await s.isAuthBlocked('10.0.0.1')).toBe(false);
  });

  it('tracks auth blocks itself when the storage cannot peek', async () => {
    const clock = fakeClock();
    const memory = new MemoryThrottlerStorage({ strategy: 'fixed-window', now: clock.now });
    const plain: ThrottlerStorage = { increment: (...args) => memory.increment(...args) };
    const s = new RateLimitService(plain, { authFailures: { limit: 2, ttl: 10 } }, clock.now);
    await s.recordAuthFailure('10.0.0.1');
    expect(await s.isAuthBlocked('10.0.0.1')).toBe(false);
    await s.recordAuthFailure('10.0.0.1');
    expect(await s.isAuthBlocked('10.0.0.1')).toBe(true);
    clock.advance(10_000);
    expect(await s.isAuthBlocked('10.0.0.1')).toBe(false);
    memory.close();
  });

  it('is provided by a factory in a Nest module', async () => {
    const config: RateLimitConfig = { strategy: 'token-bucket' };
    const moduleRef = await Test.createTestingModule({
      providers: [
        { provide: 'RATE_LIMIT_STORAGE', useFactory: () => createThrottlerStorage({ config }) },
        {
          provide: RateLimitService,
          useFactory: (st: ThrottlerStorage) => new RateLimitService(st, config),
          inject: ['RATE_LIMIT_STORAGE'],
        },
      ],
    }).compile();
    const s = moduleRef.get(RateLimitService);
    expect(s.storage).toBeInstanceOf(MemoryThrottlerStorage);
    expect((s.storage as MemoryThrottlerStorage).strategy).toBe('token-bucket');
    await expect(s.consume([bucket('default', 5)])).resolves.toMatchObject({ allowed: true, remaining: 4 });
    await moduleRef.close();
  });
});

const allowed = {
  allowed: true,
  limit: 10,
  remaining: 3,
  resetSeconds: 42,
  retryAfterSeconds: 0,
  bucket: 'default',
};

describe('rateLimitHeaders', () => {
  it('sets the X-RateLimit headers, and Retry-After only when denied', () => {
    expect(rateLimitHeaders(allowed)).toEqual({
      'X-RateLimit-Limit': '10',
      'X-RateLimit-Remaining': '3',
      'X-RateLimit-Reset': '42',
    });
    expect(rateLimitHeaders({ ...allowed, allowed: false, remaining: 0, retryAfterSeconds: 7 })).toMatchObject({
      'X-RateLimit-Remaining': '0',
      'Retry-After': '7',
    });
  });
});

describe('writeRateLimitHeaders', () => {
  it('hands over the headers of rateLimitHeaders, in order, for every style', () => {
    const denied = {
      ...allowed,
      allowed: false,
      remaining: 0,
      retryAfterSeconds: 7,
      bucket: 'op:event.create',
      windowSeconds: 60,
    };
    for (const style of ['x-ratelimit', 'ietf', 'both'] as const) {
      for (const outcome of [denied, { ...denied, allowed: true, remaining: 3, retryAfterSeconds: 0 }]) {
        const written: [string, string][] = [];
        writeRateLimitHeaders(outcome, style, (name, value) => written.push([name, value]));
        expect(written).toEqual(Object.entries(rateLimitHeaders(outcome, style)));
        expect(written.length).toBe((style === 'both' ? 5 : style === 'ietf' ? 2 : 3) + (outcome.allowed ? 0 : 1));
        // Lower-case names (for Fastify, which lower-cases every name): the same headers and values.
        const lower: [string, string][] = [];
        writeRateLimitHeaders(outcome, style, (name, value) => lower.push([name, value]), true);
        expect(lower).toEqual(written.map(([name, value]) => [name.toLowerCase(), value]));
      }
    }
  });
});

describe('createThrottlerStorage', () => {
  it('chooses memory without Redis, and a resilient Redis storage with it', () => {
    const memory = createThrottlerStorage({ redis: null, config: { strategy: 'fixed-window' } });
    expect(memory).toBeInstanceOf(MemoryThrottlerStorage);
    (memory as MemoryThrottlerStorage).close();
    const redis = new Redis({ lazyConnect: true });
    const shared = createThrottlerStorage({ redis, config: { failMode: 'open' } });
    expect(shared).toBeInstanceOf(ResilientThrottlerStorage);
    expect((shared as ResilientThrottlerStorage).failMode).toBe('open');
    redis.disconnect();
  });
});
