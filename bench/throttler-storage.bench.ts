/**
 * Cost of rate limiting on a NestJS route, and memory per key of MemoryThrottlerStorage.
 *
 * One process: each variant is a bare Nest Express app on port 0 with one GET route, driven by autocannon
 * (10 connections), rounds interleaved, medians reported, limits far above the load so nothing is rejected.
 *   (a) no limiter   (b) @nestjs/throttler, its own memory storage   (c) @nestjs/throttler + @nest-lab redis storage
 *   (d) MemoryThrottlerStorage   (e) RedisThrottlerStorage
 * each with one tracker and with 10,000 trackers (`x-tracker` header, read by a ThrottlerGuard subclass).
 *
 * Run:  npx tsc -p tsconfig.json --outDir /tmp/benchout; node --expose-gc /tmp/benchout/bench/throttler-storage.bench.js
 * Env:  BENCH_ROUNDS (3), BENCH_DURATION (seconds, 5), REDIS_URL (redis://127.0.0.1:6379; without Redis, c and e are skipped).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { MemoryThrottlerStorage, RedisThrottlerStorage } from 'nest-agent-policy';

type Variant = 'a' | 'b' | 'c' | 'd' | 'e';
const LABELS: Record<Variant, string> = {
  a: '(a) no limiter',
  b: '(b) @nestjs/throttler memory',
  c: '(c) @nestjs/throttler + @nest-lab redis',
  d: '(d) MemoryThrottlerStorage',
  e: '(e) RedisThrottlerStorage',
};
const TTL_MS = 60_000;
const LIMIT = 1_000_000_000;

@Controller()
class PingController {
  @Get('ping')
  ping(): { ok: boolean } {
    return { ok: true };
  }
}

/** Counts per `x-tracker` header instead of per IP, so one load generator can be many callers. */
@Injectable()
class HeaderTrackerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const headers = req.headers as Record<string, string | undefined>;
    return headers['x-tracker'] ?? 'none';
  }
}

function moduleFor(storage: ThrottlerStorage | undefined | null) {
  const imports = storage === null ? [] : [ThrottlerModule.forRoot({ throttlers: [{ ttl: TTL_MS, limit: LIMIT }], storage })];
  const providers = storage === null ? [] : [{ provide: APP_GUARD, useClass: HeaderTrackerGuard }];
  @Module({ imports, controllers: [PingController], providers })
  class BenchModule {}
  return BenchModule;
}

async function startApp(storage: ThrottlerStorage | undefined | null): Promise<{ app: INestApplication; url: string }> {
  const app = await NestFactory.create(moduleFor(storage), new ExpressAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, url: `${await app.getUrl()}/ping`.replace('[::1]', '127.0.0.1') };
}

interface Load {
  rps: number;
  p99: number;
  non2xx: number;
}

async function drive(url: string, trackers: number, duration: number): Promise<Load> {
  const result = await autocannon({
    url,
    connections: 10,
    duration,
    requests: [
      {
        setupRequest: (req) => {
          const tracker = trackers === 1 ? '0' : String(Math.floor(Math.random() * trackers));
          return { ...req, headers: { ...req.headers, 'x-tracker': tracker } };
        },
      },
    ],
  });
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx + result.errors };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function redisReachable(url: string): Promise<Redis | null> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1000, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch {
    redis.disconnect();
    return null;
  }
}

/** Heap bytes per key of MemoryThrottlerStorage at `limit`, over `keys` keys (key strings allocated beforehand). */
function heapPerKey(limit: number, keys: number): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return Number.NaN;
  const names = Array.from({ length: keys }, (_, i) => `tracker-${i.toString(16).padStart(12, '0')}`);
  const storage = new MemoryThrottlerStorage();
  const rule = { ttlMs: TTL_MS, limit, blockDurationMs: 0 };
  gc();
  const before = process.memoryUsage().heapUsed;
  // Several hits per key: what a key costs must not depend on how often it was hit.
  for (let round = 0; round < 5; round++) for (const key of names) storage.hit(key, rule, 'default');
  gc();
  const after = process.memoryUsage().heapUsed;
  storage.close();
  return (after - before) / keys;
}

/** Runs the benchmark and answers a markdown report. */
export async function throttlerStorageBench(options: { rounds: number; duration: number }): Promise<string> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = await redisReachable(redisUrl);
  const prefix = `bench:rl:${randomBytes(4).toString('hex')}:`;
  const variants: Variant[] = redis ? ['a', 'b', 'c', 'd', 'e'] : ['a', 'b', 'd'];
  const storageFor = (v: Variant): ThrottlerStorage | undefined | null => {
    if (v === 'a') return null;
    if (v === 'b') return undefined;
    if (v === 'c') return new ThrottlerStorageRedisService(redis as Redis);
    if (v === 'd') return new MemoryThrottlerStorage();
    return new RedisThrottlerStorage(redis as Redis, { keyPrefix: prefix });
  };

  const samples = new Map<string, Load[]>();
  for (let round = 0; round < options.rounds; round++) {
    for (const trackers of [1, 10_000]) {
      for (const v of variants) {
        const storage = storageFor(v);
        const { app, url } = await startApp(storage);
        await drive(url, trackers, 1); // warm-up
        const load = await drive(url, trackers, options.duration);
        await app.close();
        if (storage instanceof MemoryThrottlerStorage) storage.close();
        const id = `${v}:${trackers}`;
        samples.set(id, [...(samples.get(id) ?? []), load]);
        process.stderr.write(`round ${round + 1} ${LABELS[v]} ×${trackers}: ${load.rps.toFixed(0)} req/s, p99 ${load.p99} ms\n`);
      }
    }
  }

  const lines = [
    `### Rate-limit storages (${options.rounds} rounds × ${options.duration}s, 10 connections, medians; ttl ${TTL_MS / 1000}s, limit never reached)`,
    '',
    '| variant | trackers | req/s | p99 ms | vs (a) | (e) vs (c) | non-2xx |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const trackers of [1, 10_000]) {
    const stat = (v: Variant) => {
      const runs = samples.get(`${v}:${trackers}`) ?? [];
      return { rps: median(runs.map((r) => r.rps)), p99: median(runs.map((r) => r.p99)), bad: runs.reduce((n, r) => n + r.non2xx, 0) };
    };
    const base = stat('a').rps;
    for (const v of variants) {
      const s = stat(v);
      const vsRedis = v === 'e' ? `${(s.rps / stat('c').rps).toFixed(2)}×` : '';
      lines.push(`| ${LABELS[v]} | ${trackers} | ${s.rps.toFixed(0)} | ${s.p99} | ${((s.rps / base) * 100).toFixed(1)}% | ${vsRedis} | ${s.bad} |`);
    }
  }

  lines.push('', '### MemoryThrottlerStorage heap per key (100,000 keys, 5 hits each)', '', '| limit | bytes/key |', '|---:|---:|');
  for (const limit of [10, 1_000, 100_000]) {
    lines.push(`| ${limit} | ${heapPerKey(limit, 100_000).toFixed(1)} |`);
  }
  if (!(globalThis as { gc?: unknown }).gc) lines.push('', '(run node with --expose-gc to measure heap per key)');

  if (redis) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  } else {
    lines.push('', `Redis unreachable at ${redisUrl}: variants (c) and (e) skipped.`);
  }
  return lines.join('\n');
}

if (require.main === module) {
  throttlerStorageBench({ rounds: Number(process.env.BENCH_ROUNDS ?? 3), duration: Number(process.env.BENCH_DURATION ?? 5) })
    .then((report) => process.stdout.write(`${report}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    });
}
