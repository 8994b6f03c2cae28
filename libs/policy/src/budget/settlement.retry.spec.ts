import { SettlementRetry } from './settlement.retry';

describe('SettlementRetry', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('tries again until the store takes the settlement, then reports it once', async () => {
    const retry = new SettlementRetry({ delaysMs: [10, 20, 40] });
    let calls = 0;
    const settled = jest.fn();
    retry.schedule(
      'r1',
      async () => {
        calls++;
        if (calls < 3) throw new Error('CLUSTERDOWN');
      },
      settled,
    );
    for (let i = 0; i < 5; i++) await jest.advanceTimersByTimeAsync(40);
    expect(calls).toBe(3);
    expect(settled).toHaveBeenCalledTimes(1);
    expect(retry.size).toBe(0);
  });

  it('gives up after the last delay without reporting', async () => {
    const retry = new SettlementRetry({ delaysMs: [10, 10] });
    const settled = jest.fn();
    const attempt = jest.fn().mockRejectedValue(new Error('down'));
    retry.schedule('r1', attempt, settled);
    await jest.advanceTimersByTimeAsync(100);
    expect(attempt).toHaveBeenCalledTimes(2);
    expect(settled).not.toHaveBeenCalled();
    expect(retry.size).toBe(0);
  });

  it('keeps one retry per reservation and at most maxPending', async () => {
    const retry = new SettlementRetry({ delaysMs: [10], maxPending: 1 });
    expect(
      retry.schedule(
        'r1',
        async () => undefined,
        () => undefined,
      ),
    ).toBe(true);
    expect(
      retry.schedule(
        'r1',
        async () => undefined,
        () => undefined,
      ),
    ).toBe(false);
    expect(
      retry.schedule(
        'r2',
        async () => undefined,
        () => undefined,
      ),
    ).toBe(false);
    retry.close();
    expect(retry.size).toBe(0);
  });
});
