/**
 * Keys, raw-storage readers and a small data set for the field-encryption suites.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { openDatabase } from '../audit-http/audit-http.support';
import type { Harness } from '../support/agent-api.harness';
import { ADMIN, signToken } from '../support/agent-api.harness';

export const newKey = (): string => randomBytes(32).toString('base64');

/** `DATA_KEYS`/`BLIND_INDEX_KEY` for a ring of the given kids (first encrypts). */
export function keyEnv(keys: Record<string, string>, blindIndexKey: string): Record<string, string> {
  return {
    DATA_KEYS: Object.entries(keys)
      .map(([kid, key]) => `${kid}:${key}`)
      .join(','),
    BLIND_INDEX_KEY: blindIndexKey,
  };
}

/** Every byte of a SQLite database as text (the main file and its write-ahead log). */
export function sqliteBytes(path: string): string {
  return [path, `${path}-wal`]
    .filter((p) => existsSync(p))
    .map((p) => readFileSync(p).toString('latin1'))
    .join('\n');
}

/** Raw rows of the encrypted tables, as stored, from SQLite or PostgreSQL. */
export async function rawRows(
  databaseUrl: string,
): Promise<{ customers: Array<Record<string, string | null>>; events: Array<Record<string, string | null>> }> {
  const source = await openDatabase(databaseUrl);
  try {
    return {
      customers: await source.query('SELECT id, name, email, phone, email_bidx FROM customers'),
      events: await source.query('SELECT id, message FROM events'),
    };
  } finally {
    await source.destroy();
  }
}

/** Runs one statement against the raw database (`$1`-style parameters), e.g. to tamper with a stored value. */
export async function rawExecute(databaseUrl: string, statement: string, params: unknown[]): Promise<void> {
  const source = await openDatabase(databaseUrl);
  try {
    if (!databaseUrl.startsWith('sqlite:')) await source.query(statement, params);
    else {
      const positional: unknown[] = [];
      const sql = statement.replace(/\$(\d+)/g, (_, n: string) => (positional.push(params[Number(n) - 1]), '?'));
      await source.query(sql, positional);
    }
  } finally {
    await source.destroy();
  }
}

export interface Seeded {
  token: string;
  customers: Array<{ id: string; name: string; email: string; phone: string }>;
  messages: string[];
  sessionId: string;
}

/** Creates `count` customers with unique PII and a session with one exchange per customer (message + echoed reply). */
export async function seed(h: Harness, count: number, tenant = `t-${randomUUID()}`): Promise<Seeded> {
  const token = signToken({ ...ADMIN, tenant_id: tenant });
  const auth = { Authorization: `Bearer ${token}` };
  const tag = randomBytes(4).toString('hex');
  const customers: Seeded['customers'] = [];
  for (let i = 0; i < count; i++) {
    const body = {
      name: `Zelda Plaintext${tag}${i}`,
      email: `zelda.${tag}.${i}@example.org`,
      phone: `+44 20 7946 ${String(1000 + i)}`,
    };
    const res = await h.http().post('/customers').set(auth).send(body).expect(201);
    customers.push({ id: res.body.id, ...body });
  }
  const agent = await h.http().post('/agents').set(auth).send({ name: 'helper' }).expect(201);
  const session = await h
    .http()
    .post('/sessions')
    .set(auth)
    .send({ agentId: agent.body.id, customerId: customers[0].id })
    .expect(201);
  const messages: string[] = [];
  for (let i = 0; i < Math.min(count, 3); i++) {
    const message = `my secret order number is ${tag}-${i}-quartz`;
    await h.http().post(`/sessions/${session.body.id}/events`).set(auth).send({ message }).expect(201);
    messages.push(message);
  }
  return { token, customers, messages, sessionId: session.body.id };
}
