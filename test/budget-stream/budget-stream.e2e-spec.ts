/**
 * Streamed replies under budgets, as a client of agent-api sees them (SPEC §13): `POST /sessions/:id/events` with
 * `Accept: text/event-stream` answers `token` events and a final `done`; a budget that cannot hold the whole reply
 * admits the stream and cuts it exactly where it ends (an `error` event `budget_exceeded`), charging exactly what
 * was sent; a refused admission is a plain JSON 402; a client that hangs up is charged what it was sent and the
 * ledger row says `cancelled`; concurrent streams never spend past a shared budget. Express and Fastify.
 */
import { encode } from 'gpt-tokenizer';
import { UsageLedgerEntity } from 'nest-agent-policy';
import { DataSource } from 'typeorm';
import type { Harness } from '../support/agent-api.harness';
import { eventsNamed, postSse } from '../support/sse-client';
import { startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { REDIS_URL, createTestDatabase, itWith } from '../support/services';
import {
  ECHO_PRICE,
  budgetOf,
  call,
  micro,
  newCaller,
  newSession,
  remaining,
  startWithBudgets,
  usageOnceFlushed,
  writePolicyFile,
} from '../budget-http/budget-http.fixtures';

const MESSAGE = 'Streaming replies are metered token by token, so a budget holds in the middle of a reply as well.';
const INPUT = encode(MESSAGE).length;
const costOf = (input: number, output: number): number =>
  Math.ceil(input * ECHO_PRICE.input + output * ECHO_PRICE.output);

/** The caller's usage-ledger rows, once `count` of them were written (the ledger writes off the request path). */
async function ledgerRows(
  h: Harness,
  principalId: string,
  count: number,
  timeoutMs = 10_000,
): Promise<UsageLedgerEntity[]> {
  const ledger = h.app.get(DataSource).getRepository(UsageLedgerEntity);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await ledger.findBy({ principalId });
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(['express', 'fastify'] as const)('streamed replies under budgets (%s)', (adapter) => {
  describe('one caller, its own budgets', () => {
    let h: Harness;
    // Each test's caller has a fresh principal, so the principal's tokens budget is what each test sets up.
    const PRINCIPAL_TOKENS = INPUT + 7;

    beforeAll(async () => {
      h = await startWithBudgets(adapter, {
        softLimitPercent: 80,
        principal: { day: { tokens: PRINCIPAL_TOKENS } },
        global: { month: { cost: 10_000 } },
      });
    });
    afterAll(() => h.close());

    it('streams the whole reply as token events, then done with the exchange, its usage and the settled budget', async () => {
      // A roomy caller: the principal budget is tight, so this one posts a message that fits it.
      const caller = newCaller();
      const session = await newSession(h.url, caller.headers);
      const message = 'Hi there';
      const input = encode(message).length;

      const res = await postSse(`${h.url}/sessions/${session}/events`, caller.headers, { message });

      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      // As reserved: the stream holds what the budget has room for (all of it here), and says so.
      expect(res.headers.get('x-budget-remaining')).toBe('0; unit=tokens; scope=principal; period=day');
      expect(res.headers.get('x-budget-warning')).toBe('100');
      const tokens = eventsNamed(res, 'token').map((e) => (e.data as { text: string }).text);
      expect(tokens).toHaveLength(input);
      expect(tokens.join('')).toBe(message);
      expect(res.events.at(-1)?.event).toBe('done');
      const done = res.events.at(-1)!.data as {
        event: { message: string };
        reply: { message: string };
        usage: { inputTokens: number; outputTokens: number; cost: number };
        budget: { remaining: string; warning?: number };
      };
      expect(done.event.message).toBe(message);
      expect(done.reply.message).toBe(message);
      expect(done.usage).toMatchObject({ inputTokens: input, outputTokens: input });
      expect(micro(done.usage.cost)).toBe(costOf(input, input));
      // As settled: what the reply used, and no warning below the soft limit.
      expect(done.budget.remaining).toBe(`${PRINCIPAL_TOKENS - 2 * input}; unit=tokens; scope=principal; period=day`);
      expect(done.budget.warning).toBeUndefined();

      const rows = await ledgerRows(h, caller.sub, 1);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ inputTokens: input, outputTokens: input, status: 'settled' });
    });

    it('cuts the stream exactly where the budget ends and charges exactly what was sent', async () => {
      const caller = newCaller();
      const session = await newSession(h.url, caller.headers);

      const res = await postSse(`${h.url}/sessions/${session}/events`, caller.headers, { message: MESSAGE });

      expect(res.status).toBeLessThan(300);
      const tokens = eventsNamed(res, 'token');
      expect(tokens).toHaveLength(7);
      expect(res.events.at(-1)).toMatchObject({ event: 'error', data: { code: 'budget_exceeded' } });
      expect(typeof (res.events.at(-1)!.data as { message: unknown }).message).toBe('string');
      expect(eventsNamed(res, 'done')).toHaveLength(0);

      const budgets = await remaining(h.url, caller.headers);
      expect(budgetOf(budgets, 'principal', 'day', 'tokens')).toMatchObject({
        used: PRINCIPAL_TOKENS,
        reserved: 0,
        remaining: 0,
      });
      const rows = await ledgerRows(h, caller.sub, 1);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ inputTokens: INPUT, outputTokens: 7 });
      expect(Number(rows[0].costMicroUsd)).toBe(costOf(INPUT, 7));
    });

    it('refuses a stream the budget has no room for with a plain JSON 402, before any byte of the stream', async () => {
      const caller = newCaller();
      const session = await newSession(h.url, caller.headers);
      await postSse(`${h.url}/sessions/${session}/events`, caller.headers, { message: MESSAGE });

      const res = await postSse(`${h.url}/sessions/${session}/events`, caller.headers, { message: MESSAGE });

      expect(res.status).toBe(402);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(res.json).toMatchObject({ statusCode: 402, code: 'budget_exceeded', scope: 'principal', unit: 'tokens' });
      expect(budgetOf(await remaining(h.url, caller.headers), 'principal', 'day', 'tokens')).toMatchObject({
        used: PRINCIPAL_TOKENS,
        reserved: 0,
      });
    });

    it('answers errors before the stream as JSON: a session of another tenant is a 404, a bad body a 400', async () => {
      const owner = newCaller();
      const session = await newSession(h.url, owner.headers);
      const other = newCaller();

      const notFound = await postSse(`${h.url}/sessions/${session}/events`, other.headers, { message: 'hi' });
      const invalid = await postSse(`${h.url}/sessions/${session}/events`, owner.headers, { message: 42 });

      expect(notFound).toMatchObject({ status: 404, json: { code: 'not_found' } });
      expect(invalid).toMatchObject({ status: 400, json: { code: 'validation_failed' } });
      expect(budgetOf(await remaining(h.url, other.headers), 'principal', 'day', 'tokens')).toMatchObject({
        used: 0,
        reserved: 0,
      });
    });

    it('without the streaming Accept header, still reserves the full estimate (a 402 where a stream is admitted)', async () => {
      const caller = newCaller();
      const session = await newSession(h.url, caller.headers);
      const res = await call(`${h.url}/sessions/${session}/events`, 'POST', caller.headers, { message: 'Hi there' });
      expect(res.status).toBe(402);
      expect(res.body).toMatchObject({ code: 'budget_exceeded', scope: 'principal', unit: 'tokens' });
    });
  });

  describe('a client that hangs up', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await startWithBudgets(adapter, { principal: { day: { tokens: 1_000_000 } } }, { ECHO_TOKEN_DELAY_MS: '25' });
    });
    afterAll(() => h.close());

    it('is charged the tokens it was sent (± the one in flight), generation stops, and the ledger says cancelled', async () => {
      const caller = newCaller();
      const session = await newSession(h.url, caller.headers);

      const res = await postSse(
        `${h.url}/sessions/${session}/events`,
        caller.headers,
        { message: MESSAGE },
        { stopAfter: { event: 'token', count: 5 } },
      );

      expect(res.aborted).toBe(true);
      const rows = await ledgerRows(h, caller.sub, 1);
      expect(rows).toHaveLength(1);
      expect(rows[0].status).toBe('cancelled');
      expect(rows[0].inputTokens).toBe(INPUT);
      expect(rows[0].outputTokens).toBeGreaterThanOrEqual(5);
      expect(rows[0].outputTokens).toBeLessThanOrEqual(6);
      // Nothing is left reserved, and nothing more is charged while the rest of the reply would have been produced: the
      // pause is the time those tokens would have taken, the absence of a charge in it is what is checked.
      await new Promise((resolve) => setTimeout(resolve, 25 * 10));
      const tokens = budgetOf(await remaining(h.url, caller.headers), 'principal', 'day', 'tokens');
      expect(tokens).toMatchObject({ used: INPUT + rows[0].outputTokens, reserved: 0 });
      expect(await ledgerRows(h, caller.sub, 2, 1_000)).toHaveLength(1);
    });
  });

  describe('50 concurrent streams against a small shared budget', () => {
    let h: Harness;
    const TENANT_TOKENS = 400;

    beforeAll(async () => {
      h = await startWithBudgets(adapter, { tenant: { day: { tokens: TENANT_TOKENS } } }, { ECHO_TOKEN_DELAY_MS: '2' });
    });
    afterAll(() => h.close());

    it('never spend past it, and are charged exactly what they streamed', async () => {
      const caller = newCaller();
      const session = await newSession(h.url, caller.headers);

      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          postSse(`${h.url}/sessions/${session}/events`, caller.headers, { message: MESSAGE }),
        ),
      );

      const admitted = results.filter((r) => r.events.length > 0);
      const refused = results.filter((r) => r.status === 402);
      expect(admitted.length + refused.length).toBe(50);
      expect(admitted.length).toBeGreaterThan(0);
      expect(refused.length).toBeGreaterThan(0);
      const streamed = admitted.reduce((sum, r) => sum + INPUT + eventsNamed(r, 'token').length, 0);
      expect(streamed).toBeLessThanOrEqual(TENANT_TOKENS);
      const tokens = budgetOf(await remaining(h.url, caller.headers), 'tenant', 'day', 'tokens');
      expect(tokens.reserved).toBe(0);
      expect(tokens.used).toBe(streamed);
      const rows = await ledgerRows(h, caller.sub, admitted.length);
      expect(rows).toHaveLength(admitted.length);
      expect(rows.reduce((sum, r) => sum + r.inputTokens + r.outputTokens, 0)).toBe(streamed);
    });
  });
});

