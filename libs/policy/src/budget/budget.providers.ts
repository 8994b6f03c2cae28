import type { Provider } from '@nestjs/common';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import type { CompiledPolicy } from '../authorization/compiled-policy';
import { POLICY_EVENTS, type PolicyEvents } from '../common/policy-events';
import { MeteredBudgetService } from '../monitoring/metered-budget.service';
import { PolicyMetrics } from '../monitoring/policy-metrics';
import { serializeSqliteTransactions } from '../persistence/sqlite-connection';
import { COMPILED_POLICY, POLICY_CLOCK, POLICY_REDIS } from '../policy.constants';
import { BudgetRouteValidator } from './budget-route.validator';
import { BudgetStore } from './budget-store.interface';
import { BudgetInterceptor } from './budget.interceptor';
import { BudgetService } from './budget.service';
import { DatabaseBudgetStore } from './database-budget.store';
import { RedisBudgetStore } from './redis-budget.store';
import { UsageLedgerService } from './usage-ledger.service';

/**
 * Providers of the budget capability: the store (`BudgetStore`: Redis when `redisUrl` is set, else the app's
 * database; replace it by providing that token), the usage ledger, the service (its soft-limit and exceeded events go
 * to the `PolicyEvents` sink) and the boot check of `budgets`/`pricing` against the `@Budget()` routes.
 */
export const BUDGET_PROVIDERS: Provider[] = [
  {
    provide: BudgetStore,
    useFactory: (redis: Redis | null, dataSource: DataSource) =>
      redis ? new RedisBudgetStore(redis) : new DatabaseBudgetStore(dataSource),
    inject: [POLICY_REDIS, DataSource],
  },
  {
    provide: UsageLedgerService,
    useFactory: (dataSource: DataSource) => {
      // The library's writers share the app's SQLite connection; the app's own transactions must not overlap.
      serializeSqliteTransactions(dataSource);
      return new UsageLedgerService(dataSource);
    },
    inject: [DataSource],
  },
  {
    provide: BudgetService,
    useFactory: (
      store: BudgetStore,
      compiled: CompiledPolicy,
      clock: () => number,
      ledger: UsageLedgerService,
      events: PolicyEvents,
      metrics: PolicyMetrics,
    ) =>
      new MeteredBudgetService(
        metrics,
        store,
        compiled.document.budgets ?? undefined,
        compiled.document.pricing ?? undefined,
        clock,
        {
          ledger,
          onEvent: (event) => void events.emit(event),
        },
      ),
    inject: [BudgetStore, COMPILED_POLICY, POLICY_CLOCK, UsageLedgerService, POLICY_EVENTS, PolicyMetrics],
  },
  BudgetRouteValidator,
  // `@Budget()` routes hand their calls to it (replace it with `overrideProvider(BudgetInterceptor)`).
  BudgetInterceptor,
];

export const BUDGET_EXPORTS: Provider[] = [
  BudgetService,
  UsageLedgerService,
  BudgetStore as unknown as Provider,
  BudgetInterceptor,
];
