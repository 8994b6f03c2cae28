import 'reflect-metadata';
import { rotateEncryptedColumns } from 'nest-agent-policy';
import { loadConfig } from './config/agent-api.config';
import { ENCRYPTED_TABLES, fieldEncryption } from './database/data-protection';
import { openDatabase } from './database/data-source';

const USAGE = 'usage: node dist/apps/agent-api/cli.js data rotate [--batch-size N]';

/**
 * Operator commands of agent-api, with the app's environment (DATABASE_URL, DATA_KEYS, BLIND_INDEX_KEY).
 * `data rotate`: re-encrypts every encrypted value not under the first key of DATA_KEYS (older kids, legacy
 * plaintext rows) and fills missing blind indexes, in batches, while the app keeps serving.
 */
async function main(argv: string[]): Promise<number> {
  const [group, command, ...rest] = argv;
  if (group !== 'data' || command !== 'rotate') {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let batchSize = 200;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--batch-size' && /^[1-9]\d{0,5}$/.test(rest[i + 1] ?? '')) batchSize = Number(rest[++i]);
    else {
      process.stderr.write(`${USAGE}\n`);
      return 2;
    }
  }
  const config = loadConfig();
  if (config.generatedDataKeys)
    process.stderr.write('warning: DATA_KEYS or BLIND_INDEX_KEY not set: rotating under a development key\n');
  const dataSource = await openDatabase(config.database, config.dataKeys);
  try {
    const started = Date.now();
    const report = await rotateEncryptedColumns(dataSource, fieldEncryption, ENCRYPTED_TABLES, { batchSize });
    process.stdout.write(
      `data rotate: ${report.rows} rows re-encrypted under kid "${fieldEncryption.keyRing.primary.kid}" in ${report.passes} passes (${report.conflicts} concurrent updates retried) in ${Date.now() - started} ms\n`,
    );
    return 0;
  } finally {
    await dataSource.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`data rotate failed: ${err.message}\n`);
    process.exit(1);
  },
);
