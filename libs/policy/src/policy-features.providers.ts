import type { Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AnomalyAlerts } from './alerts/anomaly-alerts.service';
import { AnomalyAlertsSubscriber } from './alerts/anomaly-alerts.subscriber';
import { AnomalyBlockGuard } from './alerts/anomaly-block.guard';
import { APPROVAL_EXPORTS, APPROVAL_PROVIDERS } from './approval/approval.providers';
import { AuditDecisionSubscriber } from './audit/audit-decision.subscriber';
import { AUDIT_PROVIDERS } from './audit/audit.providers';
import { AuditService } from './audit/audit.service';
import { AuditWriter, type AuditWriterOptions } from './audit/audit.writer';
import { AUDIT_CONFIG, AUDIT_WRITER_OPTIONS } from './audit/audit.constants';
import { AuthFailureCounter } from './authentication/auth-failure.counter';
import type { CompiledPolicy } from './authorization/compiled-policy';
import { BUDGET_EXPORTS, BUDGET_PROVIDERS } from './budget/budget.providers';
import { POLICY_EVENTS, PolicyEventBus } from './common/policy-events';
import { builtinPolicies } from './engine/builtin.policies';
import { EvaluatorExplorer } from './engine/evaluator.explorer';
import { PolicyEngine } from './engine/policy.engine';
import { MeasuredAuditWriter } from './monitoring/measured-audit.writer';
import { MetricsSubscriber } from './monitoring/metrics.subscriber';
import { PolicyMetrics } from './monitoring/policy-metrics';
import { COMPILED_POLICY } from './policy.constants';
import type { AuditConfig } from './policy-module-options.interface';
import { RATE_LIMIT_EXPORTS, RATE_LIMIT_GUARDS, RATE_LIMIT_PROVIDERS } from './rate-limit/rate-limit.providers';

/**
 * The wiring of the capabilities behind the guards: each capability lists its own providers; this file only puts
 * them together with the event sink and its subscribers (audit, failed-authentication counter, metrics, anomaly alerts).
 */
export function featureProviders(): Provider[] {
  return [
    { provide: POLICY_EVENTS, useClass: PolicyEventBus },
    AuditDecisionSubscriber,
    MetricsSubscriber,
    AuthFailureCounter,
    AnomalyAlerts,
    AnomalyAlertsSubscriber,
    ...RATE_LIMIT_PROVIDERS,
    PolicyMetrics,
    ...AUDIT_PROVIDERS,
    // Metrics observe the audit writer and the budget service by wrapping them.
    {
      provide: AuditWriter,
      useFactory: (
        metrics: PolicyMetrics,
        dataSource: DataSource,
        config?: AuditConfig | null,
        options?: AuditWriterOptions | null,
      ) => new MeasuredAuditWriter(metrics, dataSource, config, options),
      inject: [
        PolicyMetrics,
        DataSource,
        { token: AUDIT_CONFIG, optional: true },
        { token: AUDIT_WRITER_OPTIONS, optional: true },
      ],
    },
    ...APPROVAL_PROVIDERS,
    {
      provide: PolicyEngine,
      useFactory: (compiled: CompiledPolicy) => {
        const { policies, fastPath } = builtinPolicies(compiled);
        return new PolicyEngine(policies).useFastPath(fastPath);
      },
      inject: [COMPILED_POLICY],
    },
    EvaluatorExplorer,
    ...BUDGET_PROVIDERS,
  ];
}

/** The features' steps of the library's guard, as providers: `PolicyGuard` runs them after authentication. */
export function featureGuards(): Provider[] {
  // A principal blocked after an anomaly is refused before its request is counted anywhere.
  return [AnomalyBlockGuard, ...RATE_LIMIT_GUARDS];
}

export const FEATURE_EXPORTS: Provider[] = [
  POLICY_EVENTS as unknown as Provider,
  ...RATE_LIMIT_EXPORTS,
  AuditService,
  ...APPROVAL_EXPORTS,
  PolicyEngine,
  ...BUDGET_EXPORTS,
  PolicyMetrics,
  AnomalyAlerts,
];
