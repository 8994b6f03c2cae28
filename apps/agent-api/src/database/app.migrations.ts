import {
  Table,
  TableColumn,
  TableIndex,
  type MigrationInterface,
  type QueryRunner,
  type TableColumnOptions,
} from 'typeorm';

const owned = (): TableColumnOptions[] => [
  { name: 'id', type: 'varchar', length: '36', isPrimary: true },
  { name: 'tenant_id', type: 'varchar', length: '200', isNullable: true },
  { name: 'owner_id', type: 'varchar', length: '200' },
  { name: 'created_at', type: 'bigint' },
  { name: 'updated_at', type: 'bigint' },
];

const ownedIndices = (table: string) => [
  { name: `IDX_${table}_tenant_id`, columnNames: ['tenant_id'] },
  { name: `IDX_${table}_owner_id`, columnNames: ['owner_id'] },
  { name: `IDX_${table}_created_at`, columnNames: ['created_at', 'id'] },
];

/** The agent platform's tables: agents, customers, sessions, events. Portable across SQLite and PostgreSQL. */
export class CreateAgentApiTables1763900000100 implements MigrationInterface {
  name = 'CreateAgentApiTables1763900000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'agents',
        columns: [
          ...owned(),
          { name: 'name', type: 'varchar', length: '200' },
          { name: 'model', type: 'varchar', length: '100' },
          { name: 'instructions', type: 'text' },
        ],
        indices: ownedIndices('agents'),
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: 'customers',
        columns: [
          ...owned(),
          { name: 'name', type: 'varchar', length: '200' },
          { name: 'email', type: 'varchar', length: '320', isNullable: true },
        ],
        indices: ownedIndices('customers'),
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: 'sessions',
        columns: [
          ...owned(),
          { name: 'agent_id', type: 'varchar', length: '36' },
          { name: 'customer_id', type: 'varchar', length: '36', isNullable: true },
          { name: 'status', type: 'varchar', length: '20' },
          { name: 'title', type: 'varchar', length: '200', isNullable: true },
        ],
        indices: [...ownedIndices('sessions'), { name: 'IDX_sessions_agent_id', columnNames: ['agent_id'] }],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: 'events',
        columns: [
          ...owned(),
          { name: 'session_id', type: 'varchar', length: '36' },
          { name: 'role', type: 'varchar', length: '20' },
          { name: 'message', type: 'text' },
          { name: 'input_tokens', type: 'integer', default: 0 },
          { name: 'output_tokens', type: 'integer', default: 0 },
        ],
        indices: [...ownedIndices('events'), { name: 'IDX_events_session_id', columnNames: ['session_id'] }],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['events', 'sessions', 'customers', 'agents']) await queryRunner.dropTable(table, true);
  }
}

/** Support tickets opened by the `create_ticket` tool (tenant-scoped), and the tool calls listed on reply events. */
export class CreateTicketsTable1763900000200 implements MigrationInterface {
  name = 'CreateTicketsTable1763900000200';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'tickets',
        columns: [
          ...owned(),
          { name: 'customer_id', type: 'varchar', length: '36' },
          { name: 'session_id', type: 'varchar', length: '36', isNullable: true },
          { name: 'subject', type: 'varchar', length: '200' },
          { name: 'description', type: 'text' },
          { name: 'priority', type: 'varchar', length: '10' },
          { name: 'status', type: 'varchar', length: '20' },
        ],
        indices: [...ownedIndices('tickets'), { name: 'IDX_tickets_customer_id', columnNames: ['customer_id'] }],
      }),
      true,
    );
    await queryRunner.addColumn('events', new TableColumn({ name: 'tool_calls', type: 'text', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('events', 'tool_calls');
    await queryRunner.dropTable('tickets', true);
  }
}

/**
 * Field encryption: customers' `name` and `email` become `text` (ciphertext is longer than the plaintext; SQLite
 * does not enforce lengths), `phone` is added, and `email_bidx` holds the e-mail's blind index. Rows written before
 * stay readable (a value not in the encrypted format is read as it is) until `data rotate` encrypts them.
 */
export class EncryptCustomerFields1764300000100 implements MigrationInterface {
  name = 'EncryptCustomerFields1764300000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type === 'postgres') {
      await queryRunner.query('ALTER TABLE "customers" ALTER COLUMN "name" TYPE text, ALTER COLUMN "email" TYPE text');
    }
    await queryRunner.addColumns('customers', [
      new TableColumn({ name: 'phone', type: 'text', isNullable: true }),
      new TableColumn({ name: 'email_bidx', type: 'varchar', length: '64', isNullable: true }),
    ]);
    await queryRunner.createIndex(
      'customers',
      new TableIndex({ name: 'IDX_customers_email_bidx', columnNames: ['tenant_id', 'email_bidx'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('customers', 'IDX_customers_email_bidx');
    await queryRunner.dropColumn('customers', 'email_bidx');
    await queryRunner.dropColumn('customers', 'phone');
  }
}

/** Agent runs: their script, steps, tool calls, usage and guard state. Portable across SQLite and PostgreSQL. */
export class CreateRunsTable1764800000100 implements MigrationInterface {
  name = 'CreateRunsTable1764800000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'runs',
        columns: [
          ...owned(),
          { name: 'session_id', type: 'varchar', length: '36' },
          { name: 'status', type: 'varchar', length: '24' },
          { name: 'stop_reason', type: 'varchar', length: '32', isNullable: true },
          { name: 'approval_id', type: 'varchar', length: '36', isNullable: true },
          { name: 'script', type: 'text' },
          { name: 'steps', type: 'text' },
          { name: 'tool_calls', type: 'text' },
          { name: 'usage', type: 'text' },
          { name: 'guard_state', type: 'text' },
        ],
        indices: [...ownedIndices('runs'), { name: 'IDX_runs_session_id', columnNames: ['session_id'] }],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('runs', true);
  }
}

export const APP_MIGRATIONS = [
  CreateAgentApiTables1763900000100,
  CreateTicketsTable1763900000200,
  EncryptCustomerFields1764300000100,
  CreateRunsTable1764800000100,
];
