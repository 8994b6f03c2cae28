/**
 * No overspend: 500 budgeted calls in flight at once against a budget that admits exactly 100. Exactly 100 are
 * answered 201 and the rest 402, the usage ledger holds exactly what was charged, and nothing stays reserved:
 * in one process on SQLite, in two processes sharing Redis (and one PostgreSQL database), and in two processes
 * sharing only PostgreSQL.
 */
import type { BudgetConfig } from 'nest-agent-policy';
import type { Harness } from '../support/agent-api.harness';
import { startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { REDIS_URL, createTestDatabase, itWith } from '../support/services';
import {
  startWithBudgets,
  budgetOf,
  micro,
  newCaller,
  newSession,
  postEventsConcurrently,
  remaining,
  usageOnceFlushed,
  writePolicyFile,
} from './budget-http.fixtures';

const CALLS = 500;
const ADMITTED = 100;

/** 100 calls a day per principal; a cost budget too large to matter, to compare the counters with the ledger. */
const BUDGETS: BudgetConfig = { principal: { day: { requests: ADMITTED, cost: 1_000 } } };

/**
 * Fires the calls spread over `urls`, then checks the outcome through `urls[0]`: exactly `ADMITTED` 201s, 402s for
 * the rest, the ledger and the counters both holding the sum of the costs the 201s reported, nothing reserved.
 */
async function proveExactAdmission(urls: string[]): Promise<void> {
  const caller = newCaller();
  const session = await newSession(urls[0], caller.headers);

  const results = await postEventsConcurrently(urls, session, caller.headers, CALLS, 'how much is left?');

  const statuses = results.map((r) => r.status);
  expect(statuses.filter((s) => s === 201)).toHaveLength(ADMITTED);
  expect(statuses.filter((s) => s === 402)).toHaveLength(CALLS - ADMITTED);
  for (const refused of results.filter((r) => r.status === 402)) {
    expect(refused.body).toMatchObject({
      code: 'budget_exceeded',
      scope: 'principal',
      period: 'day',
      unit: 'requests',
    });
  }
  const admitted = results.filter((r) => r.status === 201).map((r) => r.body.usage!);
  const charged = admitted.reduce((sum, u) => sum + micro(u.cost), 0);
  expect(charged).toBeGreaterThan(0);

  const ledger = await usageOnceFlushed(urls[0], caller.headers, 'groupBy=principal', ADMITTED, 15_000);
  expect(ledger).toHaveLength(1);
  expect(ledger[0]).toMatchObject({
    key: caller.sub,
    requests: ADMITTED,
    inputTokens: admitted.reduce((sum, u) => sum + u.inputTokens, 0),
    outputTokens: admitted.reduce((sum, u) => sum + u.outputTokens, 0),
  });
  expect(micro(ledger[0].cost)).toBe(charged);

  for (const url of urls) {
    const budgets = await remaining(url, caller.headers);
    expect(budgetOf(budgets, 'principal', 'day', 'requests')).toMatchObject({
      limit: ADMITTED,
      used: ADMITTED,
      reserved: 0,
      remaining: 0,
    });
    const cost = budgetOf(budgets, 'principal', 'day', 'cost');
    expect(micro(cost.used)).toBe(charged);
    expect(cost.reserved).toBe(0);
  }
}

describe('exact admission under 500 concurrent calls', () => {
  describe('one process, database store (SQLite)', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startWithBudgets('express', BUDGETS);
    });
    afterAll(() => h.close());

    it('admits exactly 100 and charges the ledger exactly what it reported', async () => {
      await proveExactAdmission([h.url]);
    }, 60_000);
  });

  describe.each([
    ['two processes sharing Redis and one PostgreSQL database', true],
    ['two processes sharing one PostgreSQL database, no Redis', false],
  ] as const)('%s', (_name, withRedis) => {
    const it = withRedis ? itWith('postgres', 'redis') : itWith('postgres');
    let processes: AgentApiProcess[] = [];
    let drop: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const db = await createTestDatabase('budgethttp');
      drop = db.drop;
      const env: Record<string, string> = { DATABASE_URL: db.url, POLICY_CONFIG: writePolicyFile(BUDGETS) };
      if (withRedis) env.REDIS_URL = REDIS_URL;
      // One after the other: the first applies the migrations.
      processes.push(await startAgentApiProcess(env));
      processes.push(await startAgentApiProcess(env));
    }, 90_000);

    afterAll(async () => {
      await Promise.all(processes.map((p) => p.stop()));
      processes = [];
      if (drop) await drop();
    }, 30_000);

    it('admits exactly 100 across both and charges the ledger exactly what they reported', async () => {
      const log = processes.map((p) => p.output()).join('\n');
      expect(log).toContain(withRedis ? 'redis stores' : 'memory stores');
      await proveExactAdmission(processes.map((p) => p.url));
    }, 120_000);
  });
});
