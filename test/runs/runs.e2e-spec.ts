/**
 * Agent runs as a client of agent-api sees them (SPEC §13): a run scripted to repeat forever stops at maxSteps, or
 * at maxRepeats when it calls the same tool with the same arguments; past maxCost it stops with max_cost, and with
 * `onLimit: approval` it pauses for a human and continues once approved; a cancel stops it within one step; its
 * steps are a Server-Sent Events feed; shutdown stops live runs with `shutdown`, their usage settled and nothing
 * left reserved. Express and Fastify.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import {
  ApprovalGate,
  ApprovalStore,
  type ApprovalView,
  type BudgetConfig,
  type CreateApprovalInput,
  type Principal,
  type RunLimits,
} from 'nest-agent-policy';
import { signToken, startAgentApi, type Harness } from '../support/agent-api.harness';
import { UNLIMITED_RATES, call, newSession } from '../budget-http/budget-http.fixtures';

interface RunView {
  id: string;
  status: string;
  stopReason: string | null;
  approvalId: string | null;
  steps: Array<{
    index: number;
    message: string;
    reply: string;
    usage: { inputTokens: number; outputTokens: number; cost: number };
  }>;
  toolCalls: Array<{ name: string; args: unknown; status: string }>;
  usage: { inputTokens: number; outputTokens: number; cost: number };
}

const BUDGETS: BudgetConfig = { principal: { day: { cost: 100 } } };

function start(
  adapter: 'express' | 'fastify',
  runs: RunLimits,
  options: { env?: Record<string, string> } = {},
): Promise<Harness> {
  return startAgentApi({
    adapter,
    env: options.env,
    configure: (config) => {
      config.policy.budgets = BUDGETS;
      config.policy.rateLimits = UNLIMITED_RATES;
      config.policy.runs = runs;
    },
  });
}

/** An admin of a tenant of its own, and a second admin of that tenant to decide its approvals. */
function callers() {
  const tenant = `runs-tenant-${randomUUID()}`;
  const token = (sub: string) =>
    signToken({ sub, roles: ['admin'], scope: 'admin', tenant_id: tenant }, { expiresIn: '1h' });
  return {
    owner: {
      sub: `runner-${randomUUID()}`,
      get headers() {
        return { Authorization: `Bearer ${token(this.sub)}` };
      },
    },
    approver: { headers: { Authorization: `Bearer ${token(`approver-${randomUUID()}`)}` } },
  };
}

async function startRun(h: Harness, headers: Record<string, string>, body: unknown): Promise<string> {
  const session = await newSession(h.url, headers);
  const res = await call<{ id: string; status: string }>(`${h.url}/sessions/${session}/runs`, 'POST', headers, body);
  expect(res.status).toBe(202);
  expect(res.body.status).toBe('running');
  return res.body.id;
}

async function getRun(h: Harness, headers: Record<string, string>, id: string): Promise<RunView> {
  const res = await call<RunView>(`${h.url}/runs/${id}`, 'GET', headers);
  expect(res.status).toBe(200);
  return res.body;
}

/** Polls the run until `until` holds (or 15 s pass). */
async function waitFor(
  h: Harness,
  headers: Record<string, string>,
  id: string,
  until: (run: RunView) => boolean,
): Promise<RunView> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const run = await getRun(h, headers, id);
    if (until(run) || Date.now() > deadline) return run;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ended = (run: RunView) => !['running', 'awaiting_approval'].includes(run.status);

