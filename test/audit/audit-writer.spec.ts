import { afterAll, beforeAll, describe, expect, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { AuditService } from 'nest-agent-policy';
import { AuditWriter } from 'nest-agent-policy';
import type { AuditEventInput } from 'nest-agent-policy';
import { itOn, openTestDatabase, type DatabaseKind, type TestDatabase } from './audit-databases';

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjk5OTk5OTk5OTl9.c2lnbmF0dXJlLXNlY3JldA';
const API_KEY = 'apk_k1d2e3_S3cr3tP4rtOfTheKey0987';
const PASSWORD = 'hunter2-correct-horse';
const COOKIE = 'sid=s%3AsessionCookieValue42';
const CLIENT_IP = '203.0.113.77';

function event(index: number, extra: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    type: index % 2 ? 'access.denied' : 'access.granted',
    outcome: index % 2 ? 'DENY' : 'ALLOW',
    principalId: `user-${index % 7}`,
    tenantId: `tenant-${index % 3}`,
    operation: 'agent.update',
    reasons: [{ policy: 'roles', outcome: index % 2 ? 'DENY' : 'ALLOW', reason: `event ${index}` }],
    details: { index },
    ...extra,
  };
}

async function count(source: DataSource): Promise<number> {
  const [row] = await source.query('SELECT COUNT(*) AS n FROM policy_audit_events');
  return Number((row as { n: string | number }).n);
}

