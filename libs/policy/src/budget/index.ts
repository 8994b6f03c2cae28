/**
 * Budgets: reserve-then-settle cost, token and request budgets per principal, API key, tenant and globally,
 * exact across instances sharing Redis or a database; plus the usage ledger.
 */

/**
 * Marks a route or controller as budgeted (method-level wins).
 * @example
 * ```ts
 * @Post(':id/events')
 * @Budget({ model: 'echo-1', estimate: (req: Request) => ({ inputTokens: countTokens(req.body.message), outputTokens: 256 }) })
 * createEvent(@BudgetUsage() usage: BudgetUsage) { ... usage.report({ inputTokens, outputTokens }); }
 * ```
 */
export { Budget } from './budget.decorator';

/**
 * The request's usage recorder (type) and the parameter decorator that injects it (value).
 * A handler may instead return `{ usage: { inputTokens, outputTokens, model? } }`.
 * @example
 * ```ts
 * @Budget({ model: 'gpt-4o', estimate: { inputTokens: 2_000, outputTokens: 500 } })
 * async ask(@BudgetUsage() usage: BudgetUsage) {
 *   const answer = await llm.call();
 *   usage.report({ inputTokens: answer.usage.prompt_tokens, outputTokens: answer.usage.completion_tokens });
 *   return answer.text;
 * }
 * ```
 * @throws Error from `setEstimate` once the estimate has been reserved.
 */
export {
  BudgetUsage,
  BudgetUsageRecorder,
  budgetUsageOf,
  isUsageReport,
  BUDGET_USAGE_REQUEST_KEY,
} from './budget-usage.recorder';

/**
 * The usage meter of a streamed, budgeted call (type) and the parameter decorator that injects it (value). Record
 * usage as it is produced; `record` refuses (402 `budget_exceeded`) what would pass the call's reservation, and the
 * interceptor then ends the stream with an `error` event. `signal` is aborted when the client goes away.
 * @example
 * ```ts
 * @Post('chat')
 * @Budget({ model: 'gpt-4o', estimate: (req) => ({ inputTokens: count(req.body.prompt), outputTokens: 1_000 }) })
 * async chat(@Body() body: ChatDto, @BudgetMeter() meter: BudgetMeter) {
 *   meter.record({ inputTokens: count(body.prompt), outputTokens: 0 });
 *   async function* reply() {
 *     for await (const token of llm.stream(body.prompt, { signal: meter.signal })) {
 *       meter.record({ inputTokens: 0, outputTokens: 1 }); // throws past the reservation: the stream ends there
 *       yield { type: 'token', data: { text: token } };
 *     }
 *     yield { type: 'done', data: { usage: meter.usage } };
 *   }
 *   return reply();
 * }
 * ```
 * @throws BudgetExceededException from `record` when the usage would pass the reservation.
 */
export { BudgetMeter, BUDGET_METER_REQUEST_KEY } from './budget-meter';
export type { BudgetMeterOutcome } from './budget-meter';

/**
 * An event of a budgeted stream (`{ type?, id?, data }`) and the settled budget the final `done` event carries.
 * @example
 * yield { type: 'token', data: { text: 'Hel' } } satisfies BudgetStreamEvent;
 */
export type { BudgetStreamEvent, BudgetStreamSummary } from './budget-stream.writer';

/**
 * Shapes of `@Budget` specs, estimates, usage reports and charges (micro-USD, tokens, requests).
 * @example
 * const spec: BudgetSpec<FastifyRequest> = { model: 'echo-1', estimate: (req) => ({ outputTokens: 256 }) };
 */
export type {
  BudgetSpec,
  BudgetEstimate,
  BudgetEstimator,
  UsageReport,
  TokenUsage,
  BudgetCharge,
} from './budget.types';

/**
 * Enforces `@Budget`: reserve, run the handler, settle, set `X-Budget-*` headers; release on error.
 * Express and Fastify alike. `PolicyModule` provides it and `@Budget()` routes hand their calls to it (replace it with
 * `overrideProvider(BudgetInterceptor)`); without `PolicyModule`, register it yourself (a call it already meters is
 * not metered twice).
 * @example
 * providers: [{ provide: APP_INTERCEPTOR, useClass: BudgetInterceptor }]
 * @throws BudgetExceededException (402), PolicyUnavailableException (503) when the store is down.
 */
export { BudgetInterceptor } from './budget.interceptor';

/**
 * Budget decisions for HTTP and non-HTTP callers (e.g. a tool call inside a handler).
 * @example
 * const service = new BudgetService(store, options.budgets, options.pricing, Date.now, { ledger, onEvent: audit });
 * const reservation = await service.reserve(principal, { model: 'echo-1' }, { outputTokens: 256 }, requestId);
 * try { const { counters } = await service.settle(reservation, [{ inputTokens: 12, outputTokens: 80 }]); }
 * catch (e) { await service.release(reservation); throw e; }
 * await service.remaining(principal); // { budgets: [{ scope, period, unit, limit, used, reserved, remaining, resetAt }] }
 * @throws BudgetExceededException (402) from `reserve` when a budget would be exceeded.
 * @throws PolicyUnavailableException (503) from `reserve` and `remaining` when the store cannot be reached.
 */
