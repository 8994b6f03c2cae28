/**
 * Rate-limit storages on the request path, in one run: (a) no limiter, (b) @nestjs/throttler with its memory
 * storage, (c) @nestjs/throttler with @nest-lab/throttler-storage-redis, (d) our MemoryThrottlerStorage, (e) our
 * RedisThrottlerStorage — each a plain `ThrottlerModule.forRoot({ storage })` app in its own process
 * (servers/throttler.server.ts) — with one tracker and with 10,000 distinct trackers. Then the heap cost per key
 * of MemoryThrottlerStorage as the limit grows (needs node --expose-gc).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Redis from 'ioredis';
import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import { MemoryThrottlerStorage } from 'nest-agent-policy';
import type { RateLimitStrategy } from 'nest-agent-policy';
import {
  benchAdapters,
  benchConnections,
  compare,
  cpuRatios,
  loadGenerator,
  placement,
  ratios,
  startServer,
  type AdapterName,
  type ServerHandle,
  type Variant as LoadVariant,
} from './lib/load';

type Variant = 'a' | 'b' | 'c' | 'd' | 'e';
const LABELS: Record<Variant, string> = {
  a: '(a) no limiter',
  b: '(b) @nestjs/throttler memory',
  c: '(c) @nestjs/throttler + @nest-lab redis',
  d: '(d) MemoryThrottlerStorage',
  e: '(e) RedisThrottlerStorage',
};
const TTL_MS = 60_000;

async function redisReachable(url: string): Promise<Redis | null> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch {
    redis.disconnect();
    return null;
  }
}

/**
 * Heap bytes per key of MemoryThrottlerStorage at `limit`, over `keys` keys hit `hits` times each (key strings
 * allocated beforehand).
 */
function heapPerKey(limit: number, keys: number, hits: number, strategy?: RateLimitStrategy): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return Number.NaN;
  const names = Array.from({ length: keys }, (_, i) => `tracker-${i.toString(16).padStart(12, '0')}`);
  const storage = new MemoryThrottlerStorage({ strategy });
  const rule = { ttlMs: TTL_MS, limit, blockDurationMs: 0 };
  gc();
  const before = process.memoryUsage().heapUsed;
  // The window strategies' cost per key must not depend on how often it was hit; the exact log's grows with the hits
  // admitted in the last ttl (up to the limit).
  for (let round = 0; round < hits; round++) for (const key of names) storage.hit(key, rule, 'default');
  gc();
  const after = process.memoryUsage().heapUsed;
  storage.close();
  return (after - before) / keys;
}

/** Nanoseconds per `increment` of a storage alone (no HTTP), over `hits` hits spread on `keys` keys. */
async function nsPerIncrement(storage: ThrottlerStorage, keys: number, hits: number): Promise<number> {
  const names = Array.from({ length: keys }, (_, i) => `k${i}`);
  for (let i = 0; i < 1000; i++) await storage.increment(names[i % keys], TTL_MS, 1_000_000_000, 0, 'default');
  const start = process.hrtime.bigint();
  for (let i = 0; i < hits; i++) await storage.increment(names[i % keys], TTL_MS, 1_000_000_000, 0, 'default');
  return Number(process.hrtime.bigint() - start) / hits;
}

