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
import { load, median, startServer, table, type ServerHandle, type Variant, type VariantSummary } from './lib/load';
import { dataKeyEnv } from './lib/app-env';

/**
 * Runs the variants interleaved (a b c … a b c …) after a warm-up each, and answers each one's medians plus its
 * throughput in every round, so that a ratio can be taken round by round (variants of one round ran seconds
 * apart, under the same background load) and its median reported.
 */
async function interleaved(variants: Variant[], rounds: number, duration: number): Promise<{ rows: VariantSummary[]; perRound: number[][] }> {
  for (const v of variants) await load({ ...v.options(), duration: 2 });
  const runs = variants.map(() => [] as Awaited<ReturnType<typeof load>>[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, v] of variants.entries()) runs[i]!.push(await load({ ...v.options(), duration }));
  }
  return {
    rows: variants.map((v, i) => ({
      name: v.name,
      rps: median(runs[i]!.map((r) => r.requests)),
      p99: median(runs[i]!.map((r) => r.p99)),
      errors: runs[i]!.reduce((a, r) => a + r.errors, 0),
      non2xx: runs[i]!.reduce((a, r) => a + r.non2xx, 0),
    })),
    perRound: runs.map((r) => r.map((x) => x.requests)),
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
    return { url: `${server.url}/agents/${created.id}` };
  };
  try {
    const bare = await startServer(join(__dirname, 'servers/bare.server.js'), { JWT_SECRET: SECRET, NO_COLOR: '1' });
    servers.push(bare);
    const off = await startApp('off', { LOG_FORMAT: 'text', HTTP_METRICS: 'off' });
    const on = await startApp('on', {});
    const alerts = await startApp('alerts', { ALERTS: 'on' });
    const variants = [
      { name: 'bare NestJS route', options: () => ({ url: `${bare.url}/agents/${randomUUID()}` }) },
      { name: 'agent-api, request logs and HTTP histogram off', options: () => ({ url: off.url, headers }) },
      { name: 'agent-api, JSON request logs + HTTP histogram', options: () => ({ url: on.url, headers }) },
      { name: 'agent-api, JSON logs + histogram + alerts (memory)', options: () => ({ url: alerts.url, headers }) },
    ];
    if (redisUrl) {
      const redisOff = await startApp('redis-off', { REDIS_URL: redisUrl });
      const redisOn = await startApp('redis-on', { REDIS_URL: redisUrl, ALERTS: 'on' });
      variants.push(
        { name: 'agent-api + Redis, JSON logs + histogram', options: () => ({ url: redisOff.url, headers }) },
        { name: 'agent-api + Redis, JSON logs + histogram + alerts (Redis)', options: () => ({ url: redisOn.url, headers }) },
      );
    }
    const { rows, perRound } = await interleaved(variants, options.rounds, options.duration);
    // The median over rounds of (variant b's req/s ÷ variant a's req/s in that same round).
    const ratio = (a: number, b: number) => median(perRound[b]!.map((rps, round) => rps / perRound[a]![round]!));
    const kept = (a: number, b: number) => `**${(ratio(a, b) * 100).toFixed(1)}%**`;
    const met = (a: number, b: number) => (ratio(a, b) >= 0.95 ? 'met' : 'missed');
    const p99 = (a: number, b: number) => `p99 ${rows[a]!.p99} → ${rows[b]!.p99} ms`;
    const lines = [
      table('Metrics, JSON logs and alerts, GET /agents/:id with a JWT (Express, 10 connections, medians of interleaved rounds)', rows),
      '',
      `Ratios are medians of per-round ratios (${options.rounds} rounds × ${options.duration} s).`,
      `- JSON request logs + latency histogram: agent-api keeps ${kept(1, 2)} of its throughput without them (target ≥ 95%: ${met(1, 2)}); ${p99(1, 2)}.`,
      `- anomaly alerts (memory counters) on top: ${kept(2, 3)} kept (target ≥ 95%: ${met(2, 3)}); ${p99(2, 3)}.`,
      `- all three against none: ${kept(1, 3)} kept.`,
    ];
    if (rows.length > 5) {
      lines.push(
        `- with Redis, alerts (one script call per principal and metric per event-loop turn, after the response): ${kept(4, 5)} kept ` +
          `(target ≥ 95%: ${met(4, 5)}); ${p99(4, 5)}.`,
      );
    }
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
