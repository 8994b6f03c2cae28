/**
 * A write error never wedges the audit writer: text a database cannot store is made storable before hashing (the
 * chain still verifies), an event the database refuses is isolated and dropped while the rest of its batch is
 * stored, the drop is itself an audit event, and a producer facing a full queue gets 503 `unavailable` within
 * `maxWaitMs` instead of waiting forever. On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { AuditService, AuditWriter, type AuditEventDraft, type AuditEventInput } from 'nest-agent-policy';
import { itOn, openTestDatabase, type DatabaseKind, type TestDatabase } from './audit-databases';

const NUL = '\u0000';
const LONE_HIGH = '\ud83d';
const LONE_LOW = '\ude00';

function denial(index: number, extra: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    type: 'access.denied',
    outcome: 'DENY',
    principalId: `user-${index}`,
    operation: 'agent.read',
    reasons: [`event ${index}`],
    ...extra,
  };
}

/** A writer that stores strings exactly as given, as the writer did before (to reach the database's own refusal). */
class UnsanitisedWriter extends AuditWriter {
  protected override prepare(event: AuditEventDraft) {
    return { ...super.prepare(event), principalId: event.principalId };
  }
}

/** A writer whose database is down until `up` is set. */
class OutageWriter extends AuditWriter {
  up = false;
  protected override async writeBatch(rows: Parameters<AuditWriter['writeBatch']>[0]): Promise<void> {
    if (!this.up) throw new Error('connection refused');
    return super.writeBatch(rows);
  }
}

async function rows(
  source: DataSource,
): Promise<
  Array<{ id: string; type: string; principal_id: string | null; tenant_id: string | null; details: string | null }>
> {
  return source.query(
    'SELECT id, type, principal_id, tenant_id, details FROM policy_audit_events ORDER BY chain_id, seq',
  );
}

describe.each<DatabaseKind>(['sqlite', 'postgres'])('a write error never wedges the audit writer (%s)', (kind) => {
  let db: TestDatabase;
  const it = itOn(kind);
  let source: DataSource;

  beforeAll(async () => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    db = await openTestDatabase(kind);
    source = await db.connect();
  }, 60_000);
  afterAll(async () => {
    await db?.dispose();
    jest.restoreAllMocks();
  });
  afterEach(async () => {
    await source.query('DELETE FROM policy_audit_events');
  });

  it('stores NUL and lone surrogates as U+FFFD in every column, and the chain verifies', async () => {
    const writer = new AuditWriter(source, {});
    const audit = new AuditService(writer, source);
    await audit.record(
      denial(1, {
        principalId: `evil${NUL}`,
        tenantId: `t${LONE_HIGH}`,
        operation: `op${LONE_LOW}`,
        requestId: `r${NUL}`,
        ip: `1.2.3.4${NUL}`,
      }),
    );
    await audit.record(
      denial(2, {
        reasons: [`why${NUL}`, { k: `v${LONE_HIGH}` }],
        details: { [`key${NUL}`]: `value${NUL}${LONE_LOW}` },
      }),
    );
    await audit.record(denial(3, { principalId: `${'x'.repeat(254)}😀` })); // the 255-character cut splits the emoji
    await writer.close();

    const stored = await rows(source);
    expect(stored).toHaveLength(3);
    expect(stored[0]).toMatchObject({ principal_id: 'evil\ufffd', tenant_id: 't\ufffd' });
    expect(stored[2].principal_id).toBe(`${'x'.repeat(254)}\ufffd`);
    expect(JSON.stringify(stored)).not.toContain('\\u0000');
    await expect(audit.verify()).resolves.toEqual({ valid: true, checked: 3, firstBrokenId: null });
  });

  it('isolates an event the database refuses, stores the rest of its batch and records the drop', async () => {
    const writer = new UnsanitisedWriter(source, { batchSize: 50, flushIntervalMs: 10 });
    const audit = new AuditService(writer, source);
    const duplicate = '00000000-0000-4000-8000-000000000001';
    for (let i = 0; i < 20; i += 1) await audit.record(denial(i));
    await audit.record(denial(100, { id: duplicate }));
    await audit.record(denial(101, { id: duplicate })); // the same id again: a primary-key violation on every database
    await audit.record(denial(102, { principalId: `evil${NUL}` })); // refused by PostgreSQL (22021), stored by SQLite
    for (let i = 20; i < 40; i += 1) await audit.record(denial(i));
    await writer.flush();
    // Later events are not held up.
    await audit.record(denial(999));
    await writer.close();

    const stored = await rows(source);
    const dropped = stored.filter((row) => row.type === 'audit.dropped');
    const expectedDrops = kind === 'postgres' ? 2 : 1;
    expect(dropped).toHaveLength(expectedDrops);
    expect(stored.filter((row) => row.type === 'access.denied')).toHaveLength(
      40 + 1 + 1 + (kind === 'postgres' ? 0 : 1),
    );
    expect(stored.map((row) => row.principal_id)).toEqual(
      expect.arrayContaining(['user-0', 'user-39', 'user-999', 'user-100']),
    );
    expect(JSON.parse(dropped[0].details!)).toMatchObject({
      droppedId: duplicate,
      droppedType: 'access.denied',
      error: expect.any(String),
    });
    await expect(audit.verify()).resolves.toEqual({ valid: true, checked: stored.length, firstBrokenId: null });
  });

  it('refuses a producer with 503 unavailable once the queue stayed full for maxWaitMs, then recovers', async () => {
    const writer = new OutageWriter(source, { maxQueue: 5, maxWaitMs: 300, flushIntervalMs: 10 });
    const audit = new AuditService(writer, source);
    for (let i = 0; i < 5; i += 1) await audit.record(denial(i));
    const started = Date.now();
    const refused = await audit.record(denial(5)).then(
      () => null,
      (error: unknown) => error,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(refused).toMatchObject({ status: 503, response: { statusCode: 503, code: 'unavailable' } });

    writer.up = true;
    await writer.flush();
    await audit.record(denial(6));
    await writer.close();
    expect((await rows(source)).map((row) => row.principal_id)).toEqual([
      'user-0',
      'user-1',
      'user-2',
      'user-3',
      'user-4',
      'user-6',
    ]);
    await expect(audit.verify()).resolves.toMatchObject({ valid: true, checked: 6 });
  });
});
