import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber, jsonText } from '../persistence/column-types';

export type BudgetReservationState = 'reserved' | 'settled' | 'released' | 'expired';

/** What a reservation holds on one counter: key, amount, unit, window end, limit. */
export interface ReservedCounter {
  k: string;
  a: number;
  u: 'cost' | 'tokens' | 'requests';
  e: number;
  l: number;
}

/** An open or finished reservation. Finished ones are kept a while so that a repeated settle stays a no-op. */
@Entity('policy_budget_reservations')
@Index('IDX_policy_budget_reservations_state_expires_at', ['state', 'expiresAt'])
export class BudgetReservationEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'text', transformer: jsonText })
  counters!: ReservedCounter[];

  /** Epoch ms after which an unsettled reservation expires. */
  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintNumber })
  expiresAt!: number;

  @Column({ type: 'varchar', length: 16 })
  state!: BudgetReservationState;
}
