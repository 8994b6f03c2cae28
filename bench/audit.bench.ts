/**
 * Auditing on the request path, in one run: `GET /agents/:id` with every grant audited (`audit.grants`, events
 * batched into SQLite off the request path) against the same server with grant auditing off (the baseline), for
 * the library bench server (SQLite as TypeORM opens it by default: rollback journal, full sync) and for the
 * agent-api itself (SQLite in WAL mode, `synchronous = NORMAL`, plus a database read per request); the bare NestJS
 * route for reference. Afterwards: how many grant events were stored, whether their chain verifies, and what one
 * event costs to prepare (redaction, canonical JSON), to hash and to write in batches, in each journal mode.
 *
 * The same for PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test; a database of its own is
 * created per server and dropped afterwards; BENCH_POSTGRES=0 leaves it out): agent-api with grant auditing off and
 * on, interleaved with the rest, and the writer's events/s end to end on PostgreSQL. BENCH_POSTGRES=only runs the
 * bare route and the PostgreSQL part alone.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import jwt from 'jsonwebtoken';
import { Client } from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  AUDIT_ENTITIES,
  AUDIT_MIGRATIONS,
  AuditService,
  AuditWriter,
  type AuditChainRecord,
  GENESIS_HASH,
  canonicalJson,
  hashEvent,
  redact,
  redactString,
} from 'nest-agent-policy';
import {
  compare,
  load,
  median,
  startServer,
  table,
  type ServerHandle,
  type Variant,
  type VariantSummary,
} from './lib/load';
import { dataKeyEnv } from './lib/app-env';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const root = join(__dirname, '..');
const LIB_OFF = 'nest-agent-policy, grant auditing off';
const LIB_ON = 'nest-agent-policy, every grant audited';
const APP_OFF = 'agent-api, grant auditing off (+ DB read)';
const APP_ON = 'agent-api, every grant audited (+ DB read)';
const PG_OFF = 'agent-api on PostgreSQL, grant auditing off (+ DB read)';
const PG_ON = 'agent-api on PostgreSQL, every grant audited (+ DB read)';
const POSTGRES_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const bearer = () => ({
  Authorization: `Bearer ${jwt.sign({ sub: 'bench-user', roles: ['admin'], scope: 'admin' }, SECRET, { algorithm: 'HS256', expiresIn: '2h', jwtid: randomUUID() })}`,
});

export async function auditBench(options: { rounds: number; duration: number }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-audit-'));
  const env = { JWT_SECRET: SECRET, NO_COLOR: '1' };
  const auditedDb = join(dir, 'audited.sqlite');
  const servers: ServerHandle[] = [];
  const databases: Array<{ url: string; drop: () => Promise<void> }> = [];
  try {
    const bare = await startServer(join(__dirname, 'servers/bare.server.js'), env);
    servers.push(bare);
    const sqliteToo = process.env.BENCH_POSTGRES !== 'only';
    const variants: Variant[] = [{ name: 'bare NestJS route', options: () => ({ url: `${bare.url}/agents/${id}` }) }];
    const headers = bearer();
    const id = randomUUID();
    if (sqliteToo) {
      const off = await startServer(join(__dirname, 'servers/policy.server.js'), {
        ...env,
        BENCH_SQLITE: join(dir, 'off.sqlite'),
      });
      servers.push(off);
      const on = await startServer(join(__dirname, 'servers/policy.server.js'), {
        ...env,
        BENCH_SQLITE: auditedDb,
        AUDIT_GRANTS: '1',
      });
      servers.push(on);
      const appOff = await startApp(dir, 'app-off', false);
      servers.push(appOff.server);
      const appOn = await startApp(dir, 'app-on', true);
      servers.push(appOn.server);
      variants.push(
        { name: LIB_OFF, options: () => ({ url: `${off.url}/agents/${id}`, headers }) },
        { name: LIB_ON, options: () => ({ url: `${on.url}/agents/${id}`, headers }) },
        { name: APP_OFF, options: () => ({ url: `${appOff.server.url}/agents/${appOff.agentId}`, headers }) },
        { name: APP_ON, options: () => ({ url: `${appOn.server.url}/agents/${appOn.agentId}`, headers }) },
      );
    }
    const postgres = process.env.BENCH_POSTGRES === '0' ? false : await postgresReachable();
    let pgOff: { server: ServerHandle; agentId: string } | null = null;
    let pgOn: { server: ServerHandle; agentId: string } | null = null;
    let pgOnUrl = '';
    if (postgres) {
      pgOff = await startApp(dir, 'pg-off', false, await createDatabase(databases, 'bench_audit_off'));
      servers.push(pgOff.server);
      pgOnUrl = await createDatabase(databases, 'bench_audit_on');
      pgOn = await startApp(dir, 'pg-on', true, pgOnUrl);
      servers.push(pgOn.server);
    }
    if (pgOff && pgOn) {
      const [a, b] = [pgOff, pgOn];
      variants.push(
        { name: PG_OFF, options: () => ({ url: `${a.server.url}/agents/${a.agentId}`, headers }) },
        { name: PG_ON, options: () => ({ url: `${b.server.url}/agents/${b.agentId}`, headers }) },
      );
    }
    const rows = await compare(variants, options.rounds, options.duration);
    const row = (name: string) => rows.find((r) => r.name === name);
    const cpu =
      pgOff && pgOn
        ? await cpuPerRequest([pgOff.server, pgOn.server], headers, [pgOff.agentId, pgOn.agentId], options)
        : null;
    // SIGTERM flushes what is still queued; then count what the audited servers stored.
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    const summary = async (
      label: string,
      offRow: VariantSummary,
      onRow: VariantSummary,
      database: DataSourceOptions,
    ) => {
      const ratio = onRow.rps / offRow.rps;
      const stored = await storedGrants(database);
      return (
        `- ${label}: every grant audited runs at **${(ratio * 100).toFixed(1)}%** of the throughput with grant auditing off ` +
        `(target ≥ 90%: ${ratio >= 0.9 ? 'met' : 'missed'}); p99 ${offRow.p99} → ${onRow.p99} ms; ` +
        `${stored.grants.toLocaleString('en-US')} access.granted events stored, chain ${stored.valid ? 'valid' : 'BROKEN'}.`
      );
    };
    const rollback = sqliteToo ? await perEventCost(sqliteWriterDatabase(false)) : null;
    const wal = sqliteToo ? await perEventCost(sqliteWriterDatabase(true)) : null;
    const pgCost = postgres ? await perEventCost(await postgresWriterDatabase(databases)) : null;
    const costLine = (label: string, cost: EventCost) =>
      `- ${label}: prepare (redaction + canonical JSON) ${cost.prepareUs.toFixed(1)} µs, SHA-256 link ${cost.hashUs.toFixed(1)} µs, ` +
      `end to end through AuditWriter (record, prepare, hash, batched INSERT + COMMIT) ${cost.writeUs.toFixed(1)} µs, ` +
      `of which the INSERT + COMMIT ${cost.insertUs.toFixed(1)} µs (${Math.round(cost.batchRows)} rows a batch; ` +
      `${Math.round(1e6 / cost.writeUs).toLocaleString('en-US')} events/s); CPU time of the writing process ${cost.cpuUs.toFixed(1)} µs an event.`;
    return [
      table('Audit of every grant, GET /agents/:id (Express, 10 connections, medians of interleaved rounds)', rows),
      '',
      ...(sqliteToo
        ? [
            await summary(
              'nest-agent-policy bench server (SQLite rollback journal)',
              row(LIB_OFF)!,
              row(LIB_ON)!,
              sqlite(auditedDb),
            ),
            await summary(
              'agent-api (SQLite WAL, synchronous = NORMAL)',
              row(APP_OFF)!,
              row(APP_ON)!,
              sqlite(join(dir, 'app-on.sqlite')),
            ),
          ]
        : []),
      ...(postgres
        ? [await summary('agent-api (PostgreSQL)', row(PG_OFF)!, row(PG_ON)!, { type: 'postgres', url: pgOnUrl })]
        : []),
      ...(cpu
        ? [
            `- agent-api (PostgreSQL), CPU time of the server process per request (medians of ${options.rounds} interleaved rounds, /proc): ` +
              `${cpu[0].toFixed(0)} µs with grant auditing off, ${cpu[1].toFixed(0)} µs with every grant audited ` +
              `(+${(cpu[1] - cpu[0]).toFixed(0)} µs, ${((cpu[1] / cpu[0] - 1) * 100).toFixed(1)}%; the writer's batches included).`,
          ]
        : []),
      ...(postgres
        ? []
        : [
            `- PostgreSQL left out (${process.env.BENCH_POSTGRES === '0' ? 'BENCH_POSTGRES=0' : `${POSTGRES_URL} unreachable`}).`,
          ]),
      '',
      'Per audit event, measured in one process (better-sqlite3 runs on the event loop, so the write is request-path time):',
      ...(rollback && wal ? [costLine('rollback journal', rollback), costLine('WAL, synchronous = NORMAL', wal)] : []),
      ...(pgCost
        ? [
            costLine(
              'PostgreSQL (node-postgres; the INSERT + COMMIT waits on the server, the event loop is free meanwhile)',
              pgCost,
            ),
          ]
        : []),
    ].join('\n');
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    for (const database of databases) await database.drop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The built agent-api on its own SQLite file, with or without grant auditing, and an agent to read. */
async function startApp(
  dir: string,
  name: string,
  grants: boolean,
  databaseUrl?: string,
): Promise<{ server: ServerHandle; agentId: string }> {
  const policyFile = join(dir, `${name}.policy.json`);
  writeFileSync(
    policyFile,
    JSON.stringify({
      roles: { admin: { operations: ['*'] } },
      scopes: { admin: { implies: ['*'] } },
      rateLimits: { default: { limit: 1_000_000_000, ttl: 60 }, anonymous: { limit: 1_000_000_000, ttl: 60 } },
      pricing: { 'echo-1': { input: 0.5, output: 1.5 } },
      audit: { grants },
    }),
  );
  const server = await startServer(join(root, 'apps/agent-api/main.js'), {
    JWT_SECRET: SECRET,
    ...dataKeyEnv(),
    NO_COLOR: '1',
    PORT: '0',
    DATABASE_URL: databaseUrl ?? `sqlite:${join(dir, `${name}.sqlite`)}`,
    POLICY_CONFIG: policyFile,
  });
  const created = await fetch(`${server.url}/agents`, {
    method: 'POST',
    headers: { ...bearer(), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench agent' }),
  }).then((r) => r.json() as Promise<{ id: string }>);
  return { server, agentId: created.id };
}

/**
 * CPU time each server process spends per request, its rounds interleaved: less sensitive than throughput to the
 * other processes of a shared machine. Answers the median per server.
 */
async function cpuPerRequest(
  servers: ServerHandle[],
  headers: Record<string, string>,
  agentIds: string[],
  options: { rounds: number; duration: number },
): Promise<number[]> {
  const samples: number[][] = servers.map(() => []);
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < servers.length; i++) {
      const result = await load({
        url: `${servers[i].url}/agents/${agentIds[i]}`,
        headers,
        duration: options.duration,
        pid: servers[i].child.pid,
      });
      samples[i].push(result.cpuUs);
    }
  }
  return samples.map(median);
}

