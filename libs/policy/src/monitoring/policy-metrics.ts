import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Outcome of a tool invocation, for `policy_tool_invocations_total`. */
export type ToolInvocationOutcome = 'success' | 'failure' | 'timeout' | 'denied';

/**
 * The library's Prometheus metrics, in a registry of their own (several apps in one process do not collide).
 * Serve {@link PolicyMetrics.metrics} with {@link PolicyMetrics.contentType}.
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `policy_decisions_total` | counter | `operation`, `outcome` (`ALLOW`, `DENY`, `REQUIRE_APPROVAL`) |
 * | `policy_rate_limit_hits_total` | counter | `bucket` (`default`, `operation:<op>`, `auth-failures`…) |
 * | `policy_auth_failures_total` | counter | `credential` (`jwt`, `api-key`) |
 * | `policy_budget_reservations_total` | counter | `outcome` (`reserved`, `exceeded`, `error`) |
 * | `policy_budget_reserved_total` / `policy_budget_spent_total` | counter | `scope`, `unit` (cost in USD) |
 * | `policy_audit_queue_length` | gauge | |
 * | `policy_audit_write_seconds` | histogram | (one observation per batch) |
 * | `policy_tool_invocations_total` | counter | `tool`, `outcome` |
 * | `http_request_duration_seconds` | histogram | `method`, `route` (template or `unmatched`), `status_code` |
 *
 * @example
 * ```ts
 * constructor(private readonly metrics: PolicyMetrics) {}
 * this.metrics.toolInvocations.inc({ tool: 'search_kb', outcome: 'success' });
 * res.type(this.metrics.contentType).send(await this.metrics.metrics());
 * ```
 */
@Injectable()
export class PolicyMetrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;

  /** Grants counted by {@link countGrant} since the counter was last read, per operation. */
  private readonly pendingGrants = new Map<string, number>();

  readonly decisions: Counter<'operation' | 'outcome'> = (() => {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client calls collect() with `this` bound to the counter
    const self = this;
    return new Counter({
      name: 'policy_decisions_total',
      help: 'Authorization decisions by operation and outcome',
      labelNames: ['operation', 'outcome'] as const,
      registers: [this.registry],
      // Grants are the one decision of nearly every request: added up in a map, handed over whenever it is read.
      collect() {
        self.flushGrants();
      },
    });
  })();

  readonly rateLimitHits = new Counter({
    name: 'policy_rate_limit_hits_total',
    help: 'Requests refused by a rate limit, by the bucket that refused them',
    labelNames: ['bucket'] as const,
    registers: [this.registry],
  });

  readonly shadowDenials = new Counter({
    name: 'policy_shadow_denials_total',
    help: 'Refusals a control in shadow mode let pass, by control (role, rate_limit, budget)',
    labelNames: ['control'] as const,
    registers: [this.registry],
  });

  readonly anomalies = new Counter({
    name: 'policy_anomalies_total',
    help: 'security.anomaly events raised, by metric (requests, denials, auth_failures) and outcome',
    labelNames: ['metric', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly anomalyBlocks = new Counter({
    name: 'policy_anomaly_blocks_total',
    help: 'Requests refused because their principal or client IP is blocked after an anomaly',
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'policy_auth_failures_total',
    help: 'Failed authentication attempts by credential kind',
    labelNames: ['credential'] as const,
    registers: [this.registry],
  });

  readonly budgetReservations = new Counter({
    name: 'policy_budget_reservations_total',
    help: 'Budget reservations by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly budgetReserved = new Counter({
    name: 'policy_budget_reserved_total',
    help: 'Amounts reserved against budgets, by scope and unit (cost in USD)',
    labelNames: ['scope', 'unit'] as const,
    registers: [this.registry],
  });

  readonly budgetSpent = new Counter({
    name: 'policy_budget_spent_total',
    help: 'Amounts settled (actually charged) against budgets, by scope and unit (cost in USD)',
    labelNames: ['scope', 'unit'] as const,
    registers: [this.registry],
  });

  readonly auditWriteSeconds = new Histogram({
    name: 'policy_audit_write_seconds',
    help: 'Time to write one batch of audit events',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  /**
   * Tool invocations by tool and outcome. The tool executor increments it:
   * `metrics.toolInvocations.inc({ tool, outcome })` with an outcome of {@link ToolInvocationOutcome}.
   */
  readonly toolInvocations = new Counter({
    name: 'policy_tool_invocations_total',
    help: 'Tool invocations by tool and outcome (success, failure, timeout, denied)',
    labelNames: ['tool', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  private auditQueue: () => number = () => 0;

  /**
   * Counts one ALLOW decision of `operation` in `policy_decisions_total`: the same as
   * `decisions.inc({ operation, outcome: 'ALLOW' })`, without hashing the labels on every call (the counter has the
   * count whenever it is read, `get()` and scrapes alike).
   */
  countGrant(operation: string): void {
    this.pendingGrants.set(operation, (this.pendingGrants.get(operation) ?? 0) + 1);
  }

  private flushGrants(): void {
    for (const [operation, count] of this.pendingGrants) this.decisions.inc({ operation, outcome: 'ALLOW' }, count);
    this.pendingGrants.clear();
  }

  constructor() {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client calls collect() with `this` bound to the gauge
    const self = this;
    new Gauge({
      name: 'policy_audit_queue_length',
      help: 'Audit events queued or being written',
      registers: [this.registry],
      collect() {
        this.set(self.auditQueue());
      },
    });
    collectDefaultMetrics({ register: this.registry });
    // Gauges that prom-client names `*_total`, which Prometheus' own lint (promtool check metrics) refuses.
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ]) {
      this.registry.removeSingleMetric(name);
    }
  }

  /** Where the audit queue length is read from at each scrape. */
  observeAuditQueue(length: () => number): void {
    this.auditQueue = length;
  }

  /** The text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