describe.each<DatabaseKind>(['sqlite', 'postgres'])('audit log on %s', (kind) => {
  let db: TestDatabase;
  const it = itOn(kind);

  beforeAll(async () => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    db = await openTestDatabase(kind);
  }, 60_000);
  afterAll(async () => {
    await db?.dispose();
    jest.restoreAllMocks();
  });

  it('writes 5,000 events, flushes them on shutdown, and they verify; an edited row is named', async () => {
    const source = await db.connect();
    const writer = new AuditWriter(source, {});
    const audit = new AuditService(writer, source);
    const started = performance.now();
    for (let i = 0; i < 5_000; i++) await audit.record(event(i));
    await writer.beforeApplicationShutdown();
    await writer.onApplicationShutdown();
    const seconds = (performance.now() - started) / 1000;
    console.info(
      `[audit] ${kind}: 5,000 events recorded and written in ${seconds.toFixed(2)} s (${Math.round(5_000 / seconds)} events/s)`,
    );

    expect(await count(source)).toBe(5_000);
    const verifyStarted = performance.now();
    await expect(audit.verify()).resolves.toEqual({ valid: true, checked: 5_000, firstBrokenId: null });
    console.info(`[audit] ${kind}: verified 5,000 events in ${Math.round(performance.now() - verifyStarted)} ms`);
    await expect(audit.record(event(1))).rejects.toThrow('shut down');

    const [victim] = await source.query<Array<{ id: string }>>(
      'SELECT id FROM policy_audit_events ORDER BY created_at, seq LIMIT 1 OFFSET 1234',
    );
    const placeholder = kind === 'postgres' ? '$1' : '?';
    await source.query(`UPDATE policy_audit_events SET reasons = '["nothing to see"]' WHERE id = ${placeholder}`, [
      victim.id,
    ]);
    await expect(audit.verify(500)).resolves.toEqual({ valid: false, checked: 1_235, firstBrokenId: victim.id });
    await source.query('DELETE FROM policy_audit_events');
  }, 120_000);

  it('redacts secrets from every column and hashes the client IP', async () => {
    const source = await db.connect();
    const writer = new AuditWriter(source, { hashIpSalt: 'salt-for-tests' });
    const audit = new AuditService(writer, source);
    await audit.record({
      type: 'auth.failure',
      outcome: 'FAILURE',
      principalId: null,
      ip: CLIENT_IP,
      operation: `login ${API_KEY}`,
      reasons: [`invalid token ${JWT}`, { header: `Bearer ${JWT}` }],
      details: {
        headers: { authorization: `Bearer ${JWT}`, cookie: COOKIE, 'x-api-key': API_KEY },
        body: { user: 'a', password: PASSWORD },
      },
    });
    await audit.record({
      type: 'api_key.created',
      outcome: 'SUCCESS',
      principalId: 'admin',
      requestId: `req ${API_KEY}`,
      ip: CLIENT_IP,
      reasons: [{ note: `key ${API_KEY} issued`, credentials: { password: PASSWORD } }],
      details: { raw: `Cookie: x; password=${PASSWORD}`, list: [{ Set_Cookie: COOKIE }] },
    });
    await writer.close();

    const rows = await source.query<Array<Record<string, unknown>>>('SELECT * FROM policy_audit_events');
    expect(rows).toHaveLength(2);
    const stored = JSON.stringify(rows);
    for (const secret of [JWT, API_KEY, PASSWORD, COOKIE, 'sessionCookieValue42', CLIENT_IP])
      expect(stored).not.toContain(secret);
    expect(stored).toContain('[REDACTED]');
    expect(rows.every((row) => typeof row.ip === 'string' && /^[0-9a-f]{64}$/.test(row.ip))).toBe(true);
    await expect(audit.verify()).resolves.toMatchObject({ valid: true, checked: 2 });
    await source.query('DELETE FROM policy_audit_events');
  });

  it('makes record() wait while the queue is full, and loses nothing', async () => {
    const source = await db.connect();
    // A slow database: every batch takes 25 ms more to write.
    class SlowWriter extends AuditWriter {
      protected override async writeBatch(rows: Parameters<AuditWriter['writeBatch']>[0]): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, 25));
        return super.writeBatch(rows);
      }
    }
    const writer = new SlowWriter(source, { maxQueue: 5, batchSize: 2, flushIntervalMs: 1 });
    const audit = new AuditService(writer, source);
    let waited = 0;
    let highest = 0;
    const pending = Array.from({ length: 60 }, async (_, i) => {
      const before = performance.now();
      await audit.record(event(i));
      if (performance.now() - before >= 20) waited += 1;
      highest = Math.max(highest, writer.pending);
    });
    await Promise.all(pending);
    expect(highest).toBeLessThanOrEqual(5);
    expect(waited).toBeGreaterThan(40);
    await writer.close();
    expect(await count(source)).toBe(60);
    await expect(audit.verify()).resolves.toEqual({ valid: true, checked: 60, firstBrokenId: null });
    await source.query('DELETE FROM policy_audit_events');
  }, 60_000);

  it('retries a failed batch instead of dropping it', async () => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const source = await db.connect();
    // The first two batch writes fail as a dropped connection would.
    let failures = 2;
    class FlakyWriter extends AuditWriter {
      protected override async writeBatch(rows: Parameters<AuditWriter['writeBatch']>[0]): Promise<void> {
        if (failures-- > 0) throw new Error('connection reset');
        return super.writeBatch(rows);
      }
    }
    const writer = new FlakyWriter(source, { flushIntervalMs: 5 });
    const audit = new AuditService(writer, source);
    for (let i = 0; i < 10; i++) await audit.record(event(i));
    for (let tries = 0; tries < 100 && (await count(source)) < 10; tries++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await writer.close();
    expect(await count(source)).toBe(10);
    await expect(audit.verify()).resolves.toMatchObject({ valid: true, checked: 10 });
    await source.query('DELETE FROM policy_audit_events');
  });

  it('lists newest first with filters and an opaque cursor', async () => {
    const source = await db.connect();
    const writer = new AuditWriter(source, {});
    const audit = new AuditService(writer, source);
    const base = Date.UTC(2030, 0, 1);
    for (let i = 0; i < 25; i++) await audit.record(event(i, { createdAt: base + Math.floor(i / 2) * 1000 }));
    await writer.close();

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await audit.query({ limit: 10, cursor });
      seen.push(...page.items.map((item) => String((item.details as { index: number }).index)));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
    const times = (await audit.query({ limit: 500 })).items.map((item) => Date.parse(item.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const denied = await audit.query({
      type: 'access.denied',
      principalId: 'user-1',
      since: new Date(base + 3000).toISOString(),
      until: base + 9000,
    });
    expect(denied.items.length).toBeGreaterThan(0);
    for (const item of denied.items) {
      expect(item).toMatchObject({ type: 'access.denied', principalId: 'user-1' });
      expect(Date.parse(item.createdAt)).toBeGreaterThanOrEqual(base + 3000);
      expect(Date.parse(item.createdAt)).toBeLessThan(base + 9000);
    }
    await expect(audit.query({ cursor: 'not-a-cursor' })).rejects.toMatchObject({
      response: { code: 'validation_failed' },
    });
    await expect(audit.query({ limit: 0 })).rejects.toMatchObject({ response: { code: 'validation_failed' } });
    await source.query('DELETE FROM policy_audit_events');
  });
});
