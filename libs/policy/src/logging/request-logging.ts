import type { INestApplication } from '@nestjs/common';
import type { Logger as Pino } from 'pino';
import { observeRequests } from '../monitoring/request-observer';
import { requestLogLine } from './request-log';

/**
 * Writes one JSON line per answered request (`msg: "request"`): request id, principal id, tenant, operation, method,
 * route template, status and latency — never headers, paths, query values or bodies. Install it on the app before
 * `listen()` (on Express before the body parser); it works on Express and Fastify.
 * @example
 * ```ts
 * const log = pino();
 * const app = await NestFactory.create(AppModule, { logger: new PinoLoggerService(log) });
 * installRequestLogging(app, log);
 * await app.listen(3000);
 * ```
 */
export function installRequestLogging(app: INestApplication, pino: Pino): void {
  const logger = pino.child({ context: 'http' });
  // The line is built only when its level is written.
  observeRequests(app, ({ req, route, status, latencyMs }) => {
    if (logger.isLevelEnabled('info')) logger.info(requestLogLine(req, route, status, latencyMs), 'request');
  });
}
