import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { BUDGET_ENTITIES, BUDGET_MIGRATIONS } from './budget.persistence';
import { UsageLedgerEntity } from './usage-ledger.entity';
import { UsageLedgerService } from './usage-ledger.service';

describe('UsageLedgerService (SQLite :memory:)', () => {
  let dataSource: DataSource;
  const day = (d: number, h = 12) => Date.UTC(2026, 10, d, h);

  beforeAll(async () => {
    dataSource = await new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: BUDGET_ENTITIES,
      migrations: BUDGET_MIGRATIONS,
    }).initialize();
    await dataSource.runMigrations();
  });
  afterAll(async () => dataSource?.destroy());
  beforeEach(async () => dataSource.getRepository(UsageLedgerEntity).clear());

  const count = () => dataSource.getRepository(UsageLedgerEntity).count();

  it('queues entries off the request path and writes them all on shutdown', async () => {
    const ledger = new UsageLedgerService(dataSource, { batchSize: 1_000, flushIntervalMs: 60_000 });
    for (let i = 0; i < 250; i++) {
      ledger.record({ principalId: 'u1', model: 'echo-1', inputTokens: 10, outputTokens: 5, costMicroUsd: 20 });
    }
    expect(ledger.pending).toBe(250);
    expect(await count()).toBe(0);
    await ledger.onApplicationShutdown();
    expect(ledger.pending).toBe(0);
    expect(await count()).toBe(250);
  });

  it('writes in batches in the background', async () => {
    const ledger = new UsageLedgerService(dataSource, { batchSize: 10, flushIntervalMs: 10 });
    for (let i = 0; i < 25; i++) ledger.record({ principalId: 'u1', inputTokens: 1, outputTokens: 1, costMicroUsd: 1 });
    const deadline = Date.now() + 2_000;
    while ((await count()) < 25 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(await count()).toBe(25);
    await ledger.onApplicationShutdown();
  });

  it('drops only an entry the database refuses for good, and writes the rest of its batch', async () => {
    await dataSource.query(
      `CREATE TRIGGER "refuse_poison" BEFORE INSERT ON "policy_usage_ledger" WHEN NEW."principal_id" = 'poison' BEGIN SELECT RAISE(ABORT, 'refused'); END`,
    );
    try {
      const ledger = new UsageLedgerService(dataSource, { batchSize: 100, flushIntervalMs: 60_000 });
      for (const principalId of ['u1', 'u2', 'poison', 'u3', 'u\u0000', 'u4'])
        ledger.record({ principalId, inputTokens: 1, outputTokens: 1, costMicroUsd: 1 });
      await ledger.flush();
      expect(ledger.pending).toBe(0);
      const stored = await dataSource.getRepository(UsageLedgerEntity).find();
      expect(stored.map((row) => row.principalId).sort()).toEqual(['u1', 'u2', 'u3', 'u4', 'u\ufffd']);
    } finally {
      await dataSource.query('DROP TRIGGER "refuse_poison"');
    }
  });

  it('keeps entries queued when a write fails, and writes them once the database answers', async () => {
    const ledger = new UsageLedgerService(dataSource, { batchSize: 100, flushIntervalMs: 60_000 });
    ledger.record({ principalId: 'u1', inputTokens: 1, outputTokens: 1, costMicroUsd: 1 });
    await dataSource.query('ALTER TABLE "policy_usage_ledger" RENAME TO "ledger_away"');
    await expect(ledger.flush()).rejects.toThrow();
    expect(ledger.pending).toBe(1);
    await dataSource.query('ALTER TABLE "ledger_away" RENAME TO "policy_usage_ledger"');
    await ledger.flush();
    expect(await count()).toBe(1);
  });

  it('aggregates per model, principal and UTC day, within [since, until) and per tenant', async () => {
    const ledger = new UsageLedgerService(dataSource);
    const rows = [
      {
        principalId: 'u1',
        tenantId: 't1',
        model: 'echo-1',
        inputTokens: 100,
        outputTokens: 10,
        costMicroUsd: 1_500_000,
        createdAt: day(23, 0),
      },
      {
        principalId: 'u1',
        tenantId: 't1',
        model: 'echo-2',
        inputTokens: 200,
        outputTokens: 20,
        costMicroUsd: 500_000,
        createdAt: day(23, 23),
      },
      {
        principalId: 'u2',
        tenantId: 't2',
        model: 'echo-1',
        inputTokens: 300,
        outputTokens: 30,
        costMicroUsd: 250,
        createdAt: day(24),
      },
      {
        principalId: 'u2',
        tenantId: 't2',
        model: 'echo-1',
        inputTokens: 1,
        outputTokens: 1,
        costMicroUsd: 1,
        createdAt: day(30),
      },
    ];
    for (const row of rows) ledger.record(row);
    await ledger.flush();
    const since = day(23, 0);
    const until = day(25, 0);
    expect(await ledger.aggregate({ groupBy: 'model', since, until })).toEqual([
      { key: 'echo-1', requests: 2, inputTokens: 400, outputTokens: 40, cost: 1.50025 },
      { key: 'echo-2', requests: 1, inputTokens: 200, outputTokens: 20, cost: 0.5 },
    ]);
    expect(await ledger.aggregate({ groupBy: 'day', since: new Date(since), until: new Date(until) })).toEqual([
      { key: '2026-11-23', requests: 2, inputTokens: 300, outputTokens: 30, cost: 2 },
      { key: '2026-11-24', requests: 1, inputTokens: 300, outputTokens: 30, cost: 0.00025 },
    ]);
    expect(await ledger.aggregate({ groupBy: 'principal', tenantId: 't2' })).toEqual([
      { key: 'u2', requests: 2, inputTokens: 301, outputTokens: 31, cost: 0.000251 },
    ]);
  });
});
