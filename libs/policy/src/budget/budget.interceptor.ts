import { fromMicroUsd } from '../persistence/column-types';
import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { SSE_METADATA } from '@nestjs/common/constants';
import { StreamableFile } from '@nestjs/common';
import { defer, from, lastValueFrom, mergeMap, Observable } from 'rxjs';
import type { Principal } from '../authentication/principal.interface';
import { BUDGET_KEY, COMPILED_POLICY, PRINCIPAL_REQUEST_KEY, REQUIRE_OPERATION_KEY } from '../policy.constants';
import { ApprovalGate } from '../approval/approval.gate';
import { routeMetadata } from '../common/route-metadata';
import { operationNeedsApproval, type CompiledPolicy } from '../authorization/compiled-policy';
import { headerValue, httpRequest, httpResponse, type PolicyHttpRequest } from '../common/http-context';
import { PolicyRequest } from '../common/policy-request';
import { PolicyForbiddenException, UnauthenticatedException } from '../policy.exceptions';
import { budgetUsageOf, isUsageReport, type BudgetUsageRecorder } from './budget-usage.recorder';
import { BUDGET_METER_REQUEST_KEY, ReservationBudgetMeter } from './budget-meter';
import {
  isAsyncIterable,
  meterEventObservable,
  openBudgetStream,
  type BudgetStreamSummary,
} from './budget-stream.writer';
import { BudgetService, type BudgetReservation, type ReservedCounterState } from './budget.service';
import type { BudgetEstimate, BudgetSpec, UsageReport } from './budget.types';

type HttpRequest = Record<string, unknown> & { headers?: Record<string, string | string[] | undefined> };
interface HttpResponse {
  header?: (name: string, value: string) => unknown;
  setHeader?: (name: string, value: string) => unknown;
  headersSent?: boolean;
  sent?: boolean;
  writableFinished?: boolean;
  once?: (event: 'close', listener: () => void) => unknown;
  raw?: HttpResponse;
}

/**
 * Set on a request while a `BudgetInterceptor` meters a run of its handler: another one inside that run (an app's
 * global interceptor and `@Budget()`'s, or a class's and a method's `@Budget()`) passes it through. Cleared before
 * the run's outcome goes on, so a run started again (an app interceptor's `retry()`) is metered again.
 */
const INTERCEPTED = Symbol('POLICY:BUDGET_INTERCEPTED');
/** The admission the budget's guard made for an `@Sse()` call, taken by the interceptor that meters it. */
const ADMITTED = Symbol('POLICY:BUDGET_ADMITTED');

type BudgetRequest = Record<symbol, unknown>;

/** Whether a `BudgetInterceptor` is metering this request now. */
export function budgetIntercepted(request: object): boolean {
  return (request as BudgetRequest)[INTERCEPTED] === true;
}

/** Runs `source` with the request marked as metered: the mark is cleared before its outcome is passed on. */
function meteredRun(request: BudgetRequest, source: () => Observable<unknown>): Observable<unknown> {
  return new Observable((subscriber) => {
    request[INTERCEPTED] = true;
    let active = true;
    const done = () => {
      if (active) request[INTERCEPTED] = active = false;
    };
    const inner = source().subscribe({
      next: (value) => subscriber.next(value),
      error: (error: unknown) => {
        done();
        subscriber.error(error);
      },
      complete: () => {
        done();
        subscriber.complete();
      },
    });
    return () => {
      done();
      inner.unsubscribe();
    };
  });
}

interface Admission {
  reservation: BudgetReservation;
  meter: ReservationBudgetMeter;
  usage: BudgetUsageRecorder;
}

/**
 * Enforces `@Budget` on a route: reserve the estimate, run the handler, settle to the usage it reported, and set
 * the budget headers; release the reservation when the handler fails. Routes without `@Budget` pass through.
 *
 * The handler reports usage through `@BudgetUsage()` (`usage.report({...})`) or by returning an object with a
 * `usage: { inputTokens, outputTokens, model? }` field. Without a report, the reserved estimate is charged.
 * A settlement failure after the handler succeeded is logged and the response is still sent (the reservation
 * then expires in the store). A budgeted handler answers one value: the last value of an observable is the answer.
 *
 * Streaming: a handler that answers an async iterable of events (or an `@Sse()` route's observable) is metered
 * with a {@link BudgetMeter} (`@BudgetMeter()`): a streaming request reserves what the budgets have room for, the
 * stream ends with an `error` event `budget_exceeded` before it passes that, and it settles to what was produced
 * when it completes, fails or the client goes away (ledger status `cancelled`).
 *
 * With `budgets.approvalAbovePercent`, a call that would take any budget past that percent (its own estimate
 * counted) is REQUIRE_APPROVAL: its reservation is given back, a pending approval bound to the principal, the
 * operation and the exact request is stored, and the call answers 403 `approval_required` with `approvalId`. Once a
 * human approves it, the same call retried with `X-Approval-Id` passes, once. An operation that already needs an
 * approval of its own (`approvals.operations`) was approved by a human in the guard and is not asked twice.
 */
