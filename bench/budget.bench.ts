/**
 * Budget enforcement on the request path, in one run: a route shaped like agent-api's `POST /sessions/:id/events`
 * (a short message, tokens counted, `{ usage }` answered) with `@Budget` next to the same route without it, once
 * with the database budget store (SQLite) and once with the Redis store. Each budgeted call reserves its estimate
 * on four counters, settles to the reported usage and queues a usage-ledger row. The baseline of each table is the
 * same route without `@Budget` on the same server (so with Redis, rate limits go through Redis on both rows).
 *
 * BENCH_BUDGET_BASE=<another checkout, built with its benches> adds that build's Redis server to the same run, its
 * rows interleaved with this build's: an A/B of the budget path between two versions under the same load.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import {
  benchAdapters,
  benchConnections,
  compare,
  startServer,
  table,
  type LoadOptions,
  type ServerHandle,
  type Variant,
} from './lib/load';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const MESSAGE = JSON.stringify({ message: 'What is the status of my order?' });

export async function budgetBench(options: { rounds?: number; duration?: number } = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-budget-'));
  // A principal and tenant of this run only: its counters start empty and nobody else's are touched.
  const token = jwt.sign(
    { sub: `bench-${randomUUID()}`, roles: ['admin'], scope: 'admin', tenant_id: `bench-${randomUUID()}` },
    SECRET,
    {
      algorithm: 'HS256',
      expiresIn: '2h',
      jwtid: randomUUID(),
    },
  );
  const headers = { Authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const script = join(__dirname, 'servers/budget.server.js');
  const servers: ServerHandle[] = [];
  try {
    const session = randomUUID();
    const post = (server: ServerHandle, route: 'budgeted' | 'unbudgeted') => () => ({
      url: `${server.url}/${route}/${session}/events`,
      pid: server.child.pid,
      method: 'POST' as const,
      headers,
      body: MESSAGE,
    });
    const variants: Variant[] = [];
    const base = process.env.BENCH_BUDGET_BASE;
    for (const adapter of benchAdapters()) {
      const env = { JWT_SECRET: SECRET, NO_COLOR: '1', BENCH_ADAPTER: adapter };
      const other = base
        ? await startServer(join(base, 'dist/bench/servers/budget.server.js'), {
            ...env,
            BENCH_SQLITE: join(dir, `base-redis-store-${adapter}.sqlite`),
            REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
          })
        : null;
      if (other) servers.push(other);
      const database = await startServer(script, {
        ...env,
        BENCH_SQLITE: join(dir, `database-store-${adapter}.sqlite`),
        REDIS_URL: '',
      });
      servers.push(database);
      const redis = await startServer(script, {
        ...env,
        BENCH_SQLITE: join(dir, `redis-store-${adapter}.sqlite`),
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      });
      servers.push(redis);
      for (const connections of benchConnections()) {
        const at = (options: () => LoadOptions) => (): LoadOptions => ({ ...options(), connections });
        variants.push(
          {
            group: `Redis store, ${adapter}, ${connections} conn.`,
            name: 'without @Budget (Redis server)',
            options: at(post(redis, 'unbudgeted')),
          },
          {
            group: `Redis store, ${adapter}, ${connections} conn.`,
            name: '@Budget, Redis store',
            options: at(post(redis, 'budgeted')),
          },
          ...(other
            ? [
                {
                  group: `Redis store, ${adapter}, ${connections} conn., BENCH_BUDGET_BASE`,
                  name: 'without @Budget (Redis server), base build',
                  options: at(post(other, 'unbudgeted')),
                },
                {
                  group: `Redis store, ${adapter}, ${connections} conn., BENCH_BUDGET_BASE`,
                  name: '@Budget, Redis store, base build',
                  options: at(post(other, 'budgeted')),
                },
              ]
            : []),
          {
            group: `SQLite store, ${adapter}, ${connections} conn.`,
            name: 'without @Budget (database server)',
            options: at(post(database, 'unbudgeted')),
          },
          {
            group: `SQLite store, ${adapter}, ${connections} conn.`,
            name: '@Budget, database store (SQLite)',
            options: at(post(database, 'budgeted')),
          },
        );
      }
    }
    const rows = await compare(variants, options.rounds ?? 3, options.duration ?? 5);
    return table(
      'Budgets (baseline: the same route without @Budget on the same server; medians of interleaved rounds)',
      rows,
    );
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

if (require.main === module) {
  budgetBench({ rounds: Number(process.env.BENCH_ROUNDS ?? 3), duration: Number(process.env.BENCH_DURATION ?? 5) })
    .then((out) => process.stdout.write(`${out}\n`))
    .catch((err) => {
      process.stderr.write(`${(err as Error).stack}\n`);
      process.exit(1);
    });
}
