/**
 * Prometheus metrics of the policy pipeline (prom-client): decisions, rate-limit hits, authentication failures,
 * budget reservations and spend, the audit queue and write latency, tool invocations, HTTP latency.
 * @example
 * ```ts
 * @Get('metrics') @RequireOperation('metrics.read') @RequireScopes('metrics:read')
 * async metrics(@Res() res) { res.type(this.metrics.contentType).send(await this.metrics.metrics()); }
 * ```
 */
export { PolicyMetrics, type ToolInvocationOutcome } from './policy-metrics';

/**
 * Observing answered requests on Express and Fastify, and the HTTP latency histogram built on it; requests answered
 * below the framework (Node's HTTP parser, a router's error hook) are reported to the same observers.
 * @example
 * ```ts
 * installHttpMetrics(app, app.get(PolicyMetrics)); // before listen(), on Express before the body parser
 * app.getHttpServer().on('clientError', (error, socket) => {
 *   socket.end(answerFor(error));
 *   reportAnsweredRequest(app, { status: 400 });
 * });
 * ```
 */
export {
  installHttpMetrics,
  observeRequests,
  reportAnsweredRequest,
  type AnsweredRequest,
  type FinishedRequest,
} from './request-observer';

/**
 * A second listener serving `GET /metrics` without authentication, for `METRICS_PORT`.
 * @example
 * ```ts
 * const server = await serveMetrics(app.get(PolicyMetrics), 9464);
 * ```
 */
export { serveMetrics } from './metrics.server';
