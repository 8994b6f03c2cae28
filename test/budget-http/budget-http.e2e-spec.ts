/**
 * Budgets as a client of agent-api sees them: the budget headers, the 201 body's usage and cost, the 402 when a
 * budget would be exceeded (with nothing reserved anywhere), reservations given back when the call fails,
 * `GET /budgets/remaining` and `GET /usage`. Runs on Express and Fastify, with the database budget store (SQLite).
 */
import { encode } from 'gpt-tokenizer';
import type { BudgetConfig } from 'nest-agent-policy';
import { signToken, type Harness } from '../support/agent-api.harness';
import {
  ECHO_PRICE,
  startWithBudgets,
  budgetOf,
  call,
  micro,
  newCaller,
  newSession,
  remaining,
  usage,
  usageOnceFlushed,
  type EventReply,
} from './budget-http.fixtures';

/**
 * Ten calls a day per principal and fifteen per tenant: the principal's request budget is the tightest for one
 * caller, the tenant's once two callers of a tenant share it.
 */
const BUDGETS: BudgetConfig = {
  softLimitPercent: 80,
  principal: { day: { cost: 5, tokens: 200_000, requests: 10 } },
  tenant: { day: { requests: 15 }, month: { cost: 500 } },
  global: { month: { cost: 10_000 } },
};

const DAY_MS = 86_400_000;
const nextUtcMidnight = (now: number): number => Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;

/** What echo-1 charges for a message, counted with the same tokenizer, rounded up to a whole micro-USD. */
function expectedUsage(message: string): { inputTokens: number; outputTokens: number; cost: number } {
  const inputTokens = encode(message).length;
  const outputTokens = Math.min(inputTokens, 256);
  const costMicro = Math.ceil(inputTokens * ECHO_PRICE.input + outputTokens * ECHO_PRICE.output);
  return { inputTokens, outputTokens, cost: costMicro / 1_000_000 };
}

