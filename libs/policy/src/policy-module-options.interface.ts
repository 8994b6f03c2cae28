import type { RunLimits } from './runs/run.types';
import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency, Provider, Type } from '@nestjs/common';

/** A role: the operation patterns it allows (`agent.read`, `agent.*`, `*`), roles it inherits, and ownership. */
export interface RoleDefinition {
  operations: string[];
  inherits?: string[];
  /** When true, holders of this role reach only records they own. */
  own?: boolean;
}

/** A scope and the scopes it implies (transitively). */
export interface ScopeDefinition {
  implies?: string[];
}

export type RateLimitStrategy = 'fixed-window' | 'sliding-window' | 'token-bucket';

/** `limit` requests per `ttl` seconds. */
export interface RateLimitRule {
  limit: number;
  ttl: number;
  /** Seconds a caller stays blocked once over the limit (default 0: until the window frees a slot). */
  blockDuration?: number;
}

export interface RateLimitConfig {
  strategy?: RateLimitStrategy;
  /** Every principal's default bucket. */
  default?: RateLimitRule;
  /** Anonymous callers, per client IP. */
  anonymous?: RateLimitRule;
  /** Failed authentication attempts, per client IP (default: the anonymous rule). */
  authFailures?: RateLimitRule;
  /** A bucket of its own per named operation, on top of the default bucket. */
  operations?: Record<string, RateLimitRule>;
  /** Tiers scale every limit of a principal with that tier. */
  tiers?: Record<string, { multiplier: number }>;
  /** Redis unreachable: `closed` answers 503 (default), `open` falls back to a per-process memory limiter. */
  failMode?: 'closed' | 'open';
  /** Key prefix in Redis (default `nap:rl:`). */
  keyPrefix?: string;
}

export type BudgetPeriod = 'minute' | 'hour' | 'day' | 'week' | 'month';
export type BudgetScope = 'principal' | 'api-key' | 'tenant' | 'global';
export type BudgetUnit = 'cost' | 'tokens' | 'requests';

/** Limits of one period: `cost` in USD, `tokens`, `requests`. */
export type BudgetLimits = Partial<Record<BudgetUnit, number>>;

export interface BudgetConfig {
  softLimitPercent?: number;
  approvalAbovePercent?: number;
  principal?: Partial<Record<BudgetPeriod, BudgetLimits>>;
  'api-key'?: Partial<Record<BudgetPeriod, BudgetLimits>>;
  tenant?: Partial<Record<BudgetPeriod, BudgetLimits>>;
  global?: Partial<Record<BudgetPeriod, BudgetLimits>>;
  /** Seconds an unsettled reservation lives before it expires (default 300). */
  reservationTtl?: number;
}

/** USD per 1M tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  cachedInput?: number;
}

export interface AuditConfig {
  /** Record every grant too (default false). */
  grants?: boolean;
  /** Hash client IPs with this salt before storing them. */
  hashIpSalt?: string;
  /** Events per batch written (default 200). */
  batchSize?: number;
  /** Milliseconds between flushes (default 200). */
  flushIntervalMs?: number;
  /** Queue length above which producers wait (back-pressure, default 10,000). */
  maxQueue?: number;
}

/** The policy document: what the app's policy file holds (JSON or YAML), validated at boot. */
export interface PolicyDocument {
  roles: Record<string, RoleDefinition>;
  scopes?: Record<string, ScopeDefinition>;
  /** Operations the app adds to the built-in `AgentOperation` catalogue. */
  operations?: string[];
  rateLimits?: RateLimitConfig;
  budgets?: BudgetConfig;
  pricing?: Record<string, ModelPrice>;
  audit?: AuditConfig;
  /** Guards of agent runs (steps, tool calls, cost, tokens, time, loops). */
  runs?: RunLimits;
  approvals?: {
    /** Operations that always need a human approval. */
    operations?: string[];
    /** Seconds a pending approval lives (default 900). */
    ttl?: number;
  };
}

export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';

export interface JwtOptions {
  /** HS256 secret, at least 32 bytes. */
  secret?: string;
  /** PEM public key for RS256/ES256. */
  publicKey?: string;
  /** Pinned algorithms (default: HS256 with a secret, RS256 with a public key). */
  algorithms?: JwtAlgorithm[];
  issuer?: string;
  audience?: string | string[];
  /** Seconds of clock skew tolerated on `exp`/`nbf` (default 0). */
  clockTolerance?: number;
}

/** Options of {@link PolicyModule.forRoot}. */
export interface PolicyModuleOptions extends PolicyDocument {
  /** `production` enforces keys and refuses the development policy. Default: from NODE_ENV. */
  mode?: 'development' | 'production';
  jwt?: JwtOptions;
  /** `false`, `true` (trust every hop), a hop count, or a list of trusted proxy CIDRs. */
  trustProxy?: boolean | number | string | string[];
  /** ioredis URL; when set, rate limits, budgets and revocations are shared through Redis. */
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
  useFactory?: (...args: any[]) => Promise<PolicyModuleOptions> | PolicyModuleOptions;
  useClass?: Type<PolicyOptionsFactory>;
  useExisting?: Type<PolicyOptionsFactory>;
  /** The authorization policy class; fixed at import time because it shapes the providers. */
  policy?: Type<unknown>;
  providers?: Provider[];
}
