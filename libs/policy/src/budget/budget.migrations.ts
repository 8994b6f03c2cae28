import { Table, TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Creates the budget counters, reservations and the usage ledger. Portable across SQLite and PostgreSQL. */
export class CreateBudgetTables1764000000000 implements MigrationInterface {
  name = 'CreateBudgetTables1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'policy_budget_counters',
        columns: [
          { name: 'key', type: 'varchar', length: '512', isPrimary: true },
          { name: 'limit', type: 'bigint' },
          { name: 'used', type: 'bigint', default: 0 },
          { name: 'reserved', type: 'bigint', default: 0 },
          { name: 'window_end', type: 'bigint' },
        ],
        indices: [{ name: 'IDX_policy_budget_counters_window_end', columnNames: ['window_end'] }],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: 'policy_budget_reservations',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'counters', type: 'text' },
          { name: 'expires_at', type: 'bigint' },
          { name: 'state', type: 'varchar', length: '16' },
        ],
        indices: [{ name: 'IDX_policy_budget_reservations_state_expires_at', columnNames: ['state', 'expires_at'] }],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: 'policy_usage_ledger',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'request_id', type: 'varchar', length: '200', isNullable: true },
          { name: 'principal_id', type: 'varchar', length: '200' },
          { name: 'api_key_id', type: 'varchar', length: '200', isNullable: true },
          { name: 'tenant_id', type: 'varchar', length: '200', isNullable: true },
          { name: 'operation', type: 'varchar', length: '200', isNullable: true },
          { name: 'model', type: 'varchar', length: '200', isNullable: true },
          { name: 'input_tokens', type: 'integer' },
          { name: 'output_tokens', type: 'integer' },
          { name: 'cached_input_tokens', type: 'integer' },
          { name: 'cost_micro_usd', type: 'bigint' },
          { name: 'created_at', type: 'bigint' },
        ],
        indices: [
          { name: 'IDX_policy_usage_ledger_principal_id', columnNames: ['principal_id'] },
          { name: 'IDX_policy_usage_ledger_created_at', columnNames: ['created_at'] },
          { name: 'IDX_policy_usage_ledger_tenant_created', columnNames: ['tenant_id', 'created_at'] },
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('policy_usage_ledger', true);
    await queryRunner.dropTable('policy_budget_reservations', true);
    await queryRunner.dropTable('policy_budget_counters', true);
  }
}

/** Adds the ledger's `status` (`settled`, `cancelled`, `failed`); rows written before it are `settled`. */
export class AddUsageLedgerStatus1764800000000 implements MigrationInterface {
  name = 'AddUsageLedgerStatus1764800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (await queryRunner.hasColumn('policy_usage_ledger', 'status')) return;
    await queryRunner.addColumn(
      'policy_usage_ledger',
      new TableColumn({ name: 'status', type: 'varchar', length: '16', isNullable: false, default: "'settled'" }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('policy_usage_ledger', 'status');
  }
}