/** Runs the benchmark and answers a markdown report. */
export async function throttlerStorageBench(options: { rounds: number; duration: number }): Promise<string> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = await redisReachable(redisUrl);
  const prefix = `bench:rl:${randomBytes(4).toString('hex')}:`;
  const available: Variant[] = redis ? ['a', 'b', 'c', 'd', 'e'] : ['a', 'b', 'd'];
  // BENCH_RL_VARIANTS=a,d measures some only; (a), the baseline, always runs.
  const wanted = process.env.BENCH_RL_VARIANTS?.split(',');
  const variants = available.filter((v) => v === 'a' || !wanted || wanted.includes(v));
  const servers = new Map<string, ServerHandle>();
  const lines = [
    `### Rate-limit storages (plain ThrottlerModule apps, medians of interleaved rounds; ttl ${TTL_MS / 1000}s, limit never reached; load: ${loadGenerator()}, ${placement()})`,
    '',
    '| adapter | conn. | trackers | variant | req/s | range of rounds | vs (a) | CPU µs/req | CPU vs (a) | (e) vs (c) | p50 ms | p99 ms | max ms | non-2xx / errors |',
    '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  try {
    for (const adapter of benchAdapters()) {
      for (const v of variants) {
        servers.set(
          `${adapter}:${v}`,
          await startServer(join(__dirname, 'servers/throttler.server.js'), {
            VARIANT: v,
            REDIS_URL: redisUrl,
            KEY_PREFIX: prefix,
            BENCH_ADAPTER: adapter,
          }),
        );
      }
    }
    const all: LoadVariant[] = [];
    for (const trackers of [1, 10_000])
      for (const adapter of benchAdapters())
        for (const connections of benchConnections())
          for (const v of variants)
            all.push({
              name: v,
              group: `${adapter}|${connections}|${trackers}`,
              options: () => ({
                url: `${servers.get(`${adapter}:${v}`)!.url}/ping`,
                pid: servers.get(`${adapter}:${v}`)!.child.pid,
                trackers,
                connections,
              }),
            });
    const rows = await compare(all, options.rounds, options.duration);
    const ratio = ratios(rows);
    const cpu = cpuRatios(rows);
    for (const r of rows) {
      const [adapter, connections, trackers] = r.group!.split('|');
      const redisRow = rows.find((o) => o.group === r.group && o.name === 'c');
      const vsRedis = r.name === 'e' && redisRow ? `${(r.rps / redisRow.rps).toFixed(2)}×` : '';
      const ms = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));
      lines.push(
        `| ${adapter as AdapterName} | ${connections} | ${trackers} | ${LABELS[r.name as Variant]} | ${r.rps.toFixed(0)} | ${Math.round(r.low)}–${Math.round(r.high)} | ${(ratio.get(r)! * 100).toFixed(1)}% | ${r.cpuUs.toFixed(0)} | ${(cpu.get(r)! * 100).toFixed(1)}% | ${vsRedis} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${r.non2xx} / ${r.errors} |`,
      );
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  }

  lines.push(
    '',
    '### Memory storages alone (no HTTP), ns per increment, 50,000 hits',
    '',
    '| storage | 1 key | 10,000 keys |',
    '|---|---:|---:|',
  );
  for (const [label, make] of [
    ['@nestjs/throttler ThrottlerStorageService', () => new ThrottlerStorageService()],
    ['MemoryThrottlerStorage', () => new MemoryThrottlerStorage()],
  ] as const) {
    const one = make();
    const many = make();
    lines.push(
      `| ${label} | ${(await nsPerIncrement(one, 1, 50_000)).toFixed(0)} | ${(await nsPerIncrement(many, 10_000, 50_000)).toFixed(0)} |`,
    );
    for (const storage of [one, many]) {
      if (storage instanceof MemoryThrottlerStorage) storage.close();
      else storage.onApplicationShutdown();
    }
  }

  lines.push(
    '',
    '### MemoryThrottlerStorage heap per key (100,000 keys in use)',
    '',
    '| limit | sliding-log (default), 5 hits | sliding-log, 100 hits | sliding-window, 5 hits |',
    '|---:|---:|---:|---:|',
  );
  for (const limit of [10, 1_000, 100_000]) {
    const cells = [
      heapPerKey(limit, 100_000, 5),
      heapPerKey(limit, 100_000, 100),
      heapPerKey(limit, 100_000, 5, 'sliding-window'),
    ];
    lines.push(`| ${limit} | ${cells.map((c) => c.toFixed(1)).join(' | ')} |`);
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
  throttlerStorageBench({
    rounds: Number(process.env.BENCH_ROUNDS ?? 3),
    duration: Number(process.env.BENCH_DURATION ?? 5),
  })
    .then((report) => process.stdout.write(`${report}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    });
}
