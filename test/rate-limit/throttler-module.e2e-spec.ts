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
import {
  MemoryThrottlerStorage,
  RATE_LIMIT_REDIS_OPTIONS,
  RedisThrottlerStorage,
  ResilientThrottlerStorage,
} from 'nest-agent-policy';

@Controller()
class PingController {
  @Get('ping')
  ping(): { ok: boolean } {
    return { ok: true };
  }
}

function appModule(storage: ThrottlerStorage) {
  @Module({
    imports: [ThrottlerModule.forRoot({ throttlers: [{ ttl: 1000, limit: 3 }], storage })],
    controllers: [PingController],
    providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
  })
  class AppModule {}
  return AppModule;
}

type StorageName = 'memory' | 'redis' | 'resilient redis';
const adapters = [
  ['express', () => new ExpressAdapter()],
  ['fastify', () => new FastifyAdapter()],
] as const;
const storages: StorageName[] = ['memory', 'redis', 'resilient redis'];

describe.each(adapters)('a plain ThrottlerModule on %s', (_adapterName, createAdapter) => {
  const { prefix, cleanup } = redisTestPrefix('rl-module');
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

  function storageFor(name: StorageName): ThrottlerStorage {
    if (name === 'memory') return new MemoryThrottlerStorage();
    if (!redis) throw new Error("Redis storages are defined with itWith('redis') and run only when it is up");
    const shared = new RedisThrottlerStorage(redis, { keyPrefix: `${prefix}${name}:` });
    return name === 'redis' ? shared : new ResilientThrottlerStorage(shared, { failMode: 'closed' });
  }

  const needsRedis = (name: StorageName) => name !== 'memory';
  const answers429 = async (name: StorageName) => {
    const storage = storageFor(name);
    const moduleRef = await Test.createTestingModule({ imports: [appModule(storage)] }).compile();
    app = moduleRef.createNestApplication(createAdapter());
    await app.listen(0);
    if (app.getHttpAdapter().getType() === 'fastify') await app.getHttpAdapter().getInstance().ready();
    const url = await app.getUrl();

    for (let i = 1; i <= 3; i++) {
      const res = await request(url).get('/ping').expect(200);
      expect(res.headers['x-ratelimit-limit']).toBe('3');
      expect(res.headers['x-ratelimit-remaining']).toBe(String(3 - i));
      expect(Number(res.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
    }
    const denied = await request(url).get('/ping').expect(429);
    expect(Number(denied.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    // The guard's default blockDuration is the ttl: after it the caller is admitted again.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await request(url).get('/ping').expect(200);
  };
  const title = 'with the %s storage answers 429 to the 4th request within the ttl';
  it.each(storages.filter((name) => !needsRedis(name)))(title, answers429);
  itWith('redis').each(storages.filter(needsRedis))(title, answers429);
});
