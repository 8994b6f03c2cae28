/**
 * The request path in one run, on each adapter (BENCH_ADAPTERS) and at each connection count (BENCH_CONNECTIONS):
 * a bare NestJS route; the same route behind nest-agent-policy (JWT authentication + authorization + the memory
 * rate limiter); the built agent-api (from dist, SQLite, its JWT secret) on `GET /agents/:id` with a JWT (its
 * database read included) and on its public `GET /health`. BENCH_AUTH_ALL=1 adds a plain passport-jwt `AuthGuard`
 * and the API-key variants. BENCH_AUTH_LIMITER=1 adds the library stack with `@SkipThrottle()` and both with 10,000
 * callers (one JWT each), and a summary of what the memory limiter costs in the library's own guard.
 * BENCH_AUTH_ROWS=stack,stackSkip,… keeps only the rows named (keys of AUTH_ROWS; the bare route always runs). Every
 * ratio in the table is to the bare route of the same adapter and connection count.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import {
  benchAdapters,
  benchConnections,
  compare,
  matrix,
  startServer,
  table,
  type AdapterName,
  type ServerHandle,
  type Variant,
  type VariantSummary,
} from './lib/load';
import { dataKeyEnv } from './lib/app-env';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const root = join(__dirname, '..');
const token = (sub: string, scope: string) =>
  `Bearer ${jwt.sign({ sub, roles: ['admin'], scope }, SECRET, { algorithm: 'HS256', expiresIn: '2h', jwtid: randomUUID() })}`;
const bearer = (scope = 'admin') => ({ Authorization: token('bench-user', scope) });
/** Callers of the 10,000-principal rows: as many as the verified-token cache holds, so neither row verifies again. */
const CALLERS = 10_000;

export const AUTH_ROWS = {
  bare: 'bare NestJS route',
  passport: 'plain passport-jwt AuthGuard',
  stack: 'library stack (JWT + authorization + memory limiter)',
  stackSkip: 'library stack, @SkipThrottle() (no limiter)',
  stack10k: 'library stack, 10,000 principals',
  stackSkip10k: 'library stack, @SkipThrottle(), 10,000 principals',
  stackKey: 'library stack, API key',
  agent: 'agent-api GET /agents/:id, JWT (+ DB read)',
  agentKey: 'agent-api GET /agents/:id, API key (+ DB read)',
  health: 'agent-api GET /health (public)',
} as const;

interface AdapterServers {
  bare: ServerHandle;
  policy: ServerHandle;
  policyKey: string;
  app: ServerHandle;
  agentId: string;
  appKey: string;
}

