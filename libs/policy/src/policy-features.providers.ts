import type { Provider } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { getOptionsToken, getStorageToken, type ThrottlerStorage } from '@nestjs/throttler';
import type Redis from 'ioredis';
import { ApprovalService } from './approval/approval.service';
import { AUDIT_PROVIDERS } from './audit/audit.providers';
import { AuditService } from './audit/audit.service';
import { AuthFailureHook } from './authentication/auth-failure.hook';
import { BudgetInterceptor } from './budget/budget.interceptor';
import { BudgetSseAdmissionGuard } from './budget/budget-sse-admission.guard';
import { BudgetService, type BudgetEvent } from './budget/budget.service';
import { BudgetStore } from './budget/budget-store.interface';
import { DatabaseBudgetStore } from './budget/database-budget.store';
import { RedisBudgetStore } from './budget/redis-budget.store';
import { UsageLedgerService } from './budget/usage-ledger.service';
import { BudgetRouteValidator } from './pipeline/budget-route.validator';
import { DecisionHook } from './authorization/decision.hook';
import { ApprovalPolicy, RolePolicy, ScopePolicy } from './engine/builtin.policies';
import { EvaluatorExplorer } from './engine/evaluator.explorer';
import { PolicyEngine } from './engine/policy.engine';
import { AuditDecisionHook } from './pipeline/audit-decision.hook';
import type { CompiledPolicy } from './authorization/compiled-policy';
import { PolicyRateLimiter } from './authorization/policy-rate-limiter.interface';
import { DefaultPolicyRateLimiter } from './pipeline/default-rate-limiter';
import { PolicyThrottlerGuard } from './pipeline/policy-throttler.guard';
import { RateLimitAuthFailureHook } from './pipeline/rate-limit-auth-failure.hook';
import { serializeSqliteTransactions } from './persistence/sqlite-connection';
import { COMPILED_POLICY, POLICY_CLOCK, POLICY_REDIS } from './policy.constants';
import { RateLimitService, createThrottlerStorage } from './rate-limit/rate-limit.service';
import { AuditWriter, type AuditWriterOptions } from './audit/audit.writer';
import { AUDIT_CONFIG, AUDIT_WRITER_OPTIONS } from './audit/audit.constants';
import type { AuditConfig } from './policy-module-options.interface';
import { MeasuredAuditWriter } from './monitoring/measured-audit.writer';
import { MeteredBudgetService } from './monitoring/metered-budget.service';
import { MetricsDecisionHook } from './monitoring/metrics-decision.hook';
import { PolicyMetrics } from './monitoring/policy-metrics';
import { AlertingAuthFailureHook, AlertingDecisionHook } from './alerts/alerting.hooks';
import { AnomalyAlerts } from './alerts/anomaly-alerts.service';
import { AnomalyBlockGuard } from './alerts/anomaly-block.guard';

