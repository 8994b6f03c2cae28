import { Column, Entity, Index, PrimaryColumn, type ValueTransformer } from 'typeorm';
import { bigintNumber } from '../persistence/column-types';
import type { JsonValue } from './canonical-json';

/**
 * Written as given (the writer passes canonical JSON text), read back parsed. Leniently: a value that no longer
 * parses is returned as the raw text (verification flags it).
 */
const storedJson: ValueTransformer = {
  to: (value: string | null | undefined) => value ?? null,
  from: (value: string | null) => {
    if (value === null || value === undefined) return null;
    try {
      return JSON.parse(value) as JsonValue;
    } catch {
      return value;
    }
  },
};

/**
 * One audit event. Events form hash chains: each process writes its own chain (`chain_id`), numbering its events
 * with `seq` from 1 and linking each to the previous one by `prev_hash`. `reasons` and `details` hold canonical
 * JSON text exactly as it was hashed.
 */
@Entity('policy_audit_events')
@Index('IDX_policy_audit_events_created_at', ['createdAt'])
@Index('IDX_policy_audit_events_type', ['type'])
@Index('IDX_policy_audit_events_principal_id', ['principalId'])
@Index('IDX_policy_audit_events_tenant_id', ['tenantId'])
@Index('UQ_policy_audit_events_chain_seq', ['chainId', 'seq'], { unique: true })
export class AuditEventEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'bigint', transformer: bigintNumber })
  seq!: number;

  @Column({ name: 'chain_id', type: 'varchar', length: 64 })
  chainId!: string;

  @Column({ type: 'varchar', length: 64 })
  type!: string;

  @Column({ type: 'varchar', length: 32 })
  outcome!: string;

  @Column({ name: 'principal_id', type: 'varchar', length: 255, nullable: true })
  principalId!: string | null;

  @Column({ name: 'tenant_id', type: 'varchar', length: 255, nullable: true })
  tenantId!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  operation!: string | null;

  @Column({ type: 'text', transformer: storedJson })
  reasons!: JsonValue;

  @Column({ name: 'request_id', type: 'varchar', length: 255, nullable: true })
  requestId!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  ip!: string | null;

  @Column({ type: 'text', nullable: true, transformer: storedJson })
  details!: JsonValue | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintNumber })
  createdAt!: number;

  @Column({ name: 'prev_hash', type: 'varchar', length: 64 })
  prevHash!: string;

  @Column({ type: 'varchar', length: 64 })
  hash!: string;
}
