import type { INestApplication } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger as Pino } from 'pino';
import { requestLogLine } from './request-log';

type Req = IncomingMessage & Record<string, unknown>;

interface FastifyLike {
  addHook(
    name: 'onRequest' | 'onResponse',
    hook: (request: Req & { raw: IncomingMessage }, reply: { statusCode: number; elapsedTime?: number }, done: () => void) => void,
  ): void;
}

interface ExpressLike {
  use(handler: (req: Req, res: ServerResponse, next: () => void) => void): void;
}

/**
 * Writes one JSON line per finished request (`msg: "request"`): request id, principal id, tenant, operation, method,
 * route (ids folded, no query string), status and latency — never headers, query values or bodies. Install it on
 * the app before `listen()`; it works on Express and Fastify.
 * @example
 * ```ts
 * const log = pino();
 * const app = await NestFactory.create(AppModule, { logger: new PinoLoggerService(log) });
 * installRequestLogging(app, log);
 * await app.listen(3000);
 * ```
 */
export function installRequestLogging(app: INestApplication, pino: Pino): void {
  const adapter = app.getHttpAdapter();
  const logger = pino.child({ context: 'http' });
  if (adapter.getType() === 'fastify') {
    const fastify = adapter.getInstance() as FastifyLike;
    fastify.addHook('onResponse', (request, reply, done) => {
      const line = requestLogLine(request as never, reply.statusCode, reply.elapsedTime ?? 0);
      logger.info(line, 'request');
      done();
    });
    return;
  }
  (adapter.getInstance() as ExpressLike).use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      logger.info(requestLogLine(req as never, res.statusCode, Number(process.hrtime.bigint() - started) / 1e6), 'request');
    });
    next();
  });
}
