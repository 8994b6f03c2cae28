import { createHash } from 'node:crypto';
import type { OnModuleInit } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import type { RateLimitStrategy } from '../policy-module-options.interface';
import type { PeekableThrottlerStorage, ThrottlerStorageRecord } from './rate-limit.interfaces';
import { normalizeStrategy, type WindowStrategy } from './rate-limit.strategies';
import { RATE_LIMIT_LUA } from './redis-throttler.script';
import { MicroBatch } from '../common/micro-batch';

/**
 * Options of {@link RedisThrottlerStorage}.
 * @example
 * new RedisThrottlerStorage(redis, { keyPrefix: 'myapp:rl:' });
 */
export interface RedisThrottlerStorageOptions {
  /** Prefix of every key (default `nap:rl:`). */
  keyPrefix?: string;
  /** Default `sliding-log` (exact). */
  strategy?: RateLimitStrategy;
  /**
   * Most checks sent in one script call (default 64): the checks made in the same turn of the event loop share a
   * round trip. Always 1 on Redis Cluster, where each key has its own slot.
   */
  maxBatch?: number;
}

/**
 * Default prefix of rate-limit keys in Redis.
 * @example
 * new RedisThrottlerStorage(redis).redisKey('k', 'default'); // `${DEFAULT_RATE_LIMIT_KEY_PREFIX}{k}:default`
 */
export const DEFAULT_RATE_LIMIT_KEY_PREFIX = 'nap:rl:';

/**
 * ioredis options that keep a rate-limit check from hanging while Redis is away (fail fast, no queueing).
 * Without an offline queue, commands sent before the connection is ready fail: wait for `ready` before serving.
 * @example
 * const redis = new Redis(process.env.REDIS_URL!, RATE_LIMIT_REDIS_OPTIONS);
 */
export const RATE_LIMIT_REDIS_OPTIONS = {
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
  commandTimeout: 500,
  connectTimeout: 1000,
} as const;

type ScriptReply = [number, number, number, number, number];
type Check = { redisKey: string; args: readonly [number, number, number, 'sliding-log' | WindowStrategy, 0 | 1] };

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * A `ThrottlerStorage` in Redis, shared by every instance of the app: counts hold across processes.
 *
 * Each check is one round trip: `EVALSHA` of a script loaded once with `SCRIPT LOAD` (reloaded and retried once if
 * Redis answers `NOSCRIPT`, e.g. after a restart or `SCRIPT FLUSH`). The checks made in one turn of the event loop
 * share that round trip (one script call checks them one after the other), each answered only once Redis has
 * counted it; on Redis Cluster every check goes on its own. The script reads the clock with Redis `TIME`,
 * so instances whose clocks disagree still count the same windows. Keys are `<prefix>{<key>}:<throttlerName>` (plus
 * `:log` and `:block` for `sliding-log`): the hash tag keeps them valid on Redis Cluster. Each key carries a PEXPIRE,
 * so Redis removes idle keys by itself.
 *
 * The default strategy, `sliding-log`, is exact: the log of a key holds the expiry of each admitted hit (at most
 * `limit` of them), and a check reads and drops only its oldest entries, O(1) amortised.
 *
 * The client is the caller's: this storage never closes it.
 *
 * @example
 * const redis = new Redis(process.env.REDIS_URL!, RATE_LIMIT_REDIS_OPTIONS);
 * ThrottlerModule.forRoot({ throttlers: [{ ttl: 60_000, limit: 600 }], storage: new RedisThrottlerStorage(redis) });
 * @throws the client's error when Redis fails (wrap it in `ResilientThrottlerStorage` to choose fail-open or closed)
 */
export class RedisThrottlerStorage implements PeekableThrottlerStorage, OnModuleInit {
  readonly keyPrefix: string;
  readonly strategy: 'sliding-log' | WindowStrategy;
  /** SHA1 of the script, as `SCRIPT LOAD` answers it. */
  readonly scriptSha = createHash('sha1').update(RATE_LIMIT_LUA).digest('hex');
  private loading: Promise<void> | undefined;
  private loaded = false;
  private readonly checks: MicroBatch<Check, unknown>;

