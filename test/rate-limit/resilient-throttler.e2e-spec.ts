import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import Redis from 'ioredis';
import { REDIS_URL, itWith, redisTestPrefix, serviceUp } from '../support/services';
import { RATE_LIMIT_REDIS_OPTIONS, RedisThrottlerStorage, ResilientThrottlerStorage } from 'nest-agent-policy';
import { PolicyUnavailableException } from 'nest-agent-policy';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP proxy in front of the real Redis that the test can cut and restore, on a fixed port. */
class CuttableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('ResilientThrottlerStorage against an unreachable and a returning Redis', () => {
  const { prefix, cleanup } = redisTestPrefix('rl-resilient');
  const clients: Redis[] = [];
  let proxy: CuttableProxy | undefined;

  const client = (url: string) => {
    const redis = new Redis(url, { ...RATE_LIMIT_REDIS_OPTIONS, retryStrategy: () => 50 });
    redis.on('error', () => undefined);
    clients.push(redis);
    return redis;
  };

  afterEach(() => {
    jest.restoreAllMocks();
  });
  afterAll(async () => {
    if (serviceUp('redis')) {
      const redis = new Redis(REDIS_URL);
      await cleanup(redis);
      redis.disconnect();
    }
    clients.forEach((c) => c.disconnect());
    await proxy?.cut();
  });

  const quiet = () => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  };

  it('fail-closed answers 503 quickly when Redis is unreachable', async () => {
    quiet();
    const storage = new ResilientThrottlerStorage(
      new RedisThrottlerStorage(client('redis://127.0.0.1:1'), { keyPrefix: prefix }),
    );
    const started = Date.now();
    await expect(storage.increment('dead', 1000, 5, 0, 'default')).rejects.toBeInstanceOf(PolicyUnavailableException);
    await expect(storage.increment('dead', 1000, 5, 0, 'default')).rejects.toMatchObject({ status: 503 });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('fail-open limits per process when Redis is unreachable', async () => {
    quiet();
    const storage = new ResilientThrottlerStorage(
      new RedisThrottlerStorage(client('redis://127.0.0.1:1'), { keyPrefix: prefix }),
      {
        failMode: 'open',
      },
    );
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await storage.increment('dead', 60_000, 3, 0, 'default'));
    expect(results.map((r) => r.isBlocked)).toEqual([false, false, false, true]);
    expect(storage.degraded).toBe(true);
    storage.onModuleDestroy();
  });

  itWith('redis')('switches to memory when Redis goes away and back to Redis when it returns', async () => {
    quiet();
    const target = new URL(REDIS_URL);
    proxy = new CuttableProxy({ host: target.hostname, port: Number(target.port || 6379) });
    await proxy.start();
    const direct = client(REDIS_URL);
    const viaProxy = client(`redis://127.0.0.1:${proxy.port}${target.pathname}`);
    // Without an offline queue, commands sent before the connection is up fail: wait for it as an app would.
    await Promise.all([direct, viaProxy].map((c) => new Promise((resolve) => c.once('ready', resolve))));
    const storage = new ResilientThrottlerStorage(new RedisThrottlerStorage(viaProxy, { keyPrefix: prefix }), {
      failMode: 'open',
      probeIntervalMs: 200,
    });
    // The default (exact) strategy logs each admitted hit in a list.
    const stored = () => direct.llen(`${prefix}{proxy}:default:log`);
    const hit = () => storage.increment('proxy', 60_000, 100, 0, 'default');

    await hit();
    expect(await stored()).toBe(1);

    await proxy.cut();
    await expect(hit()).resolves.toMatchObject({ isBlocked: false });
    expect(storage.degraded).toBe(true);
    await hit();
    expect(await stored()).toBe(1);

    await proxy.start();
    const deadline = Date.now() + 10_000;
    while (storage.degraded && Date.now() < deadline) {
      await hit();
      await sleep(100);
    }
    expect(storage.degraded).toBe(false);
    await hit();
    expect(await stored()).toBeGreaterThanOrEqual(2);
    storage.onModuleDestroy();
  });
});
