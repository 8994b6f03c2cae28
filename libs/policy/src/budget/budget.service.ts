import { randomUUID } from 'node:crypto';
import { Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Principal } from '../authentication/principal.interface';
import { fromMicroUsd, toMicroUsd } from '../persistence/column-types';
import type {
  BudgetConfig,
  BudgetPeriod,
  BudgetScope,
  BudgetUnit,
  ModelPrice,
} from '../policy-module-options.interface';
import { BudgetExceededException, PolicyUnavailableException } from '../policy.exceptions';
import type { BudgetStore } from './budget-store.interface';
import { budgetHeaders, percentUsed, type CounterView } from './budget.headers';
import { amountFor, buildBudgetPlan, type BudgetContext, type PlannedCounter } from './budget.plan';
import { costMicroUsd, priceFor, tokenCount } from './budget.pricing';
import type { BudgetCharge, BudgetEstimate, BudgetSpec, UsageReport } from './budget.types';
import { largestOutputThatFits } from './budget-stream.fit';
import type { UsageLedgerEntry, UsageLedgerStatus } from './usage-ledger.service';
import { SettlementRetry } from './settlement.retry';

/** The parts of a route's `@Budget` spec the service needs (the interceptor resolves the estimate). */
export type BudgetRouteSpec = Pick<BudgetSpec, 'model' | 'requests'>;

/** A counter of a reservation with its state as of the reservation (or settlement). */
export interface ReservedCounterState extends PlannedCounter {
  used: number;
  reserved: number;
}

/** A planned counter with its state (a literal of one shape: spreading the counter costs more on the hot path). */
function withState(c: PlannedCounter, used: number, reserved: number): ReservedCounterState {
  return {
    scope: c.scope,
    scopeId: c.scopeId,
    period: c.period,
    unit: c.unit,
    key: c.key,
    limit: c.limit,
    amount: c.amount,
    windowStart: c.windowStart,
    resetAt: c.resetAt,
    used,
    reserved,
  };
}

/** An open reservation, as returned by {@link BudgetService.reserve}. */
export interface BudgetReservation {
  readonly id: string;
  readonly requestId: string | null;
  readonly principal: Principal;
  readonly model: string | null;
  readonly operation: string | null;
  /** What was reserved. */
  readonly estimate: BudgetCharge;
  readonly counters: readonly ReservedCounterState[];
}

/** The outcome of {@link BudgetService.settle}: what was charged and the counters afterwards. */
export interface BudgetSettlement {
  readonly charge: BudgetCharge;
  readonly counters: readonly ReservedCounterState[];
}

/** One budget as `GET /budgets/remaining` shows it; cost amounts in USD. */
export interface BudgetRemaining {
  scope: BudgetScope;
  period: BudgetPeriod;
  unit: BudgetUnit;
  limit: number;
  used: number;
  reserved: number;
  remaining: number;
  /** ISO-8601 time when the window ends. */
  resetAt: string;
}

/** Budget events worth an audit record. */
export interface BudgetEvent {
  type: 'budget.exceeded' | 'budget.soft_limit';
  principal: Principal;
  requestId: string | null;
  operation: string | null;
  scope: BudgetScope;
  period: BudgetPeriod;
  unit: BudgetUnit;
  percentUsed: number;
  /** True when `budgets.mode: shadow` let the call pass anyway. */
  shadow?: boolean;
}

/** What a shadowed counter may hold: the store's admission check never refuses below it. */
const SHADOW_LIMIT = Number.MAX_SAFE_INTEGER;

export interface BudgetServiceOptions {
  /**
   * Receives one entry per settled call (e.g. the {@link UsageLedgerService}). Its `flush`, when it has one, writes
   * what it holds: while the app shuts down, an answer waits for it ({@link BudgetService.landing}).
   */
  ledger?: { record(entry: UsageLedgerEntry): void; flush?(): Promise<void> };
  /** Receives `budget.exceeded` and `budget.soft_limit` events (e.g. to audit them). */
  onEvent?: (event: BudgetEvent) => void;
  /** Where settlements the store refused are tried again (default: a {@link SettlementRetry} of its own). */
  settlementRetry?: SettlementRetry;
}

/**
 * Budget decisions: what a call is estimated to cost, reserving it against every budget that applies, settling it
 * to the actual usage, and what is left. Store failures fail closed (503); an exceeded budget is a 402.
 */
