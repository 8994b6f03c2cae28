/** Token counts of one model call. `inputTokens` includes the cached ones; `cachedInputTokens` is that share. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
}

/** What a handler reports it used. `model` overrides the route's `@Budget({ model })` for this call. */
export interface UsageReport extends TokenUsage {
  model?: string;
}

/** The charge reserved before a call: tokens it may use and/or a flat cost in USD. */
export interface BudgetEstimate {
  inputTokens?: number;
  outputTokens?: number;
  /** USD. When set it is the reserved cost, whatever the token counts say. */
  cost?: number;
}

/** Computes the estimate from the request (e.g. by counting the prompt's tokens) before the reservation. */
export type BudgetEstimator<TRequest = unknown> = (request: TRequest) => Promise<BudgetEstimate> | BudgetEstimate;

/** What `@Budget(spec)` declares about a route. */
export interface BudgetSpec<TRequest = unknown> {
  /** Exact model id looked up in the pricing table. */
  model?: string;
  estimate?: BudgetEstimate | BudgetEstimator<TRequest>;
  /** Requests one call counts for (default 1). */
  requests?: number;
  /**
   * The session and run the call belongs to, for the `session` and `run` budgets (e.g. from a route parameter).
   * Without it those budgets do not apply to the route.
   */
  context?: (request: TRequest) => { sessionId?: string | null; runId?: string | null };
}

/** A charge in the units counters hold: integer micro-USD, tokens and requests. */
export interface BudgetCharge {
  costMicro: number;
  tokens: number;
  requests: number;
}
