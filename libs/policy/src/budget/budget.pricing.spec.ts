import { describe, expect, it } from '@jest/globals';
import { costMicroUsd, priceFor, tokenCount } from './budget.pricing';

describe('budget pricing', () => {
  const price = { input: 0.5, output: 1.5, cachedInput: 0.05 };

  it('charges per 1M tokens, in integer micro-USD', () => {
    // 1,000 input tokens at $0.50/1M = $0.0005 = 500 micro-USD; 2,000 output at $1.50/1M = 3,000 micro-USD.
    expect(costMicroUsd({ inputTokens: 1_000, outputTokens: 2_000 }, price)).toBe(3_500);
    expect(costMicroUsd({ inputTokens: 1_000_000, outputTokens: 0 }, { input: 3, output: 15 })).toBe(3_000_000);
  });

  it('bills cached input tokens at the cached price, and at the input price when there is none', () => {
    expect(costMicroUsd({ inputTokens: 1_000, outputTokens: 0, cachedInputTokens: 800 }, price)).toBe(140);
    expect(
      costMicroUsd({ inputTokens: 1_000, outputTokens: 0, cachedInputTokens: 800 }, { input: 0.5, output: 1 }),
    ).toBe(500);
  });

  it('rounds fractions of a micro-USD up, never down, and ignores float noise', () => {
    expect(costMicroUsd({ inputTokens: 1, outputTokens: 0 }, { input: 0.25, output: 0 })).toBe(1);
    expect(costMicroUsd({ inputTokens: 10, outputTokens: 20 }, { input: 0.1, output: 0.2 })).toBe(5);
    expect(costMicroUsd({ inputTokens: 0, outputTokens: 0 }, price)).toBe(0);
  });

  it('treats negative or non-finite counts as zero', () => {
    expect(costMicroUsd({ inputTokens: -5, outputTokens: Number.NaN }, price)).toBe(0);
    expect(tokenCount({ inputTokens: 10, outputTokens: -3 })).toBe(10);
  });

  it('matches exact model ids only', () => {
    const pricing = { 'gpt-4o': { input: 2.5, output: 10 } };
    expect(priceFor(pricing, 'gpt-4o')).toEqual({ input: 2.5, output: 10 });
    expect(priceFor(pricing, 'gpt-4o-mini')).toBeUndefined();
    expect(priceFor(pricing, 'gpt-4')).toBeUndefined();
    expect(priceFor(pricing, 'toString')).toBeUndefined();
    expect(priceFor(undefined, 'gpt-4o')).toBeUndefined();
  });
});
