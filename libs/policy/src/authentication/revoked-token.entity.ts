import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../persistence/column-types';

/** A revoked JWT, by `jti`. Kept until the token would have expired anyway. */
@Entity('policy_revoked_tokens')
export class RevokedTokenEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  jti!: string;

  @Index()
  @Column({ name: 'revoked_at', type: 'bigint', transformer: bigintNumber })
  revokedAt!: number;

  @Column({ name: 'expires_at', type: 'bigint', nullable: true, transformer: bigintNumber })
  expiresAt!: number | null;

  @Column({ name: 'revoked_by', type: 'varchar', length: 200, nullable: true })
  revokedBy!: string | null;
}
