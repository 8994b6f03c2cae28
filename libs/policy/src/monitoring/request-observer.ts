import type { INestApplication } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request the server has answered, as an observer sees it. */
export interface FinishedRequest {
  /** The request object the guards saw (Express `req`, Fastify `request`). */
  req: Record<string, unknown> & { method?: string; url?: string; headers?: IncomingMessage['headers'] };
  /** The matched route's template (`/customers/:id`), or null when no route matched. Never holds request values. */
  route: string | null;
  status: number;
  latencyMs: number;
}

type ExpressReq = IncomingMessage & Record<string, unknown> & { route?: { path?: string }; baseUrl?: string };

interface ExpressLike {
  use(handler: (req: ExpressReq, res: ServerResponse, next: () => void) => void): void;
}

interface FastifyLike {
  addHook(
    name: 'onResponse',
    hook: (
      request: Record<string, unknown> & { routeOptions?: { url?: string } },
      reply: { statusCode: number; elapsedTime?: number },
      done: () => void,
    ) => void,
  ): void;
}

/**
 * Calls `listener` once per answered request, on Express (a first middleware; install it before the body parser so
 * requests the parser refuses count too) and Fastify (an `onResponse` hook). Call before `listen()`.
 * @example
 * ```ts
 * observeRequests(app, ({ route, status, latencyMs }) => histogram.observe({ route: route ?? 'unmatched', status }, latencyMs / 1000));
 * ```
 */
export function observeRequests(app: INestApplication, listener: (request: FinishedRequest) => void): void {
  const adapter = app.getHttpAdapter();
  if (adapter.getType() === 'fastify') {
    (adapter.getInstance() as FastifyLike).addHook('onResponse', (request, reply, done) => {
      listener({ req: request, route: request.routeOptions?.url ?? null, status: reply.statusCode, latencyMs: reply.elapsedTime ?? 0 });
      done();
    });
    return;
  }
  (adapter.getInstance() as ExpressLike).use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const path = req.route?.path;
      listener({
        req,
        route: typeof path === 'string' ? `${req.baseUrl ?? ''}${path}` : null,
        status: res.statusCode,
        latencyMs: Number(process.hrtime.bigint() - started) / 1e6,
      });
    });
    next();
  });
}

/**
 * Observes every request's latency in `http_request_duration_seconds` (method, route template or `unmatched`,
 * status code), refused ones included.
 * @example
 * ```ts
 * installHttpMetrics(app, app.get(PolicyMetrics));
 * ```
 */
export function installHttpMetrics(app: INestApplication, metrics: { httpDuration: { observe(labels: Record<string, string>, value: number): void } }): void {
  observeRequests(app, ({ req, route, status, latencyMs }) => {
    metrics.httpDuration.observe({ method: req.method ?? 'GET', route: route ?? 'unmatched', status_code: String(status) }, latencyMs / 1000);
  });
}
