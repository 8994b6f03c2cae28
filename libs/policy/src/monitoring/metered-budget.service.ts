import { BudgetService, type BudgetReservation, type BudgetSettlement } from '../budget/budget.service';
import { fromMicroUsd } from '../persistence/column-types';
import { BudgetExceededException } from '../policy.exceptions';
import type { PolicyMetrics } from './policy-metrics';

type Counted = { scope: string; unit: string; amount: number };

/** Amount in the metric's unit: cost counters hold micro-USD, the metric USD. */
const inUnit = (unit: string, amount: number) => (unit === 'cost' ? fromMicroUsd(amount) : amount);

/** The budget service, counting reservations by outcome and the amounts reserved and spent by scope and unit. */
export class MeteredBudgetService extends BudgetService {
  constructor(
    private readonly metrics: PolicyMetrics,
    ...args: ConstructorParameters<typeof BudgetService>
  ) {
    super(...args);
  }

  override async reserve(...args: Parameters<BudgetService['reserve']>): Promise<BudgetReservation> {
    let reservation: BudgetReservation;
    try {
      reservation = await super.reserve(...args);
    } catch (error) {
      this.metrics.budgetReservations.inc({ outcome: error instanceof BudgetExceededException ? 'exceeded' : 'error' });
      throw error;
    }
    this.metrics.budgetReservations.inc({ outcome: 'reserved' });
    for (const c of reservation.counters as readonly Counted[])
      this.metrics.budgetReserved.inc({ scope: c.scope, unit: c.unit }, inUnit(c.unit, c.amount));
    return reservation;
  }

  override async settle(...args: Parameters<BudgetService['settle']>): Promise<BudgetSettlement> {
    const settlement = await super.settle(...args);
    const charged: Record<string, number> = {
      cost: settlement.charge.costMicro,
      tokens: settlement.charge.tokens,
      requests: settlement.charge.requests,
    };
    for (const c of settlement.counters as readonly Counted[]) {
      this.metrics.budgetSpent.inc({ scope: c.scope, unit: c.unit }, inUnit(c.unit, charged[c.unit] ?? 0));
    }
    return settlement;
  }
}
