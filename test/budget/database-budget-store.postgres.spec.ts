import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import { DataSource } from 'typeorm';
import { BUDGET_ENTITIES, BUDGET_MIGRATIONS, DatabaseBudgetStore, UsageLedgerService } from 'nest-agent-policy';
import { createTestDatabase, itWith } from '../support/services';
import { defineBudgetStoreContract, type StoreFixture } from './budget-store.contract';

describe('DatabaseBudgetStore on PostgreSQL, two DataSources on one fresh database', () => {
  let now = Date.now();
  const sources: DataSource[] = [];
  let drop: (() => Promise<void>) | null = null;
  let fixture: StoreFixture | null = null;
  const it = itWith('postgres');

  beforeAll(async () => {
    const db = await createTestDatabase('nap_budget');
    drop = db.drop;
    const connect = () =>
      new DataSource({
        type: 'postgres',
        url: db.url,
        entities: BUDGET_ENTITIES,
        migrations: BUDGET_MIGRATIONS,
      }).initialize();
    for (let i = 0; i < 2; i++) sources.push(await connect());
    await sources[0].runMigrations();
    const stores = sources.map((s) => new DatabaseBudgetStore(s, { clock: () => now }));
    const spawn = async () => {
      const source = await connect();
      return { store: new DatabaseBudgetStore(source, { clock: () => now }), crash: () => source.destroy() };
    };
    fixture = { stores, advance: (ms) => (now += ms), now: () => now, spawn };
  });
  afterAll(async () => {
    for (const s of sources) await s.destroy();
    await drop?.();
  });

  defineBudgetStoreContract('postgres x2', () => fixture, it);

  it('postgres: the usage ledger writes batches and aggregates per model, principal and day', async () => {
    const ledger = new UsageLedgerService(sources[0], { batchSize: 50 });
    const day = Date.UTC(2026, 10, 23, 12);
    for (let i = 0; i < 120; i++) {
      ledger.record({
        principalId: `u${i % 2}`,
        tenantId: 't1',
        model: i % 3 ? 'echo-1' : 'echo-2',
        inputTokens: 10,
        outputTokens: 5,
        costMicroUsd: 1_000,
        createdAt: day + (i % 2) * 86_400_000,
      });
    }
    await ledger.onApplicationShutdown();
    expect(await ledger.aggregate({ groupBy: 'model', tenantId: 't1' })).toEqual([
      { key: 'echo-1', requests: 80, inputTokens: 800, outputTokens: 400, cost: 0.08 },
      { key: 'echo-2', requests: 40, inputTokens: 400, outputTokens: 200, cost: 0.04 },
    ]);
    expect(
      (await ledger.aggregate({ groupBy: 'day', since: day - 43_200_000 })).map((r) => [r.key, r.requests]),
    ).toEqual([
      ['2026-11-23', 60],
      ['2026-11-24', 60],
    ]);
    expect((await ledger.aggregate({ groupBy: 'principal', until: day + 1 })).map((r) => [r.key, r.requests])).toEqual([
      ['u0', 60],
    ]);
  });
});
