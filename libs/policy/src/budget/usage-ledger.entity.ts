import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../persistence/column-types';

/** One settled, budgeted call: who, what model, how many tokens, what it cost (micro-USD). */
@Entity('policy_usage_ledger')
@Index('IDX_policy_usage_ledger_tenant_created', ['tenantId', 'createdAt'])
export class UsageLedgerEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ name: 'request_id', type: 'varchar', length: 200, nullable: true })
  requestId!: string | null;

  @Index('IDX_policy_usage_ledger_principal_id')
  @Column({ name: 'principal_id', type: 'varchar', length: 200 })
  principalId!: string;

  @Column({ name: 'api_key_id', type: 'varchar', length: 200, nullable: true })
  apiKeyId!: string | null;

  @Column({ name: 'tenant_id', type: 'varchar', length: 200, nullable: true })
  tenantId!: string | null;

  @Column({ type: 'varchar', length: 200, nullable: true })
  operation!: string | null;

  @Column({ type: 'varchar', length: 200, nullable: true })
  model!: string | null;

  @Column({ name: 'input_tokens', type: 'integer' })
  inputTokens!: number;

  @Column({ name: 'output_tokens', type: 'integer' })
  outputTokens!: number;

  @Column({ name: 'cached_input_tokens', type: 'integer' })
  cachedInputTokens!: number;

  @Column({ name: 'cost_micro_usd', type: 'bigint', transformer: bigintNumber })
  costMicroUsd!: number;

  /** `settled`, `cancelled` (the client went away mid-stream) or `failed`. */
  @Column({ type: 'varchar', length: 16, default: 'settled' })
  status!: 'settled' | 'cancelled' | 'failed';

  @Index('IDX_policy_usage_ledger_created_at')
  @Column({ name: 'created_at', type: 'bigint', transformer: bigintNumber })
  createdAt!: number;
}