  constructor(
    private readonly redis: Redis | Cluster,
    options: RedisThrottlerStorageOptions = {},
  ) {
    this.keyPrefix = options.keyPrefix ?? DEFAULT_RATE_LIMIT_KEY_PREFIX;
    this.strategy = normalizeStrategy(options.strategy);
    const isCluster = (redis as { isCluster?: boolean }).isCluster === true;
    this.checks = new MicroBatch((batch) => this.send(batch), isCluster ? 1 : options.maxBatch);
  }

  async onModuleInit(): Promise<void> {
    // Loading early is an optimisation only; a Redis that is down at boot must not stop the app.
    await this.loadScript().catch(() => undefined);
  }

  /**
   * The Redis key of `key` under `throttlerName`: the window strategies' hash; `sliding-log` keeps its list under this
   * name followed by `:log` and its block under `:block` (the same hash tag, so the same Cluster slot).
   */
  redisKey(key: string, throttlerName: string): string {
    return `${this.keyPrefix}{${key}}:${throttlerName}`;
  }

  increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    return this.run(this.redisKey(key, throttlerName), ttl, limit, blockDuration, 1);
  }

  /** Like `increment` but counts nothing: `isBlocked` tells whether the next hit would be denied. */
  peek(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    return this.run(this.redisKey(key, throttlerName), ttl, limit, blockDuration, 0);
  }

  /** Loads the script (once; again after `NOSCRIPT`). */
  loadScript(force = false): Promise<void> {
    if (this.loading === undefined || force) {
      this.loaded = false;
      this.loading = this.redis.script('LOAD', RATE_LIMIT_LUA).then(
        () => {
          this.loaded = true;
        },
        (error: unknown) => {
          this.loading = undefined;
          throw error;
        },
      );
    }
    return this.loading;
  }

  private async run(
    redisKey: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    cost: 0 | 1,
  ): Promise<ThrottlerStorageRecord> {
    const args = [Math.ceil(ttl), limit, Math.max(0, Math.ceil(blockDuration)), this.strategy, cost] as const;
    return toRecord(await this.checks.add({ redisKey, args }));
  }

  /** One script call for a batch of checks. */
  private async send(batch: Check[]): Promise<unknown[]> {
    const keys =
      this.strategy === 'sliding-log'
        ? batch.flatMap((check) => [`${check.redisKey}:log`, `${check.redisKey}:block`])
        : batch.flatMap((check) => [check.redisKey, check.redisKey]);
    const args = batch.flatMap((check) => check.args);
    if (!this.loaded) await this.loadScript();
    let reply: unknown;
    try {
      reply = await this.redis.evalsha(this.scriptSha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      await this.loadScript(true);
      try {
        reply = await this.redis.evalsha(this.scriptSha, keys.length, ...keys, ...args);
      } catch (retryError) {
        // On a cluster the reload may have reached another node than the key's; EVAL caches it where needed.
        if (!isNoScript(retryError)) throw retryError;
        reply = await this.redis.eval(RATE_LIMIT_LUA, keys.length, ...keys, ...args);
      }
    }
    if (!Array.isArray(reply)) throw new TypeError('Unexpected reply from the rate-limit script');
    return reply as unknown[];
  }
}

function toRecord(reply: unknown): ThrottlerStorageRecord {
  if (!Array.isArray(reply) || reply.length !== 5 || !reply.every((n) => typeof n === 'number')) {
    throw new TypeError('Unexpected reply from the rate-limit script');
  }
  const [totalHits, blocked, , timeToExpireMs, timeToBlockExpireMs] = reply as ScriptReply;
  return {
    totalHits,
    timeToExpire: Math.ceil(timeToExpireMs / 1000),
    isBlocked: blocked === 1,
    timeToBlockExpire: Math.ceil(timeToBlockExpireMs / 1000),
  };
}
