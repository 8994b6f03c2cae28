import type { BudgetUnit } from '../policy-module-options.interface';
import type { BudgetCharge } from './budget.types';

/** One counter of a reservation: reserve `amount` unless `used + reserved + amount` would pass `limit`. */
export interface ReserveCounter {
  key: string;
  /** The limit in counter units (micro-USD, tokens, requests). */
  limit: number;
  /** The estimate to reserve, in counter units. */
  amount: number;
  /** Which part of the actual charge this counter takes at settlement. */
  unit: BudgetUnit;
  /** Epoch ms when the counter's window ends; the store may forget the counter after that. */
  expiresAt: number;
}

export interface ReserveRequest {
  /** Unique id of the reservation (settle and release refer to it). */
  reservationId: string;
  counters: ReserveCounter[];
  /** Milliseconds after which an unsettled reservation expires and its amounts are given back. */
  ttlMs: number;
}

/** A counter's state: what is spent (`used`) and what is held by open reservations (`reserved`). */
export interface BudgetCounterState {
  key: string;
  limit: number;
  used: number;
  reserved: number;
}

export interface BudgetCounterRef {
  key: string;
  limit: number;
}

export type ReserveResult =
  { ok: true; counters: BudgetCounterState[] } | { ok: false; failedIndex: number; failed: BudgetCounterState };

/**
 * Where budget counters live. Implementations must be exact under concurrency, across processes:
 *
 * - `reserve` is atomic across all counters: when any counter's `used + reserved + amount` would pass its limit,
 *   nothing is reserved and the result names the first failing counter (in request order).
 * - `settle` moves the reservation's amounts from `reserved` to `used`, replaced by the ACTUAL charge. It is
 *   idempotent: a second call charges nothing. Since the actual charge may exceed the estimate, only usage above a
 *   call's own estimate can take `used` past a limit; admission itself never does.
 * - `release` gives the reserved amounts back (idempotent; nothing after `settle`).
 * - A reservation neither settled nor released within `ttlMs` expires and its amounts are given back, even if the
 *   process that made it died; `expireStale` does it on demand and stores also do it lazily. A late `settle` of an
 *   expired reservation still charges the actual usage, which did happen.
 */
export interface BudgetStore {
  reserve(request: ReserveRequest): Promise<ReserveResult>;
  settle(reservationId: string, actual: BudgetCharge): Promise<void>;
  release(reservationId: string): Promise<void>;
  snapshot(counters: BudgetCounterRef[]): Promise<BudgetCounterState[]>;
  /** Expires reservations past their ttl at `now`; answers how many it expired. */
  expireStale(now?: number): Promise<number>;
  close?(): Promise<void>;
}

/** Injection token of the {@link BudgetStore}. */
export const BudgetStore = Symbol('BudgetStore');