@Injectable()
export class BudgetInterceptor implements NestInterceptor {
  private readonly logger = new Logger(BudgetInterceptor.name);
  constructor(
    private readonly budget: BudgetService,
    private readonly reflector: Reflector,
    @Optional() @Inject(ApprovalGate) private readonly approvals: ApprovalGate | null = null,
    @Optional() @Inject(COMPILED_POLICY) private readonly policy: CompiledPolicy | null = null,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const spec = routeMetadata<BudgetSpec>(this.reflector, BUDGET_KEY, context);
    if (!spec || context.getType() !== 'http') return next.handle();
    const request = httpRequest(context) as unknown as BudgetRequest;
    return new Observable((subscriber) => {
      // Registered twice on one call (an app's global interceptor and `@Budget()`'s, or a class's and a method's
      // `@Budget()`): the outer one meters the run, the inner one passes it through.
      if (request[INTERCEPTED] === true) return next.handle().subscribe(subscriber);
      if (this.isSseRoute(context))
        return meteredRun(request, () => this.runSse(context, next, spec)).subscribe(subscriber);
      // One plain observable over the run's promise, marked as in the helper above.
      request[INTERCEPTED] = true;
      let active = true;
      const done = () => {
        if (active) request[INTERCEPTED] = active = false;
      };
      this.run(context, next, spec).then(
        (value) => {
          done();
          subscriber.next(value);
          subscriber.complete();
        },
        (error: unknown) => {
          done();
          subscriber.error(error);
        },
      );
      return done;
    });
  }

  /** The caller the budget is charged to. Override to take it from elsewhere. */
  protected getPrincipal(request: HttpRequest): Principal {
    const principal = PolicyRequest.of(request)?.principal ?? (request[PRINCIPAL_REQUEST_KEY] as Principal | undefined);
    if (!principal) throw new UnauthenticatedException();
    return principal;
  }

  /** The request id recorded with the charge. */
  protected getRequestId(request: HttpRequest): string {
    const state = PolicyRequest.of(request);
    if (state) return state.requestId;
    if (typeof request.id === 'string') return request.id;
    return randomUUID();
  }

  /** Resolves the estimate: the spec's (a value or a function of the request), refined by `setEstimate`. */
  protected async resolveEstimate(spec: BudgetSpec, request: HttpRequest): Promise<BudgetEstimate> {
    const declared = typeof spec.estimate === 'function' ? await spec.estimate(request) : spec.estimate;
    return { ...declared, ...budgetUsageOf(request).estimate };
  }

  /**
   * Whether the call streams its answer (`Accept: text/event-stream`, or an `@Sse()` route): it then reserves what
   * the budgets have room for (at least one output token) rather than failing when the full estimate does not fit.
   */
  protected isStreamingRequest(request: PolicyHttpRequest, context: ExecutionContext): boolean {
    if (this.isSseRoute(context)) return true;
    const accept = request.headers.accept;
    return (Array.isArray(accept) ? accept.join(',') : (accept ?? '')).toLowerCase().includes('text/event-stream');
  }

  private isSseRoute(context: ExecutionContext): boolean {
    return Reflect.getMetadata(SSE_METADATA, context.getHandler()) === true;
  }

