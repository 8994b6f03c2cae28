import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Client } from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { POLICY_ENTITIES, POLICY_MIGRATIONS } from 'nest-agent-policy';
import type { AgentApiConfig } from '../config/agent-api.config';
import { APP_MIGRATIONS } from './app.migrations';
import { checkStoredKeys, fieldEncryption } from './data-protection';
import { APP_ENTITIES } from './entities';

const MIGRATION_LOCK = 7_303_001;

/** TypeORM options for the configured database: a SQLite file (default) or PostgreSQL. Never `synchronize`. */
export function dataSourceOptions(database: AgentApiConfig['database']): DataSourceOptions {
  const common = {
    entities: [...POLICY_ENTITIES, ...APP_ENTITIES],
    migrations: [...POLICY_MIGRATIONS, ...APP_MIGRATIONS],
    migrationsTableName: 'agent_api_migrations',
    synchronize: false,
    logging: false as const,
  };
  if (database.type === 'postgres') {
    return { type: 'postgres', url: database.url, extra: { max: 20 }, ...common };
  }
  const path = database.path === ':memory:' ? ':memory:' : resolve(database.path);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  return {
    type: 'better-sqlite3',
    database: path,
    enableWAL: path !== ':memory:',
    timeout: 15_000,
    // With WAL, NORMAL stays consistent after a crash and avoids a disk sync on every commit.
    prepareDatabase: (db: { pragma: (sql: string) => unknown }) => {
      db.pragma('synchronous = NORMAL');
    },
    ...common,
  };
}

/**
 * Opens the database and applies pending migrations. On PostgreSQL a session advisory lock serialises instances
 * starting together on a fresh database; on SQLite the file lock and idempotent table creation do. Installs the
 * field-encryption keys first and fails when stored data names a kid they do not hold.
 */
export async function openDatabase(
  database: AgentApiConfig['database'],
  dataKeys?: AgentApiConfig['dataKeys'],
): Promise<DataSource> {
  if (dataKeys) fieldEncryption.use(dataKeys);
  const dataSource = new DataSource(dataSourceOptions(database));
  await dataSource.initialize();
  if (database.type === 'postgres') {
    const lock = new Client({ connectionString: database.url });
    await lock.connect();
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await dataSource.runMigrations({ transaction: 'all' });
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      await lock.end();
    }
  } else {
    await dataSource.runMigrations({ transaction: 'all' });
  }
  try {
    await checkStoredKeys(dataSource);
  } catch (err) {
    await dataSource.destroy();
    throw err;
  }
  return dataSource;
}
