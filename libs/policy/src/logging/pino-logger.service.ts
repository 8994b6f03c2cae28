import type { LoggerService } from '@nestjs/common';
import type { Logger as Pino } from 'pino';
import { redactString } from '../audit/audit.redaction';

function text(message: unknown): string {
  if (message instanceof Error) return message.stack ?? message.message;
  return typeof message === 'string' ? message : JSON.stringify(message);
}

/**
 * Nest's logger on pino: one JSON object per line with `level`, `time`, `context` and `msg`. Messages pass through
 * the audit redaction first, so a JWT, an `apk_` key or a `Bearer …` value that slipped into a message is masked.
 * @example
 * ```ts
 * const app = await NestFactory.create(AppModule, { logger: new PinoLoggerService(pino()) });
 * ```
 */
export class PinoLoggerService implements LoggerService {
  constructor(readonly pino: Pino) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  private write(
    level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal',
    message: unknown,
    rest: unknown[],
  ): void {
    // Nest passes the context last, and for errors a stack before it.
    const context = typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    const stack =
      level === 'error' && rest.length > 1 && typeof rest[0] === 'string' ? redactString(rest[0]) : undefined;
    this.pino[level]({ context, ...(stack ? { stack } : {}) }, redactString(text(message)));
  }
}
