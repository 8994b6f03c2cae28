import type { BudgetCounterState } from './budget-store.interface';
import { amountFor, type PlannedCounter } from './budget.plan';
import type { BudgetCharge } from './budget.types';

/**
 * The most output tokens, between `min` and `max`, whose charge (`chargeOf(outputTokens)`) fits what every counter
 * has left (`limit - used - reserved`), or null when not even `min` fits. A stream reserves that much instead of
 * its full estimate, so it can be admitted with what is left and cut exactly there. Charges grow with the output,
 * so the answer is found by bisection.
 */
export function largestOutputThatFits(
  plan: readonly Pick<PlannedCounter, 'unit' | 'limit'>[],
  states: readonly Pick<BudgetCounterState, 'used' | 'reserved'>[],
  chargeOf: (outputTokens: number) => BudgetCharge,
  min: number,
  max: number,
): number | null {
  const fits = (output: number): boolean => {
    const charge = chargeOf(output);
    return plan.every((c, i) => amountFor(c.unit, charge) <= c.limit - states[i].used - states[i].reserved);
  };
  const low = Math.max(0, Math.floor(min));
  const high = Math.max(low, Math.floor(max));
  if (!fits(low)) return null;
  let lo = low;
  let hi = high;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
