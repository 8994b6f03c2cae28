/**
 * Access to the real PostgreSQL and Redis used by integration suites. Jest's global setup probes both once; a test
 * that needs an unreachable service is defined with `itWith(...)` and shows as skipped, unless REQUIRE_SERVICES=1
 * (CI), where an unreachable service fails the run before any suite starts.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type Redis from 'ioredis';
import { it as jestIt } from '@jest/globals';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const REQUIRE_SERVICES = process.env.REQUIRE_SERVICES === '1';

export type ServiceName = 'redis' | 'postgres';

/**
 * Whether a service answered the global setup's probe (test/support/global-setup.cjs). Known when a suite is
 * defined, so a suite can pick `it` or `it.skip` up front. Outside Jest's global setup (e.g. a single file run
 * through another runner) nothing is known to be up.
 */
export function serviceUp(name: ServiceName): boolean {
  return (process.env.TEST_SERVICES_UP ?? '').split(',').includes(name);
}

/**
 * `it` when every named service is up, else `it.skip` (shown as skipped in the report). Shadow `it` with it
 * inside a describe block whose tests need a service: `const it = itWith('postgres');`. Hooks of a block whose
 * tests are all skipped do not run.
 */
export function itWith(...names: ServiceName[]): typeof jestIt {
  return names.every(serviceUp) ? jestIt : (jestIt.skip as typeof jestIt);
}

/**
 * `it` when a local tool the test needs is there (`available`), else `it.skip` after a visible warning; under
 * REQUIRE_SERVICES=1 a missing tool throws when the suite is defined (CI installs it).
 */
export function itIf(available: boolean, what: string): typeof jestIt {
  if (available) return jestIt;
  if (REQUIRE_SERVICES) throw new Error(`${what} is missing and REQUIRE_SERVICES=1`);
  console.warn(`SKIPPED: tests needing ${what}; set REQUIRE_SERVICES=1 to make this a failure`);
  return jestIt.skip as typeof jestIt;
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
      // A connection of its own without the suite's fail-fast settings (e.g. a 500 ms command timeout): under load
      // a worker's timers fire late, and cleaning up must not fail the suite for that.
      const plain = redis.duplicate({ commandTimeout: undefined, enableOfflineQueue: true, maxRetriesPerRequest: 20 });
      try {
        let cursor = '0';
        do {
          const [next, keys] = await plain.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
          cursor = next;
          if (keys.length) await plain.del(...keys);
        } while (cursor !== '0');
      } finally {
        plain.disconnect();
      }
    },
  };
}
