import { describe, expect, it, jest } from '@jest/globals';
import type { Principal } from '../authentication/principal.interface';
import { BudgetExceededException } from '../policy.exceptions';
import { ReservationBudgetMeter } from './budget-meter';
import type { BudgetStore } from './budget-store.interface';
import { BudgetService, type BudgetReservation } from './budget.service';

const principal: Principal = {
  id: 'u1',
  type: 'user',
  tenantId: null,
  roles: [],
  scopes: [],
  tier: null,
  tokenId: null,
};

/** A store that admits everything and remembers settlements. */
function store(): BudgetStore & { settled: Array<[string, unknown]> } {
  const settled: Array<[string, unknown]> = [];
  return {
    settled,
    reserve: async (request) => ({
      ok: true,
      counters: request.counters.map((c) => ({ key: c.key, limit: c.limit, used: 0, reserved: c.amount })),
    }),
    settle: async (id, charge) => {
      settled.push([id, charge]);
    },
    release: async () => undefined,
    snapshot: async (refs) => refs.map((r) => ({ key: r.key, limit: r.limit, used: 0, reserved: 0 })),
    expireStale: async () => 0,
  };
}

async function meterFor(estimate: { inputTokens: number; outputTokens: number }, ledger = { record: jest.fn() }) {
  const s = store();
  const service = new BudgetService(
    s,
    { principal: { day: { tokens: 1_000, cost: 1 } } },
    { 'echo-1': { input: 1, output: 2 } },
    Date.now,
    { ledger },
  );
  const reservation: BudgetReservation = await service.reserve(principal, { model: 'echo-1' }, estimate, 'r1');
  return { meter: new ReservationBudgetMeter(service, reservation), store: s, ledger };
}

describe('ReservationBudgetMeter', () => {
  it('records usage up to the reservation and refuses the token that would pass it, recording nothing of it', async () => {
    const { meter } = await meterFor({ inputTokens: 10, outputTokens: 5 });
    meter.record({ inputTokens: 10, outputTokens: 0 });
    for (let i = 0; i < 5; i++) meter.record({ inputTokens: 0, outputTokens: 1 });
    expect(meter.fits({ inputTokens: 0, outputTokens: 1 })).toBe(false);
    expect(() => meter.record({ inputTokens: 0, outputTokens: 1 })).toThrow(BudgetExceededException);
    expect(meter.usage).toEqual([{ inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 }]);
    expect(meter.signal.aborted).toBe(true);
  });

  it('settles exactly what was recorded, once, with the outcome in the ledger', async () => {
    const { meter, store: s, ledger } = await meterFor({ inputTokens: 10, outputTokens: 100 });
    meter.record({ inputTokens: 10, outputTokens: 3 });
    const [first, second] = await Promise.all([meter.settle('cancelled'), meter.settle('settled')]);
    expect(first).toBe(second);
    expect(s.settled).toHaveLength(1);
    // 10 input at 1 micro-USD and 3 output at 2 micro-USD; 13 tokens; one request.
    expect(s.settled[0][1]).toEqual({ costMicro: 16, tokens: 13, requests: 1 });
    expect(ledger.record).toHaveBeenCalledTimes(1);
    expect(ledger.record.mock.calls[0][0]).toMatchObject({ inputTokens: 10, outputTokens: 3, status: 'cancelled' });
    expect(() => meter.record({ inputTokens: 0, outputTokens: 1 })).toThrow(/after the call was settled/);
  });

  it('rejects malformed usage', async () => {
    const { meter } = await meterFor({ inputTokens: 1, outputTokens: 1 });
    expect(() => meter.record({ inputTokens: -1, outputTokens: 0 })).toThrow(TypeError);
  });

  it('without a reservation counts but never refuses, and settles nothing', async () => {
    const meter = new ReservationBudgetMeter(null, null);
    meter.record({ inputTokens: 1_000_000, outputTokens: 1_000_000 });
    expect(meter.fits({ inputTokens: 1, outputTokens: 1 })).toBe(true);
    await expect(meter.settle()).resolves.toBeNull();
  });
});
