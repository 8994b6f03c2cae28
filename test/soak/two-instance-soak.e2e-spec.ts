/**
 * A bounded soak: two agent-api processes on one PostgreSQL database and one Redis, mixed traffic for SOAK_MS
 * (default 5 minutes; `SOAK_MS=60000 npx jest test/soak` for a shorter local run). The traffic: reads, budgeted
 * events, streamed events, tool calls (allowed and denied), agent runs, a rate-limited list, denied and
 * unauthenticated calls, with every grant audited. Budgeted callers are replaced by fresh ones once their budget
 * refuses them, so budgets are admitted and refused during the whole soak. Halfway, while it streams a long reply
 * and other requests are in flight, one instance gets SIGTERM and a new one takes its place. Afterwards: no 5xx, each kind of traffic happened many
 * times, every budget admitted at most its limit and exactly its limit once it refused, the ledger equals the
 * counters with nothing reserved, the rate limit admitted exactly its limit, every answered request has exactly its
 * audit event (the stopped instance's included), and the audit chains verify. A summary is printed.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { signToken } from '../support/agent-api.harness';
import { startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { createTestDatabase, itWith, REDIS_URL, redisTestPrefix } from '../support/services';
import { postSse } from '../support/sse-client';
import { bearer, openDatabase, writePolicy } from '../audit-http/audit-http.support';
import { budgetOf, call, newCaller, newSession, remaining, usage } from '../budget-http/budget-http.fixtures';

const SOAK_MS = Number(process.env.SOAK_MS ?? 300_000);
if (!Number.isInteger(SOAK_MS) || SOAK_MS < 60_000)
  throw new Error(`SOAK_MS must be an integer of at least 60000 (got ${process.env.SOAK_MS})`);
/** Requests a principal may make a day: small, so that callers reach it again and again during the soak. */
const BUDGET_REQUESTS = 25;
const LIST_LIMIT = 20;
/** A run asks for more steps than the budget allows: it ends with `budget_exceeded` (or `shutdown`). */
const RUN_STEPS = 30;
const RESERVATION_TTL_S = 5;
/** Starting an instance while the others are under load (and the rest of the suite runs) can take a while. */
const START_TIMEOUT_MS = 90_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Kind =
  | 'read'
  | 'list'
  | 'denied'
  | 'anonymous'
  | 'event'
  | 'stream'
  | 'tool'
  | 'tool-denied'
  | 'run'
  | 'run-status'
  | 'setup';

interface Sent {
  kind: Kind;
  /** The budgeted caller (index into `callers`), or -1. */
  caller: number;
  requestId: string;
  status: number;
  instance: number;
  startedAt: number;
  endedAt: number;
  /** For streams: the name of the last event received. */
  last?: string;
}

/** A principal of its own tenant with one session; used by one kind of budgeted traffic until it is refused. */
interface Caller {
  kind: 'event' | 'stream' | 'run';
  sub: string;
  headers: Record<string, string>;
  session: string;
  runs: string[];
}

interface RunEnd {
  caller: number;
  status: string;
  stopReason: string | null;
  steps: number;
}

/** The statuses each kind may answer (0: a connection the stopping instance closed). */
const EXPECTED: Record<Kind, number[]> = {
  read: [200],
  list: [200, 429],
  denied: [403],
  anonymous: [401],
  event: [201, 402],
  stream: [201, 402],
  tool: [200],
  'tool-denied': [403],
  run: [202],
  'run-status': [200],
  setup: [201],
};

/**
 * The audit event each answer of each kind leaves (by its request id), exactly once. A call without credentials is
 * not an authentication failure (nothing was presented), so it leaves none.
 */
const AUDITED: Partial<Record<string, string>> = {
  'read 200': 'access.granted',
  'list 200': 'access.granted',
  'list 429': 'rate_limit.exceeded',
  'denied 403': 'access.denied',
  'event 201': 'access.granted',
  'event 402': 'budget.exceeded',
  'stream 201': 'access.granted',
  'stream 402': 'budget.exceeded',
  'tool 200': 'tool.invoked',
  'tool-denied 403': 'tool.denied',
  'run 202': 'access.granted',
};