  /** Reserves for the call (and asks for an approval past the threshold); the meter is on the request afterwards. */
  private async admit(context: ExecutionContext, spec: BudgetSpec): Promise<Admission> {
    const request = httpRequest(context);
    const principal = this.getPrincipal(request);
    const usage = budgetUsageOf(request);
    const declared: unknown = routeMetadata(this.reflector, REQUIRE_OPERATION_KEY, context);
    const operation = typeof declared === 'string' ? declared : null;
    const requestId = this.getRequestId(request);
    let reservation: BudgetReservation;
    try {
      const estimate = await this.resolveEstimate(spec, request);
      usage.seal();
      const scopeIds = spec.context ? spec.context(request) : {};
      reservation = this.isStreamingRequest(request, context)
        ? await this.budget.reserveStreaming(principal, spec, estimate, requestId, operation, scopeIds)
        : await this.budget.reserve(principal, spec, estimate, requestId, operation, scopeIds);
    } catch (error) {
      await this.giveBackApproval(request, principal);
      throw error;
    }

    const pastThreshold = this.budget.pastApprovalThreshold(reservation);
    if (pastThreshold) {
      try {
        await this.requireApproval(request, principal, operation, reservation, pastThreshold);
      } catch (error) {
        await this.release(reservation);
        throw error;
      }
    }
    const meter = new ReservationBudgetMeter(this.budget, reservation);
    request[BUDGET_METER_REQUEST_KEY] = meter;
    return { reservation, meter, usage };
  }

  /**
   * Admits a budgeted `@Sse()` call before Nest writes its headers (called by the budget admission guard, since
   * Nest commits SSE headers one tick after subscribing to the interceptors): a refusal is a plain JSON answer.
   * Answers true for every other route, which the interceptor admits itself.
   */
  admitBeforeSse(context: ExecutionContext): boolean | Promise<boolean> {
    const spec = routeMetadata<BudgetSpec>(this.reflector, BUDGET_KEY, context);
    if (!spec || context.getType() !== 'http' || !this.isSseRoute(context)) return true;
    const request = httpRequest(context) as unknown as BudgetRequest;
    // A class's and a method's `@Budget()` both put the admission guard on the route: it admits once, and whichever
    // interceptor meters the call (this one, or an app's own) takes that admission.
    const admission = (request[ADMITTED] ??= this.admit(context, spec)) as Promise<Admission>;
    return admission.then(() => true);
  }

  /** An `@Sse()` route: its events are metered and the stream settles when it ends, fails or the client leaves. */
  private runSse(context: ExecutionContext, next: CallHandler, spec: BudgetSpec): Observable<unknown> {
    const request = httpRequest(context) as unknown as BudgetRequest;
    return defer(() => {
      // The guard's admission serves one run: a run started again reserves again.
      const admitted = request[ADMITTED] as Promise<Admission> | undefined;
      request[ADMITTED] = undefined;
      return from(admitted ?? this.admit(context, spec));
    }).pipe(
      mergeMap(({ reservation, meter }) =>
        meterEventObservable(next.handle(), meter, {
          summary: (settled) => this.summary(settled?.counters ?? reservation.counters),
        }),
      ),
    );
  }

  private async run(context: ExecutionContext, next: CallHandler, spec: BudgetSpec): Promise<unknown> {
    const { reservation, meter, usage } = await this.admit(context, spec);

    let result: unknown;
    try {
      result = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      await this.release(reservation);
      throw error;
    }

    if (isAsyncIterable(result)) return this.stream(result, httpResponse<HttpResponse>(context), reservation, meter);

    const reports = usage.reports.length
      ? [...usage.reports]
      : meter.recorded
        ? [...meter.usage]
        : this.reportFromResult(result);
    let counters = reservation.counters;
    try {
      const settlement = await this.budget.settle(reservation, reports);
      counters = settlement.counters;
      this.reportCost(result, settlement.charge.costMicro);
    } catch (error) {
      this.logger.error(`Budget settlement of reservation ${reservation.id} failed: ${String(error)}`);
    }
    this.setHeaders(httpResponse<HttpResponse>(context), this.budget.headers(counters));
    // While the app shuts down, the answer waits for its ledger row (see BudgetService.landing).
    const landing = this.budget.landing();
    if (landing) await landing;
    return result;
  }

  /**
   * Hands a call past the approval threshold to the `ApprovalGate`: it passes when it carries the id of an approval
   * a human granted for exactly this call; otherwise a pending approval is stored and 403 `approval_required` thrown.
   * Fails closed without an approval gate.
   */
  private async requireApproval(
    request: PolicyHttpRequest,
    principal: Principal,
    operation: string | null,
    reservation: BudgetReservation,
    counter: ReservedCounterState,
  ): Promise<void> {
    if (operation !== null && this.policy && operationNeedsApproval(this.policy, operation)) return;
    if (!this.approvals)
      throw new PolicyForbiddenException('This call needs an approval and no approval store is configured');
    await this.approvals.pass({
      principal,
      operation: operation ?? 'budget',
      request: { method: request.method, path: request.url, body: request.body },
      approvalId: headerValue(request, 'x-approval-id'),
      reason: `the call would take the ${counter.scope} ${counter.period} ${counter.unit} budget past ${this.budget.approvalAbovePercent}%`,
      origin: { requestId: reservation.requestId, ip: PolicyRequest.of(request)?.ip },
    });
  }

