import type { BudgetConfig, BudgetScope, BudgetUnit, ModelPrice } from '../policy-module-options.interface';
import { BUDGET_PERIODS } from './budget-periods';
import { priceFor } from './budget.pricing';

export const BUDGET_SCOPES: readonly BudgetScope[] = ['principal', 'api-key', 'tenant', 'global', 'session', 'run'];
export const BUDGET_UNITS: readonly BudgetUnit[] = ['cost', 'tokens', 'requests'];
const SETTINGS = ['softLimitPercent', 'approvalAbovePercent', 'reservationTtl', 'mode'];

const isPositive = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value > 0;
const isNonNegative = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0;
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkPercent(value: unknown, key: string): void {
  if (value !== undefined && (!isPositive(value) || value > 100)) {
    throw new Error(`budgets.${key} must be a number in (0, 100]`);
  }
}

/**
 * Validates the budgets and the pricing table at boot. Every message names the offending key.
 * `referencedModels` are the models routes declare in `@Budget({ model })`; each must be priced, because an
 * unpriced model would make its calls free.
 *
 * @throws Error naming the key, e.g. `budgets.principal.day.cost must be a positive number`.
 */
export function validateBudgetConfig(
  budgets: BudgetConfig | undefined,
  pricing: Readonly<Record<string, ModelPrice>> | undefined,
  referencedModels: Iterable<string> = [],
): void {
  if (budgets !== undefined) {
    if (!isObject(budgets)) throw new Error('budgets must be an object');
    for (const [key, value] of Object.entries(budgets)) {
      if (SETTINGS.includes(key)) continue;
      if (!(BUDGET_SCOPES as readonly string[]).includes(key)) {
        throw new Error(`budgets.${key} is not a budget scope (${BUDGET_SCOPES.join(', ')})`);
      }
      if (value === undefined) continue;
      if (!isObject(value)) throw new Error(`budgets.${key} must be an object of periods`);
      for (const [period, limits] of Object.entries(value)) {
        const path = `budgets.${key}.${period}`;
        if (!(BUDGET_PERIODS as readonly string[]).includes(period)) {
          throw new Error(`${path} is not a budget period (${BUDGET_PERIODS.join(', ')})`);
        }
        if (!isObject(limits)) throw new Error(`${path} must be an object of limits`);
        for (const [unit, limit] of Object.entries(limits)) {
          if (!(BUDGET_UNITS as readonly string[]).includes(unit)) {
            throw new Error(`${path}.${unit} is not a budget unit (${BUDGET_UNITS.join(', ')})`);
          }
          if (!isPositive(limit)) throw new Error(`${path}.${unit} must be a positive number`);
        }
      }
    }
    checkPercent(budgets.softLimitPercent, 'softLimitPercent');
    checkPercent(budgets.approvalAbovePercent, 'approvalAbovePercent');
    if (budgets.reservationTtl !== undefined && !isPositive(budgets.reservationTtl)) {
      throw new Error('budgets.reservationTtl must be a positive number');
    }
  }
  if (pricing !== undefined) {
    if (!isObject(pricing)) throw new Error('pricing must be an object');
    for (const [model, price] of Object.entries(pricing)) {
      if (!isObject(price)) throw new Error(`pricing.${model} must be an object with input and output prices`);
      for (const field of ['input', 'output'] as const) {
        if (!isNonNegative(price[field])) throw new Error(`pricing.${model}.${field} must be a non-negative number`);
      }
      if (price.cachedInput !== undefined && !isNonNegative(price.cachedInput)) {
        throw new Error(`pricing.${model}.cachedInput must be a non-negative number`);
      }
    }
  }
  for (const model of referencedModels) {
    if (!priceFor(pricing, model)) throw new Error(`pricing: model "${model}" referenced by a budget is not priced`);
  }
}
