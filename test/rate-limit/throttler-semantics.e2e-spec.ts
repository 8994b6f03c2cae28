import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import type { ThrottlerStorage } from '@nestjs/throttler';
import Redis from 'ioredis';
import request from 'supertest';
import { REDIS_URL, itWith, redisTestPrefix, serviceUp } from '../support/services';
import { MemoryThrottlerStorage, RATE_LIMIT_REDIS_OPTIONS, RedisThrottlerStorage } from 'nest-agent-policy';

/**
 * The semantics `@nestjs/throttler` users rely on, through a plain `ThrottlerModule` on the storages' default
 * settings: named throttlers answering in turn, and each hit counting for exactly `ttl`. The memory storage runs on a
 * fake clock at full scale; Redis reads its own clock, so its scenario runs in real time at a fifth of the scale.
 */
@Controller()
class ScenarioController {
  @Get()
  root(): { ok: boolean } {
    return { ok: true };
  }
}

interface Clock {
  /** Lets `units` of time pass (a unit is one second at full scale). */
  wait(units: number): Promise<void>;
}

function appModule(storage: ThrottlerStorage, unitMs: number) {
  @Module({
    imports: [
      ThrottlerModule.forRootAsync({
        useFactory: () => ({
          throttlers: [
            { ttl: 5 * unitMs, limit: 2 },
            { name: 'long', ttl: 60 * unitMs, limit: 5 },
            { name: 'short', ttl: unitMs, limit: 1 },
          ],
          storage,
        }),
      }),
    ],
    controllers: [ScenarioController],
    providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
  })
  class AppModule {}
  return AppModule;
}

const adapters = [
  ['express', () => new ExpressAdapter()],
  ['fastify', () => new FastifyAdapter()],
] as const;

describe.each(adapters)('exact limits through a plain ThrottlerModule on %s', (_adapterName, createAdapter) => {
  const { prefix, cleanup } = redisTestPrefix('rl-semantics');
  let redis: Redis | undefined;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    if (serviceUp('redis')) redis = new Redis(REDIS_URL, RATE_LIMIT_REDIS_OPTIONS);
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  afterAll(async () => {
    if (redis) {
      await cleanup(redis);
      redis.disconnect();
    }
  });

  /** The storage under test on its default settings, the time unit and a clock to move. */
  function setup(name: 'memory' | 'redis'): { storage: ThrottlerStorage; unitMs: number; clock: Clock } {
    if (name === 'memory') {
      let now = 1_700_000_000_000;
      const storage = new MemoryThrottlerStorage({ now: () => now });
      return {
        storage,
        unitMs: 1000,
        clock: {
          wait: async (units) => {
            now += units * 1000;
          },
        },
      };
    }
    if (!redis) throw new Error("the Redis case is defined with itWith('redis') and runs only when Redis is up");
    const unitMs = 200;
    const storage = new RedisThrottlerStorage(redis, { keyPrefix: `${prefix}${Math.random().toString(36).slice(2)}:` });
    return {
      storage,
      unitMs,
      clock: { wait: (units) => new Promise((resolve) => setTimeout(resolve, units * unitMs + 5)) },
    };
  }

  async function start(storage: ThrottlerStorage, unitMs: number): Promise<string> {
    const moduleRef = await Test.createTestingModule({ imports: [appModule(storage, unitMs)] }).compile();
    app = moduleRef.createNestApplication(createAdapter());
    await app.listen(0, '127.0.0.1');
    return app.getUrl();
  }

  const namedThrottlersInTurn = async (name: 'memory' | 'redis') => {
    const s = setup(name);
    const url = await start(s.storage, s.unitMs);
    const get = () => request(url).get('/');

    let res = await get().expect(200);
    expect(res.headers['x-ratelimit-limit-short']).toBe('1');
    expect(res.headers['x-ratelimit-remaining-short']).toBe('0');
    res = await get().expect(429);
    expect(res.headers['retry-after-short']).toMatch(/^\d+$/);
    await s.clock.wait(1);

    res = await get().expect(200);
    expect(res.headers['x-ratelimit-limit']).toBe('2');
    expect(res.headers['x-ratelimit-remaining']).toBe('0');
    await s.clock.wait(1);
    res = await get().expect(429);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    await s.clock.wait(5);

    res = await get().expect(200);
    expect(res.headers['x-ratelimit-limit-long']).toBe('5');
    expect(res.headers['x-ratelimit-remaining-long']).toBe('2');
    expect(res.headers['x-ratelimit-remaining-short']).toBe('0');
    await s.clock.wait(1);
    res = await get().expect(200);
    expect(res.headers['x-ratelimit-remaining']).toBe('0');
    await s.clock.wait(5);
    res = await get().expect(200);
    expect(res.headers['x-ratelimit-remaining-long']).toBe('0');
    expect(res.headers['x-ratelimit-remaining-short']).toBe('0');
    // Both default hits of the last five units have expired, exactly ttl after each.
    expect(res.headers['x-ratelimit-remaining']).toBe('1');
    await s.clock.wait(1);
    res = await get().expect(429);
    expect(res.headers['retry-after-long']).toMatch(/^\d+$/);
  };
  const namedTitle =
    'named throttlers 1/s, 2/5 s and 5/min answer in turn on the %s storage (4 more smartly sent within the minute: the 5th is refused)';
  it.each(['memory'] as const)(namedTitle, namedThrottlersInTurn);
  itWith('redis').each(['redis'] as const)(namedTitle, namedThrottlersInTurn);

  it('on the memory storage each hit counts for exactly ttl: admitted again the millisecond its oldest hit expires', async () => {
    let now = 1_700_000_000_000;
    const storage = new MemoryThrottlerStorage({ now: () => now });
    const moduleRef = await Test.createTestingModule({
      imports: [
        (() => {
          @Module({
            imports: [ThrottlerModule.forRoot({ throttlers: [{ ttl: 1000, limit: 3, blockDuration: 0 }], storage })],
            controllers: [ScenarioController],
            providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
          })
          class ExactModule {}
          return ExactModule;
        })(),
      ],
    }).compile();
    app = moduleRef.createNestApplication(createAdapter());
    await app.listen(0, '127.0.0.1');
    const url = await app.getUrl();
    const start = now;
    const at = (ms: number) => {
      now = start + ms;
      return request(url).get('/');
    };
    // 3 per second: hits at 0, 0.9, 0.95 and 1.4 s pass; 1.45 s would be the 4th within 550 ms.
    await at(0).expect(200);
    await at(900).expect(200);
    await at(950).expect(200);
    expect((await at(1400).expect(200)).headers['x-ratelimit-remaining']).toBe('0');
    await at(1450).expect(429);
    await at(1899).expect(429);
    await at(1900).expect(200);
  });
});
