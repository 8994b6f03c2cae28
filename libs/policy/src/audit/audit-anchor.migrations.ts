import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Creates `policy_audit_anchors` (signed chain heads) with portable types, on SQLite and PostgreSQL. */
export class CreateAuditAnchors1764000000101 implements MigrationInterface {
  name = 'CreateAuditAnchors1764000000101';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'policy_audit_anchors',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'chain_id', type: 'varchar', length: '64' },
          { name: 'seq', type: 'bigint' },
          { name: 'event_id', type: 'varchar', length: '36' },
          { name: 'hash', type: 'varchar', length: '64' },
          { name: 'created_at', type: 'bigint' },
          { name: 'mac', type: 'varchar', length: '64' },
        ],
        indices: [new TableIndex({ name: 'IDX_policy_audit_anchors_chain_seq', columnNames: ['chain_id', 'seq'] })],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('policy_audit_anchors', true);
  }
}