  /**
   * The call is refused before it runs: an approval the authorization guard spent for it is given back, so that
   * only a call that runs spends one. A failure to give it back leaves it spent (logged).
   */
  private async giveBackApproval(request: PolicyHttpRequest, principal: Principal): Promise<void> {
    const state = PolicyRequest.of(request);
    const approvalId = state?.spentApprovalId;
    if (!state || !approvalId || !this.approvals) return;
    state.spentApprovalId = undefined;
    await this.approvals.giveBack(approvalId, principal).catch((error: unknown) => {
      this.logger.error(`Approval ${approvalId} could not be given back after a budget refusal: ${String(error)}`);
    });
  }

  /** A handler that returns the documented `{ usage }` shape gets the charged cost (USD) filled in. */
  private reportCost(result: unknown, costMicro: number): void {
    if (typeof result !== 'object' || result === null || !('usage' in result)) return;
    const usage = result.usage;
    if (typeof usage === 'object' && usage !== null && (usage as { cost?: unknown }).cost === undefined) {
      (usage as { cost?: number }).cost = fromMicroUsd(costMicro);
    }
  }

  private reportFromResult(result: unknown): UsageReport[] {
    if (typeof result !== 'object' || result === null || !('usage' in result)) return [];
    const usage = result.usage;
    if (!isUsageReport(usage)) return [];
    const { model, inputTokens, outputTokens, cachedInputTokens } = usage;
    return [{ model, inputTokens, outputTokens, cachedInputTokens }];
  }

  /**
   * A handler that answers an async iterable streams it as Server-Sent Events: the budget headers (as reserved) go
   * out first, each event as it is produced, and the final `done` event carries the settled budget. A handler that
   * fails before its first event gets a plain JSON error and its reservation back.
   */
  private async stream(
    source: AsyncIterable<unknown>,
    response: HttpResponse,
    reservation: BudgetReservation,
    meter: ReservationBudgetMeter,
  ): Promise<StreamableFile> {
    let stream;
    try {
      stream = await openBudgetStream(source, meter, {
        summary: (settled) => this.summary(settled?.counters ?? reservation.counters),
      });
    } catch (error) {
      await this.release(reservation);
      throw error;
    }
    // Express's response is the Node response; Fastify's reply wraps it. Either closes when the client goes.
    const raw = response.raw ?? response;
    raw.once?.('close', () => {
      if (!raw.writableFinished) stream.cancel();
    });
    this.setHeaders(response, {
      ...this.budget.headers(reservation.counters),
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
    });
    return new StreamableFile(stream.body, { type: 'text/event-stream; charset=utf-8' });
  }

  /** The budget headers of `counters` as the `budget` field of a `done` event. */
  private summary(counters: readonly ReservedCounterState[]): BudgetStreamSummary {
    const headers = this.budget.headers(counters);
    const summary: BudgetStreamSummary = {};
    if (headers['X-Budget-Remaining'] !== undefined) summary.remaining = headers['X-Budget-Remaining'];
    if (headers['X-Budget-Reset'] !== undefined) summary.reset = Number(headers['X-Budget-Reset']);
    if (headers['X-Budget-Warning'] !== undefined) summary.warning = Number(headers['X-Budget-Warning']);
    return summary;
  }

  private async release(reservation: BudgetReservation): Promise<void> {
    try {
      await this.budget.release(reservation);
    } catch (error) {
      this.logger.error(`Budget release of reservation ${reservation.id} failed (it will expire): ${String(error)}`);
    }
  }

  /** Fastify replies have `header()`, Node/Express responses `setHeader()`. */
  private setHeaders(response: HttpResponse, headers: Record<string, string>): void {
    if (response.headersSent || response.sent) return;
    for (const [name, value] of Object.entries(headers)) {
      if (typeof response.header === 'function') response.header(name, value);
      else response.setHeader?.(name, value);
    }
  }
}
