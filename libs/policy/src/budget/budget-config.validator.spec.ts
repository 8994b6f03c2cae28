import { describe, expect, it } from '@jest/globals';
import type { BudgetConfig, ModelPrice } from '../policy-module-options.interface';
import { validateBudgetConfig } from './budget-config.validator';

const pricing: Record<string, ModelPrice> = { 'echo-1': { input: 0.5, output: 1.5 } };

describe('validateBudgetConfig', () => {
  it('accepts the shipped configuration', () => {
    const budgets: BudgetConfig = {
      softLimitPercent: 80,
      principal: { day: { cost: 5, tokens: 200_000, requests: 1_000 } },
      tenant: { month: { cost: 500 } },
      global: { month: { cost: 10_000 } },
    };
    expect(() => validateBudgetConfig(budgets, pricing, ['echo-1'])).not.toThrow();
    expect(() => validateBudgetConfig(undefined, undefined, [])).not.toThrow();
  });

  it.each([
    [{ principal: { day: { cost: 0 } } }, 'budgets.principal.day.cost must be a positive number'],
    [{ principal: { day: { cost: -1 } } }, 'budgets.principal.day.cost must be a positive number'],
    [{ tenant: { month: { tokens: '5' } } }, 'budgets.tenant.month.tokens must be a positive number'],
    [{ global: { fortnight: { cost: 1 } } }, 'budgets.global.fortnight is not a budget period'],
    [{ team: { day: { cost: 1 } } }, 'budgets.team is not a budget scope'],
    [{ principal: { day: { dollars: 1 } } }, 'budgets.principal.day.dollars is not a budget unit'],
    [{ softLimitPercent: 120 }, 'budgets.softLimitPercent must be a number in (0, 100]'],
    [{ reservationTtl: 0 }, 'budgets.reservationTtl must be a positive number'],
  ])('rejects %j naming the key', (budgets, message) => {
    expect(() => validateBudgetConfig(budgets as unknown as BudgetConfig, pricing)).toThrow(message);
  });

  it('rejects a bad price naming the model and field', () => {
    expect(() => validateBudgetConfig(undefined, { m: { input: -1, output: 1 } })).toThrow(
      'pricing.m.input must be a non-negative number',
    );
    expect(() => validateBudgetConfig(undefined, { m: { input: 1, output: 1, cachedInput: Number.NaN } })).toThrow(
      'pricing.m.cachedInput must be a non-negative number',
    );
  });

  it('rejects a model referenced by a budget that is not priced (exact ids only)', () => {
    expect(() => validateBudgetConfig({}, pricing, ['echo-1', 'echo-1-large'])).toThrow(
      'pricing: model "echo-1-large" referenced by a budget is not priced',
    );
  });
});
