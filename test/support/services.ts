/**
 * Access to the real PostgreSQL and Redis used by integration suites. When a service is unreachable the suite
 * is skipped with a visible message, unless REQUIRE_SERVICES=1 (CI), where an unreachable service fails the run.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import Redis from 'ioredis';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const REQUIRE_SERVICES = process.env.REQUIRE_SERVICES === '1';

async function reachable(check: () => Promise<void>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch {
    return false;
  }
}

export async function redisAvailable(): Promise<boolean> {
  return reachable(async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
    try {
      await redis.connect();
      await redis.ping();
    } finally {
      redis.disconnect();
    }
  });
}

export async function postgresAvailable(): Promise<boolean> {
  return reachable(async () => {
    const client = new Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 1000 });
    await client.connect();
    await client.end();
  });
}

/**
 * Resolves whether a suite may run. Call it in `beforeAll`; when it answers false, the suite's tests return early
 * after logging why. Under REQUIRE_SERVICES=1 an unreachable service throws instead.
 */
export async function requireService(name: 'redis' | 'postgres'): Promise<boolean> {
  const ok = name === 'redis' ? await redisAvailable() : await postgresAvailable();
  if (!ok) {
    const message = `${name} is unreachable (${name === 'redis' ? REDIS_URL : DATABASE_URL})`;
    if (REQUIRE_SERVICES) throw new Error(`${message} and REQUIRE_SERVICES=1`);
    console.warn(`SKIPPED: ${message}; set REQUIRE_SERVICES=1 to make this a failure`);
  }
  return ok;
}

/** Creates a fresh PostgreSQL database for one suite and returns its URL and a drop function. */
export async function createTestDatabase(prefix = 'nap'): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A unique Redis key prefix for one suite, and a cleanup that deletes every key under it. */
export function redisTestPrefix(label: string): { prefix: string; cleanup: (redis: Redis) => Promise<void> } {
  const prefix = `test:${label}:${randomBytes(4).toString('hex')}:`;
  return {
    prefix,
    cleanup: async (redis: Redis) => {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    },
  };
}
