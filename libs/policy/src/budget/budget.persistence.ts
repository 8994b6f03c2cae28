import { BudgetCounterEntity } from './budget-counter.entity';
import { BudgetReservationEntity } from './budget-reservation.entity';
import { AddUsageLedgerStatus1764800000000, CreateBudgetTables1764000000000 } from './budget.migrations';
import { UsageLedgerEntity } from './usage-ledger.entity';

/** Entities of the budget capability, for a TypeORM `DataSource`'s `entities`. */
export const BUDGET_ENTITIES = [BudgetCounterEntity, BudgetReservationEntity, UsageLedgerEntity];

/** Migrations of the budget capability, for a TypeORM `DataSource`'s `migrations`. */
export const BUDGET_MIGRATIONS = [CreateBudgetTables1764000000000, AddUsageLedgerStatus1764800000000];