describe.each(['express', 'fastify'] as const)('budgets over HTTP (%s)', (adapter) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startWithBudgets(adapter, BUDGETS);
  });
  afterAll(() => h.close());

  const postEvent = (session: string, headers: Record<string, string>, message: unknown) =>
    call<EventReply & { code?: string; statusCode?: number; message?: string }>(
      `${h.url}/sessions/${session}/events`,
      'POST',
      headers,
      { message },
    );

  it('answers the reply with its token usage and cost, and the budget headers', async () => {
    const caller = newCaller();
    const session = await newSession(h.url, caller.headers);
    const message = 'Please summarise the quarterly numbers for the board.';
    const before = Date.now();

    const res = await postEvent(session, caller.headers, message);

    expect(res.status).toBe(201);
    const expected = expectedUsage(message);
    expect(expected.inputTokens).toBeGreaterThan(5);
    expect(res.body.usage).toMatchObject(expected);
    expect(res.body.event).toMatchObject({ message });
    expect(res.body.reply).toMatchObject({ message });
    expect(res.headers.get('x-budget-remaining')).toBe('9; unit=requests; scope=principal; period=day');
    const reset = Number(res.headers.get('x-budget-reset'));
    expect(reset).toBeGreaterThanOrEqual(Math.floor((nextUtcMidnight(before) - Date.now()) / 1000) - 1);
    expect(reset).toBeLessThanOrEqual(Math.ceil((nextUtcMidnight(before) - before) / 1000) + 1);
    expect(res.headers.get('x-budget-warning')).toBeNull();
  });

  it('cuts the reply at 256 output tokens and charges what was used, not the estimate', async () => {
    const caller = newCaller();
    const session = await newSession(h.url, caller.headers);
    const message = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');
    expect(encode(message).length).toBeGreaterThan(256);

    const res = await postEvent(session, caller.headers, message);

    expect(res.status).toBe(201);
    const expected = expectedUsage(message);
    expect(res.body.usage).toMatchObject({ ...expected, outputTokens: 256 });
    expect(res.body.reply.message.length).toBeLessThan(message.length);
    expect(message.startsWith(res.body.reply.message)).toBe(true);
    const cost = budgetOf(await remaining(h.url, caller.headers), 'principal', 'day', 'cost');
    expect(cost).toMatchObject({ used: expected.cost, reserved: 0, limit: 5 });
    const tokens = budgetOf(await remaining(h.url, caller.headers), 'principal', 'day', 'tokens');
    expect(tokens).toMatchObject({
      used: expected.inputTokens + 256,
      reserved: 0,
      remaining: 200_000 - expected.inputTokens - 256,
    });
  });

  it('shows every budget of the caller in GET /budgets/remaining', async () => {
    const caller = newCaller();
    const session = await newSession(h.url, caller.headers);
    const message = 'two calls';
    await postEvent(session, caller.headers, message);
    await postEvent(session, caller.headers, message);
    const charged = 2 * expectedUsage(message).cost;

    const budgets = await remaining(h.url, caller.headers);

    const dayEnd = new Date(nextUtcMidnight(Date.now())).toISOString();
    const now = new Date();
    const monthEnd = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
    const tokens = 2 * (expectedUsage(message).inputTokens + expectedUsage(message).outputTokens);
    expect(budgets).toEqual(
      expect.arrayContaining([
        {
          scope: 'principal',
          period: 'day',
          unit: 'cost',
          limit: 5,
          used: charged,
          reserved: 0,
          remaining: 5 - charged,
          resetAt: dayEnd,
        },
        {
          scope: 'principal',
          period: 'day',
          unit: 'tokens',
          limit: 200_000,
          used: tokens,
          reserved: 0,
          remaining: 200_000 - tokens,
          resetAt: dayEnd,
        },
        {
          scope: 'principal',
          period: 'day',
          unit: 'requests',
          limit: 10,
          used: 2,
          reserved: 0,
          remaining: 8,
          resetAt: dayEnd,
        },
        {
          scope: 'tenant',
          period: 'day',
          unit: 'requests',
          limit: 15,
          used: 2,
          reserved: 0,
          remaining: 13,
          resetAt: dayEnd,
        },
        {
          scope: 'tenant',
          period: 'month',
          unit: 'cost',
          limit: 500,
          used: charged,
          reserved: 0,
          remaining: 500 - charged,
          resetAt: monthEnd,
        },
        expect.objectContaining({
          scope: 'global',
          period: 'month',
          unit: 'cost',
          limit: 10_000,
          reserved: 0,
          resetAt: monthEnd,
        }),
      ]),
    );
    expect(budgets).toHaveLength(6);
  });

  it('warns past the soft limit, then refuses with 402 and reserves nothing', async () => {
    const caller = newCaller();
    const session = await newSession(h.url, caller.headers);
    for (let i = 1; i <= 7; i++) {
      const res = await postEvent(session, caller.headers, `message ${i}`);
      expect(res.status).toBe(201);
      expect(res.headers.get('x-budget-warning')).toBeNull();
    }
    const eighth = await postEvent(session, caller.headers, 'message 8');
    expect(eighth.status).toBe(201);
    expect(eighth.headers.get('x-budget-warning')).toBe('80');
    expect(eighth.headers.get('x-budget-remaining')).toBe('2; unit=requests; scope=principal; period=day');
    await postEvent(session, caller.headers, 'message 9');
    const tenth = await postEvent(session, caller.headers, 'message 10');
    expect(tenth.status).toBe(201);
    expect(tenth.headers.get('x-budget-warning')).toBe('100');
    expect(tenth.headers.get('x-budget-remaining')).toBe('0; unit=requests; scope=principal; period=day');

    const before = await remaining(h.url, caller.headers);
    const refused = await postEvent(session, caller.headers, 'message 11');

    expect(refused.status).toBe(402);
    expect(refused.body).toEqual({
      statusCode: 402,
      code: 'budget_exceeded',
      message: expect.any(String),
      scope: 'principal',
      period: 'day',
      unit: 'requests',
      resetAt: new Date(nextUtcMidnight(Date.now())).toISOString(),
    });
    expect(await remaining(h.url, caller.headers)).toEqual(before);
    const events = await call<{ items: unknown[] }>(
      `${h.url}/sessions/${session}/events?limit=100`,
      'GET',
      caller.headers,
    );
    expect(events.body.items).toHaveLength(20);
  });

  it('refuses on the tenant budget without reserving on the principal budget that still had room', async () => {
    const first = newCaller();
    const second = {
      headers: { Authorization: `Bearer ${signToken({ roles: ['admin'], scope: 'admin', tenant_id: first.tenant })}` },
    };
    const session = await newSession(h.url, first.headers);
    for (let i = 0; i < 10; i++)
      expect((await postEvent(session, first.headers, 'from the first caller')).status).toBe(201);
    for (let i = 0; i < 5; i++)
      expect((await postEvent(session, second.headers, 'from the second caller')).status).toBe(201);

    const before = await remaining(h.url, second.headers);
    expect(budgetOf(before, 'principal', 'day', 'requests')).toMatchObject({ used: 5, reserved: 0, remaining: 5 });
    expect(budgetOf(before, 'tenant', 'day', 'requests')).toMatchObject({ used: 15, reserved: 0, remaining: 0 });

    const refused = await postEvent(session, second.headers, 'one too many for the tenant');

    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ code: 'budget_exceeded', scope: 'tenant', period: 'day', unit: 'requests' });
    expect(await remaining(h.url, second.headers)).toEqual(before);
  });

  it('gives the reservation back when the handler fails (unknown session: 404)', async () => {
    const caller = newCaller();
    const session = await newSession(h.url, caller.headers);
    await postEvent(session, caller.headers, 'one that succeeds');
    const before = await remaining(h.url, caller.headers);

    const missing = await postEvent('6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b', caller.headers, 'to nowhere');

    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ statusCode: 404, code: 'not_found' });
    expect(await remaining(h.url, caller.headers)).toEqual(before);
    expect(budgetOf(before, 'principal', 'day', 'requests')).toMatchObject({ used: 1, reserved: 0 });
  });

  it('gives the reservation back when the body is invalid (400)', async () => {
    const caller = newCaller();
    const session = await newSession(h.url, caller.headers);
    await postEvent(session, caller.headers, 'one that succeeds');
    const before = await remaining(h.url, caller.headers);

    const invalid = await postEvent(session, caller.headers, '');

    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ statusCode: 400, code: 'validation_failed' });
    expect(await remaining(h.url, caller.headers)).toEqual(before);
  });

  it('aggregates the usage ledger by model, principal and day, within since and until', async () => {
    const caller = newCaller();
    const session = await newSession(h.url, caller.headers);
    const since = new Date(Date.now() - 1000).toISOString();
    const messages = ['first question', 'a somewhat longer second question about budgets', 'third'];
    const replies = [];
    for (const message of messages) replies.push(await postEvent(session, caller.headers, message));
    const expected = messages.map(expectedUsage);
    const totals = {
      requests: 3,
      inputTokens: expected.reduce((s, e) => s + e.inputTokens, 0),
      outputTokens: expected.reduce((s, e) => s + e.outputTokens, 0),
    };
    const cost = expected.reduce((s, e) => s + micro(e.cost), 0);
    expect(replies.reduce((s, r) => s + micro(r.body.usage.cost), 0)).toBe(cost);

    const byModel = await usageOnceFlushed(h.url, caller.headers, 'groupBy=model', 3);
    expect(byModel).toHaveLength(1);
    expect(byModel[0]).toMatchObject({ key: 'echo-1', ...totals });
    expect(micro(byModel[0].cost)).toBe(cost);

    const byPrincipal = await usage(h.url, caller.headers, 'groupBy=principal');
    expect(byPrincipal).toEqual([{ key: caller.sub, ...totals, cost: byModel[0].cost }]);

    const byDay = await usage(h.url, caller.headers, 'groupBy=day');
    expect(byDay).toEqual([{ key: new Date().toISOString().slice(0, 10), ...totals, cost: byModel[0].cost }]);

    const until = new Date(Date.now() + 60_000).toISOString();
    expect(await usage(h.url, caller.headers, `groupBy=model&since=${since}&until=${until}`)).toEqual(byModel);
    expect(await usage(h.url, caller.headers, `groupBy=model&since=${until}`)).toEqual([]);
    expect(await usage(h.url, caller.headers, `groupBy=model&until=${since}`)).toEqual([]);
    const bad = await call(`${h.url}/usage?groupBy=week`, 'GET', caller.headers);
    expect(bad.status).toBe(400);
  });
});
