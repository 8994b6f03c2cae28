import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { httpRequest } from '../common/http-context';
import type { BudgetEstimate, UsageReport } from './budget.types';

/** Property of the request holding the call's {@link BudgetUsage}. */
export const BUDGET_USAGE_REQUEST_KEY = 'budgetUsage';

/**
 * The per-request usage recorder of a budgeted call. Handlers report what each model call used; the total is
 * settled when the handler returns. Reports add up, so a handler calling several models reports each call.
 */
export interface BudgetUsage {
  /** Records one model call's usage. */
  report(usage: UsageReport): void;
  /**
   * Refines the estimate that will be reserved. Only possible before the reservation, i.e. from a middleware or
   * guard; a handler that needs the request to estimate should give `@Budget({ estimate: (req) => ... })` instead.
   * @throws Error once the estimate has been reserved.
   */
  setEstimate(estimate: BudgetEstimate): void;
  readonly reports: readonly UsageReport[];
  readonly estimate: BudgetEstimate | undefined;
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;

/** Whether `value` is a well-formed usage report (non-negative token counts, optional model id). */
export function isUsageReport(value: unknown): value is UsageReport {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    isCount(r.inputTokens) &&
    isCount(r.outputTokens) &&
    (r.cachedInputTokens === undefined || isCount(r.cachedInputTokens)) &&
    (r.model === undefined || typeof r.model === 'string')
  );
}

/** The default {@link BudgetUsage}; the interceptor seals its estimate when it reserves. */
export class BudgetUsageRecorder implements BudgetUsage {
  private readonly recorded: UsageReport[] = [];
  private refined: BudgetEstimate | undefined;
  private sealed = false;

  get reports(): readonly UsageReport[] {
    return this.recorded;
  }

  get estimate(): BudgetEstimate | undefined {
    return this.refined;
  }

  report(usage: UsageReport): void {
    if (!isUsageReport(usage)) {
      throw new TypeError('BudgetUsage.report needs non-negative inputTokens and outputTokens');
    }
    this.recorded.push({ ...usage });
  }

  setEstimate(estimate: BudgetEstimate): void {
    if (this.sealed) {
      throw new Error(
        'BudgetUsage.setEstimate was called after the reservation; use @Budget({ estimate: (req) => ... })',
      );
    }
    this.refined = { ...this.refined, ...estimate };
  }

  /** Called once the estimate is reserved. */
  seal(): void {
    this.sealed = true;
  }
}

/** The request's recorder, created on first use (so a middleware or guard may set the estimate early). */
export function budgetUsageOf(request: Record<string, unknown>): BudgetUsageRecorder {
  const existing = request[BUDGET_USAGE_REQUEST_KEY];
  if (existing instanceof BudgetUsageRecorder) return existing;
  const recorder = new BudgetUsageRecorder();
  request[BUDGET_USAGE_REQUEST_KEY] = recorder;
  return recorder;
}

/** Parameter decorator giving a budgeted handler its request's {@link BudgetUsage}. */
export const BudgetUsage = createParamDecorator((_data: unknown, context: ExecutionContext): BudgetUsage =>
  budgetUsageOf(httpRequest(context)),
);
