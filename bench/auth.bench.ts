/**
 * Authentication on the request path, in one run: a bare NestJS route; the same route behind a plain
 * passport-jwt `AuthGuard`; behind nest-agent-policy with a JWT and with an API key; and the full agent-api
 * `GET /agents/:id` (auth + authorization + rate limit + a database read) with a JWT and an API key.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { compare, startServer, table, type ServerHandle } from './lib/load';
import { dataKeyEnv } from './lib/app-env';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const root = join(__dirname, '..');
const bearer = (scope = 'admin') => ({
  Authorization: `Bearer ${jwt.sign({ sub: 'bench-user', roles: ['admin'], scope }, SECRET, { algorithm: 'HS256', expiresIn: '2h', jwtid: randomUUID() })}`,
});

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
  const env = { JWT_SECRET: SECRET, NO_COLOR: '1' };
  const servers: ServerHandle[] = [];
  try {
    const bare = await startServer(join(__dirname, 'servers/bare.server.js'), env);
    servers.push(bare);
    const policy = await startServer(join(__dirname, 'servers/policy.server.js'), { ...env, BENCH_SQLITE: join(dir, 'policy.sqlite') });
    servers.push(policy);
    const policyKey = await keyFrom(policy);
    const app = await startServer(join(root, 'apps/agent-api/main.js'), {
      ...env,
      ...dataKeyEnv(),
      PORT: '0',
      DATABASE_URL: `sqlite:${join(dir, 'app.sqlite')}`,
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
    const id = created.id;
    const rows = await compare(
      [
        { name: 'bare NestJS route', options: () => ({ url: `${bare.url}/agents/${id}` }) },
        { name: 'plain passport-jwt AuthGuard', options: () => ({ url: `${bare.url}/passport/agents/${id}`, headers: bearer() }) },
        { name: 'nest-agent-policy, JWT', options: () => ({ url: `${policy.url}/agents/${id}`, headers: bearer() }) },
        { name: 'nest-agent-policy, API key', options: () => ({ url: `${policy.url}/agents/${id}`, headers: { 'X-API-Key': policyKey } }) },
        { name: 'agent-api GET /agents/:id, JWT (+ DB read)', options: () => ({ url: `${app.url}/agents/${id}`, headers: bearer() }) },
        { name: 'agent-api GET /agents/:id, API key (+ DB read)', options: () => ({ url: `${app.url}/agents/${id}`, headers: { 'X-API-Key': key.key } }) },
      ],
      options.rounds ?? 3,
      options.duration ?? 5,
    );
    return table('Authentication (Express, 10 connections, medians of interleaved rounds)', rows);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

async function keyFrom(server: ServerHandle): Promise<string> {
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
