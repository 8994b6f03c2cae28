import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Server } from 'node:http';
import { PolicyMetrics, serveMetrics } from 'nest-agent-policy';

export const METRICS_LISTENER_OPTIONS = Symbol('AGENT_API:METRICS_LISTENER');

/** Serves `GET /metrics` without credentials on `METRICS_PORT` (when set), beside the API's own port. */
@Injectable()
export class MetricsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private server?: Server;

  constructor(
    private readonly metrics: PolicyMetrics,
    @Inject(METRICS_LISTENER_OPTIONS) private readonly options: { port?: number; host: string },
  ) {}

  /** The port it listens on (useful with `METRICS_PORT=0`), or undefined when off. */
  get port(): number | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.port === undefined) return;
    this.server = await serveMetrics(this.metrics, this.options.port, this.options.host);
    new Logger('agent-api').log(`metrics on http://${this.options.host}:${this.port}/metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
