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
 * Observing answered requests on Express and Fastify, and the HTTP latency histogram built on it.
 * @example
 * ```ts
 * installHttpMetrics(app, app.get(PolicyMetrics)); // before listen(), on Express before the body parser
 * ```
 */
export { installHttpMetrics, observeRequests, type FinishedRequest } from './request-observer';

/**
 * A second listener serving `GET /metrics` without authentication, for `METRICS_PORT`.
 * @example
 * ```ts
 * const server = await serveMetrics(app.get(PolicyMetrics), 9464);
 * ```
 */
export { serveMetrics } from './metrics.server';
