import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../persistence/column-types';

/**
 * A signed record of an audit chain's head at one moment (`policy_audit_anchors`): which event was newest, its
 * sequence number and hash, under an HMAC of the server's anchor key. Kept apart from the events, so that deleting
 * the newest events or recomputing the chain's tail no longer verifies.
 */
@Entity('policy_audit_anchors')
@Index('IDX_policy_audit_anchors_chain_seq', ['chainId', 'seq'])
export class AuditAnchorEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ name: 'chain_id', type: 'varchar', length: 64 })
  chainId!: string;

  @Column({ type: 'bigint', transformer: bigintNumber })
  seq!: number;

  @Column({ name: 'event_id', type: 'varchar', length: 36 })
  eventId!: string;

  @Column({ type: 'varchar', length: 64 })
  hash!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintNumber })
  createdAt!: number;

  /** HMAC-SHA256 (hex) of the fields above under the anchor key. */
  @Column({ type: 'varchar', length: 64 })
  mac!: string;
}
