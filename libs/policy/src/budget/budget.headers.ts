import { fromMicroUsd } from '../persistence/column-types';
import type { BudgetPeriod, BudgetScope, BudgetUnit } from '../policy-module-options.interface';

/** What the headers need to know of a counter; amounts in counter units (micro-USD for cost). */
export interface CounterView {
  scope: BudgetScope;
  period: BudgetPeriod;
  unit: BudgetUnit;
  limit: number;
  used: number;
  reserved: number;
  /** Epoch ms. */
  resetAt: number;
}

/** Share of the limit used or held, in percent (may pass 100 when usage exceeded its estimate). */
export function percentUsed(counter: Pick<CounterView, 'limit' | 'used' | 'reserved'>): number {
  return counter.limit > 0 ? ((counter.used + counter.reserved) / counter.limit) * 100 : 100;
}

const formatAmount = (unit: BudgetUnit, value: number): string =>
  unit === 'cost' ? String(Number(fromMicroUsd(value).toFixed(6))) : String(value);

/**
 * Headers for the budget with the smallest fraction left:
 * `X-Budget-Remaining: <amount>; unit=<unit>; scope=<scope>; period=<period>` (cost in USD),
 * `X-Budget-Reset: <seconds until the window ends>`, and `X-Budget-Warning: <percent used>` once past
 * `softLimitPercent`.
 */
export function budgetHeaders(
  counters: readonly CounterView[],
  now: number,
  softLimitPercent: number,
): Record<string, string> {
  if (!counters.length) return {};
  let tightest = counters[0];
  let tightestLeft = Infinity;
  for (const c of counters) {
    const left = c.limit > 0 ? Math.max(0, c.limit - c.used - c.reserved) / c.limit : 0;
    if (left < tightestLeft) {
      tightest = c;
      tightestLeft = left;
    }
  }
  const remaining = Math.max(0, tightest.limit - tightest.used - tightest.reserved);
  const headers: Record<string, string> = {
    'X-Budget-Remaining': `${formatAmount(tightest.unit, remaining)}; unit=${tightest.unit}; scope=${tightest.scope}; period=${tightest.period}`,
    'X-Budget-Reset': String(Math.max(0, Math.ceil((tightest.resetAt - now) / 1000))),
  };
  const percent = percentUsed(tightest);
  if (percent >= softLimitPercent) headers['X-Budget-Warning'] = String(Math.round(percent));
  return headers;
}
