import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AUDIT_ENTITIES, AUDIT_MIGRATIONS } from 'nest-agent-policy';
import { AUDIT_PROVIDERS } from 'nest-agent-policy';
import { AuditService } from 'nest-agent-policy';
import { AuditWriter } from 'nest-agent-policy';
import { POLICY_MODULE_OPTIONS } from 'nest-agent-policy';
import { itOn, openTestDatabase, type TestDatabase } from './audit-databases';

describe('audit writers of several processes on one PostgreSQL database', () => {
  let db: TestDatabase;
  const it = itOn('postgres');
  beforeAll(async () => {
    db = await openTestDatabase('postgres');
  }, 60_000);
  afterAll(async () => {
    await db?.dispose();
  });

  it('keeps one valid chain per process while they write concurrently', async () => {
    const sources = await Promise.all([db.connect(), db.connect()]);
    const writers = sources.map((source) => new AuditWriter(source, { batchSize: 50, flushIntervalMs: 5 }));
    const services = writers.map((writer, i) => new AuditService(writer, sources[i]));
    await Promise.all(
      services.map(async (audit, process) => {
        for (let i = 0; i < 2_000; i++) {
          await audit.record({
            type: 'access.granted',
            outcome: 'ALLOW',
            principalId: `p${process}`,
            operation: 'agent.read',
            reasons: [`#${i}`],
          });
        }
      }),
    );
    await Promise.all(writers.map((writer) => writer.close()));
    const [chains] = await sources[0].query<Array<{ n: string; total: string }>>(
      'SELECT COUNT(DISTINCT chain_id) AS n, COUNT(*) AS total FROM policy_audit_events',
    );
    expect({ chains: Number(chains.n), total: Number(chains.total) }).toEqual({ chains: 2, total: 4_000 });
    await expect(services[1].verify(700)).resolves.toEqual({ valid: true, checked: 4_000, firstBrokenId: null });
  }, 60_000);

  it('resumes a configured chain from its last stored event', async () => {
    const source = await db.connect();
    for (let run = 0; run < 2; run++) {
      const writer = new AuditWriter(source, {}, { chainId: 'worker-a' });
      await writer.record({
        id: `00000000-0000-4000-8000-00000000000${run}`,
        type: 'token.revoked',
        outcome: 'SUCCESS',
        principalId: 'admin',
        tenantId: null,
        operation: 'token.revoke',
        reasons: [],
        requestId: null,
        ip: null,
        details: null,
        createdAt: Date.now(),
      });
      await writer.close();
    }
    const rows = await source.query<Array<{ seq: string }>>(
      "SELECT seq FROM policy_audit_events WHERE chain_id = 'worker-a' ORDER BY seq",
    );
    expect(rows.map((row) => Number(row.seq))).toEqual([1, 2]);
    await expect(new AuditService(new AuditWriter(source), source).verify()).resolves.toMatchObject({ valid: true });
  });
});

describe('audit writer inside a Nest application', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    db = await openTestDatabase('sqlite');
  });
  afterAll(async () => {
    await db?.dispose();
    jest.restoreAllMocks();
  });

  it('writes every queued event on shutdown, before TypeORM closes the connection', async () => {
    const probe = await db!.connect();
    const database = (probe.options as { database: string }).database;

    @Module({
      imports: [
        TypeOrmModule.forRoot({
          type: 'better-sqlite3',
          database,
          entities: AUDIT_ENTITIES,
          migrations: AUDIT_MIGRATIONS,
        }),
      ],
      providers: [
        {
          provide: POLICY_MODULE_OPTIONS,
          useValue: { roles: {}, audit: { flushIntervalMs: 60_000, batchSize: 5_000 } },
        },
        ...AUDIT_PROVIDERS,
      ],
    })
    class AppModule {}

    const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const nest = app.createNestApplication({ logger: false });
    await nest.init();
    const audit = nest.get(AuditService);
    for (let i = 0; i < 300; i++)
      await audit.record({ type: 'budget.soft_limit', outcome: 'WARNING', principalId: 'u1', details: { i } });
    expect(nest.get(AuditWriter).pending).toBe(300);
    await nest.close();
    expect(nest.get(DataSource).isInitialized).toBe(false);

    const [row] = await probe.query<Array<{ n: number }>>('SELECT COUNT(*) AS n FROM policy_audit_events');
    expect(Number(row.n)).toBe(300);
  });
});
