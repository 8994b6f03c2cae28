/**
 * What metrics and JSON logs cost on agent-api's read route, `GET /agents/:id`, in one run: agent-api in production
 * mode with JSON request logs (pino, to a pipe) and the HTTP latency histogram, against the same app with
 * `LOG_FORMAT=text` and `HTTP_METRICS=off` (the decision and budget counters stay: they are plain increments),
 * and the bare NestJS route for reference. Target: ≤ 5% throughput cost.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { compare, startServer, table, type ServerHandle } from './lib/load';
import { dataKeyEnv } from './lib/app-env';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const root = join(__dirname, '..');

export async function monitoringBench(options: { rounds: number; duration: number }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-monitoring-'));
  const policyFile = join(dir, 'policy.json');
  writeFileSync(
    policyFile,
    JSON.stringify({
      roles: { admin: { operations: ['*'] } },
      scopes: { admin: { implies: ['*'] } },
      rateLimits: { default: { limit: 1_000_000_000, ttl: 60 }, anonymous: { limit: 1_000_000_000, ttl: 60 } },
      pricing: { 'echo-1': { input: 0.5, output: 1.5 } },
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
    const rows = await compare(
      [
        { name: 'bare NestJS route', options: () => ({ url: `${bare.url}/agents/${randomUUID()}` }) },
        { name: 'agent-api, request logs and HTTP histogram off', options: () => ({ url: off.url, headers }) },
        { name: 'agent-api, JSON request logs + HTTP histogram', options: () => ({ url: on.url, headers }) },
      ],
      options.rounds,
      options.duration,
    );
    const [, offRow, onRow] = rows;
    const ratio = onRow.rps / offRow.rps;
    return [
      table('Metrics and JSON logs, GET /agents/:id (Express, 10 connections, medians of interleaved rounds)', rows),
      '',
      `- with JSON request logs and the latency histogram agent-api runs at **${(ratio * 100).toFixed(1)}%** of its throughput without them ` +
        `(target ≥ 95%: ${ratio >= 0.95 ? 'met' : 'missed'}); p99 ${offRow.p99} → ${onRow.p99} ms.`,
    ].join('\n');
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
