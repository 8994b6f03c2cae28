import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import type { Principal } from '../authentication/principal.interface';
import type { BudgetConfig } from '../policy-module-options.interface';
import { BudgetExceededException, PolicyUnavailableException } from '../policy.exceptions';
import type { BudgetStore } from './budget-store.interface';
import { BUDGET_ENTITIES, BUDGET_MIGRATIONS } from './budget.persistence';
import { BudgetService, type BudgetEvent } from './budget.service';
import { DatabaseBudgetStore } from './database-budget.store';
import type { UsageLedgerEntry } from './usage-ledger.service';

const pricing = { 'echo-1': { input: 0.5, output: 1.5 }, free: { input: 0, output: 0 } };
const config: BudgetConfig = {
  softLimitPercent: 80,
  principal: { day: { cost: 0.01, requests: 5 } },
  tenant: { month: { tokens: 100_000 } },
};

let seq = 0;
const principal = (): Principal => ({
  id: `user-${++seq}`,
  type: 'user',
  tenantId: `tenant-${seq}`,
  roles: [],
  scopes: [],
  tier: null,
  tokenId: null,
});

describe('BudgetService (DatabaseBudgetStore on SQLite :memory:, fake clock)', () => {
  let dataSource: DataSource;
  let store: DatabaseBudgetStore;
  let now = Date.parse('2026-11-23T22:00:00Z');
  const clock = () => now;
  let events: BudgetEvent[];
  let ledger: UsageLedgerEntry[];
  let service: BudgetService;

  beforeAll(async () => {
    dataSource = await new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: BUDGET_ENTITIES,
      migrations: BUDGET_MIGRATIONS,
    }).initialize();
    await dataSource.runMigrations();
    store = new DatabaseBudgetStore(dataSource, { clock });
  });
  afterAll(async () => dataSource?.destroy());
  beforeEach(() => {
    events = [];
    ledger = [];
    service = new BudgetService(store, config, pricing, clock, {
      onEvent: (e) => events.push(e),
      ledger: { record: (e) => ledger.push(e) },
    });
  });

  it('reserves the estimate at the model price, settles to the actual usage and records it', async () => {
    const caller = principal();
    const spec = { model: 'echo-1' };
    const reservation = await service.reserve(
      caller,
      spec,
      { inputTokens: 1_000, outputTokens: 2_000 },
      'req-1',
      'event.create',
    );
    expect(reservation.estimate).toEqual({ costMicro: 3_500, tokens: 3_000, requests: 1 });
    expect(reservation.counters.map((c) => [c.key, c.reserved])).toEqual([
      [`principal:t.tenant-1%3A${caller.id}:day:2026-11-23:cost`, 3_500],
      [`principal:t.tenant-1%3A${caller.id}:day:2026-11-23:requests`, 1],
      [`tenant:${caller.tenantId}:month:2026-11:tokens`, 3_000],
    ]);
    const settled = await service.settle(reservation, [{ inputTokens: 1_000, outputTokens: 100 }]);
    expect(settled.charge).toEqual({ costMicro: 650, tokens: 1_100, requests: 1 });
    const { budgets } = await service.remaining(caller);
    expect(budgets).toEqual([
      {
        scope: 'principal',
        period: 'day',
        unit: 'cost',
        limit: 0.01,
        used: 0.00065,
        reserved: 0,
        remaining: 0.00935,
        resetAt: '2026-11-24T00:00:00.000Z',
      },
      {
        scope: 'principal',
        period: 'day',
        unit: 'requests',
        limit: 5,
        used: 1,
        reserved: 0,
        remaining: 4,
        resetAt: '2026-11-24T00:00:00.000Z',
      },
      {
        scope: 'tenant',
        period: 'month',
        unit: 'tokens',
        limit: 100_000,
        used: 1_100,
        reserved: 0,
        remaining: 98_900,
        resetAt: '2026-12-01T00:00:00.000Z',
      },
    ]);
    expect(ledger).toEqual([
      expect.objectContaining({
        requestId: 'req-1',
        principalId: caller.id,
        tenantId: caller.tenantId,
        operation: 'event.create',
        model: 'echo-1',
        inputTokens: 1_000,
        outputTokens: 100,
        costMicroUsd: 650,
      }),
    ]);
  });

  it('refuses with 402 naming the budget, reserving nothing', async () => {
    const caller = principal();
    await expect(service.reserve(caller, { model: 'echo-1' }, { outputTokens: 7_000 }, null)).rejects.toMatchObject({
      status: 402,
      response: {
        statusCode: 402,
        code: 'budget_exceeded',
        scope: 'principal',
        period: 'day',
        unit: 'cost',
        resetAt: '2026-11-24T00:00:00.000Z',
      },
    });
    expect(events.map((e) => [e.type, e.scope, e.unit])).toEqual([['budget.exceeded', 'principal', 'cost']]);
    const { budgets } = await service.remaining(caller);
    expect(budgets.every((b) => b.used === 0 && b.reserved === 0)).toBe(true);
  });

  it('charges an unpriced model its reserved estimate, never $0', async () => {
    const caller = principal();
    const reservation = await service.reserve(caller, { model: 'echo-1' }, { cost: 0.002 }, null);
    const settled = await service.settle(reservation, [{ model: 'mystery-9', inputTokens: 10, outputTokens: 10 }]);
    expect(settled.charge.costMicro).toBe(2_000);
    expect(() => service.estimateCharge({ model: 'mystery-9' }, { inputTokens: 5 })).toThrow('model "mystery-9"');
  });

  it('charges the estimate when the handler reported nothing', async () => {
    const reservation = await service.reserve(
      principal(),
      { model: 'echo-1' },
      { inputTokens: 100, outputTokens: 100 },
      null,
    );
    expect((await service.settle(reservation, [])).charge).toEqual(reservation.estimate);
  });

  it('rolls over to a fresh budget when the day ends', async () => {
    const caller = principal();
    for (let i = 0; i < 5; i++) await service.settle(await service.reserve(caller, { model: 'free' }, {}, null), []);
    await expect(service.reserve(caller, { model: 'free' }, {}, null)).rejects.toBeInstanceOf(BudgetExceededException);
    now = Date.parse('2026-11-24T00:00:00Z');
    const next = await service.reserve(caller, { model: 'free' }, {}, null);
    expect(next.counters[1]).toMatchObject({
      key: `principal:t.tenant-5%3A${caller.id}:day:2026-11-24:requests`,
      used: 0,
      reserved: 1,
    });
    await service.release(next);
  });

  it('headers describe the budget with the smallest fraction left, with a warning past the soft limit', async () => {
    now = Date.parse('2026-11-24T12:00:00Z');
    const caller = principal();
    let headers: Record<string, string> = {};
    for (let i = 0; i < 4; i++) {
      const settled = await service.settle(
        await service.reserve(caller, { model: 'echo-1' }, { outputTokens: 100 }, null),
        [],
      );
      headers = service.headers(settled.counters);
      if (i === 0) {
        expect(headers).toEqual({
          'X-Budget-Remaining': '4; unit=requests; scope=principal; period=day',
          'X-Budget-Reset': '43200',
        });
      }
    }
    expect(headers).toEqual({
      'X-Budget-Remaining': '1; unit=requests; scope=principal; period=day',
      'X-Budget-Reset': '43200',
      'X-Budget-Warning': '80',
    });
    expect(
      events.filter((e) => e.type === 'budget.soft_limit').map((e) => [e.unit, Math.round(e.percentUsed)]),
    ).toEqual([['requests', 80]]);
  });

  it('fails closed with 503 when the store is down', async () => {
    const broken: BudgetStore = {
      reserve: () => Promise.reject(new Error('connection refused')),
      settle: () => Promise.resolve(),
      release: () => Promise.resolve(),
      snapshot: () => Promise.reject(new Error('connection refused')),
      expireStale: () => Promise.resolve(0),
    };
    const down = new BudgetService(broken, config, pricing, clock);
    await expect(down.reserve(principal(), { model: 'echo-1' }, {}, null)).rejects.toBeInstanceOf(
      PolicyUnavailableException,
    );
    await expect(down.remaining(principal())).rejects.toBeInstanceOf(PolicyUnavailableException);
  });

  it('passes calls through without store access when no budget applies', async () => {
    const none = new BudgetService(store, undefined, pricing, clock);
    const reservation = await none.reserve(principal(), { model: 'echo-1' }, { outputTokens: 10 }, null);
    expect(reservation.counters).toEqual([]);
    expect(none.headers((await none.settle(reservation, [])).counters)).toEqual({});
  });

  it('once the app shuts down, an answer waits for the ledger to be written', async () => {
    const flushed: string[] = [];
    let release!: () => void;
    const written = new Promise<void>((resolve) => (release = resolve));
    const closing = new BudgetService(store, config, pricing, clock, {
      ledger: {
        record: (e) => ledger.push(e),
        flush: async () => {
          await written;
          flushed.push('flushed');
        },
      },
    });
    expect(closing.landing()).toBeNull();
    closing.beforeApplicationShutdown();
    const landing = closing.landing();
    expect(landing).toBeInstanceOf(Promise);
    let landed = false;
    void landing!.then(() => (landed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(landed).toBe(false);
    release();
    await landing;
    expect(flushed).toEqual(['flushed']);
  });
});