describe('50 concurrent streams across two processes sharing PostgreSQL and Redis', () => {
  const it = itWith('postgres', 'redis');
  const TENANT_TOKENS = 400;
  let processes: AgentApiProcess[] = [];
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const db = await createTestDatabase('budgetstream');
    drop = db.drop;
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL,
      ECHO_TOKEN_DELAY_MS: '2',
      POLICY_CONFIG: writePolicyFile({ tenant: { day: { tokens: TENANT_TOKENS } } }),
    };
    // One after the other: the first applies the migrations.
    processes.push(await startAgentApiProcess(env));
    processes.push(await startAgentApiProcess(env));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    processes = [];
    if (drop) await drop();
  }, 30_000);

  it('never spend past the shared budget, and are charged exactly what they streamed', async () => {
    const urls = processes.map((p) => p.url);
    const caller = newCaller();
    const session = await newSession(urls[0], caller.headers);

    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        postSse(`${urls[i % 2]}/sessions/${session}/events`, caller.headers, { message: MESSAGE }),
      ),
    );

    const admitted = results.filter((r) => r.events.length > 0);
    expect(admitted.length + results.filter((r) => r.status === 402).length).toBe(50);
    expect(admitted.length).toBeGreaterThan(0);
    const streamed = admitted.reduce((sum, r) => sum + INPUT + eventsNamed(r, 'token').length, 0);
    expect(streamed).toBeLessThanOrEqual(TENANT_TOKENS);
    for (const url of urls) {
      const tokens = budgetOf(await remaining(url, caller.headers), 'tenant', 'day', 'tokens');
      expect(tokens).toMatchObject({ used: streamed, reserved: 0 });
    }
    const ledger = await usageOnceFlushed(urls[0], caller.headers, 'groupBy=principal', admitted.length, 15_000);
    expect(ledger).toHaveLength(1);
    expect(ledger[0].requests).toBe(admitted.length);
    expect(ledger[0].inputTokens + ledger[0].outputTokens).toBe(streamed);
  }, 120_000);
});
