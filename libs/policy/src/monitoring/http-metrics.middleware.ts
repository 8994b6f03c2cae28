import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RouteLabels } from './http-route.label';
import { PolicyMetrics } from './policy-metrics';

/**
 * Observes every request's latency in `http_request_duration_seconds` (method, route with ids folded to `:id`,
 * status code), on Express and Fastify alike. Runs before the guards, so refused requests count too.
 * @example
 * ```ts
 * export class AppModule implements NestModule {
 *   configure(consumer: MiddlewareConsumer) { consumer.apply(HttpMetricsMiddleware).forRoutes('*'); }
 * }
 * ```
 */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  private readonly routes = new RouteLabels();

  constructor(private readonly metrics: PolicyMetrics) {}

  use(req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: () => void): void {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = res.statusCode;
      this.metrics.httpDuration.observe(
        { method: req.method ?? 'GET', route: this.routes.label(req.originalUrl ?? req.url ?? '/', status), status_code: String(status) },
        seconds,
      );
    });
    next();
  }
}
