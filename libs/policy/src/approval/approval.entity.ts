import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../persistence/column-types';

/** Lifecycle of an approval: pending → approved | denied; approved → consumed; pending/approved → expired. */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'consumed' | 'expired';

/**
 * A request for a human approval of one call: who (principal, tenant) wants to do what (operation) with exactly
 * which request (`request_digest`). Times are epoch milliseconds.
 */
@Entity('policy_approvals')
@Index('IDX_policy_approvals_tenant_status', ['tenantId', 'status'])
@Index('IDX_policy_approvals_created_at', ['createdAt'])
export class ApprovalEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ name: 'principal_id', type: 'varchar', length: 255 })
  principalId!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 255, nullable: true })
  tenantId!: string | null;

  @Column({ type: 'varchar', length: 255 })
  operation!: string;

  @Column({ name: 'request_digest', type: 'varchar', length: 64 })
  requestDigest!: string;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ type: 'varchar', length: 16 })
  status!: ApprovalStatus;

  @Column({ name: 'decided_by', type: 'varchar', length: 255, nullable: true })
  decidedBy!: string | null;

  @Column({ name: 'decided_at', type: 'bigint', nullable: true, transformer: bigintNumber })
  decidedAt!: number | null;

  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintNumber })
  expiresAt!: number;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintNumber })
  createdAt!: number;

  @Column({ name: 'consumed_at', type: 'bigint', nullable: true, transformer: bigintNumber })
  consumedAt!: number | null;
}
