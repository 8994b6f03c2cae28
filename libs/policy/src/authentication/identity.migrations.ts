import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Creates the identity tables: revoked JWTs and API keys. Portable across SQLite and PostgreSQL. */
export class CreateIdentityTables1763900000000 implements MigrationInterface {
  name = 'CreateIdentityTables1763900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'policy_revoked_tokens',
        columns: [
          { name: 'jti', type: 'varchar', length: '200', isPrimary: true },
          { name: 'revoked_at', type: 'bigint' },
          { name: 'expires_at', type: 'bigint', isNullable: true },
          { name: 'revoked_by', type: 'varchar', length: '200', isNullable: true },
        ],
        indices: [{ name: 'IDX_policy_revoked_tokens_revoked_at', columnNames: ['revoked_at'] }],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: 'policy_api_keys',
        columns: [
          { name: 'id', type: 'varchar', length: '40', isPrimary: true },
          { name: 'name', type: 'varchar', length: '200' },
          { name: 'secret_hash', type: 'varchar', length: '64' },
          { name: 'roles', type: 'text' },
          { name: 'scopes', type: 'text' },
          { name: 'tenant_id', type: 'varchar', length: '200', isNullable: true },
          { name: 'tier', type: 'varchar', length: '100', isNullable: true },
          { name: 'created_by', type: 'varchar', length: '200' },
          { name: 'created_at', type: 'bigint' },
          { name: 'expires_at', type: 'bigint', isNullable: true },
          { name: 'revoked_at', type: 'bigint', isNullable: true },
          { name: 'last_used_at', type: 'bigint', isNullable: true },
        ],
        indices: [{ name: 'IDX_policy_api_keys_tenant_id', columnNames: ['tenant_id'] }],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('policy_api_keys', true);
    await queryRunner.dropTable('policy_revoked_tokens', true);
  }
}
