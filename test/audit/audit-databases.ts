/**
 * DataSources for the audit and approval integration suites: a temporary SQLite file, or a fresh PostgreSQL
 * database per suite. Migrations are applied the way an app applies them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { APPROVAL_ENTITIES, APPROVAL_MIGRATIONS } from 'nest-agent-policy';
import { AUDIT_ENTITIES, AUDIT_MIGRATIONS } from 'nest-agent-policy';
import { createTestDatabase, itWith } from '../support/services';

export type DatabaseKind = 'sqlite' | 'postgres';

export interface TestDatabase {
  readonly kind: DatabaseKind;
  /** A new, migrated DataSource on the suite's database (call several times to act like several processes). */
  connect(): Promise<DataSource>;
  /** Destroys every DataSource made by `connect` and removes the database. */
  dispose(): Promise<void>;
}

const ENTITIES = [...AUDIT_ENTITIES, ...APPROVAL_ENTITIES];
const MIGRATIONS = [...AUDIT_MIGRATIONS, ...APPROVAL_MIGRATIONS];

/** `it` for a suite on this kind of database: skipped (visibly) when PostgreSQL is needed and unreachable. */
export function itOn(kind: DatabaseKind): ReturnType<typeof itWith> {
  return kind === 'postgres' ? itWith('postgres') : itWith();
}

/** Opens a test database (a suite defines its tests with `itOn(kind)`, so this runs only when it can). */
export async function openTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  const sources: DataSource[] = [];
  // Connections are opened one at a time: this helper tests the audit log, not concurrent migrations.
  let opening: Promise<unknown> = Promise.resolve();
  let options: () => ConstructorParameters<typeof DataSource>[0];
  let remove: () => Promise<void>;
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'nap-audit-'));
    const database = join(dir, 'audit.sqlite');
    options = () => ({ type: 'better-sqlite3', database, entities: ENTITIES, migrations: MIGRATIONS });
    remove = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const db = await createTestDatabase('nap_audit');
    options = () => ({ type: 'postgres', url: db.url, entities: ENTITIES, migrations: MIGRATIONS, extra: { max: 10 } });
    remove = db.drop;
  }
  return {
    kind,
    connect() {
      const next = opening.then(async () => {
        const source = new DataSource(options());
        await source.initialize();
        await source.runMigrations({ transaction: 'all' });
        sources.push(source);
        return source;
      });
      opening = next.catch(() => undefined);
      return next;
    },
    async dispose() {
      for (const source of sources) if (source.isInitialized) await source.destroy();
      await remove();
    },
  };
}