export class BudgetService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(BudgetService.name);
  private readonly retry: SettlementRetry;
  /** Set when the app starts shutting down: from then on an answer waits for its ledger row ({@link landing}). */
  private closing = false;
  readonly softLimitPercent: number;
  /** Past this percent of any budget (with the call's own estimate reserved) a call needs a human approval. */
  readonly approvalAbovePercent: number | undefined;

  constructor(
    private readonly store: BudgetStore,
    private readonly config: BudgetConfig | undefined,
    private readonly pricing: Readonly<Record<string, ModelPrice>> | undefined,
    private readonly clock: () => number = Date.now,
    private readonly options: BudgetServiceOptions = {},
  ) {
    this.softLimitPercent = config?.softLimitPercent ?? 80;
    this.approvalAbovePercent = config?.approvalAbovePercent;
    this.retry = options.settlementRetry ?? new SettlementRetry();
  }

  /**
   * The first counter of the reservation that the call takes past `approvalAbovePercent` (its own estimate
   * counted), or null when none does or no threshold is set.
   */
  pastApprovalThreshold(reservation: BudgetReservation): ReservedCounterState | null {
    const threshold = this.approvalAbovePercent;
    if (threshold === undefined) return null;
    return reservation.counters.find((c) => percentUsed(c) > threshold) ?? null;
  }

  /**
   * The charge to reserve: `estimate.cost` when given, else the estimated tokens at the model's price.
   * @throws Error when the model has no price (an unpriced call is never free).
   */
  estimateCharge(spec: BudgetRouteSpec, estimate: BudgetEstimate = {}): BudgetCharge {
    const tokens = tokenCount(estimate);
    let costMicro = 0;
    if (estimate.cost !== undefined) {
      costMicro = toMicroUsd(Math.max(0, estimate.cost));
    } else if (spec.model !== undefined) {
      const price = priceFor(this.pricing, spec.model);
      if (!price) throw new Error(`pricing: model "${spec.model}" referenced by a budget is not priced`);
      costMicro = costMicroUsd(
        { inputTokens: estimate.inputTokens ?? 0, outputTokens: estimate.outputTokens ?? 0 },
        price,
      );
    }
    return { costMicro, tokens, requests: Math.max(0, Math.floor(spec.requests ?? 1)) };
  }

  /**
   * Reserves the estimate against every budget of the principal, atomically.
   * @throws BudgetExceededException (402) naming the first budget that would be exceeded.
   * @throws PolicyUnavailableException (503) when the store cannot be reached.
   */
  async reserve(
    principal: Principal,
    spec: BudgetRouteSpec,
    estimate: BudgetEstimate | undefined,
    requestId: string | null,
    operation: string | null = null,
    context: BudgetContext = {},
  ): Promise<BudgetReservation> {
    const charge = this.estimateCharge(spec, estimate);
    const plan = buildBudgetPlan(principal, this.config, this.clock(), charge, context);
    const reservation = {
      id: randomUUID(),
      requestId,
      principal,
      model: spec.model ?? null,
      operation,
      estimate: charge,
    };
    if (!plan.length) return { ...reservation, counters: [] };
    const attempt = async (shadowed: boolean) => {
      try {
        return await this.store.reserve({
          reservationId: reservation.id,
          ttlMs: (this.config?.reservationTtl ?? 300) * 1000,
          counters: plan.map((c) => ({
            key: c.key,
            limit: shadowed ? SHADOW_LIMIT : c.limit,
            amount: c.amount,
            unit: c.unit,
            expiresAt: c.resetAt,
          })),
        });
      } catch (error) {
        this.logger.error(`Budget store failed to reserve: ${String(error)}`);
        throw new PolicyUnavailableException('The budget store is unavailable');
      }
    };
    let result = await attempt(false);
    if (!result.ok) {
      const failed = plan[result.failedIndex];
      const shadow = this.config?.mode === 'shadow';
      this.emit({
        type: 'budget.exceeded',
        principal,
        requestId,
        operation,
        scope: failed.scope,
        period: failed.period,
        unit: failed.unit,
        percentUsed: percentUsed({ ...failed, ...result.failed }),
        shadow,
      });
      // Shadow mode: the refusal is audited and the call reserved and charged past the limit, so that the
      // counters and the ledger show what enforcing would have saved.
      if (shadow) result = await attempt(true);
    }
    if (!result.ok) {
      const failed = plan[result.failedIndex];
      throw new BudgetExceededException(
        {
          scope: failed.scope,
          period: failed.period,
          unit: failed.unit,
          resetAt: new Date(failed.resetAt).toISOString(),
        },
        `The ${failed.scope} ${failed.period} ${failed.unit} budget would be exceeded`,
      );
    }
    const states = result.counters;
    return { ...reservation, counters: plan.map((c, i) => withState(c, states[i].used, states[i].reserved)) };
  }

  /**
   * Reserves for a streamed reply: the full estimate when it fits, else the most output tokens every budget still
   * has room for (at least `minOutputTokens`), so the stream is admitted and cut exactly where the budget ends.
   * A flat `estimate.cost` or an estimate without output tokens is reserved as it is.
   * @throws BudgetExceededException (402) when not even the input and `minOutputTokens` fit.
   * @throws PolicyUnavailableException (503) when the store cannot be reached.
   */
  async reserveStreaming(
    principal: Principal,
    spec: BudgetRouteSpec,
    estimate: BudgetEstimate | undefined,
    requestId: string | null,
    operation: string | null = null,
    context: BudgetContext = {},
    minOutputTokens = 1,
  ): Promise<BudgetReservation> {
    const outputTokens = estimate?.outputTokens ?? 0;
    if (!estimate || estimate.cost !== undefined || outputTokens <= 0)
      return this.reserve(principal, spec, estimate, requestId, operation, context);
    // A reservation that another call beat to the last of a budget is tried again with what is left then.
    for (let attempt = 0; ; attempt++) {
      const plan = buildBudgetPlan(principal, this.config, this.clock(), undefined, context);
      let fitted = outputTokens;
      if (plan.length) {
        let states;
        try {
          states = await this.store.snapshot(plan.map((c) => ({ key: c.key, limit: c.limit })));
        } catch (error) {
          this.logger.error(`Budget store failed to answer: ${String(error)}`);
          throw new PolicyUnavailableException('The budget store is unavailable');
        }
        const chargeOf = (output: number): BudgetCharge =>
          this.estimateCharge(spec, { ...estimate, outputTokens: output });
        fitted =
          largestOutputThatFits(plan, states, chargeOf, Math.min(minOutputTokens, outputTokens), outputTokens) ??
          outputTokens;
      }
      try {
        return await this.reserve(
          principal,
          spec,
          { ...estimate, outputTokens: fitted },
          requestId,
          operation,
          context,
        );
      } catch (error) {
        if (!(error instanceof BudgetExceededException) || fitted === outputTokens || attempt >= 4) throw error;
      }
    }
  }

  /**
   * The actual charge of reported usage. Each report is priced by its model (or the route's); usage of an
   * unpriced model, or no report at all, is charged the reserved estimate, never $0.
   */
  actualCharge(reservation: BudgetReservation, reports: readonly UsageReport[], warnUnpriced = true): BudgetCharge {
    if (!reports.length) return { ...reservation.estimate };
    let costMicro = 0;
    let unpriced: string | null = null;
    for (const report of reports) {
      const model = report.model ?? reservation.model;
      const price = model === null ? undefined : priceFor(this.pricing, model);
      if (price) costMicro += costMicroUsd(report, price);
      else unpriced = model ?? '(no model)';
    }
    if (unpriced !== null) {
      if (warnUnpriced)
        this.logger.warn(`Model "${unpriced}" has no price; its usage is charged the reserved estimate`);
      costMicro += reservation.estimate.costMicro;
    }
    const tokens = reports.reduce((sum, r) => sum + tokenCount(r), 0);
    return { costMicro, tokens, requests: reservation.estimate.requests };
  }

  /**
   * Settles the reservation to the reported usage (idempotent in the store) and records it in the ledger. When the
   * store fails, the settlement is tried again in the background until it lands (then the ledger records it), so
   * usage that happened is charged once the store is back, never twice.
   * @throws the store's error; the caller decides whether the response survives it.
   */
  async settle(
    reservation: BudgetReservation,
    reports: readonly UsageReport[],
    options: { status?: UsageLedgerStatus } = {},
  ): Promise<BudgetSettlement> {
    const charge = this.actualCharge(reservation, reports);
    if (reservation.counters.length) {
      try {
        await this.store.settle(reservation.id, charge);
      } catch (error) {
        this.retry.schedule(
          reservation.id,
          () => this.store.settle(reservation.id, charge),
          () => this.recordLedger(reservation, reports, charge, options.status ?? 'settled'),
        );
        throw error;
      }
    }
    const counters = reservation.counters.map((c) =>
      withState(c, c.used + amountFor(c.unit, charge), Math.max(0, c.reserved - c.amount)),
    );
    this.recordLedger(reservation, reports, charge, options.status ?? 'settled');
    this.emitSoftLimit(reservation, counters);
    return { charge, counters };
  }

  /**
   * What a budgeted answer waits for before it is sent: nothing while the app runs; once it shuts down, the ledger's
   * flush, so that the row of a call answered during the shutdown is written. Nest closes the HTTP server, which
   * waits for the answers under way, before it runs the `onApplicationShutdown` hooks; but it runs those of a global
   * module such as TypeORM's (which closes the database) before the ledger's, which would find the database closed.
   */
  landing(): Promise<void> | null {
    return this.closing ? this.flushLedger() : null;
  }

  /** From now on answers wait for their ledger rows ({@link landing}). */
  beforeApplicationShutdown(): void {
    this.closing = true;
  }

  /** Gives the reservation back (the call failed or was abandoned). */
  async release(reservation: BudgetReservation): Promise<void> {
    if (reservation.counters.length) await this.store.release(reservation.id);
  }

  /**
   * What is left of every budget that applies to the principal; cost amounts in USD.
   * @throws PolicyUnavailableException (503) when the store cannot be reached.
   */
  async remaining(principal: Principal, context: BudgetContext = {}): Promise<{ budgets: BudgetRemaining[] }> {
    const now = this.clock();
    const plan = buildBudgetPlan(principal, this.config, now, undefined, context);
    let states;
    try {
      // Reservations of a process that died are given back first, so what is shown is what a call could use.
      await this.store.expireStale(now);
      states = await this.store.snapshot(plan.map((c) => ({ key: c.key, limit: c.limit })));
    } catch (error) {
      this.logger.error(`Budget store failed to answer: ${String(error)}`);
      throw new PolicyUnavailableException('The budget store is unavailable');
    }
    const show = (unit: BudgetUnit, value: number): number => (unit === 'cost' ? fromMicroUsd(value) : value);
    return {
      budgets: plan.map((c, i) => {
        const { used, reserved } = states[i];
        return {
          scope: c.scope,
          period: c.period,
          unit: c.unit,
          limit: show(c.unit, c.limit),
          used: show(c.unit, used),
          reserved: show(c.unit, reserved),
          remaining: show(c.unit, Math.max(0, c.limit - used - reserved)),
          resetAt: new Date(c.resetAt).toISOString(),
        };
      }),
    };
  }

  /** `X-Budget-Remaining`, `X-Budget-Reset` and (past the soft limit) `X-Budget-Warning` for the tightest budget. */
  headers(counters: readonly CounterView[]): Record<string, string> {
    return budgetHeaders(counters, this.clock(), this.softLimitPercent);
  }

  private async flushLedger(): Promise<void> {
    try {
      await this.options.ledger?.flush?.();
    } catch (error) {
      this.logger.error(`Usage ledger could not be written during shutdown: ${String(error)}`);
    }
  }

  private recordLedger(
    reservation: BudgetReservation,
    reports: readonly UsageReport[],
    charge: BudgetCharge,
    status: UsageLedgerStatus,
  ): void {
    if (!this.options.ledger) return;
    const { principal } = reservation;
    const models = [
      ...new Set(reports.map((r) => r.model ?? reservation.model).filter((m): m is string => m !== null)),
    ];
    try {
      this.options.ledger.record({
        requestId: reservation.requestId,
        principalId: principal.id,
        apiKeyId: principal.apiKeyId ?? null,
        tenantId: principal.tenantId,
        operation: reservation.operation,
        model: models.length ? models.join(',') : reservation.model,
        inputTokens: reports.reduce((sum, r) => sum + r.inputTokens, 0),
        outputTokens: reports.reduce((sum, r) => sum + r.outputTokens, 0),
        cachedInputTokens: reports.reduce((sum, r) => sum + (r.cachedInputTokens ?? 0), 0),
        costMicroUsd: charge.costMicro,
        status,
      });
    } catch (error) {
      this.logger.error(`Usage ledger rejected an entry: ${String(error)}`);
    }
  }

  private emitSoftLimit(reservation: BudgetReservation, after: readonly ReservedCounterState[]): void {
    for (const [i, counter] of after.entries()) {
      // Without this call's own reservation: the threshold is crossed by the call, not by its estimate.
      const held = reservation.counters[i];
      const before = percentUsed({ limit: held.limit, used: held.used, reserved: held.reserved - held.amount });
      const now = percentUsed(counter);
      if (before < this.softLimitPercent && now >= this.softLimitPercent) {
        this.emit({
          type: 'budget.soft_limit',
          principal: reservation.principal,
          requestId: reservation.requestId,
          operation: reservation.operation,
          scope: counter.scope,
          period: counter.period,
          unit: counter.unit,
          percentUsed: now,
        });
      }
    }
  }

  private emit(event: BudgetEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch (error) {
      this.logger.error(`Budget event listener failed: ${String(error)}`);
    }
  }
}
