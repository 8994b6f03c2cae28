import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import type { Principal } from '../authentication/principal.interface';
import type { BudgetStore } from './budget-store.interface';
import { BUDGET_ENTITIES, BUDGET_MIGRATIONS } from './budget.persistence';
import { BudgetService } from './budget.service';
import { DatabaseBudgetStore } from './database-budget.store';
import { SettlementRetry } from './settlement.retry';
import type { UsageLedgerEntry } from './usage-ledger.service';

const caller: Principal = {
  id: 'u-retry',
  type: 'user',
  tenantId: 't-retry',
  roles: [],
  scopes: [],
  tier: null,
  tokenId: null,
};

describe('BudgetService: a settlement the store refused (Redis failing over)', () => {
  let dataSource: DataSource;
  let store: DatabaseBudgetStore;

  beforeAll(async () => {
    dataSource = await new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: BUDGET_ENTITIES,
      migrations: BUDGET_MIGRATIONS,
    }).initialize();
    await dataSource.runMigrations();
    store = new DatabaseBudgetStore(dataSource);
  });
  afterAll(async () => dataSource?.destroy());

  it('is retried until the store takes it, then charged and recorded in the ledger exactly once', async () => {
    let failures = 2;
    let settleCalls = 0;
    const flaky: BudgetStore = {
      reserve: (r) => store.reserve(r),
      release: (id) => store.release(id),
      snapshot: (c) => store.snapshot(c),
      expireStale: (n) => store.expireStale(n),
      settle: async (id, charge) => {
        settleCalls++;
        if (failures-- > 0) throw new Error('CLUSTERDOWN The cluster is down');
        return store.settle(id, charge);
      },
    };
    const ledger: UsageLedgerEntry[] = [];
    const service = new BudgetService(flaky, { principal: { day: { requests: 10 } } }, undefined, Date.now, {
      ledger: { record: (e) => ledger.push(e) },
      settlementRetry: new SettlementRetry({ delaysMs: [20, 20, 20] }),
    });
    const reservation = await service.reserve(caller, {}, {}, 'req-retry', null);
    await expect(service.settle(reservation, [])).rejects.toThrow('CLUSTERDOWN');
    expect(ledger).toHaveLength(0);
    for (let i = 0; i < 50 && ledger.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(settleCalls).toBe(3);
    expect(ledger).toEqual([
      expect.objectContaining({ requestId: 'req-retry', principalId: 'u-retry', tenantId: 't-retry' }),
    ]);
    const [requests] = (await service.remaining(caller)).budgets;
    expect(requests).toMatchObject({ used: 1, reserved: 0 });
  });
});
