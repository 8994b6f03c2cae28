import { describe, expect, it } from '@jest/globals';
import { largestOutputThatFits } from './budget-stream.fit';
import type { BudgetCharge } from './budget.types';

/** 10 input tokens; 1 micro-USD per input token and 3 per output token. */
const chargeOf = (output: number): BudgetCharge => ({ costMicro: 10 + 3 * output, tokens: 10 + output, requests: 1 });

describe('largestOutputThatFits', () => {
  it('answers the full estimate when it fits', () => {
    expect(
      largestOutputThatFits([{ unit: 'tokens', limit: 1_000 }], [{ used: 0, reserved: 0 }], chargeOf, 1, 256),
    ).toBe(256);
  });

  it('answers what the tightest counter leaves, counting used and reserved', () => {
    const plan = [
      { unit: 'tokens' as const, limit: 1_000 },
      { unit: 'cost' as const, limit: 200 },
    ];
    // cost: 200 - 50 - 20 = 130 left → 10 + 3o <= 130 → o = 40; tokens leave far more.
    expect(
      largestOutputThatFits(
        plan,
        [
          { used: 0, reserved: 0 },
          { used: 50, reserved: 20 },
        ],
        chargeOf,
        1,
        256,
      ),
    ).toBe(40);
  });

  it('answers null when not even the minimum fits', () => {
    expect(
      largestOutputThatFits([{ unit: 'tokens', limit: 10 }], [{ used: 0, reserved: 0 }], chargeOf, 1, 256),
    ).toBeNull();
    expect(
      largestOutputThatFits([{ unit: 'requests', limit: 5 }], [{ used: 5, reserved: 0 }], chargeOf, 1, 256),
    ).toBeNull();
  });

  it('answers exactly the boundary', () => {
    for (let left = 11; left < 60; left++) {
      const output = largestOutputThatFits(
        [{ unit: 'tokens', limit: left }],
        [{ used: 0, reserved: 0 }],
        chargeOf,
        1,
        256,
      );
      expect(output).toBe(left - 10);
    }
  });
});
