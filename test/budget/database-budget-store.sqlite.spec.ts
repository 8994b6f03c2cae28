import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import { BUDGET_ENTITIES, BUDGET_MIGRATIONS, DatabaseBudgetStore } from 'nest-agent-policy';
import { defineBudgetStoreContract, type StoreFixture } from './budget-store.contract';

function sqlite(database: string): DataSource {
  return new DataSource({ type: 'better-sqlite3', database, entities: BUDGET_ENTITIES, migrations: BUDGET_MIGRATIONS });
}

describe('DatabaseBudgetStore on SQLite (:memory:)', () => {
  let now = Date.now();
  let dataSource: DataSource;
  let fixture: StoreFixture;

  beforeAll(async () => {
    dataSource = await sqlite(':memory:').initialize();
    await dataSource.runMigrations();
    const store = new DatabaseBudgetStore(dataSource, { clock: () => now });
    // In one process the only way to lose an instance is to drop the object.
    const spawn = async () => ({
      store: new DatabaseBudgetStore(dataSource, { clock: () => now }),
      crash: async () => undefined,
    });
    fixture = { stores: [store], advance: (ms) => (now += ms), now: () => now, spawn };
  });
  afterAll(async () => dataSource?.destroy());

  defineBudgetStoreContract('sqlite memory', () => fixture);

  it('commits the reservations of one event-loop turn together; one that fails leaves the others alone', async () => {
    const [store] = fixture.stores;
    const key = `principal:group-${randomUUID()}:day:x:requests`;
    const counters = [{ key, limit: 10, amount: 1, unit: 'requests' as const, expiresAt: now + 86_400_000 }];
    const db = (dataSource.driver as unknown as { databaseConnection: { transaction(fn: () => void): unknown } })
      .databaseConnection;
    const transactions = jest.spyOn(db, 'transaction');
    const taken = randomUUID();
    const outcomes = await Promise.allSettled([
      store.reserve({ reservationId: taken, counters, ttlMs: 60_000 }),
      // The same reservation id again: its INSERT fails inside the group.
      store.reserve({ reservationId: taken, counters, ttlMs: 60_000 }),
      store.reserve({ reservationId: randomUUID(), counters, ttlMs: 60_000 }),
    ]);
    // One group: its transaction and the savepoint function, not a transaction per reservation.
    expect(transactions).toHaveBeenCalledTimes(2);
    transactions.mockRestore();
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(outcomes[0]).toMatchObject({ value: { ok: true } });
    expect(outcomes[2]).toMatchObject({ value: { ok: true, counters: [{ key, reserved: 2 }] } });
    // The failed one's counter update was rolled back to its savepoint: two held, not three.
    expect(await store.snapshot([{ key, limit: 10 }])).toEqual([{ key, limit: 10, used: 0, reserved: 2 }]);
  });
});

describe('DatabaseBudgetStore on one SQLite file shared by two DataSources', () => {
  let now = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'nap-budget-'));
  const sources: DataSource[] = [];
  let fixture: StoreFixture;

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) sources.push(await sqlite(join(dir, 'budget.sqlite')).initialize());
    await sources[0].runMigrations();
    const stores = sources.map((s) => new DatabaseBudgetStore(s, { clock: () => now }));
    const spawn = async () => {
      const source = await sqlite(join(dir, 'budget.sqlite')).initialize();
      return { store: new DatabaseBudgetStore(source, { clock: () => now }), crash: () => source.destroy() };
    };
    fixture = { stores, advance: (ms) => (now += ms), now: () => now, spawn };
  });
  afterAll(async () => {
    for (const s of sources) await s.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  defineBudgetStoreContract('sqlite file x2', () => fixture);
});
