import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Creates `policy_approvals` with portable types (varchar, bigint, text), so it runs on SQLite and PostgreSQL. */
export class CreateApprovalTables1764000000002 implements MigrationInterface {
  name = 'CreateApprovalTables1764000000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'policy_approvals',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'principal_id', type: 'varchar', length: '255' },
          { name: 'tenant_id', type: 'varchar', length: '255', isNullable: true },
          { name: 'operation', type: 'varchar', length: '255' },
          { name: 'request_digest', type: 'varchar', length: '64' },
          { name: 'reason', type: 'text', isNullable: true },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'decided_by', type: 'varchar', length: '255', isNullable: true },
          { name: 'decided_at', type: 'bigint', isNullable: true },
          { name: 'expires_at', type: 'bigint' },
          { name: 'created_at', type: 'bigint' },
          { name: 'consumed_at', type: 'bigint', isNullable: true },
        ],
        indices: [
          new TableIndex({ name: 'IDX_policy_approvals_tenant_status', columnNames: ['tenant_id', 'status'] }),
          new TableIndex({ name: 'IDX_policy_approvals_created_at', columnNames: ['created_at'] }),
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('policy_approvals', true);
  }
}
