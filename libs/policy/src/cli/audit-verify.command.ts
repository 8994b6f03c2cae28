import { parseArgs } from 'node:util';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { AUDIT_ENTITIES } from '../audit/audit.persistence';
import { AuditService } from '../audit/audit.service';
import { AuditWriter } from '../audit/audit.writer';
import { CliUsageError, EXIT } from './cli.errors';
import type { CliOutput } from './cli.output';

export const AUDIT_VERIFY_HELP = `Usage: nest-agent-policy audit verify --database-url <postgres://…|sqlite:<file>> [--json]

Verifies every audit chain stored in the database (links, sequence numbers and hashes), as GET /audit/verify does
for a platform auditor, and prints { valid, checked, firstBrokenId }. DATABASE_URL is read when --database-url is absent.
Exit codes: 0 valid; 1 a chain is broken (the first broken event is named); 2 bad input or the database is unreachable.`;

function dataSourceOptions(url: string): DataSourceOptions {
  if (url.startsWith('sqlite:')) {
    const database = url.slice('sqlite:'.length);
    if (!database) throw new CliUsageError('--database-url sqlite: needs a file path (sqlite:<file>)');
    return { type: 'better-sqlite3', database, entities: AUDIT_ENTITIES, readonly: true, fileMustExist: true };
  }
  if (/^postgres(ql)?:\/\//.test(url))
    return { type: 'postgres', url, entities: AUDIT_ENTITIES, extra: { max: 2, connectionTimeoutMillis: 5000 } };
  throw new CliUsageError('--database-url must be postgres://… or sqlite:<file>');
}

export async function runAuditVerify(
  args: readonly string[],
  io: CliOutput,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { 'database-url': { type: 'string' }, json: { type: 'boolean' } },
  });
  if (positionals.length > 0) throw new CliUsageError(`audit verify takes no arguments (got "${positionals[0]}")`);
  const url = values['database-url'] ?? env.DATABASE_URL;
  if (!url) throw new CliUsageError('audit verify needs --database-url (or DATABASE_URL)');
  const source = new DataSource(dataSourceOptions(url));
  try {
    await source.initialize();
  } catch (error) {
    // The URL may hold a password: name the failure, never the URL.
    throw new CliUsageError(
      `cannot open the database (${(error as Error).message.split('\n')[0]?.replace(url, '<url>')})`,
    );
  }
  try {
    const result = await new AuditService(new AuditWriter(source, null, { chainId: 'cli-verify' }), source).verify();
    if (values.json) io.out(JSON.stringify(result));
    else if (result.valid) io.out(`valid: ${result.checked} events checked`);
    else io.out(`BROKEN: first broken event ${result.firstBrokenId} (${result.checked} events checked)`);
    return result.valid ? EXIT.ok : EXIT.failed;
  } catch (error) {
    throw new CliUsageError(`cannot read the audit log (${(error as Error).message.split('\n')[0]})`);
  } finally {
    await source.destroy();
  }
}
