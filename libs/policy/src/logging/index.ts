/**
 * Structured JSON logs on pino: Nest's logger, and one line per request.
 * @example
 * ```ts
 * const log = pino();
 * const app = await NestFactory.create(AppModule, { logger: new PinoLoggerService(log) });
 * installRequestLogging(app, log);
 * ```
 */
export { PinoLoggerService } from './pino-logger.service';
export { installRequestLogging } from './request-logging';
export { requestLogLine, type RequestLogLine } from './request-log';
