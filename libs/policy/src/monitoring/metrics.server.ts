import { createServer, type Server } from 'node:http';
import type { PolicyMetrics } from './policy-metrics';

/**
 * A second, unauthenticated listener serving only `GET /metrics`, for a port that only the monitoring network
 * reaches (`METRICS_PORT`). Anything else is 404.
 * @example
 * ```ts
 * const server = await serveMetrics(app.get(PolicyMetrics), 9464, '0.0.0.0');
 * ```
 * @throws the listen error (port in use).
 */
export function serveMetrics(metrics: PolicyMetrics, port: number, host = '0.0.0.0'): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res
        .writeHead(404, { 'Content-Type': 'application/json' })
        .end('{"statusCode":404,"code":"not_found","message":"Not found"}');
      return;
    }
    metrics.metrics().then(
      (text) =>
        res.writeHead(200, { 'Content-Type': metrics.contentType }).end(req.method === 'HEAD' ? undefined : text),
      () =>
        res
          .writeHead(500, { 'Content-Type': 'application/json' })
          .end('{"statusCode":500,"code":"internal_error","message":"Internal server error"}'),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
