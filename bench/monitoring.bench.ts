/**
 * What metrics, JSON logs and anomaly alerts cost on agent-api's read route, `GET /agents/:id` with a JWT, in one
 * run: agent-api in production mode with JSON request logs (pino, to a pipe) and the HTTP latency histogram, against
 * the same app with `LOG_FORMAT=text` and `HTTP_METRICS=off` (the decision and budget counters stay: they are plain
 * increments); then the same with `ALERTS=on` (counters in memory), and — when REDIS_URL is set — alerts off and on
 * with every shared counter in Redis. The bare NestJS route for reference. Targets: ≤ 5% throughput cost each.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import Redis from 'ioredis';
import {
  load,
  median,
  startServer,
  table,
  type LoadResult,
  type ServerHandle,
  type Variant,
  type VariantSummary,
} from './lib/load';
import { dataKeyEnv } from './lib/app-env';

type MeasuredVariant = Variant & { pid?: number };

/**
 * Runs the variants interleaved (a b c … a b c …) after a warm-up each, and answers each one's medians, its
 * throughput in every round (so a ratio can be taken round by round: variants of one round ran seconds apart,
 * under the same background load) and the server's CPU time per request in every round (what the server itself
 * spent, much less sensitive to other jobs on the machine than throughput).
 */
async function interleaved(
  variants: MeasuredVariant[],
  rounds: number,
  duration: number,
): Promise<{ rows: VariantSummary[]; perRound: number[][]; cpuPerRequest: (number | null)[][] }> {
  for (const v of variants) await load({ ...v.options(), duration: 2 });
  const runs = variants.map(() => [] as LoadResult[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, v] of variants.entries()) runs[i].push(await load({ ...v.options(), duration, pid: v.pid }));
  }
  return {
    rows: variants.map((v, i) => {
      const r = runs[i];
      return {
        name: v.name,
        rps: median(r.map((x) => x.requests)),
        cpuUs: median(r.map((x) => x.cpuUs)),
        p50: median(r.map((x) => x.p50)),
        p99: median(r.map((x) => x.p99)),
        max: median(r.map((x) => x.max)),
        low: Math.min(...r.map((x) => x.requests)),
        high: Math.max(...r.map((x) => x.requests)),
        errors: r.reduce((a, x) => a + x.errors, 0),
        non2xx: r.reduce((a, x) => a + x.non2xx, 0),
      };
    }),
    perRound: runs.map((r) => r.map((x) => x.requests)),
    cpuPerRequest: runs.map((r) => r.map((x) => (Number.isNaN(x.cpuUs) ? null : x.cpuUs))),
  };
}

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const root = join(__dirname, '..');

