import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Creates `policy_audit_events` with portable types (varchar, bigint, text), so it runs on SQLite and PostgreSQL. */
export class CreateAuditTables1764000000001 implements MigrationInterface {
  name = 'CreateAuditTables1764000000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'policy_audit_events',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'seq', type: 'bigint' },
          { name: 'chain_id', type: 'varchar', length: '64' },
          { name: 'type', type: 'varchar', length: '64' },
          { name: 'outcome', type: 'varchar', length: '32' },
          { name: 'principal_id', type: 'varchar', length: '255', isNullable: true },
          { name: 'tenant_id', type: 'varchar', length: '255', isNullable: true },
          { name: 'operation', type: 'varchar', length: '255', isNullable: true },
          { name: 'reasons', type: 'text' },
          { name: 'request_id', type: 'varchar', length: '255', isNullable: true },
          { name: 'ip', type: 'varchar', length: '255', isNullable: true },
          { name: 'details', type: 'text', isNullable: true },
          { name: 'created_at', type: 'bigint' },
          { name: 'prev_hash', type: 'varchar', length: '64' },
          { name: 'hash', type: 'varchar', length: '64' },
        ],
        indices: [
          new TableIndex({ name: 'IDX_policy_audit_events_created_at', columnNames: ['created_at'] }),
          new TableIndex({ name: 'IDX_policy_audit_events_type', columnNames: ['type'] }),
          new TableIndex({ name: 'IDX_policy_audit_events_principal_id', columnNames: ['principal_id'] }),
          new TableIndex({ name: 'IDX_policy_audit_events_tenant_id', columnNames: ['tenant_id'] }),
          new TableIndex({
            name: 'UQ_policy_audit_events_chain_seq',
            columnNames: ['chain_id', 'seq'],
            isUnique: true,
          }),
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('policy_audit_events', true);
  }
}
