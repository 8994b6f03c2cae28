import type { INestApplication } from '@nestjs/common';
import { METHODS, type IncomingMessage, type ServerResponse } from 'node:http';

/** A request the server has answered, as an observer sees it. */
export interface FinishedRequest {
  /** The request object the guards saw (Express `req`, Fastify `request`). */
  req: Record<string, unknown> & { method?: string; url?: string; headers?: IncomingMessage['headers'] };
  /** The matched route's template (`/customers/:id`), or null when no route matched. Never holds request values. */
  route: string | null;
  status: number;
  latencyMs: number;
}

/**
 * A request answered below the framework (by Node's HTTP parser, by a router's error hook), as
 * {@link reportAnsweredRequest} takes it.
 */
export interface AnsweredRequest {
  /** The status sent. */
  status: number;
  /** The method Node parsed, if any: passed on only when it is one of Node's known methods. */
  method?: string;
  /** Time from the request's arrival to its answer, when known (default 0). */
  latencyMs?: number;
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

type Listener = (request: FinishedRequest) => void;

/** The listeners of each server instance: one hook or middleware per app, however many observers. */
const observers = new WeakMap<object, Listener[]>();
const STARTED = Symbol('nap:request-started');

function notify(listeners: Listener[], request: FinishedRequest): void {
  for (let i = 0; i < listeners.length; i++) listeners[i](request);
}

/**
 * Calls `listener` once per answered request, on Express (a first middleware; install it before the body parser so
 * requests the parser refuses count too) and Fastify (an `onResponse` hook). Call before `listen()`. Several
 * observers of one app share a single middleware or hook. A request answered below the framework (by Node's HTTP
 * parser, by a router's error hook) reaches them only when reported with {@link reportAnsweredRequest}.
 * @example
 * ```ts
 * observeRequests(app, ({ route, status, latencyMs }) => histogram.observe({ route: route ?? 'unmatched', status }, latencyMs / 1000));
 * ```
 */
export function observeRequests(app: INestApplication, listener: Listener): void {
  const adapter = app.getHttpAdapter();
  const instance = adapter.getInstance() as object;
  const existing = observers.get(instance);
  if (existing) {
    existing.push(listener);
    return;
  }
  const listeners: Listener[] = [listener];
  observers.set(instance, listeners);
  if (adapter.getType() === 'fastify') {
    (instance as FastifyLike).addHook('onResponse', (request, reply, done) => {
      notify(listeners, {
        req: request,
        route: request.routeOptions?.url ?? null,
        status: reply.statusCode,
        latencyMs: reply.elapsedTime ?? 0,
      });
      done();
    });
    return;
  }
  // One shared 'finish' handler (no closure per request): the start time rides on the response.
  function finished(this: ServerResponse & { req: ExpressReq; [STARTED]?: bigint }): void {
    const req = this.req;
    const path = req.route?.path;
    notify(listeners, {
      req,
      route: typeof path === 'string' ? `${req.baseUrl ?? ''}${path}` : null,
      status: this.statusCode,
      latencyMs: Number(process.hrtime.bigint() - (this[STARTED] ?? 0n)) / 1e6,
    });
  }
  (instance as ExpressLike).use((_req, res, next) => {
    (res as ServerResponse & { [STARTED]?: bigint })[STARTED] = process.hrtime.bigint();
    res.on('finish', finished);
    next();
  });
}

const KNOWN_METHODS = new Set(METHODS);

/**
 * Reports a request answered below the framework, which no middleware or hook of {@link observeRequests} sees (a
 * `clientError` listener of Node's HTTP server, Fastify's `frameworkErrors`), to the app's observers: it is then logged
 * and measured once, like any other. The observers get a synthetic `req` holding the method alone (no header, URL or
 * byte of what was sent, so a request id is generated) and no route. Does nothing when the app has no observer.
 * @example
 * ```ts
 * server.on('clientError', (error, socket) => {
 *   socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
 *   reportAnsweredRequest(app, { status: 400 });
 * });
 * ```
 */
export function reportAnsweredRequest(app: INestApplication, answer: AnsweredRequest): void {
  const listeners = observers.get(app.getHttpAdapter().getInstance() as object);
  if (!listeners) return;
  const req: FinishedRequest['req'] = {};
  if (answer.method !== undefined && KNOWN_METHODS.has(answer.method)) req.method = answer.method;
  notify(listeners, { req, route: null, status: answer.status, latencyMs: answer.latencyMs ?? 0 });
}

/**
 * Observes every request's latency in `http_request_duration_seconds` (method, or `unknown` for a request answered
 * before its method was known; route template or `unmatched`; status code), refused ones included.
 * @example
 * ```ts
 * installHttpMetrics(app, app.get(PolicyMetrics));
 * ```
 */
export function installHttpMetrics(
  app: INestApplication,
  metrics: { httpDuration: { observe(labels: Record<string, string>, value: number): void } },
): void {
  // The label set of each (route, method, status) built once: routes, methods and statuses are few.
  const labelSets = new Map<string, Map<string, Map<number, Record<string, string>>>>();
  const labelsOf = (method: string, route: string, status: number): Record<string, string> => {
    let byMethod = labelSets.get(route);
    if (!byMethod) labelSets.set(route, (byMethod = new Map<string, Map<number, Record<string, string>>>()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map<number, Record<string, string>>()));
    let labels = byStatus.get(status);
    if (!labels)
      byStatus.set(
        status,
        (labels = Object.freeze({ method, route, status_code: String(status) }) as Record<string, string>),
      );
    return labels;
  };
  observeRequests(app, ({ req, route, status, latencyMs }) => {
    metrics.httpDuration.observe(labelsOf(req.method ?? 'unknown', route ?? 'unmatched', status), latencyMs / 1000);
  });
}
