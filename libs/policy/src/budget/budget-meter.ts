import { createParamDecorator, Logger, type ExecutionContext } from '@nestjs/common';
import { httpRequest } from '../common/http-context';
import { BudgetExceededException } from '../policy.exceptions';
import { amountFor } from './budget.plan';
import type { BudgetReservation, BudgetService, BudgetSettlement } from './budget.service';
import type { BudgetCharge, UsageReport } from './budget.types';
import { isUsageReport } from './budget-usage.recorder';

/** Property of the request holding the call's {@link BudgetMeter}. */
export const BUDGET_METER_REQUEST_KEY = 'budgetMeter';

/** How a metered call ended, as the usage ledger records it. */
export type BudgetMeterOutcome = 'settled' | 'cancelled' | 'failed';

/**
 * Counts the usage of a budgeted call as it is produced (a streamed reply, token by token), within what was
 * reserved for it. `record` refuses usage that would pass the reservation, so a stream is cut before it
 * overspends; `settle` charges exactly what was recorded, once.
 */
export interface BudgetMeter {
  /** Aborted when the client went away or the call was cut: stop producing. */
  readonly signal: AbortSignal;
  /** The usage recorded so far, one report per model. */
  readonly usage: readonly UsageReport[];
  /** Whether `usage` more would still fit the reservation. */
  fits(usage: UsageReport): boolean;
  /**
   * Records usage that was produced.
   * @throws BudgetExceededException (402 `budget_exceeded`) when it would pass the reservation; nothing is recorded.
   */
  record(usage: UsageReport): void;
}

type Settler = Pick<BudgetService, 'actualCharge' | 'settle'>;

/**
 * The {@link BudgetMeter} of one reservation. Without a reservation (a route that is not budgeted) it counts but
 * never refuses and settles nothing.
 */
export class ReservationBudgetMeter implements BudgetMeter {
  private readonly logger = new Logger(ReservationBudgetMeter.name);
  private readonly controller = new AbortController();
  private readonly totals = new Map<string | undefined, UsageReport>();
  private settlement: Promise<BudgetSettlement | null> | null = null;

  constructor(
    private readonly budget: Settler | null,
    readonly reservation: BudgetReservation | null,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get usage(): readonly UsageReport[] {
    return [...this.totals.values()].map((r) => ({ ...r }));
  }

  /** Whether anything was recorded. */
  get recorded(): boolean {
    return this.totals.size > 0;
  }

  /** Whether the meter was settled (or is being settled). */
  get settled(): boolean {
    return this.settlement !== null;
  }

  fits(usage: UsageReport): boolean {
    return this.exceeded(this.merged(usage)) === null;
  }

  record(usage: UsageReport): void {
    if (!isUsageReport(usage))
      throw new TypeError('BudgetMeter.record needs non-negative inputTokens and outputTokens');
    if (this.settlement) throw new Error('BudgetMeter.record was called after the call was settled');
    const merged = this.merged(usage);
    const counter = this.exceeded(merged);
    if (counter) {
      this.controller.abort();
      throw new BudgetExceededException(
        {
          scope: counter.scope,
          period: counter.period,
          unit: counter.unit,
          resetAt: new Date(counter.resetAt).toISOString(),
        },
        `The ${counter.scope} ${counter.period} ${counter.unit} budget would be exceeded`,
      );
    }
    this.totals.set(usage.model, merged);
  }

  /** Stops the producer (the client went away). */
  abort(): void {
    this.controller.abort();
  }

  /**
   * Charges what was recorded (the reserved estimate when nothing was) and records it in the ledger with
   * `outcome`. Idempotent: later calls answer the first settlement. Never throws: a failure is logged and the
   * reservation then expires in the store.
   */
  settle(outcome: BudgetMeterOutcome = 'settled'): Promise<BudgetSettlement | null> {
    this.settlement ??= this.doSettle(outcome);
    return this.settlement;
  }

  private async doSettle(outcome: BudgetMeterOutcome): Promise<BudgetSettlement | null> {
    this.controller.abort();
    if (!this.budget || !this.reservation) return null;
    try {
      return await this.budget.settle(this.reservation, this.usage, { status: outcome });
    } catch (error) {
      this.logger.error(`Budget settlement of reservation ${this.reservation.id} failed: ${String(error)}`);
      return null;
    }
  }

  /** The total of `usage`'s model with `usage` added. */
  private merged(usage: UsageReport): UsageReport {
    const current = this.totals.get(usage.model);
    const merged: UsageReport = {
      inputTokens: (current?.inputTokens ?? 0) + usage.inputTokens,
      outputTokens: (current?.outputTokens ?? 0) + usage.outputTokens,
      cachedInputTokens: (current?.cachedInputTokens ?? 0) + (usage.cachedInputTokens ?? 0),
    };
    if (usage.model !== undefined) merged.model = usage.model;
    return merged;
  }

  /**
   * The counter with least left among those whose reserved amount the totals with `merged` would pass, or null.
   * Requests are fixed per call. Called per streamed token, so the single-model case avoids building a list.
   */
  private exceeded(merged: UsageReport): BudgetReservation['counters'][number] | null {
    if (!this.budget || !this.reservation || !this.reservation.counters.length) return null;
    let reports: UsageReport[];
    if (this.totals.size === 0 || (this.totals.size === 1 && this.totals.has(merged.model))) reports = [merged];
    else {
      reports = [];
      for (const [model, report] of this.totals) if (model !== merged.model) reports.push(report);
      reports.push(merged);
    }
    const charge: BudgetCharge = this.budget.actualCharge(this.reservation, reports, false);
    let tightest: BudgetReservation['counters'][number] | null = null;
    let tightestLeft = Infinity;
    for (const c of this.reservation.counters) {
      if (c.unit === 'requests' || amountFor(c.unit, charge) <= c.amount) continue;
      // Every counter's reservation was cut to the same reply; the budget that ends it is the one with least left.
      const left = c.limit > 0 ? (c.limit - c.used - c.reserved) / c.limit : 0;
      if (left < tightestLeft) {
        tightest = c;
        tightestLeft = left;
      }
    }
    return tightest;
  }
}

/** The request's meter; a route without `@Budget` gets one that counts but never refuses. */
export function budgetMeterOf(request: Record<string, unknown>): ReservationBudgetMeter {
  const existing = request[BUDGET_METER_REQUEST_KEY];
  if (existing instanceof ReservationBudgetMeter) return existing;
  const meter = new ReservationBudgetMeter(null, null);
  request[BUDGET_METER_REQUEST_KEY] = meter;
  return meter;
}

/** Parameter decorator giving a budgeted (streaming) handler its call's {@link BudgetMeter}. */
export const BudgetMeter = createParamDecorator((_data: unknown, context: ExecutionContext): BudgetMeter =>
  budgetMeterOf(httpRequest(context)),
);
