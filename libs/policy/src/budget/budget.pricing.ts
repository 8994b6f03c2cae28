import type { ModelPrice } from '../policy-module-options.interface';
import type { TokenUsage } from './budget.types';

/**
 * The price of `model`, matched on the exact id. A model that is not in the table has no price: there is no
 * prefix or family guessing, so `gpt-4o-mini` never borrows the price of `gpt-4o`.
 */
export function priceFor(
  pricing: Readonly<Record<string, ModelPrice>> | undefined,
  model: string,
): ModelPrice | undefined {
  if (!pricing || !Object.prototype.hasOwnProperty.call(pricing, model)) return undefined;
  return pricing[model];
}

const nonNegativeInt = (value: number | undefined): number =>
  value !== undefined && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;

/**
 * Cost of a call in integer micro-USD. Prices are USD per 1M tokens, so one token costs `price` micro-USD.
 * Cached input tokens are part of `inputTokens` and billed at `cachedInput` (or `input` when it is unset).
 * Fractions of a micro-USD round up: a call is never undercharged.
 */
export function costMicroUsd(usage: TokenUsage, price: ModelPrice): number {
  const input = nonNegativeInt(usage.inputTokens);
  const cached = Math.min(input, nonNegativeInt(usage.cachedInputTokens));
  const output = nonNegativeInt(usage.outputTokens);
  const micro = (input - cached) * price.input + cached * (price.cachedInput ?? price.input) + output * price.output;
  // Absorb float noise (0.1 + 0.2) before rounding up.
  return Math.ceil(Math.round(micro * 1e6) / 1e6);
}

/** Tokens a call counts against `tokens` budgets: input (cached included) plus output. */
export function tokenCount(usage: Partial<TokenUsage>): number {
  return nonNegativeInt(usage.inputTokens) + nonNegativeInt(usage.outputTokens);
}
