import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber, jsonText } from '../persistence/column-types';

/** An API key. Only a hash of its secret is stored; the key itself is shown once, at creation. */
@Entity('policy_api_keys')
export class ApiKeyEntity {
  /** Public id, part of the key: `apk_<id>_<secret>`. */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  /** SHA-256 (hex) of the secret. */
  @Column({ name: 'secret_hash', type: 'varchar', length: 64 })
  secretHash!: string;

  @Column({ type: 'text', transformer: jsonText })
  roles!: string[];

  @Column({ type: 'text', transformer: jsonText })
  scopes!: string[];

  @Index()
  @Column({ name: 'tenant_id', type: 'varchar', length: 200, nullable: true })
  tenantId!: string | null;

  @Column({ type: 'varchar', length: 100, nullable: true })
  tier!: string | null;

  /** The principal that created the key. */
  @Column({ name: 'created_by', type: 'varchar', length: 200 })
  createdBy!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintNumber })
  createdAt!: number;

  @Column({ name: 'expires_at', type: 'bigint', nullable: true, transformer: bigintNumber })
  expiresAt!: number | null;

  @Column({ name: 'revoked_at', type: 'bigint', nullable: true, transformer: bigintNumber })
  revokedAt!: number | null;

  @Column({ name: 'last_used_at', type: 'bigint', nullable: true, transformer: bigintNumber })
  lastUsedAt!: number | null;
}
