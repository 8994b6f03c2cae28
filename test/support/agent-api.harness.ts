/**
 * Starts the real agent-api (its module, its migrations, real HTTP on a random port) for e2e suites, on the
 * Express or Fastify adapter and on SQLite or PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import jwt, { type SignOptions } from 'jsonwebtoken';
import request from 'supertest';
import { createAgentApi, type HttpAdapterKind } from '../../apps/agent-api/src/bootstrap';
import { loadConfig, type AgentApiConfig } from '../../apps/agent-api/src/config/agent-api.config';
import { createTestDatabase } from './services';

export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

export type DatabaseKind = 'sqlite' | 'postgres';

export interface HarnessOptions {
  adapter?: HttpAdapterKind;
  database?: DatabaseKind;
  env?: Record<string, string>;
  /** Adjusts the loaded configuration (e.g. limits) before the app is built. */
  configure?: (config: AgentApiConfig) => void;
  /** Writes JSON logs as production does (`LOG_FORMAT=json`), gathered in memory for `logs()` instead of stdout. */
  jsonLogs?: boolean;
}

export interface Harness {
  app: INestApplication;
  config: AgentApiConfig;
  url: string;
  http: () => ReturnType<typeof request>;
  close: () => Promise<void>;
  /** The JSON log lines written so far, parsed (with `jsonLogs`; lines go out in batches within 100 ms). */
  logs: () => Array<Record<string, unknown>>;
}

/** Claims of a test token; `sub` defaults to a new id. */
export interface TestClaims {
  sub?: string;
  roles?: string[];
  scope?: string;
  tenant_id?: string;
  tier?: string;
  token_type?: string;
  [claim: string]: unknown;
}

/** Signs an HS256 test token with the test secret (or the given key and options). */
export function signToken(claims: TestClaims, options: SignOptions & { key?: string } = {}): string {
  const { key, ...rest } = options;
  const signOptions: SignOptions = { algorithm: 'HS256', expiresIn: '10m', jwtid: randomUUID(), ...rest };
  // `expiresIn: undefined` asks for a token without `exp`.
  if ('expiresIn' in rest && rest.expiresIn === undefined) delete signOptions.expiresIn;
  return jwt.sign({ sub: claims.sub ?? `user-${randomUUID()}`, ...claims }, key ?? TEST_SECRET, signOptions);
}

export const ADMIN = { roles: ['admin'], scope: 'admin' };

export async function startAgentApi(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'agent-api-'));
  let dropDb: (() => Promise<void>) | undefined;
  let databaseUrl = `sqlite:${join(dir, 'db.sqlite')}`;
  if (options.database === 'postgres') {
    const db = await createTestDatabase('agentapi');
    databaseUrl = db.url;
    dropDb = db.drop;
  }
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, DATABASE_URL: databaseUrl, ...options.env });
  // Suites send many bad credentials on purpose; the failed-attempt limit has its own suite.
  config.policy.rateLimits = { ...config.policy.rateLimits, authFailures: { limit: 100_000, ttl: 60 } };
  options.configure?.(config);
  const written: string[] = [];
  if (options.jsonLogs) config.logFormat = 'json';
  const app = await createAgentApi(
    config,
    options.jsonLogs
      ? {
          adapter: options.adapter ?? 'express',
          logDestination: { write: (chunk: string) => written.push(chunk), flushSync: () => undefined },
        }
      : { adapter: options.adapter ?? 'express', logger: ['error'] },
  );
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    config,
    url,
    http: () => request(url),
    logs: () =>
      written
        .join('')
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    close: async () => {
      await app.close();
      if (dropDb) await dropDb();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
