import { Logger } from '@nestjs/common';
import type { OnModuleDestroy } from '@nestjs/common';
import type { RateLimitStrategy } from '../policy-module-options.interface';
import { PolicyUnavailableException } from '../policy.exceptions';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import type { PeekableThrottlerStorage, ThrottlerStorageRecord } from './rate-limit.interfaces';

/**
 * Options of {@link ResilientThrottlerStorage}.
 * @example
 * new ResilientThrottlerStorage(primary, { failMode: 'open', strategy: 'token-bucket', probeIntervalMs: 2000 });
 */
export interface ResilientThrottlerStorageOptions {
  /** `closed` (default): Redis down answers 503. `open`: a per-process memory limiter stands in. */
  failMode?: 'closed' | 'open';
  /** The stand-in for `open` mode (default: a `MemoryThrottlerStorage` with `strategy`). */
  fallback?: PeekableThrottlerStorage;
  /** Strategy of the default fallback (default `sliding-log`, exact); give it the primary's. */
  strategy?: RateLimitStrategy;
  /** While Redis is down, one request per interval tries it again (default 1000 ms); the rest skip it. */
  probeIntervalMs?: number;
  /** Clock in epoch milliseconds (default `Date.now`). */
  now?: () => number;
}

type Call = (storage: PeekableThrottlerStorage) => Promise<ThrottlerStorageRecord>;

/**
 * Wraps a shared storage (normally `RedisThrottlerStorage`) and decides what happens when it fails.
 *
 * On an error from the primary, `failMode: 'closed'` throws `PolicyUnavailableException` (503) and `'open'`
 * answers from the per-process fallback. Either way the primary is then considered down: requests skip it (no
 * waiting on a dead connection) except one probe per `probeIntervalMs`, and the first probe that succeeds puts it
 * back in service. Give the Redis client `RATE_LIMIT_REDIS_OPTIONS` so a probe fails fast instead of queueing.
 *
 * @example
 * const storage = new ResilientThrottlerStorage(new RedisThrottlerStorage(redis), { failMode: 'open' });
 * ThrottlerModule.forRoot({ throttlers: [{ ttl: 60_000, limit: 600 }], storage });
 * @throws PolicyUnavailableException (503) in `closed` mode while the primary is down
 */
export class ResilientThrottlerStorage implements PeekableThrottlerStorage, OnModuleDestroy {
  readonly failMode: 'closed' | 'open';
  private readonly fallback: PeekableThrottlerStorage;
  private readonly ownsFallback: boolean;
  private readonly probeIntervalMs: number;
  private readonly now: () => number;
  private readonly logger = new Logger(ResilientThrottlerStorage.name);
  private downSince: number | null = null;
  private nextProbeAt = 0;

  constructor(
    private readonly primary: PeekableThrottlerStorage,
    options: ResilientThrottlerStorageOptions = {},
  ) {
    this.failMode = options.failMode ?? 'closed';
    this.ownsFallback = options.fallback === undefined;
    this.fallback = options.fallback ?? new MemoryThrottlerStorage({ strategy: options.strategy, now: options.now });
    this.probeIntervalMs = options.probeIntervalMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** Whether the primary is currently considered down. */
  get degraded(): boolean {
    return this.downSince !== null;
  }

  increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    return this.run((storage) => storage.increment(key, ttl, limit, blockDuration, throttlerName));
  }

  peek(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    return this.run((storage) => storage.peek(key, ttl, limit, blockDuration, throttlerName));
  }

  onModuleDestroy(): void {
    if (this.ownsFallback && this.fallback instanceof MemoryThrottlerStorage) this.fallback.close();
  }

  private async run(call: Call): Promise<ThrottlerStorageRecord> {
    if (this.downSince !== null) {
      const now = this.now();
      if (now < this.nextProbeAt) return this.degradedAnswer(call);
      // This request is the probe; the others keep skipping the primary until it answers.
      this.nextProbeAt = now + this.probeIntervalMs;
    }
    let record: ThrottlerStorageRecord;
    try {
      record = await call(this.primary);
    } catch (error) {
      this.markDown(error);
      return this.degradedAnswer(call);
    }
    if (this.downSince !== null) {
      this.logger.log(`Rate-limit store is back after ${this.now() - this.downSince} ms`);
      this.downSince = null;
    }
    return record;
  }

  private markDown(error: unknown): void {
    const now = this.now();
    this.nextProbeAt = now + this.probeIntervalMs;
    if (this.downSince !== null) return;
    this.downSince = now;
    const reason = error instanceof Error ? error.message : String(error);
    const consequence =
      this.failMode === 'open' ? 'limiting per process until it is back' : 'answering 503 until it is back';
    this.logger.error(`Rate-limit store failed (${reason}); ${consequence}`);
  }

  private degradedAnswer(call: Call): Promise<ThrottlerStorageRecord> {
    if (this.failMode === 'open') return call(this.fallback);
    return Promise.reject(new PolicyUnavailableException('The rate-limit store is unavailable'));
  }
}
