/**
 * Helpers of the audit HTTP suites: a policy file derived from the shipped one, a bounded-concurrency request
 * driver, and direct reads of the `policy_audit_events` table of a SQLite file or a PostgreSQL database.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { parse as parseYaml } from 'yaml';
import type { PolicyDocument } from 'nest-agent-policy';
import { waitFor as pollFor } from '../support/wait-for';

export const SHIPPED_POLICY = join(__dirname, '..', '..', 'apps', 'agent-api', 'policy', 'agent-api.policy.yaml');

/** The shipped policy with limits high enough for load, adjusted by `patch`, written as JSON into `dir`. */
export function writePolicy(dir: string, patch: (policy: PolicyDocument) => void = () => undefined): string {
  const policy = parseYaml(readFileSync(SHIPPED_POLICY, 'utf8')) as PolicyDocument;
  const high = { limit: 1_000_000, ttl: 60 };
  policy.rateLimits = { ...policy.rateLimits, default: high, anonymous: high, authFailures: high };
  patch(policy);
  const file = join(dir, 'policy.json');
  writeFileSync(file, JSON.stringify(policy));
  return file;
}

/** Sends `count` requests, at most `concurrency` at a time, and answers how many got each status. */
export async function fire(
  count: number,
  concurrency: number,
  send: (index: number) => Promise<number>,
): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const status = await send(next++);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return statuses;
}

/** A DataSource on the database of an agent-api `DATABASE_URL`, for raw queries only. */
export async function openDatabase(databaseUrl: string): Promise<DataSource> {
  const source = databaseUrl.startsWith('sqlite:')
    ? new DataSource({ type: 'better-sqlite3', database: databaseUrl.slice('sqlite:'.length) })
    : new DataSource({ type: 'postgres', url: databaseUrl });
  return source.initialize();
}

/** Every row of the audit table, every column, as the driver returns it. */
export async function auditRows(databaseUrl: string): Promise<Array<Record<string, unknown>>> {
  const source = await openDatabase(databaseUrl);
  try {
    return await source.query<Array<Record<string, unknown>>>('SELECT * FROM policy_audit_events');
  } finally {
    await source.destroy();
  }
}

/** Polls `probe` until it answers true. @throws after `timeoutMs`. */
export async function waitFor(probe: () => Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  await pollFor(probe, { timeout: timeoutMs, what });
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
