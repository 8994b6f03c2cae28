// First: keeps process.nextTick on V8's fast path (see keepNextTickShape).
import 'nest-agent-policy/keep-next-tick-shape';
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import { createAgentApi } from './bootstrap';
import { parseRedisTarget } from 'nest-agent-policy';
import { loadConfig } from './config/agent-api.config';

function storesLabel(redisUrl: string | undefined): string {
  if (!redisUrl) return 'memory';
  return parseRedisTarget(redisUrl).kind === 'cluster' ? 'redis cluster' : 'redis';
}

async function main(): Promise<void> {
  const logger = new Logger('agent-api');
  const config = loadConfig();
  const adapter = process.env.HTTP_ADAPTER === 'fastify' ? 'fastify' : 'express';
  const app = await createAgentApi(config, { adapter });
  if (config.generatedDataKeys) {
    logger.warn(
      `DATA_KEYS or BLIND_INDEX_KEY not set: field encryption uses a development key (kid "${config.dataKeys.keyRing.primary.kid}") derived from the JWT key${config.generatedJwtSecret ? ', itself generated for this run: data written now is unreadable after a restart' : ''}. Set both in production.`,
    );
  }
  await app.listen(config.port, '0.0.0.0');
  const url = await app.getUrl();
  logger.log(
    `agent-api listening on ${url} (${adapter}, ${config.database.type}, ${storesLabel(config.redisUrl)} stores)`,
  );
  if (config.generatedJwtSecret && config.jwt.secret) {
    const token = jwt.sign({ sub: 'dev-admin', roles: ['admin'], scope: 'admin' }, config.jwt.secret, {
      algorithm: 'HS256',
      expiresIn: '12h',
      jwtid: randomUUID(),
    });
    logger.warn('No JWT_SECRET set: generated a secret for this run. A ready admin token (12 h):');
    process.stdout.write(
      `\n  export TOKEN=${token}\n  curl -H "Authorization: Bearer $TOKEN" ${url.replace('[::1]', 'localhost')}/agents\n\n`,
    );
  }
}

main().catch((err: Error) => {
  process.stderr.write(`agent-api failed to start: ${err.message}\n`);
  process.exit(1);
});
