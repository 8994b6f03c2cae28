import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency, Provider, Type } from '@nestjs/common';
import type { JwtOptions } from './authentication/jwt-options.schema';
import type { PolicyDocument } from './schema/policy-document.schema';

// The policy document's types are derived from its schema (schema/policy-document.schema.ts), the one definition
// behind the boot validation, the shipped policy.schema.json and these types.
export type { RoleDefinition, ScopeDefinition } from './authorization/authorization.schema';
export type { RateLimitStrategy, RateLimitRule, RateLimitConfig } from './rate-limit/rate-limit.schema';
export type { BudgetLimits, BudgetConfig, ModelPrice } from './budget/budget.schema';
export type { AuditConfig } from './audit/audit.schema';
export type { AlertsConfig } from './alerts/alerts.schema';
export type { ApiKeyConfig } from './authentication/api-keys.schema';
export type { JwtAlgorithm, JwtOptions } from './authentication/jwt-options.schema';
export type { PolicyDocument } from './schema/policy-document.schema';

export type BudgetPeriod = 'minute' | 'hour' | 'day' | 'week' | 'month';
/** Who a budget counts for; `session` and `run` apply to calls made in a session or a run (see `BudgetContext`). */
export type BudgetScope = 'principal' | 'api-key' | 'tenant' | 'global' | 'session' | 'run';
export type BudgetUnit = 'cost' | 'tokens' | 'requests';

/** Options of {@link PolicyModule.forRoot}. */
export interface PolicyModuleOptions extends PolicyDocument {
  /** `production` enforces keys and refuses the development policy. Default: from NODE_ENV. */
  mode?: 'development' | 'production';
  jwt?: JwtOptions;
  /** `false`, `true` (trust every hop), a hop count, or a list of trusted proxy CIDRs. */
  trustProxy?: boolean | number | string | string[];
  /**
   * Redis URL; when set, rate limits, budgets, revocations and anomaly-alert counters are shared through
   * Redis. `redis://…`/`rediss://…`
   * for one server, `redis+cluster://host:port,host:port` (`rediss+cluster://` for TLS) for a Redis Cluster.
   */
  redisUrl?: string;
  /** The authorization policy class (default: `ProductionAuthorizationPolicy`). */
  policy?: Type<unknown>;
  /** Extra providers (e.g. custom `Policy` evaluators or stores), registered inside the module. */
  providers?: Provider[];
}

export interface PolicyOptionsFactory {
  createPolicyOptions(): Promise<PolicyModuleOptions> | PolicyModuleOptions;
}

/** Options of {@link PolicyModule.forRootAsync}. */
export interface PolicyModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Nest's FactoryProvider shape: injected values are of any type
  useFactory?: (...args: any[]) => Promise<PolicyModuleOptions> | PolicyModuleOptions;
  useClass?: Type<PolicyOptionsFactory>;
  useExisting?: Type<PolicyOptionsFactory>;
  /** The authorization policy class; fixed at import time because it shapes the providers. */
  policy?: Type<unknown>;
  providers?: Provider[];
}
