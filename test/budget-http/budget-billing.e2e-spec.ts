/**
 * Every stored exchange is charged exactly once: 50 budgeted posts in flight at once on one session, with a budget
 * that admits them all. None may fail (no 500), the ledger holds one row per stored exchange, and the counters hold
 * what the ledger holds — on the database store (SQLite, whose one connection the app's own transactions share with
 * the store's group commit) and on the Redis store, on Express and Fastify.
 */
import type { BudgetConfig } from 'nest-agent-policy';
import type { Harness } from '../support/agent-api.harness';
import { REDIS_URL, itWith } from '../support/services';
import {
  budgetOf,
  call,
  micro,
  newCaller,
  newSession,
  postEventsConcurrently,
  remaining,
  startWithBudgets,
  usageOnceFlushed,
} from './budget-http.fixtures';

const CALLS = 50;
const BUDGETS: BudgetConfig = { principal: { day: { requests: 10_000, cost: 1_000 } } };

type Store = 'database' | 'redis';
const matrix: Array<['express' | 'fastify', Store]> = [
  ['express', 'database'],
  ['fastify', 'database'],
  ['express', 'redis'],
  ['fastify', 'redis'],
];

/** Every event of a session, through the paginated list. */
async function storedEvents(
  url: string,
  headers: Record<string, string>,
  sessionId: string,
): Promise<Array<{ role: string }>> {
  const items: Array<{ role: string }> = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `limit=100&cursor=${cursor}` : 'limit=100';
    const page = await call<{ items: Array<{ role: string }>; nextCursor: string | null }>(
      `${url}/sessions/${sessionId}/events?${query}`,
      'GET',
      headers,
    );
    if (page.status !== 200) throw new Error(`GET events answered ${page.status}`);
    items.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return items;
}

describe.each(matrix)('every stored exchange is charged once (%s, %s store)', (adapter, store) => {
  const it = store === 'redis' ? itWith('redis') : itWith();
  let h: Harness;

  beforeAll(async () => {
    h = await startWithBudgets(adapter, BUDGETS, store === 'redis' ? { REDIS_URL } : {});
  }, 30_000);
  afterAll(async () => {
    await h?.close();
  });

  it(`answers ${CALLS} concurrent posts without a 500; ledger rows = stored exchanges; counters = ledger`, async () => {
    const caller = newCaller();
    const session = await newSession(h.url, caller.headers);
    for (let round = 0; round < 2; round += 1) {
      const results = await postEventsConcurrently([h.url], session, caller.headers, CALLS, `round ${round}: hello`);
      expect(results.map((r) => r.status)).toEqual(Array.from({ length: CALLS }, () => 201));
    }
    const admitted = CALLS * 2;
    const events = await storedEvents(h.url, caller.headers, session);
    expect(events.filter((e) => e.role === 'customer')).toHaveLength(admitted);
    expect(events.filter((e) => e.role === 'agent')).toHaveLength(admitted);

    const ledger = await usageOnceFlushed(h.url, caller.headers, 'groupBy=principal', admitted, 15_000);
    expect(ledger).toHaveLength(1);
    expect(ledger[0].requests).toBe(admitted);

    const budgets = await remaining(h.url, caller.headers);
    expect(budgetOf(budgets, 'principal', 'day', 'requests')).toMatchObject({ used: admitted, reserved: 0 });
    const cost = budgetOf(budgets, 'principal', 'day', 'cost');
    expect(micro(cost.used)).toBe(micro(ledger[0].cost));
    expect(cost.reserved).toBe(0);
  }, 60_000);
});
