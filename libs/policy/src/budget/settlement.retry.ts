import { Logger } from '@nestjs/common';

/** Options of {@link SettlementRetry}. */
export interface SettlementRetryOptions {
  /** Waits between attempts, in ms (default 250 ms doubling up to 30 s, about two minutes in all). */
  delaysMs?: readonly number[];
  /** Most settlements waiting at once (default 10,000); past it a failed settlement is only logged. */
  maxPending?: number;
}

const DEFAULT_DELAYS = [250, 500, 1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 30_000, 30_000];

/**
 * Settlements the store could not take (Redis away, a cluster master failing over) tried again in the background
 * until they land. Settling is idempotent in every store, and a late settlement still charges the usage, so
 * a retry never charges twice and the call that did happen is charged once the store is back. Pending retries live
 * in this process only: they are lost if it exits first (the reservation then expires and is given back).
 * @example
 * const retry = new SettlementRetry();
 * retry.schedule('res-1', () => store.settle('res-1', charge), () => ledger.record(entry));
 */
export class SettlementRetry {
  private readonly logger = new Logger('BudgetService');
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly delaysMs: readonly number[];
  private readonly maxPending: number;

  constructor(options: SettlementRetryOptions = {}) {
    this.delaysMs = options.delaysMs ?? DEFAULT_DELAYS;
    this.maxPending = options.maxPending ?? 10_000;
  }

  /** How many settlements are waiting for the store. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Tries `attempt` again after each delay until it resolves, then calls `onSettled`. Answers false (and does
   * nothing) when the reservation is already waiting or too many are.
   */
  schedule(reservationId: string, attempt: () => Promise<void>, onSettled: () => void): boolean {
    if (this.pending.has(reservationId) || this.pending.size >= this.maxPending) return false;
    const run = (index: number): void => {
      const timer = setTimeout(() => {
        attempt().then(
          () => {
            this.pending.delete(reservationId);
            this.logger.log(`Budget settlement of reservation ${reservationId} landed on retry ${index + 1}`);
            onSettled();
          },
          (error: unknown) => {
            if (index + 1 < this.delaysMs.length) return run(index + 1);
            this.pending.delete(reservationId);
            this.logger.error(`Budget settlement of reservation ${reservationId} abandoned: ${String(error)}`);
          },
        );
      }, this.delaysMs[index]);
      timer.unref?.();
      this.pending.set(reservationId, timer);
    };
    run(0);
    return true;
  }

  /** Stops every pending retry. */
  close(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }
}
