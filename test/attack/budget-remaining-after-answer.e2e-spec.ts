/**
 * `GET /budgets/remaining` asked right after each answer of a budgeted call — with the store as it is, and with a
 * store whose settlements take 150 ms — must show every answered call settled (used, nothing reserved), on the
 * database store and on Redis, on both adapters.
 */
import { BudgetStore, type BudgetConfig } from 'nest-agent-policy';
import type { Harness } from '../support/agent-api.harness';
import { REDIS_URL, itWith } from '../support/services';
import {
  budgetOf,
  call,
  micro,
  newCaller,
  newSession,
  remaining,
  startWithBudgets,
  type EventReply,
} from '../budget-http/budget-http.fixtures';

const BUDGETS: BudgetConfig = { principal: { day: { requests: 10_000, cost: 1_000 } } };

describe.each([
  ['express', 'database'],
  ['fastify', 'database'],
  ['express', 'redis'],
  ['fastify', 'redis'],
] as Array<['express' | 'fastify', 'database' | 'redis']>)(
  'budgets right after an answer (%s, %s store)',
  (adapter, store) => {
    const it = store === 'redis' ? itWith('redis') : itWith();
    let h: Harness;

    beforeAll(async () => {
      h = await startWithBudgets(adapter, BUDGETS, store === 'redis' ? { REDIS_URL } : {});
    }, 30_000);
    afterAll(() => h?.close());

    it.each([0, 150])(
      'shows each answered call settled (store settling in +%i ms)',
      async (delayMs) => {
        const budgetStore = h.app.get<BudgetStore>(BudgetStore);
        const settle = budgetStore.settle;
        if (delayMs) {
          budgetStore.settle = async (...args) => {
            await new Promise((resolve) => setTimeout(resolve, delayMs));
            return settle.apply(budgetStore, args);
          };
        }
        try {
          const caller = newCaller();
          const session = await newSession(h.url, caller.headers);
          let cost = 0;
          for (let i = 1; i <= 8; i++) {
            const res = await call<EventReply>(`${h.url}/sessions/${session}/events`, 'POST', caller.headers, {
              message: `call ${i} ${'word '.repeat(i)}`,
            });
            expect(res.status).toBe(201);
            cost += micro(res.body.usage.cost);
            const budgets = await remaining(h.url, caller.headers);
            expect(budgetOf(budgets, 'principal', 'day', 'requests')).toMatchObject({ used: i, reserved: 0 });
            const shown = budgetOf(budgets, 'principal', 'day', 'cost');
            expect({ used: micro(shown.used), reserved: shown.reserved }).toEqual({ used: cost, reserved: 0 });
          }
        } finally {
          budgetStore.settle = settle;
        }
      },
      30_000,
    );
  },
);