/** Providers of the rate-limit, budget and audit features. */
export function featureProviders(): Provider[] {
  return [
    // The base ThrottlerGuard needs options; the limits themselves come from the policy document.
    { provide: getOptionsToken(), useValue: { throttlers: [{ name: 'default', ttl: 60_000, limit: 600 }] } },
    {
      provide: getStorageToken(),
      useFactory: (redis: Redis | null, compiled: CompiledPolicy) =>
        createThrottlerStorage({ redis, config: compiled.document.rateLimits ?? {} }),
      inject: [POLICY_REDIS, COMPILED_POLICY],
    },
    {
      provide: RateLimitService,
      useFactory: (storage: ThrottlerStorage, compiled: CompiledPolicy) =>
        new RateLimitService(storage, compiled.document.rateLimits ?? {}),
      inject: [getStorageToken(), COMPILED_POLICY],
    },
    { provide: PolicyRateLimiter, useClass: DefaultPolicyRateLimiter },
    RateLimitAuthFailureHook,
    // Anomaly alerts count failed authentications and refuse blocked IPs around the rate-limit hook (when on).
    {
      provide: AuthFailureHook,
      useFactory: (inner: RateLimitAuthFailureHook, alerts: AnomalyAlerts, metrics: PolicyMetrics) =>
        alerts.enabled ? new AlertingAuthFailureHook(inner, alerts, metrics) : inner,
      inject: [RateLimitAuthFailureHook, AnomalyAlerts, PolicyMetrics],
    },
    AnomalyAlerts,
    PolicyMetrics,
    ...AUDIT_PROVIDERS,
    // Metrics observe the audit writer, the guards' decisions and the budget service by wrapping them.
    {
      provide: AuditWriter,
      useFactory: (metrics: PolicyMetrics, dataSource: DataSource, config?: AuditConfig | null, options?: AuditWriterOptions | null) =>
        new MeasuredAuditWriter(metrics, dataSource, config, options),
      inject: [PolicyMetrics, DataSource, { token: AUDIT_CONFIG, optional: true }, { token: AUDIT_WRITER_OPTIONS, optional: true }],
    },
    AuditDecisionHook,
    {
      provide: DecisionHook,
      useFactory: (audit: AuditDecisionHook, metrics: PolicyMetrics, alerts: AnomalyAlerts) => {
        const hook = new MetricsDecisionHook(audit, metrics);
        return alerts.enabled ? new AlertingDecisionHook(hook, alerts) : hook;
      },
      inject: [AuditDecisionHook, PolicyMetrics, AnomalyAlerts],
    },
    ApprovalService,
    {
      provide: PolicyEngine,
      useFactory: (compiled: CompiledPolicy, approvals: ApprovalService) =>
        new PolicyEngine([new RolePolicy(compiled), new ScopePolicy(compiled), new ApprovalPolicy(compiled, approvals)]),
      inject: [COMPILED_POLICY, ApprovalService],
    },
    EvaluatorExplorer,
    {
      provide: BudgetStore,
      useFactory: (redis: Redis | null, dataSource: DataSource) =>
        redis ? new RedisBudgetStore(redis) : new DatabaseBudgetStore(dataSource),
      inject: [POLICY_REDIS, DataSource],
    },
    {
      provide: UsageLedgerService,
      useFactory: (dataSource: DataSource) => {
        // The library's writers share the app's SQLite connection; the app's own transactions must not overlap.
        serializeSqliteTransactions(dataSource);
        return new UsageLedgerService(dataSource);
      },
      inject: [DataSource],
    },
    {
      provide: BudgetService,
      useFactory: (store: BudgetStore, compiled: CompiledPolicy, clock: () => number, ledger: UsageLedgerService, audit: AuditService, metrics: PolicyMetrics) =>
        new MeteredBudgetService(metrics, store, compiled.document.budgets ?? undefined, compiled.document.pricing ?? undefined, clock, {
          ledger,
          onEvent: (event: BudgetEvent) => {
            if (event.shadow) metrics.shadowDenials.inc({ control: 'budget' });
            void audit
              .record({
                type: event.type,
                outcome: event.type === 'budget.exceeded' ? (event.shadow ? 'SHADOW_DENY' : 'DENY') : 'WARNING',
                principal: event.principal,
                operation: event.operation,
                requestId: event.requestId,
                reasons: [`${event.scope} ${event.period} ${event.unit} budget at ${event.percentUsed}%`],
                details: { scope: event.scope, period: event.period, unit: event.unit, percentUsed: event.percentUsed },
              })
              .catch(() => undefined);
          },
        }),
      inject: [BudgetStore, COMPILED_POLICY, POLICY_CLOCK, UsageLedgerService, AuditService, PolicyMetrics],
    },
    BudgetRouteValidator,
  ];
}

/** Guards between authentication and authorization (rate limiting, which counts denied attempts too), in pipeline order. */
export function featureGuards(): Provider[] {
  return [
    // A principal blocked after an anomaly is refused before its request is counted anywhere.
    { provide: APP_GUARD, useClass: AnomalyBlockGuard },
    { provide: APP_GUARD, useClass: PolicyThrottlerGuard },
    BudgetInterceptor,
    { provide: APP_GUARD, useClass: BudgetSseAdmissionGuard },
    { provide: APP_INTERCEPTOR, useExisting: BudgetInterceptor },
  ];
}

export const FEATURE_EXPORTS: Provider[] = [
  RateLimitService,
  getStorageToken() as unknown as Provider,
  AuditService,
  ApprovalService,
  PolicyEngine,
  BudgetService,
  UsageLedgerService,
  BudgetStore as unknown as Provider,
  PolicyMetrics,
  AnomalyAlerts,
];
