import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from '@jest/globals';
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
    const spawn = async () => ({ store: new DatabaseBudgetStore(dataSource, { clock: () => now }), crash: async () => undefined });
    fixture = { stores: [store], advance: (ms) => (now += ms), now: () => now, spawn };
  });
  afterAll(async () => dataSource?.destroy());

  defineBudgetStoreContract('sqlite memory', () => fixture);
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
