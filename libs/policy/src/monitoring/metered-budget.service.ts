import type { Counter } from 'prom-client';
import { BudgetService, type BudgetReservation, type BudgetSettlement } from '../budget/budget.service';
import { fromMicroUsd } from '../persistence/column-types';
import { BudgetExceededException } from '../policy.exceptions';
import type { PolicyMetrics } from './policy-metrics';

type Counted = { scope: string; unit: string; amount: number };

/** Amount in the metric's unit: cost counters hold micro-USD, the metric USD. */
const inUnit = (unit: string, amount: number) => (unit === 'cost' ? fromMicroUsd(amount) : amount);

type Child = ReturnType<Counter<'scope' | 'unit'>['labels']>;

/** The budget service, counting reservations by outcome and the amounts reserved and spent by scope and unit. */
export class MeteredBudgetService extends BudgetService {
  /** Labelled children by `scope unit`: a call counts on ~8 of them, and resolving labels per call costs more. */
  private readonly reservedBy = new Map<string, Child>();
  private readonly spentBy = new Map<string, Child>();
  private readonly reservedOk: ReturnType<Counter<'outcome'>['labels']>;

  constructor(
    private readonly metrics: PolicyMetrics,
    ...args: ConstructorParameters<typeof BudgetService>
  ) {
    super(...args);
    this.reservedOk = metrics.budgetReservations.labels({ outcome: 'reserved' });
  }

  override async reserve(...args: Parameters<BudgetService['reserve']>): Promise<BudgetReservation> {
    let reservation: BudgetReservation;
    try {
      reservation = await super.reserve(...args);
    } catch (error) {
      this.metrics.budgetReservations.inc({ outcome: error instanceof BudgetExceededException ? 'exceeded' : 'error' });
      throw error;
    }
    this.reservedOk.inc();
    for (const c of reservation.counters as readonly Counted[])
      child(this.reservedBy, this.metrics.budgetReserved, c).inc(inUnit(c.unit, c.amount));
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
      child(this.spentBy, this.metrics.budgetSpent, c).inc(inUnit(c.unit, charged[c.unit] ?? 0));
    }
    return settlement;
  }
}

/** The counter's child for the counter's scope and unit, resolved once. */
function child(cache: Map<string, Child>, counter: Counter<'scope' | 'unit'>, c: Counted): Child {
  const key = `${c.scope} ${c.unit}`;
  let found = cache.get(key);
  if (!found) {
    found = counter.labels({ scope: c.scope, unit: c.unit });
    cache.set(key, found);
  }
  return found;
}