async function startAll(
  adapter: AdapterName,
  dir: string,
  policyFile: string,
  servers: ServerHandle[],
): Promise<AdapterServers> {
  // Memory stores and SQLite whatever the environment says: the rows measure the library without Redis.
  const env = { JWT_SECRET: SECRET, NO_COLOR: '1', BENCH_ADAPTER: adapter, REDIS_URL: '', REDIS_CLUSTER_NODES: '' };
  const bare = await startServer(join(__dirname, 'servers/bare.server.js'), env);
  servers.push(bare);
  const policy = await startServer(join(__dirname, 'servers/policy.server.js'), {
    ...env,
    BENCH_SQLITE: join(dir, `policy-${adapter}.sqlite`),
  });
  servers.push(policy);
  const app = await startServer(join(root, 'apps/agent-api/main.js'), {
    ...env,
    ...dataKeyEnv(),
    HTTP_ADAPTER: adapter,
    PORT: '0',
    DATABASE_URL: `sqlite:${join(dir, `app-${adapter}.sqlite`)}`,
    POLICY_CONFIG: policyFile,
  });
  servers.push(app);
  const created = await fetch(`${app.url}/agents`, {
    method: 'POST',
    headers: { ...bearer(), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench agent' }),
  }).then((r) => r.json() as Promise<{ id: string }>);
  const key = await fetch(`${app.url}/api-keys`, {
    method: 'POST',
    headers: { ...bearer(), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', roles: ['admin'], scopes: ['agents:read'] }),
  }).then((r) => r.json() as Promise<{ key: string }>);
  return { bare, policy, policyKey: keyFrom(policy), app, agentId: created.id, appKey: key.key };
}

export async function authBench(options: { rounds?: number; duration?: number } = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-auth-'));
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
  const all = process.env.BENCH_AUTH_ALL === '1';
  const limiter = process.env.BENCH_AUTH_LIMITER === '1';
  const only = process.env.BENCH_AUTH_ROWS?.split(',');
  const callers = limiter ? Array.from({ length: CALLERS }, (_, i) => token(`bench-user-${i}`, 'agents:read')) : [];
  const servers: ServerHandle[] = [];
  try {
    const byAdapter = new Map<AdapterName, AdapterServers>();
    for (const adapter of benchAdapters()) byAdapter.set(adapter, await startAll(adapter, dir, policyFile, servers));
    const variants = matrix(benchAdapters(), benchConnections(), (adapter) => {
      const s = byAdapter.get(adapter)!;
      const id = s.agentId;
      const rows: (Variant | false)[] = [
        { name: AUTH_ROWS.bare, options: () => ({ url: `${s.bare.url}/agents/${id}`, pid: s.bare.child.pid }) },
        all && {
          name: AUTH_ROWS.passport,
          options: () => ({ url: `${s.bare.url}/passport/agents/${id}`, headers: bearer(), pid: s.bare.child.pid }),
        },
        {
          name: AUTH_ROWS.stack,
          options: () => ({ url: `${s.policy.url}/agents/${id}`, headers: bearer(), pid: s.policy.child.pid }),
        },
        limiter && {
          name: AUTH_ROWS.stackSkip,
          options: () => ({
            url: `${s.policy.url}/unlimited/agents/${id}`,
            headers: bearer(),
            pid: s.policy.child.pid,
          }),
        },
        limiter && {
          name: AUTH_ROWS.stack10k,
          options: () => ({
            url: `${s.policy.url}/agents/${id}`,
            rotate: { header: 'Authorization', values: callers },
            pid: s.policy.child.pid,
          }),
        },
        limiter && {
          name: AUTH_ROWS.stackSkip10k,
          options: () => ({
            url: `${s.policy.url}/unlimited/agents/${id}`,
            rotate: { header: 'Authorization', values: callers },
            pid: s.policy.child.pid,
          }),
        },
        all && {
          name: AUTH_ROWS.stackKey,
          options: () => ({
            url: `${s.policy.url}/agents/${id}`,
            headers: { 'X-API-Key': s.policyKey },
            pid: s.policy.child.pid,
          }),
        },
        {
          name: AUTH_ROWS.agent,
          options: () => ({ url: `${s.app.url}/agents/${id}`, headers: bearer(), pid: s.app.child.pid }),
        },
        all && {
          name: AUTH_ROWS.agentKey,
          options: () => ({
            url: `${s.app.url}/agents/${id}`,
            headers: { 'X-API-Key': s.appKey },
            pid: s.app.child.pid,
          }),
        },
        { name: AUTH_ROWS.health, options: () => ({ url: `${s.app.url}/health`, pid: s.app.child.pid }) },
      ];
      const keep = (r: Variant) =>
        !only || r.name === AUTH_ROWS.bare || only.some((k) => AUTH_ROWS[k as keyof typeof AUTH_ROWS] === r.name);
      return rows.filter((r): r is Variant => r !== false && keep(r));
    });
    const rows = await compare(variants, options.rounds ?? 3, options.duration ?? 5);
    const out = table('Request path: bare route, library stack, agent-api (medians of interleaved rounds)', rows);
    return limiter ? `${out}\n\n${limiterSummary(rows)}` : out;
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/**
 * The memory limiter in the library's own guard: each limited row against the same route with `@SkipThrottle()`,
 * same callers, same adapter and connections (req/s ratio of the medians, then the CPU ratio).
 */
function limiterSummary(rows: VariantSummary[]): string {
  const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '–');
  const lines = [
    '### Memory limiter in the library guard vs `@SkipThrottle()` (same stack, same callers)',
    '',
    '| group | callers | req/s, limited / skipped | CPU µs/req, limited / skipped | req/s ratio | CPU ratio |',
    '|---|---|---:|---:|---:|---:|',
  ];
  const pairs: Array<[string, string, string]> = [
    ['1', AUTH_ROWS.stack, AUTH_ROWS.stackSkip],
    ['10,000', AUTH_ROWS.stack10k, AUTH_ROWS.stackSkip10k],
  ];
  for (const group of [...new Set(rows.map((r) => r.group))]) {
    for (const [callers, limited, skipped] of pairs) {
      const a = rows.find((r) => r.group === group && r.name === limited);
      const b = rows.find((r) => r.group === group && r.name === skipped);
      if (!a || !b) continue;
      lines.push(
        `| ${group ?? ''} | ${callers} | ${Math.round(a.rps)} / ${Math.round(b.rps)} | ${a.cpuUs.toFixed(1)} / ${b.cpuUs.toFixed(1)} | ${pct(a.rps / b.rps)} | ${pct(b.cpuUs / a.cpuUs)} |`,
      );
    }
  }
  return lines.join('\n');
}

function keyFrom(server: ServerHandle): string {
  // policy.server prints `READY <port> <key>`; the key was captured with the ready line.
  const key = server.line.trim().split(' ')[2];
  if (!key) throw new Error(`no API key in "${server.line}"`);
  return key;
}

if (require.main === module) {
  authBench({ rounds: Number(process.env.BENCH_ROUNDS ?? 3), duration: Number(process.env.BENCH_DURATION ?? 5) })
    .then((out) => process.stdout.write(`${out}\n`))
    .catch((err) => {
      process.stderr.write(`${(err as Error).stack}\n`);
      process.exit(1);
    });
}