export { BudgetService } from './budget.service';
export type {
  BudgetReservation,
  BudgetSettlement,
  BudgetRemaining,
  BudgetEvent,
  BudgetServiceOptions,
  BudgetRouteSpec,
  ReservedCounterState,
} from './budget.service';

/**
 * Where counters live: an interface and the same-named injection token.
 * @example
 * providers: [{ provide: BudgetStore, useFactory: (redis: Redis) => new RedisBudgetStore(redis), inject: [POLICY_REDIS] }]
 */
export { BudgetStore } from './budget-store.interface';
export type {
  ReserveRequest,
  ReserveCounter,
  ReserveResult,
  BudgetCounterState,
  BudgetCounterRef,
} from './budget-store.interface';

/**
 * Counters in Redis: one script per reservation across every counter, hash-tagged keys (Redis Cluster safe).
 * @example
 * const store = new RedisBudgetStore(new Redis(process.env.REDIS_URL), { keyPrefix: 'myapp:budget:' });
 */
export { RedisBudgetStore } from './redis-budget.store';
export type { RedisBudgetStoreOptions } from './redis-budget.store';

/**
 * Counters in the database (PostgreSQL or better-sqlite3) through a TypeORM `DataSource`.
 * @example
 * const store = new DatabaseBudgetStore(dataSource); // after dataSource.runMigrations()
 * @throws Error at construction for another driver.
 */
export { DatabaseBudgetStore } from './database-budget.store';
export type { DatabaseBudgetStoreOptions } from './database-budget.store';

/**
 * The usage ledger: batched, off the request path, flushed on shutdown; aggregates for `GET /usage`.
 * @example
 * const ledger = new UsageLedgerService(dataSource);
 * ledger.record({ principalId: 'u1', model: 'echo-1', inputTokens: 12, outputTokens: 80, costMicroUsd: 126 });
 * await ledger.aggregate({ groupBy: 'model', since: Date.now() - 86_400_000 });
 * @throws the database error from `flush()` when a batch cannot be written (it stays queued).
 */
export { UsageLedgerService } from './usage-ledger.service';
export type {
  UsageLedgerEntry,
  UsageLedgerStatus,
  UsageAggregateQuery,
  UsageAggregateRow,
  UsageLedgerOptions,
} from './usage-ledger.service';

/**
 * TypeORM entities, migration and the arrays to register them with.
 * @example
 * new DataSource({ type: 'postgres', url, entities: [...BUDGET_ENTITIES], migrations: [...BUDGET_MIGRATIONS] });
 */
export { BUDGET_ENTITIES, BUDGET_MIGRATIONS } from './budget.persistence';
export { CreateBudgetTables1764000000000, AddUsageLedgerStatus1764800000000 } from './budget.migrations';
export { BudgetCounterEntity } from './budget-counter.entity';
export { BudgetReservationEntity } from './budget-reservation.entity';
export { UsageLedgerEntity } from './usage-ledger.entity';

/**
 * UTC-calendar budget windows (ISO weeks start on Monday).
 * @example
 * budgetWindow('week', Date.parse('2026-11-25T13:00:00Z')); // { start: Mon 23rd 00:00Z, end: Mon 30th, label: '2026-W48' }
 */
export { budgetWindow, windowStart, windowEnd, BUDGET_PERIODS } from './budget-periods';
export type { BudgetWindow } from './budget-periods';

/**
 * Pricing: exact model ids, USD per 1M tokens, integer micro-USD results rounded up.
 * @example
 * costMicroUsd({ inputTokens: 1_000, outputTokens: 2_000 }, { input: 0.5, output: 1.5 }); // 3_500 (= $0.0035)
 */
export { costMicroUsd, priceFor, tokenCount } from './budget.pricing';

/**
 * Boot-time validation of `budgets` and `pricing`.
 * @example
 * validateBudgetConfig(options.budgets, options.pricing, modelsReferencedByRoutes);
 * @throws Error naming the key, e.g. `budgets.principal.day.cost must be a positive number`.
 */
export { validateBudgetConfig, BUDGET_SCOPES, BUDGET_UNITS } from './budget-config.validator';

/**
 * The counters a call is checked against, and the headers describing the tightest one.
 * @example
 * buildBudgetPlan(principal, options.budgets, Date.now(), { costMicro: 3_500, tokens: 3_000, requests: 1 });
 * budgetHeaders(counters, Date.now(), 80); // { 'X-Budget-Remaining': '4.2; unit=cost; scope=principal; period=day', ... }
 */
export { buildBudgetPlan } from './budget.plan';
export type { PlannedCounter, BudgetContext } from './budget.plan';
export { budgetHeaders } from './budget.headers';
export type { CounterView } from './budget.headers';
