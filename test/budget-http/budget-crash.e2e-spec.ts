/**
 * A process killed (SIGKILL) while it holds reservations never keeps a budget blocked: once the reservation ttl
 * (`budgets.reservationTtl`, stamped on each reservation when it is made) has passed, what the dead process held
 * comes back. Two processes share the counters (Redis, or PostgreSQL alone); one is killed while 200 budgeted
 * calls are in flight on it, the other observes.
 */
import type { BudgetConfig } from 'nest-agent-policy';
import { startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { REDIS_URL, createTestDatabase, itWith } from '../support/services';
import {
  budgetOf,
  call,
  newCaller,
  newSession,
  postEventsConcurrently,
  remaining,
  writePolicyFile,
  type BudgetView,
} from './budget-http.fixtures';

const IN_FLIGHT = 200;
const LIMIT = 200;
const TTL_SECONDS = 5;

const BUDGETS: BudgetConfig = { reservationTtl: TTL_SECONDS, principal: { day: { requests: LIMIT } } };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([
  ['Redis and PostgreSQL', true],
  ['PostgreSQL without Redis', false],
] as const)('reservations of a killed process (%s)', (_name, withRedis) => {
  const it = withRedis ? itWith('postgres', 'redis') : itWith('postgres');
  let survivor: AgentApiProcess | undefined;
  let drop: (() => Promise<void>) | undefined;
  const caller = newCaller();
  let session = '';
  let killedAt = 0;
  let answered = { created: 0, refused: 0, lost: 0 };
  let afterKill: BudgetView;

  beforeAll(async () => {
    const db = await createTestDatabase('budgetcrash');
    drop = db.drop;
    const env: Record<string, string> = { DATABASE_URL: db.url, POLICY_CONFIG: writePolicyFile(BUDGETS) };
    if (withRedis) env.REDIS_URL = REDIS_URL;
    survivor = await startAgentApiProcess(env);
    const victim = await startAgentApiProcess(env);
    session = await newSession(survivor.url, caller.headers);

    // Every call is in flight on the victim; it dies as soon as the first answer is back.
    let killing: Promise<unknown> | undefined;
    const kill = () => {
      if (!killing) {
        killedAt = Date.now();
        killing = victim.stop('SIGKILL');
      }
    };
    const calls = Array.from({ length: IN_FLIGHT }, () =>
      call(`${victim.url}/sessions/${session}/events`, 'POST', caller.headers, { message: 'still thinking' })
        .then((res) => res.status)
        .catch(() => 0)
        .finally(kill),
    );
    const statuses = await Promise.all(calls);
    await killing;
    answered = {
      created: statuses.filter((s) => s === 201).length,
      refused: statuses.filter((s) => s === 402).length,
      lost: statuses.filter((s) => s === 0).length,
    };
    afterKill = budgetOf(await remaining(survivor.url, caller.headers), 'principal', 'day', 'requests');
  }, 120_000);

  afterAll(async () => {
    await survivor?.stop();
    if (drop) await drop();
  }, 30_000);

  it('was killed while its calls held reservations', () => {
    expect(answered.lost).toBeGreaterThan(0);
    expect(answered.refused).toBe(0);
    expect(afterKill.used).toBeGreaterThanOrEqual(answered.created);
    expect(afterKill.reserved).toBeGreaterThan(0);
    expect(afterKill.used + afterKill.reserved + afterKill.remaining).toBe(LIMIT);
  });

  it('shows the budget whole again in GET /budgets/remaining once the ttl has passed', async () => {
    // The reservation ttl running out is what this test is about: it waits for the ttl, not for an output.
    await sleep(Math.max(0, killedAt + TTL_SECONDS * 1000 + 1500 - Date.now()));

    const budget = budgetOf(await remaining(survivor!.url, caller.headers), 'principal', 'day', 'requests');

    expect(budget.reserved).toBe(0);
    expect(budget.used + budget.remaining).toBe(LIMIT);
  }, 30_000);

  it('admits exactly what the dead process did not use once the ttl has passed', async () => {
    await sleep(Math.max(0, killedAt + TTL_SECONDS * 1000 + 1500 - Date.now()));
    const used = afterKill.used;

    // In small waves, so no call of this test outlives the short ttl itself.
    const statuses: number[] = [];
    for (let left = LIMIT - used; left > 0; left -= 20) {
      const wave = await postEventsConcurrently(
        [survivor!.url],
        session,
        caller.headers,
        Math.min(20, left),
        'after the crash',
      );
      statuses.push(...wave.map((r) => r.status));
    }
    expect(statuses.filter((s) => s !== 201)).toEqual([]);
    const over = await call(`${survivor!.url}/sessions/${session}/events`, 'POST', caller.headers, {
      message: 'one too many',
    });
    expect(over.status).toBe(402);

    const budget = budgetOf(await remaining(survivor!.url, caller.headers), 'principal', 'day', 'requests');
    expect(budget).toMatchObject({ used: LIMIT, reserved: 0, remaining: 0 });
  }, 60_000);
});
