/**
 * One `ThrottlerModule.forRoot({ storage })` app per rate-limit bench variant (env VARIANT):
 * a: no limiter, b: @nestjs/throttler's memory storage, c: @nest-lab/throttler-storage-redis,
 * d: our MemoryThrottlerStorage, e: our RedisThrottlerStorage on a plain ioredis client. Trackers come from the `x-tracker` header so one load
 * generator can be many callers. Prints `READY <port>`.
 */
import 'reflect-metadata';
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerModule, type ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import Redis from 'ioredis';
import { MemoryThrottlerStorage, RedisThrottlerStorage } from 'nest-agent-policy';
import { createBenchApp, listenAndReport } from './bench-app';

@Controller()
class PingController {
  @Get('ping')
  ping(): { ok: boolean } {
    return { ok: true };
  }
}

@Injectable()
class HeaderTrackerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    return (req.headers as Record<string, string | undefined>)['x-tracker'] ?? 'none';
  }
}

function storageFor(variant: string): ThrottlerStorage | undefined | null {
  const redis = () => new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  switch (variant) {
    case 'a':
      return null;
    case 'b':
      return undefined;
    case 'c':
      return new ThrottlerStorageRedisService(redis());
    case 'd':
      return new MemoryThrottlerStorage();
    case 'e':
      return new RedisThrottlerStorage(redis(), { keyPrefix: process.env.KEY_PREFIX });
    default:
      throw new Error(`unknown VARIANT ${variant}`);
  }
}

async function main(): Promise<void> {
  const storage = storageFor(process.env.VARIANT ?? 'a');
  const imports =
    storage === null ? [] : [ThrottlerModule.forRoot({ throttlers: [{ ttl: 60_000, limit: 1_000_000_000 }], storage })];
  const providers = storage === null ? [] : [{ provide: APP_GUARD, useClass: HeaderTrackerGuard }];
  @Module({ imports, controllers: [PingController], providers })
  class BenchModule {}
  await listenAndReport(await createBenchApp(BenchModule));
}

void main();