const sqlite = (database: string): DataSourceOptions => ({ type: 'better-sqlite3', database });

async function postgresReachable(): Promise<boolean> {
  const client = new Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A new PostgreSQL database next to DATABASE_URL's, remembered in `databases` to be dropped; answers its URL. */
async function createDatabase(
  databases: Array<{ url: string; drop: () => Promise<void> }>,
  prefix: string,
): Promise<string> {
  const name = `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const run = async (sql: string) => {
    const client = new Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  databases.push({ url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) });
  return url.toString();
}

/** Grant events stored, and whether their chain verifies. */
async function storedGrants(database: DataSourceOptions): Promise<{ grants: number; valid: boolean }> {
  const source = await new DataSource({ ...database, entities: [...AUDIT_ENTITIES] }).initialize();
  try {
    const [row] = await source.query<Array<{ n: number }>>(
      "SELECT COUNT(*) AS n FROM policy_audit_events WHERE type = 'access.granted'",
    );
    const { valid } = await new AuditService(new AuditWriter(source), source).verify();
    return { grants: Number(row?.n ?? 0), valid };
  } finally {
    await source.destroy();
  }
}

interface EventCost {
  prepareUs: number;
  hashUs: number;
  writeUs: number;
  /** CPU time of this process per event, end to end: what the writer takes from the event loop's other work. */
  cpuUs: number;
  insertUs: number;
  batchRows: number;
}

interface WriterDatabase {
  options: DataSourceOptions;
  cleanup: () => void | Promise<void>;
}

function sqliteWriterDatabase(wal: boolean): WriterDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'bench-audit-writer-'));
  return {
    options: {
      type: 'better-sqlite3',
      database: join(dir, 'writer.sqlite'),
      enableWAL: wal,
      prepareDatabase: (db: { pragma: (sql: string) => unknown }) => {
        if (wal) db.pragma('synchronous = NORMAL');
      },
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function postgresWriterDatabase(
  databases: Array<{ url: string; drop: () => Promise<void> }>,
): Promise<WriterDatabase> {
  const url = await createDatabase(databases, 'bench_audit_writer');
  return { options: { type: 'postgres', url }, cleanup: () => undefined };
}

/** Microseconds per event for each stage of the writer, measured on a grant event like the hook's. */
async function perEventCost(database: WriterDatabase): Promise<EventCost> {
  const n = 20_000;
  const event = {
    id: randomUUID(),
    chainId: randomUUID(),
    seq: 1,
    type: 'access.granted' as const,
    outcome: 'ALLOW' as const,
    principalId: 'bench-user',
    tenantId: null,
    operation: 'agent.read',
    requestId: randomUUID(),
    ip: '127.0.0.1',
    details: null,
    createdAt: Date.now(),
  };
  let start = performance.now();
  let reasons = '';
  for (let i = 0; i < n; i++) {
    reasons = canonicalJson(redact(['role admin allows agent.read', 'scope admin covers agents:read']));
    for (const field of [event.outcome, event.principalId, event.operation, event.requestId, event.ip])
      redactString(field);
  }
  const prepareUs = ((performance.now() - start) * 1000) / n;
  start = performance.now();
  let hash = GENESIS_HASH;
  for (let i = 0; i < n; i++) hash = hashEvent(hash, { ...event, seq: i + 1, reasons });
  const hashUs = ((performance.now() - start) * 1000) / n;

  const source = await new DataSource({
    ...database.options,
    entities: [...AUDIT_ENTITIES],
    migrations: [...AUDIT_MIGRATIONS],
    migrationsRun: true,
  }).initialize();
  try {
    const writer = new TimedAuditWriter(source, { maxQueue: n + 1 });
    start = performance.now();
    const cpu = process.cpuUsage();
    // Queued in one go, as a busy server queues them between flushes: the writer then writes full batches (200).
    const queued: Array<Promise<void>> = [];
    for (let i = 0; i < n; i++) {
      queued.push(
        writer.record({ ...event, id: randomUUID(), reasons: ['role admin allows agent.read'], createdAt: Date.now() }),
      );
    }
    await Promise.all(queued);
    await writer.close();
    const writeUs = ((performance.now() - start) * 1000) / n;
    const used = process.cpuUsage(cpu);
    return {
      prepareUs,
      hashUs,
      writeUs,
      cpuUs: (used.user + used.system) / n,
      insertUs: (writer.writeMs * 1000) / n,
      batchRows: n / writer.batches,
    };
  } finally {
    await source.destroy();
    await database.cleanup();
  }
}

/** Times the batch writes (INSERT + COMMIT) of the writer. */
class TimedAuditWriter extends AuditWriter {
  writeMs = 0;
  batches = 0;

  protected override async writeBatch(rows: readonly AuditChainRecord[]): Promise<void> {
    const start = performance.now();
    await super.writeBatch(rows);
    this.writeMs += performance.now() - start;
    this.batches += 1;
  }
}

if (require.main === module) {
  auditBench({ rounds: Number(process.env.BENCH_ROUNDS ?? 3), duration: Number(process.env.BENCH_DURATION ?? 5) })
    .then((out) => process.stdout.write(`${out}\n`))
    .catch((err) => {
      process.stderr.write(`${(err as Error).stack}\n`);
      process.exit(1);
    });
}