export async function monitoringBench(options: { rounds: number; duration: number }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-monitoring-'));
  const policyFile = join(dir, 'policy.json');
  const redisUrl = process.env.REDIS_URL || '';
  const prefix = `bench:monitoring:${randomUUID().slice(0, 8)}:`;
  writeFileSync(
    policyFile,
    JSON.stringify({
      roles: { admin: { operations: ['*'] } },
      scopes: { admin: { implies: ['*'] } },
      rateLimits: {
        keyPrefix: `${prefix}rl:`,
        default: { limit: 1_000_000_000, ttl: 60 },
        anonymous: { limit: 1_000_000_000, ttl: 60 },
      },
      pricing: { 'echo-1': { input: 0.5, output: 1.5 } },
      // Off unless ALERTS=on; the shipped defaults otherwise (minute buckets).
      alerts: { enabled: false, keyPrefix: `${prefix}al:` },
    }),
  );
  const headers = {
    Authorization: `Bearer ${jwt.sign({ sub: 'bench-user', roles: ['admin'], scope: 'admin' }, SECRET, { algorithm: 'HS256', expiresIn: '2h', jwtid: randomUUID() })}`,
  };
  const servers: ServerHandle[] = [];
  const startApp = async (name: string, env: Record<string, string>) => {
    const server = await startServer(join(root, 'apps/agent-api/main.js'), {
      JWT_SECRET: SECRET,
      NO_COLOR: '1',
      PORT: '0',
      DATABASE_URL: `sqlite:${join(dir, `${name}.sqlite`)}`,
      POLICY_CONFIG: policyFile,
      REDIS_URL: '',
      REDIS_CLUSTER_NODES: '',
      ...dataKeyEnv(),
      ...env,
    });
    servers.push(server);
    const created = await fetch(`${server.url}/agents`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench agent' }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    return { url: `${server.url}/agents/${created.id}`, pid: server.child.pid };
  };
  try {
    const bare = await startServer(join(__dirname, 'servers/bare.server.js'), { JWT_SECRET: SECRET, NO_COLOR: '1' });
    servers.push(bare);
    const off = await startApp('off', { LOG_FORMAT: 'text', HTTP_METRICS: 'off' });
    const on = await startApp('on', {});
    const alerts = await startApp('alerts', { ALERTS: 'on' });
    const variants: MeasuredVariant[] = [
      {
        name: 'bare NestJS route',
        options: () => ({ url: `${bare.url}/agents/${randomUUID()}` }),
        pid: bare.child.pid,
      },
      {
        name: 'agent-api, request logs and HTTP histogram off',
        options: () => ({ url: off.url, headers }),
        pid: off.pid,
      },
      { name: 'agent-api, JSON request logs + HTTP histogram', options: () => ({ url: on.url, headers }), pid: on.pid },
      {
        name: 'agent-api, JSON logs + histogram + alerts (memory)',
        options: () => ({ url: alerts.url, headers }),
        pid: alerts.pid,
      },
    ];
    if (redisUrl) {
      const redisOff = await startApp('redis-off', { REDIS_URL: redisUrl });
      const redisOn = await startApp('redis-on', { REDIS_URL: redisUrl, ALERTS: 'on' });
      variants.push(
        {
          name: 'agent-api + Redis, JSON logs + histogram',
          options: () => ({ url: redisOff.url, headers }),
          pid: redisOff.pid,
        },
        {
          name: 'agent-api + Redis, JSON logs + histogram + alerts (Redis)',
          options: () => ({ url: redisOn.url, headers }),
          pid: redisOn.pid,
        },
      );
    }
    const { rows, perRound, cpuPerRequest } = await interleaved(variants, options.rounds, options.duration);
    // The median over rounds of (variant b's req/s ÷ variant a's req/s in that same round).
    const ratio = (a: number, b: number) => median(perRound[b].map((rps, round) => rps / perRound[a][round]));
    const cpu = (i: number) => {
      const values = cpuPerRequest[i].filter((v): v is number => v !== null);
      return values.length ? median(values) : NaN;
    };
    const kept = (a: number, b: number) => `**${(ratio(a, b) * 100).toFixed(1)}%**`;
    const cpuCost = (a: number, b: number) =>
      Number.isNaN(cpu(a))
        ? ''
        : `; server CPU per request ${cpu(a).toFixed(0)} → ${cpu(b).toFixed(0)} µs (${(((cpu(b) - cpu(a)) / cpu(a)) * 100).toFixed(1)}%)`;
    const p99 = (a: number, b: number) => `p99 ${rows[a].p99} → ${rows[b].p99} ms`;
    const lines = [
      table(
        'Metrics, JSON logs and alerts, GET /agents/:id with a JWT (Express, 10 connections, medians of interleaved rounds)',
        rows,
      ),
      '',
      `Throughput ratios are medians of per-round ratios (${options.rounds} rounds × ${options.duration} s); server CPU per request ` +
        "is the server process's CPU time over a round divided by the requests it answered (median of rounds).",
      `- JSON request logs + latency histogram: agent-api keeps ${kept(1, 2)} of its throughput without them${cpuCost(1, 2)}; ${p99(1, 2)}.`,
      `- anomaly alerts (memory counters) on top: ${kept(2, 3)} kept${cpuCost(2, 3)}; ${p99(2, 3)}.`,
      `- all three against none: ${kept(1, 3)} kept${cpuCost(1, 3)}.`,
    ];
    if (rows.length > 5) {
      lines.push(
        `- with Redis, alerts (one script call per principal and metric per 100 ms window, off the request path): ${kept(4, 5)} kept` +
          `${cpuCost(4, 5)}; ${p99(4, 5)}.`,
      );
    }
    lines.push('', await alertsInProcess(redisUrl));
    return lines.join('\n');
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
    if (redisUrl) {
      const redis = new Redis(redisUrl);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
    }
  }
}

/**
 * What counting costs inside the process, in CPU time per counted request: `observeDecision` on the memory counters
 * (one principal, then 10,000), and with Redis (counts gathered per 100 ms window, one script call per principal
 * and window, their client-side cost included), against the same loops with alerts off.
 */
async function alertsInProcess(redisUrl: string): Promise<string> {
  const { AnomalyAlerts } = await import('nest-agent-policy');
  const audit = { record: async () => 'id' } as never;
  const principal = (id: string) =>
    ({ id, type: 'user', tenantId: 't1', roles: [], scopes: [], tier: null, tokenId: null, apiKeyId: null }) as never;
  const make = (alerts: Record<string, unknown> | undefined, redis: unknown = null) =>
    new AnomalyAlerts({ document: alerts ? { alerts } : {} } as never, audit, redis as never);
  const cpuNsPer = async (n: number, body: (i: number) => unknown) => {
    const started = process.cpuUsage();
    for (let i = 0; i < n; i++) await body(i);
    const used = process.cpuUsage(started);
    return ((used.user + used.system) * 1000) / n;
  };
  const N = 200_000;
  const principals = Array.from({ length: 10_000 }, (_, i) => principal(`user-${i}`));
  const origin = { requestId: 'r', ip: '10.0.0.1' };
  const rows: string[] = [];
  const results: Record<string, number[]> = { off: [], one: [], many: [] };
  for (let round = 0; round < 3; round++) {
    const off = make(undefined);
    const on = make({});
    results.off.push(await cpuNsPer(N, (i) => off.observeDecision(principals[i % 10_000], false, origin)));
    results.one.push(await cpuNsPer(N, () => on.observeDecision(principals[0], false, origin)));
    results.many.push(await cpuNsPer(N, (i) => on.observeDecision(principals[i % 10_000], i % 10 === 0, origin)));
    on.onModuleDestroy();
  }
  rows.push(
    '#### Anomaly alerts in process (CPU time per counted request, medians of 3 × 200,000)',
    '',
    '| counting | ns per request |',
    '|---|---:|',
    `| alerts off | ${median(results.off).toFixed(0)} |`,
    `| memory, one principal | ${median(results.one).toFixed(0)} |`,
    `| memory, 10,000 principals, 1 in 10 denied | ${median(results.many).toFixed(0)} |`,
  );
  if (redisUrl) {
    const redis = new Redis(redisUrl);
    const prefix = `bench:alerts:${randomUUID().slice(0, 8)}:`;
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const M = 20_000;
    const perRequest: number[] = [];
    const idle: number[] = [];
    const callsPerRound: number[] = [];
    for (let round = 0; round < 3; round++) {
      const on = make({ keyPrefix: prefix }, redis);
      const off = make(undefined, redis);
      const client = redis as unknown as { napAnomalyCount: (...args: unknown[]) => Promise<unknown> };
      const script = client.napAnomalyCount;
      let calls = 0;
      client.napAnomalyCount = (...args: unknown[]) => (calls++, script.apply(redis, args));
      idle.push(await cpuNsPer(M, async (i) => (off.observeDecision(principals[i % 100], false, origin), turn())));
      await redis.ping();
      const started = process.cpuUsage();
      for (let i = 0; i < M; i++) {
        on.observeDecision(principals[i % 100], false, origin);
        await turn();
      }
      await new Promise((resolve) => setTimeout(resolve, 150)); // the last window goes out
      await redis.ping(); // every script call has been answered
      const used = process.cpuUsage(started);
      perRequest.push(((used.user + used.system) * 1000) / M);
      callsPerRound.push(calls);
      client.napAnomalyCount = script;
      on.onModuleDestroy();
    }
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    rows.push(
      `| Redis, 100 principals, one request per event-loop turn (${median(callsPerRound)} script calls for ${M.toLocaleString('en')} requests) | ${median(perRequest).toFixed(0)} |`,
      `| the same loop, alerts off | ${median(idle).toFixed(0)} |`,
    );
  }
  return rows.join('\n');
}
