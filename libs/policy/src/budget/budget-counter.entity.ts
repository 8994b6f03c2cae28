import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../persistence/column-types';

/** One budget counter in one window (`principal:u-1:day:2026-11-23:cost`), in counter units (micro-USD for cost). */
@Entity('policy_budget_counters')
export class BudgetCounterEntity {
  @PrimaryColumn({ type: 'varchar', length: 512 })
  key!: string;

  /** The limit last reserved against (the configuration may change between deployments). */
  @Column({ type: 'bigint', transformer: bigintNumber })
  limit!: number;

  @Column({ type: 'bigint', transformer: bigintNumber })
  used!: number;

  /** Held by open reservations. */
  @Column({ type: 'bigint', transformer: bigintNumber })
  reserved!: number;

  /** Epoch ms when the counter's window ends. */
  @Index('IDX_policy_budget_counters_window_end')
  @Column({ name: 'window_end', type: 'bigint', transformer: bigintNumber })
  windowEnd!: number;
}