describe.each(['express', 'fastify'] as const)('agent runs (%s)', (adapter) => {
  describe('guards that stop', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await start(adapter, { maxSteps: 6, maxRepeats: 3, onLimit: 'stop' });
    });
    afterAll(() => h.close());

    it('a run repeating its steps forever stops at maxSteps', async () => {
      const { owner } = callers();
      const id = await startRun(h, owner.headers, { steps: [{ message: 'hi' }], repeat: true });
      const run = await waitFor(h, owner.headers, id, ended);
      expect(run).toMatchObject({ status: 'stopped', stopReason: 'max_steps' });
      expect(run.steps).toHaveLength(6);
      expect(run.steps[0]).toMatchObject({
        index: 0,
        message: 'hi',
        reply: 'hi',
        usage: { inputTokens: 1, outputTokens: 1 },
      });
      expect(run.usage).toMatchObject({ inputTokens: 6, outputTokens: 6 });
    });

    it('a run calling the same tool with the same arguments forever stops at maxRepeats with loop_detected', async () => {
      const { owner } = callers();
      const id = await startRun(h, owner.headers, {
        steps: [
          { message: '/tool search_kb {"query":"refund","max_results":2}' },
          { message: '/tool search_kb {"max_results":2,"query":"refund"}' },
        ],
        repeat: true,
      });
      const run = await waitFor(h, owner.headers, id, ended);
      expect(run).toMatchObject({ status: 'stopped', stopReason: 'loop_detected' });
      expect(run.toolCalls).toHaveLength(3);
      expect(run.toolCalls.every((c) => c.name === 'search_kb')).toBe(true);
      expect(run.steps).toHaveLength(4);
      // The calls ran through the ToolExecutor, under the run principal's policy: the knowledge base answered.
      expect(run.toolCalls.map((c) => c.status)).toEqual(['ok', 'ok', 'ok']);
      expect((run.toolCalls[0] as { result?: { results?: unknown[] } }).result?.results?.length).toBeGreaterThan(0);
    });

    it('completes a finite run, answers 404 for another tenant, 400 for a bad body, and lists runs', async () => {
      const { owner } = callers();
      const id = await startRun(h, owner.headers, { steps: [{ message: 'a' }, { message: 'b' }] });
      const run = await waitFor(h, owner.headers, id, ended);
      expect(run).toMatchObject({ status: 'completed', stopReason: null });
      expect(run.steps.map((s) => s.reply)).toEqual(['a', 'b']);

      const other = callers().owner;
      expect((await call(`${h.url}/runs/${id}`, 'GET', other.headers)).status).toBe(404);
      expect((await call(`${h.url}/runs/${id}/cancel`, 'POST', other.headers)).status).toBe(404);
      const session = await newSession(h.url, owner.headers);
      for (const body of [
        {},
        { steps: [] },
        { steps: [{ message: 1 }] },
        { steps: [{ message: 'x' }], repeat: 0 },
        { steps: [{ message: 'x' }], repeat: 'yes' },
      ]) {
        const res = await call(`${h.url}/sessions/${session}/runs`, 'POST', owner.headers, body);
        expect(res).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
      }
      const list = await call<{ items: RunView[] }>(`${h.url}/runs`, 'GET', owner.headers);
      expect(list.body.items.map((r) => r.id)).toContain(id);
    });

    it('streams a run as Server-Sent Events: its steps, then the end', async () => {
      const { owner } = callers();
      const id = await startRun(h, owner.headers, { steps: [{ message: 'x' }, { message: 'y' }] });
      const res = await fetch(`${h.url}/runs/${id}/events`, { headers: owner.headers });
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const text = await res.text();
      const events = text
        .trim()
        .split('\n\n')
        .map((block) => ({
          event: /^event: (.*)$/m.exec(block)?.[1],
          data: JSON.parse(/^data: (.*)$/m.exec(block)![1]),
        }));
      expect(events.filter((e) => e.event === 'step').map((e) => e.data.reply)).toEqual(['x', 'y']);
      expect(events.at(-1)).toMatchObject({ event: 'end', data: { id, status: 'completed' } });
    });
  });

  describe('maxCost', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await start(adapter, { maxCost: 0.00005 });
    });
    afterAll(() => h.close());

    it('a run past maxCost stops with max_cost', async () => {
      const { owner } = callers();
      // Each step costs ceil(20 × 0.5 + 20 × 1.5) = 40 micro-USD: the second step takes the run past 50.
      const message =
        'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen';
      const id = await startRun(h, owner.headers, { steps: [{ message }], repeat: 5 });
      const run = await waitFor(h, owner.headers, id, ended);
      expect(run).toMatchObject({ status: 'stopped', stopReason: 'max_cost' });
      expect(run.steps).toHaveLength(2);
    });
  });

  describe('run and session budgets', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await startAgentApi({
        adapter,
        configure: (config) => {
          config.policy.budgets = {
            principal: { day: { cost: 100 } },
            run: { day: { tokens: 10 } },
            session: { day: { tokens: 16 } },
          };
          config.policy.rateLimits = UNLIMITED_RATES;
          config.policy.runs = { maxSteps: 1_000 };
        },
      });
    });
    afterAll(() => h.close());

    it('stops a run at its run budget with budget_exceeded; the session budget holds across runs and replies', async () => {
      const { owner } = callers();
      const session = await newSession(h.url, owner.headers);
      // Each step of "hi" reserves 1 + 256 tokens: the run budget of 10 tokens cannot hold one, so the run stops.
      const first = await call<{ id: string }>(`${h.url}/sessions/${session}/runs`, 'POST', owner.headers, {
        steps: [{ message: 'hi' }],
        repeat: true,
      });
      const stopped = await waitFor(h, owner.headers, first.body.id, ended);
      expect(stopped).toMatchObject({ status: 'stopped', stopReason: 'budget_exceeded' });
      expect(stopped.steps).toHaveLength(0);

      // A streamed reply reserves what the session budget has room for and is cut where the session budget ends.
      const stream = await fetch(`${h.url}/sessions/${session}/events`, {
        method: 'POST',
        headers: { ...owner.headers, accept: 'text/event-stream', 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'one two three four five six seven eight nine ten eleven twelve' }),
      });
      const text = await stream.text();
      expect(text.match(/^event: token$/gm)).toHaveLength(4);
      expect(text).toMatch(/event: error\ndata: \{"code":"budget_exceeded"[^\n]*"scope":"session"/);

      // Another session has a session budget of its own.
      const other = await newSession(h.url, owner.headers);
      const res = await fetch(`${h.url}/sessions/${other}/events`, {
        method: 'POST',
        headers: { ...owner.headers, accept: 'text/event-stream', 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'hello there' }),
      });
      expect(await res.text()).toMatch(/event: done/);
    });
  });

  describe('onLimit: approval', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await start(adapter, { maxCost: 0.00005, onLimit: 'approval' });
    });
    afterAll(() => h.close());

    it('pauses a run past maxCost for an approval, and continues with the limit raised once after it', async () => {
      const { owner, approver } = callers();
      const message =
        'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen';
      const id = await startRun(h, owner.headers, { steps: [{ message }], repeat: 3 });

      const paused = await waitFor(h, owner.headers, id, (r) => r.status !== 'running');
      expect(paused).toMatchObject({ status: 'awaiting_approval', stopReason: 'max_cost' });
      expect(paused.approvalId).toEqual(expect.any(String));
      expect(paused.steps).toHaveLength(2);

      const approved = await call(`${h.url}/approvals/${paused.approvalId}/approve`, 'POST', approver.headers);
      expect(approved.status).toBe(200);

      const run = await waitFor(h, owner.headers, id, ended);
      expect(run).toMatchObject({ status: 'completed', approvalId: null });
      expect(run.steps).toHaveLength(3);
    });

    it("waits on an app's own ApprovalStore too, one that cannot report an approval's status", async () => {
      // The app's own store (in memory here, outside the library's table, answering no status: the store's default)
      // is the one the gate asks: the paused run must keep waiting on it and continue once it is approved there.
      const held = new Map<string, { principalId: string; operation: string; digest: string; status: string }>();
      class OwnStore extends ApprovalStore {
        create(input: CreateApprovalInput): Promise<ApprovalView> {
          const id = randomUUID();
          const now = Date.now();
          held.set(id, {
            principalId: input.principal.id,
            operation: input.operation,
            digest: input.digest,
            status: 'pending',
          });
          return Promise.resolve({
            id,
            principalId: input.principal.id,
            tenantId: input.principal.tenantId,
            operation: input.operation,
            requestDigest: input.digest,
            reason: input.reason ?? null,
            status: 'pending',
            decidedBy: null,
            decidedAt: null,
            expiresAt: new Date(now + 60_000).toISOString(),
            createdAt: new Date(now).toISOString(),
            consumedAt: null,
          });
        }
        consume(id: string, principal: Principal, operation: string, digest: string): Promise<boolean> {
          const entry = held.get(id);
          const ok =
            entry?.status === 'approved' &&
            entry.principalId === principal.id &&
            entry.operation === operation &&
            entry.digest === digest;
          if (ok) entry.status = 'consumed';
          return Promise.resolve(ok);
        }
      }
      // The gate's store, swapped for this test only (an app binds its own with `{ provide: ApprovalStore, … }`).
      const gate: ApprovalGate = h.app.get(ApprovalGate);
      const slot = gate as unknown as { store: ApprovalStore };
      const original = slot.store;
      slot.store = new OwnStore();
      try {
        const { owner } = callers();
        const message =
          'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen';
        const id = await startRun(h, owner.headers, { steps: [{ message }], repeat: 3 });
        const paused = await waitFor(h, owner.headers, id, (r) => r.status !== 'running');
        expect(paused).toMatchObject({ status: 'awaiting_approval', stopReason: 'max_cost' });
        // Still waiting a few polls later, with nothing decided.
        await new Promise((resolve) => setTimeout(resolve, 600));
        expect(await getRun(h, owner.headers, id)).toMatchObject({ status: 'awaiting_approval' });

        held.get(paused.approvalId!)!.status = 'approved';
        const run = await waitFor(h, owner.headers, id, ended);
        expect(run).toMatchObject({ status: 'completed', approvalId: null });
        expect([...held.values()].map((e) => e.status)).toEqual(['consumed']);
      } finally {
        slot.store = original;
      }
    });
  });

  describe('cancel', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await start(adapter, { maxSteps: 100_000 });
    });
    afterAll(() => h.close());

    it('stops a live run within one step', async () => {
      const { owner } = callers();
      const id = await startRun(h, owner.headers, { steps: [{ message: 'again' }], repeat: true });
      await waitFor(h, owner.headers, id, (r) => r.steps.length >= 3);

      const res = await call<RunView>(`${h.url}/runs/${id}/cancel`, 'POST', owner.headers);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'cancelled', stopReason: 'cancelled' });
      const atCancel = res.body.steps.length;

      // Nothing may happen after the cancel: a pause long enough for several more steps, then the run is unchanged.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const run = await getRun(h, owner.headers, id);
      expect(run).toMatchObject({ status: 'cancelled', stopReason: 'cancelled' });
      expect(run.steps.length).toBeLessThanOrEqual(atCancel + 1);
    });
  });

  describe('shutdown', () => {
    it('stops live runs with shutdown, their usage settled, nothing left reserved', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'runs-shutdown-'));
      const file = join(dir, 'db.sqlite');
      try {
        const h = await start(adapter, { maxSteps: 100_000 }, { env: { DATABASE_URL: `sqlite:${file}` } });
        const { owner } = callers();
        const id = await startRun(h, owner.headers, { steps: [{ message: 'busy' }], repeat: true });
        await waitFor(h, owner.headers, id, (r) => r.steps.length >= 2);

        await h.close();

        const db = await new DataSource({ type: 'better-sqlite3', database: file }).initialize();
        try {
          const [run] = await db.query<Array<{ status: string; stop_reason: string; steps: string }>>(
            'SELECT status, stop_reason, steps FROM runs WHERE id = ?',
            [id],
          );
          expect(run).toMatchObject({ status: 'stopped', stop_reason: 'shutdown' });
          const steps = JSON.parse(run.steps) as unknown[];
          expect(steps.length).toBeGreaterThanOrEqual(2);
          const [counters] = await db.query<Array<{ reserved: number; used: number }>>(
            'SELECT COALESCE(SUM(reserved), 0) AS reserved, COALESCE(SUM(used), 0) AS used FROM policy_budget_counters WHERE key LIKE ?',
            [`principal:%${owner.sub}:%`],
          );
          expect(Number(counters.reserved)).toBe(0);
          const [ledger] = await db.query<Array<{ n: number; cost: number }>>(
            'SELECT COUNT(*) AS n, COALESCE(SUM(cost_micro_usd), 0) AS cost FROM policy_usage_ledger WHERE principal_id = ?',
            [owner.sub],
          );
          expect(Number(ledger.n)).toBe(steps.length);
          expect(Number(counters.used)).toBe(Number(ledger.cost));
        } finally {
          await db.destroy();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
