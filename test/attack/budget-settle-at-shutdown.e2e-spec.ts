/**
 * A budgeted call answered while the app shuts down: Nest closes TypeORM's database before the policy module's own
 * shutdown hooks run, so the answer waits for its ledger row (`BudgetService.landing`). An app closed right after its
 * answers, or while calls are still in flight, must leave one ledger row per answered call, counters whose `used` is
 * what the ledger holds, and nothing reserved — on the database store (PostgreSQL, SQLite) and on the Redis store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { BudgetStore, type BudgetConfig } from 'nest-agent-policy';
import type { Harness } from '../support/agent-api.harness';
import { send } from '../support/http-client';
import { REDIS_URL, createTestDatabase, itWith } from '../support/services';
import { newCaller, newSession, startWithBudgets } from '../budget-http/budget-http.fixtures';

const BUDGETS: BudgetConfig = { principal: { day: { requests: 10_000, cost: 1_000 } } };
const CALLS = 40;

type Setup = 'postgres' | 'sqlite' | 'redis';

interface Stored {
  ledgerRows: number;
  ledgerCost: number;
  counters: Array<{ unit: string; used: number; reserved: number }>;
}

describe.each([
  ['express', 'postgres'],
  ['fastify', 'postgres'],
  ['express', 'sqlite'],
  ['express', 'redis'],
  ['fastify', 'redis'],
] as Array<['express' | 'fastify', Setup]>)('budget settlements at shutdown (%s, %s)', (adapter, setup) => {
  const it = setup === 'sqlite' ? itWith() : setup === 'postgres' ? itWith('postgres') : itWith('postgres', 'redis');
  let dir: string;
  let databaseUrl: string;
  let drop: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'settle-shutdown-'));
    if (setup === 'sqlite') {
      databaseUrl = `sqlite:${join(dir, 'db.sqlite')}`;
      drop = undefined;
    } else {
      const db = await createTestDatabase('settleshut');
      databaseUrl = db.url;
      drop = db.drop;
    }
  });
  afterEach(async () => {
    await drop?.();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = () =>
    startWithBudgets(adapter, BUDGETS, { DATABASE_URL: databaseUrl, ...(setup === 'redis' ? { REDIS_URL } : {}) });

  /** What the closed app left: the caller's ledger rows and counters, read from the database and Redis directly. */
  async function stored(sub: string): Promise<Stored> {
    let ledger: Array<{ cost: number }>;
    let counters: Array<{ key: string; used: number; reserved: number }>;
    if (setup === 'sqlite') {
      const db = new DataSource({ type: 'better-sqlite3', database: databaseUrl.slice('sqlite:'.length) });
      await db.initialize();
      ledger = await db.query('SELECT cost_micro_usd AS cost FROM policy_usage_ledger WHERE principal_id = ?', [sub]);
      counters = await db.query('SELECT key, used, reserved FROM policy_budget_counters WHERE key LIKE ?', [
        `principal:%${sub}:day:%`,
      ]);
      await db.destroy();
    } else {
      const pg = new Client({ connectionString: databaseUrl });
      await pg.connect();
      ledger = (
        await pg.query<{ cost: string }>(
          'SELECT cost_micro_usd AS cost FROM policy_usage_ledger WHERE principal_id = $1',
          [sub],
        )
      ).rows.map((r) => ({ cost: Number(r.cost) }));
      counters =
        setup === 'postgres'
          ? (
              await pg.query<{ key: string; used: string; reserved: string }>(
                'SELECT key, used, reserved FROM policy_budget_counters WHERE key LIKE $1',
                [`principal:%${sub}:day:%`],
              )
            ).rows.map((r) => ({ key: r.key, used: Number(r.used), reserved: Number(r.reserved) }))
          : [];
      await pg.end();
      if (setup === 'redis') {
        const redis = new Redis(REDIS_URL);
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, found] = await redis.scan(
            cursor,
            'MATCH',
            `nap:budget:{budget}:c:principal:*${sub}:day:*`,
            'COUNT',
            5_000,
          );
          cursor = next;
          keys.push(...found);
        } while (cursor !== '0');
        for (const key of keys) {
          const [used, reserved] = await redis.hmget(key, 'used', 'reserved');
          counters.push({ key, used: Number(used ?? 0), reserved: Number(reserved ?? 0) });
        }
        await redis.quit();
      }
    }
    return {
      ledgerRows: ledger.length,
      ledgerCost: ledger.reduce((sum, r) => sum + r.cost, 0),
      counters: counters.map((c) => ({
        unit: c.key.slice(c.key.lastIndexOf(':') + 1),
        used: c.used,
        reserved: c.reserved,
      })),
    };
  }

  /**
   * One budgeted call on a connection of its own, closed after the answer (an idle kept-alive connection would hold
   * the HTTP server's close for its keep-alive timeout: Fastify's is 72 s). A failed connection answers status 0.
   */
  const post = (h: Harness, session: string, headers: Record<string, string>, i: number) =>
    send(
      Number(new URL(h.url).port),
      'POST',
      `/sessions/${session}/events`,
      headers,
      { message: `call ${i}: ${'word '.repeat(i % 9)}` },
      { fresh: true },
    ).catch(() => ({ status: 0 }));

  function expectConsistent(s: Stored, answered: number): void {
    expect(s.ledgerRows).toBe(answered);
    const byUnit = Object.fromEntries(s.counters.map((c) => [c.unit, c]));
    expect(byUnit.requests).toMatchObject({ used: answered, reserved: 0 });
    expect(byUnit.cost).toMatchObject({ used: s.ledgerCost, reserved: 0 });
  }

  it(`closed right after ${CALLS} answers: a ledger row per answer, counters = ledger, nothing reserved`, async () => {
    const h = await start();
    const caller = newCaller();
    const session = await newSession(h.url, caller.headers);
    const results = await Promise.all(Array.from({ length: CALLS }, (_, i) => post(h, session, caller.headers, i)));
    expect(results.map((r) => r.status)).toEqual(results.map(() => 201));
    await h.app.close();
    expectConsistent(await stored(caller.sub), CALLS);
  }, 60_000);

  it(`closed while ${CALLS} calls are in flight: every answered call is in the ledger and charged once`, async () => {
    const h = await start();
    const caller = newCaller();
    const session = await newSession(h.url, caller.headers);
    let closing: Promise<void> | undefined;
    const results = await Promise.all(
      Array.from({ length: CALLS }, async (_, i) => {
        const res = await post(h, session, caller.headers, i);
        // The first answer starts the shutdown: the others are answered (or refused) while it runs.
        closing ??= h.app.close();
        return res;
      }),
    );
    await closing;
    const answered = results.filter((r) => r.status === 201).length;
    // Fastify refuses a request that reaches it once the close has begun with its own 503 and `Connection: close`
    // (`return503OnClosing`): a refusal of a call that never ran, which the counters and the ledger must not show.
    const refusedWhileClosing = (r: (typeof results)[number]) =>
      adapter === 'fastify' && r.status === 503 && 'headers' in r && r.headers.connection === 'close';
    expect(results.filter((r) => r.status >= 500 && !refusedWhileClosing(r))).toEqual([]);
    expect(answered).toBeGreaterThan(0);
    expectConsistent(await stored(caller.sub), answered);
  }, 60_000);

  it('a call answered while the HTTP server closes is settled and in the ledger (a store taking 200 ms)', async () => {
    const h = await start();
    const caller = newCaller();
    const session = await newSession(h.url, caller.headers);
    // A slower store (a busy database or Redis): the call is still reserving when the shutdown starts, so it is
    // answered while Nest closes the HTTP server, and its settlement lands after that.
    const store = h.app.get<BudgetStore>(BudgetStore);
    const slow =
      <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        return fn(...args);
      };
    store.reserve = slow(store.reserve.bind(store));
    store.settle = slow(store.settle.bind(store));
    const answer = post(h, session, caller.headers, 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = h.app.close();
    const res = await answer;
    await closing;
    expect(res.status).toBe(201);
    expectConsistent(await stored(caller.sub), 1);
  }, 60_000);
});