describe('two instances on PostgreSQL + Redis under mixed traffic', () => {
  const it = itWith('postgres', 'redis');
  let dir: string;
  let env: Record<string, string>;
  let drop: (() => Promise<void>) | undefined;
  const all: AgentApiProcess[] = [];
  const { prefix, cleanup } = redisTestPrefix('soak');

  beforeAll(
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'soak-'));
      const db = await createTestDatabase('soak');
      drop = db.drop;
      const policy = writePolicy(dir, (p) => {
        const high = { limit: 1_000_000, ttl: 600 };
        p.rateLimits = {
          ...p.rateLimits,
          keyPrefix: prefix,
          default: high,
          operations: { 'event.create': high, 'customer.list': { limit: LIST_LIMIT, ttl: 600 } },
        };
        p.budgets = { principal: { day: { requests: BUDGET_REQUESTS } }, reservationTtl: RESERVATION_TTL_S };
        p.runs = { ...p.runs, maxSteps: RUN_STEPS + 10 };
        p.audit = { ...p.audit, grants: true };
      });
      // Streamed tokens spaced a little, so that streams are in flight when the SIGTERM comes.
      env = { DATABASE_URL: db.url, REDIS_URL, POLICY_CONFIG: policy, ECHO_TOKEN_DELAY_MS: '10' };
      all.push(await startAgentApiProcess(env, START_TIMEOUT_MS));
      all.push(await startAgentApiProcess(env, START_TIMEOUT_MS));
    },
    2 * START_TIMEOUT_MS + 30_000,
  );

  afterAll(async () => {
    await Promise.all(all.map((p) => p.stop()));
    const redis = new Redis(REDIS_URL);
    await cleanup(redis).finally(() => redis.disconnect());
    if (drop) await drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it(
    `keeps every promise for ${SOAK_MS / 1000} s of mixed traffic, through a SIGTERM of one instance`,
    async () => {
      // live[i] is the index in `all` of an instance taking traffic.
      const live = [0, 1];
      const sub = (what: string) => `soak-${what}-${randomUUID()}`;
      const operator = bearer(signToken({ sub: sub('op'), roles: ['operator'], scope: 'admin' }, { expiresIn: '1h' }));
      const lister = bearer(signToken({ sub: sub('list'), roles: ['operator'], scope: 'admin' }, { expiresIn: '1h' }));
      const customer = bearer(
        signToken({ sub: sub('cust'), roles: ['customer'], scope: 'agents:read' }, { expiresIn: '1h' }),
      );
      const operatorSession = await newSession(all[0].url, operator);
      const callers: Caller[] = [];
      const runEnds: RunEnd[] = [];
      const sent: Sent[] = [];
      const startedAt = Date.now();
      const endAt = startedAt + SOAK_MS;
      let sigtermAt = 0;
      let sigtermInstance = -1;

      /** Sends one request to a live instance (round robin) and records its answer. */
      let turn = 0;
      const send = async (
        kind: Kind,
        caller: number,
        go: (url: string, headers: Record<string, string>) => Promise<{ status: number; last?: string }>,
      ) => {
        const instance = live[turn++ % live.length];
        const requestId = `soak-${kind}-${randomUUID()}`;
        const at = Date.now();
        let answer: { status: number; last?: string };
        try {
          answer = await go(all[instance].url, { 'X-Request-Id': requestId });
        } catch {
          answer = { status: 0 };
        }
        const record: Sent = {
          kind,
          caller,
          requestId,
          status: answer.status,
          instance,
          startedAt: at,
          endedAt: Date.now(),
          last: answer.last,
        };
        sent.push(record);
        return record;
      };
      const get = (path: string, auth: Record<string, string>) => async (url: string, id: Record<string, string>) => {
        const res = await fetch(`${url}${path}`, { headers: { ...auth, ...id } });
        await res.arrayBuffer();
        return { status: res.status };
      };
      const post =
        (path: string, auth: Record<string, string>, body: unknown) =>
        async (url: string, id: Record<string, string>) => ({
          status: (await call(`${url}${path}`, 'POST', { ...auth, ...id }, body)).status,
        });

      /** A new budgeted caller with an agent and a session of its own. */
      const newBudgetedCaller = async (kind: Caller['kind']): Promise<number> => {
        for (;;) {
          const principal = newCaller();
          const agent = await send('setup', -1, async (url, id) => {
            const res = await call<{ id: string }>(
              `${url}/agents`,
              'POST',
              { ...principal.headers, ...id },
              { name: 'soak agent' },
            );
            return { status: res.status, last: res.body.id };
          });
          if (agent.status !== 201) continue;
          const session = await send('setup', -1, async (url, id) => {
            const res = await call<{ id: string }>(
              `${url}/sessions`,
              'POST',
              { ...principal.headers, ...id },
              { agentId: agent.last },
            );
            return { status: res.status, last: res.body.id };
          });
          if (session.status !== 201) continue;
          callers.push({ kind, sub: principal.sub, headers: principal.headers, session: session.last!, runs: [] });
          return callers.length - 1;
        }
      };

      /** Budgeted traffic of one kind: a caller sends until its budget refuses it twice, then a new caller starts. */
      const budgetedWorker = async (kind: 'event' | 'stream', pauseMs: number) => {
        while (Date.now() < endAt) {
          const c = await newBudgetedCaller(kind);
          const { headers, session } = callers[c];
          let refused = 0;
          while (refused < 2 && Date.now() < endAt) {
            const { status } = await send(kind, c, async (url, id) => {
              if (kind === 'event')
                return {
                  status: (
                    await call(`${url}/sessions/${session}/events`, 'POST', { ...headers, ...id }, { message: 'soak' })
                  ).status,
                };
              const res = await postSse(
                `${url}/sessions/${session}/events`,
                { ...headers, ...id },
                { message: 'a streamed soak reply of some words' },
              );
              return { status: res.status, last: res.events.at(-1)?.event };
            });
            if (status === 402) refused += 1;
            await sleep(pauseMs);
          }
        }
      };

      /** Runs: a caller starts a run of more steps than its budget allows, follows it to its end, then a new caller. */
      const runWorker = async () => {
        while (Date.now() < endAt) {
          const c = await newBudgetedCaller('run');
          const { headers, session } = callers[c];
          const created = await send('run', c, async (url, id) => {
            const res = await call<{ id: string }>(
              `${url}/sessions/${session}/runs`,
              'POST',
              { ...headers, ...id },
              { steps: [{ message: 'step' }], repeat: RUN_STEPS },
            );
            return { status: res.status, last: res.body.id };
          });
          if (created.status !== 202) continue;
          const runId = created.last!;
          callers[c].runs.push(runId);
          for (;;) {
            await sleep(200);
            let view: { status: string; stopReason: string | null; steps: unknown[] } | undefined;
            const polled = await send('run-status', c, async (url, id) => {
              const res = await call<{ status: string; stopReason: string | null; steps: unknown[] }>(
                `${url}/runs/${runId}`,
                'GET',
                { ...headers, ...id },
              );
              view = res.body;
              return { status: res.status };
            });
            if (polled.status === 200 && view && view.status !== 'running') {
              runEnds.push({ caller: c, status: view.status, stopReason: view.stopReason, steps: view.steps.length });
              break;
            }
          }
          await sleep(300);
        }
      };

      const worker = async (kind: Kind, pauseMs: number, go: Parameters<typeof send>[2]) => {
        while (Date.now() < endAt) {
          await send(kind, -1, go);
          await sleep(pauseMs);
        }
      };

      /**
       * A long stream sent to one instance; `started` resolves once its first token arrived, so the stream is surely
       * in flight from then on. Recorded like any other stream.
       */
      const longStream = (instance: number, c: number) => {
        let started: () => void = () => undefined;
        const firstToken = new Promise<void>((resolve) => (started = resolve));
        const requestId = `soak-stream-long-${randomUUID()}`;
        const message = Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ');
        const done = (async () => {
          const at = Date.now();
          let status = 0;
          let text = '';
          try {
            const res = await fetch(`${all[instance].url}/sessions/${callers[c].session}/events`, {
              method: 'POST',
              headers: {
                ...callers[c].headers,
                'X-Request-Id': requestId,
                accept: 'text/event-stream',
                'content-type': 'application/json',
              },
              body: JSON.stringify({ message }),
            });
            status = res.status;
            const decoder = new TextDecoder();
            for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
              text += decoder.decode(chunk, { stream: true });
              if (text.includes('event: token')) started();
            }
          } catch {
            // An answer cut off shows as a missing `done` (or status 0).
          }
          started();
          const last = [...text.matchAll(/^event: (\S+)$/gm)].at(-1)?.[1];
          sent.push({
            kind: 'stream',
            caller: c,
            requestId,
            status,
            instance,
            startedAt: at,
            endedAt: Date.now(),
            last,
          });
        })();
        return { firstToken, done };
      };

      const restart = (async () => {
        await sleep(SOAK_MS / 2);
        // The instance about to stop is streaming a reply when the signal comes.
        const inFlight = longStream(live[live.length - 1], await newBudgetedCaller('stream'));
        await inFlight.firstToken;
        sigtermInstance = live.pop()!;
        const leaving = all[sigtermInstance];
        sigtermAt = Date.now();
        const stopped = leaving.stop('SIGTERM');
        const replacement = await startAgentApiProcess(env, START_TIMEOUT_MS);
        all.push(replacement);
        live.push(all.length - 1);
        // Nest re-raises the signal once it has shut down: the process ends by SIGTERM, not by a crash.
        await stopped;
        await inFlight.done;
        expect(leaving.child.signalCode ?? leaving.child.exitCode).toBe('SIGTERM');
        expect(leaving.output()).not.toMatch(/could not be written|audit event\(s\) failed|budget.*(failed|lost)/i);
      })();

      // Every worker runs to the end even when one fails, so that no request is still being sent after the test.
      const outcomes = await Promise.allSettled([
        worker('read', 10, get('/agents', operator)),
        worker('read', 10, get('/agents', operator)),
        worker('list', 200, get('/customers', lister)),
        worker('denied', 20, get('/agents', customer)),
        worker('anonymous', 50, get('/agents', {})),
        worker(
          'tool',
          30,
          post(`/sessions/${operatorSession}/tools/search_kb`, operator, { args: { query: 'refund' } }),
        ),
        worker(
          'tool-denied',
          100,
          post(`/sessions/${operatorSession}/tools/run_js`, operator, { args: { code: '1' } }),
        ),
        budgetedWorker('event', 100),
        budgetedWorker('event', 100),
        budgetedWorker('stream', 100),
        budgetedWorker('stream', 100),
        runWorker(),
        restart,
      ]);
      const loadEndedAt = Date.now();
      const failures = outcomes
        .filter((o): o is PromiseRejectedResult => o.status === 'rejected')
        .map((o) => o.reason as unknown);

      // Budgets settle in the background and a reservation cut off by the SIGTERM expires after its ttl.
      await sleep(RESERVATION_TTL_S * 1000 + 500);
      const url = all[live[0]].url;
      const ledgerOf = async (c: number, expected: number) => {
        const deadline = Date.now() + 15_000;
        for (;;) {
          const rows = await usage(url, callers[c].headers, 'groupBy=principal');
          const seen = rows.reduce((sum, r) => sum + r.requests, 0);
          if (seen >= expected || Date.now() > deadline) return seen;
          await sleep(100);
        }
      };
      const budgetRows: Array<{
        caller: number;
        kind: string;
        admitted: number;
        refused: number;
        dropped: number;
        used: number;
        reserved: number;
        ledger: number;
      }> = [];
      for (let c = 0; c < callers.length; c++) {
        const mine = sent.filter((s) => s.caller === c && s.kind === callers[c].kind);
        const admitted =
          callers[c].kind === 'run'
            ? runEnds.filter((r) => r.caller === c).reduce((sum, r) => sum + r.steps, 0)
            : mine.filter((s) => s.status === 201 || s.status === 200).length;
        const counter = budgetOf(await remaining(url, callers[c].headers), 'principal', 'day', 'requests');
        budgetRows.push({
          caller: c,
          kind: callers[c].kind,
          admitted,
          refused: mine.filter((s) => s.status === 402).length,
          dropped: mine.filter((s) => s.status === 0).length,
          used: counter.used,
          reserved: counter.reserved,
          ledger: await ledgerOf(c, counter.used),
        });
      }

      // The summary, printed for the record.
      const byKind = new Map<string, number>();
      for (const s of sent) byKind.set(`${s.kind} ${s.status}`, (byKind.get(`${s.kind} ${s.status}`) ?? 0) + 1);
      const inFlightAtSigterm = sent.filter(
        (s) => s.instance === sigtermInstance && s.startedAt <= sigtermAt && s.endedAt >= sigtermAt,
      );
      const source = await openDatabase(env.DATABASE_URL);
      let events: Array<{ requestId: string | null; type: string }>;
      let chains: Array<{ chain: string; n: string }>;
      try {
        events = await source.query<typeof events>('SELECT request_id AS "requestId", type FROM policy_audit_events');
        chains = await source.query<typeof chains>(
          'SELECT chain_id AS chain, COUNT(*) AS n FROM policy_audit_events GROUP BY chain_id',
        );
      } finally {
        await source.destroy();
      }
      const eventTypes = new Map<string, number>();
      for (const e of events) eventTypes.set(e.type, (eventTypes.get(e.type) ?? 0) + 1);
      const total = (key: 'admitted' | 'used' | 'ledger' | 'reserved' | 'refused' | 'dropped') =>
        budgetRows.reduce((sum, r) => sum + r[key], 0);
      const summary = {
        soakMs: SOAK_MS,
        loadMs: loadEndedAt - startedAt,
        requests: sent.length,
        byKindAndStatus: Object.fromEntries([...byKind].sort()),
        sigterm: {
          atMs: sigtermAt - startedAt,
          inFlightOnStoppedInstance: inFlightAtSigterm.length,
          kindsInFlight: [...new Set(inFlightAtSigterm.map((s) => s.kind))].sort(),
        },
        errorLinesLogged: all.map(
          (p) =>
            p
              .output()
              .split('\n')
              .filter((line) => /\bERROR\b/.test(line)).length,
        ),
        dropped: sent
          .filter((s) => s.status === 0)
          .map((s) => ({
            kind: s.kind,
            instance: s.instance === sigtermInstance ? 'stopped' : 'other',
            startedMs: s.startedAt - startedAt,
            endedMs: s.endedAt - startedAt,
          })),
        budgets: {
          callers: budgetRows.length,
          byKind: Object.fromEntries(
            ['event', 'stream', 'run'].map((k) => [k, budgetRows.filter((r) => r.kind === k).length]),
          ),
          admitted: total('admitted'),
          refused: total('refused'),
          droppedConnections: total('dropped'),
          counterUsed: total('used'),
          ledgerRequests: total('ledger'),
          reserved: total('reserved'),
          exhausted: budgetRows.filter((r) => r.used === BUDGET_REQUESTS).length,
        },
        runs: Object.fromEntries(
          [
            ...runEnds.reduce(
              (m, r) => m.set(`${r.status}/${r.stopReason}`, (m.get(`${r.status}/${r.stopReason}`) ?? 0) + 1),
              new Map<string, number>(),
            ),
          ].sort(),
        ),
        audit: { events: events.length, chains: chains.length, byType: Object.fromEntries([...eventTypes].sort()) },
      };
      process.stdout.write(`\nsoak summary ${JSON.stringify(summary, null, 2)}\n`);
      if (failures.length) throw failures[0];

      // No 5xx, and only the expected answer of each kind.
      expect(sent.filter((s) => s.status >= 500)).toEqual([]);
      expect(sent.filter((s) => s.status !== 0 && !EXPECTED[s.kind].includes(s.status))).toEqual([]);
      expect(sent.filter((s) => s.status === 0).length).toBeLessThanOrEqual(20);
      // A stream admitted ends with its `done` event (its budget was reserved before it started).
      expect(sent.filter((s) => s.kind === 'stream' && s.status === 201 && s.last !== 'done')).toEqual([]);

      // Every kind of traffic happened many times, refusals included, before and after the SIGTERM. The floors are
      // about a third of what the soak sends on a 2-core machine shared with the rest of the suite.
      const minimum = (perMinute: number) => Math.max(1, Math.floor((perMinute * SOAK_MS) / 60_000));
      const floors: Array<[string, number]> = [
        ['read 200', minimum(200)],
        ['list 200', LIST_LIMIT],
        ['list 429', minimum(40)],
        ['denied 403', minimum(120)],
        ['anonymous 401', minimum(120)],
        ['event 201', minimum(60)],
        ['event 402', minimum(4)],
        ['stream 201', minimum(30)],
        ['stream 402', minimum(2)],
        ['tool 200', minimum(100)],
        ['tool-denied 403', minimum(80)],
        ['run 202', minimum(3)],
      ];
      expect(
        floors
          .filter(([key, floor]) => (byKind.get(key) ?? 0) < floor)
          .map(([key, floor]) => `${key}: ${byKind.get(key) ?? 0} < ${floor}`),
      ).toEqual([]);
      for (const kind of ['read', 'denied', 'event', 'stream', 'tool', 'run'] as const) {
        expect({ kind, before: sent.some((s) => s.kind === kind && s.endedAt < sigtermAt) }).toEqual({
          kind,
          before: true,
        });
        expect({ kind, after: sent.some((s) => s.kind === kind && s.startedAt > sigtermAt + 5_000) }).toEqual({
          kind,
          after: true,
        });
      }
      // The SIGTERM came mid-load: requests to the stopped instance were in flight (a long stream at least), and each
      // of them was answered in full.
      expect(
        inFlightAtSigterm.filter((s) => s.kind === 'stream' && s.requestId.startsWith('soak-stream-long-')),
      ).toHaveLength(1);
      expect(inFlightAtSigterm.filter((s) => s.status === 0 || s.status >= 500)).toEqual([]);

      // The rate limit admitted exactly its limit across the instances, the restart included.
      expect(byKind.get('list 200')).toBe(LIST_LIMIT);

      // Runs end by their budget (exactly its limit of steps), or by the shutdown of their instance.
      expect(
        runEnds.filter(
          (r) => !(r.status === 'stopped' && (r.stopReason === 'budget_exceeded' || r.stopReason === 'shutdown')),
        ),
      ).toEqual([]);
      expect(runEnds.filter((r) => r.stopReason === 'budget_exceeded' && r.steps !== BUDGET_REQUESTS)).toEqual([]);

      // Budgets: never past the limit, exactly the limit once refused; ledger = counters; nothing left reserved. A
      // call whose connection the stopping instance closed may have been admitted: it is the only slack allowed.
      for (const r of budgetRows) {
        expect(r).toMatchObject({ reserved: 0, ledger: r.used });
        expect(r.used).toBeLessThanOrEqual(BUDGET_REQUESTS);
        expect(r.used).toBeGreaterThanOrEqual(r.admitted);
        expect(r.used).toBeLessThanOrEqual(r.admitted + r.dropped);
        if (r.refused > 0) expect(r.used).toBe(BUDGET_REQUESTS);
      }

      // Every answered request has exactly its audit event, the ones flushed by the SIGTERM included.
      const seen = new Map<string, number>();
      for (const e of events)
        if (e.requestId) seen.set(`${e.requestId} ${e.type}`, (seen.get(`${e.requestId} ${e.type}`) ?? 0) + 1);
      const missing = sent.filter((s) => {
        const type = AUDITED[`${s.kind} ${s.status}`];
        return type !== undefined && seen.get(`${s.requestId} ${type}`) !== 1;
      });
      expect(
        missing.map(
          (s) =>
            `${s.kind} ${s.status} ${s.requestId} → ${seen.get(`${s.requestId} ${AUDITED[`${s.kind} ${s.status}`]}`) ?? 0}`,
        ),
      ).toEqual([]);
      // The stopped instance, the surviving one and the replacement each wrote a chain; all of them verify.
      expect(chains.length).toBeGreaterThanOrEqual(3);
      const auditor = bearer(signToken({ sub: 'soak-auditor', roles: ['auditor'], scope: 'audit:read' }));
      const verify = await fetch(`${url}/audit/verify`, { headers: auditor });
      expect(verify.status).toBe(200);
      expect(await verify.json()).toMatchObject({ valid: true, firstBrokenId: null });
    },
    SOAK_MS + START_TIMEOUT_MS + 240_000,
  );
});
