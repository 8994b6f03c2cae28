import { accountIdOf, type Principal } from '../authentication/principal.interface';
import { toMicroUsd } from '../persistence/column-types';
import type {
  BudgetConfig,
  BudgetLimits,
  BudgetPeriod,
  BudgetScope,
  BudgetUnit,
} from '../policy-module-options.interface';
import { BUDGET_PERIODS, budgetWindow } from './budget-periods';
import type { BudgetCharge } from './budget.types';

/** One counter a call is checked and charged against: a (scope, scope id, period, unit) in its current window. */
export interface PlannedCounter {
  readonly scope: BudgetScope;
  readonly scopeId: string;
  readonly period: BudgetPeriod;
  readonly unit: BudgetUnit;
  /** Stable counter key, e.g. `principal:u-1:day:2026-11-23:cost`. */
  readonly key: string;
  /** Limit in counter units: micro-USD for `cost`, else tokens or requests. */
  readonly limit: number;
  /** Amount this call charges, in counter units. */
  readonly amount: number;
  readonly windowStart: number;
  /** Epoch ms when the window ends and the counter starts again from zero. */
  readonly resetAt: number;
}

const ZERO: BudgetCharge = { costMicro: 0, tokens: 0, requests: 0 };

/** The amount of `charge` a counter of `unit` takes. */
export function amountFor(unit: BudgetUnit, charge: BudgetCharge): number {
  switch (unit) {
    case 'cost':
      return charge.costMicro;
    case 'tokens':
      return charge.tokens;
    case 'requests':
      return charge.requests;
  }
}

/** A configured limit in counter units (micro-USD for cost, whole tokens/requests). */
export function limitInCounterUnits(unit: BudgetUnit, limit: number): number {
  return unit === 'cost' ? toMicroUsd(limit) : Math.floor(limit);
}

/** The session and run a call belongs to, for the `session` and `run` budgets. */
export interface BudgetContext {
  sessionId?: string | null;
  runId?: string | null;
}

/**
 * The scopes that apply to a call by a principal (in a session, a run), each with the id its counters are keyed by.
 * The principal scope is keyed by tenant and account (`-:<id>` without a tenant, `t.<tenant, URI-encoded>:<id>` with
 * one): the same `sub` in two tenants is two people, and an API key spends its creator's principal budget unless the
 * policy gives keys budgets of their own (`apiKeys.limits: key`).
 */
export function scopesFor(
  principal: Principal,
  context: BudgetContext = {},
): Array<{ scope: BudgetScope; scopeId: string }> {
  const tenant = principal.tenantId ? `t.${encodeURIComponent(principal.tenantId)}` : '-';
  const principalScopeId = `${tenant}:${accountIdOf(principal)}`;
  const scopes: Array<{ scope: BudgetScope; scopeId: string }> = [{ scope: 'principal', scopeId: principalScopeId }];
  if (principal.apiKeyId) scopes.push({ scope: 'api-key', scopeId: principal.apiKeyId });
  if (principal.tenantId) scopes.push({ scope: 'tenant', scopeId: principal.tenantId });
  scopes.push({ scope: 'global', scopeId: '*' });
  if (context.sessionId) scopes.push({ scope: 'session', scopeId: context.sessionId });
  if (context.runId) scopes.push({ scope: 'run', scopeId: context.runId });
  return scopes;
}

/**
 * The counters a call by `principal` at `now` is checked and charged against, in a fixed order
 * (principal, api-key, tenant, global, session, run; shorter periods first; cost, tokens, requests).
 * Ids are URI-encoded in keys so that an id can never forge another counter's key.
 */
export function buildBudgetPlan(
  principal: Principal,
  config: BudgetConfig | undefined,
  now: number,
  charge: BudgetCharge = ZERO,
  context: BudgetContext = {},
): PlannedCounter[] {
  const plan: PlannedCounter[] = [];
  if (!config) return plan;
  for (const { scope, scopeId } of scopesFor(principal, context)) {
    const periods = config[scope];
    if (!periods) continue;
    for (const period of BUDGET_PERIODS) {
      const limits: BudgetLimits | undefined = periods[period];
      if (!limits) continue;
      const window = budgetWindow(period, now);
      for (const unit of ['cost', 'tokens', 'requests'] as const) {
        const limit = limits[unit];
        if (limit === undefined) continue;
        plan.push({
          scope,
          scopeId,
          period,
          unit,
          key: `${scope}:${encodeURIComponent(scopeId)}:${period}:${window.label}:${unit}`,
          limit: limitInCounterUnits(unit, limit),
          amount: amountFor(unit, charge),
          windowStart: window.start,
          resetAt: window.end,
        });
      }
    }
  }
  return plan;
}
