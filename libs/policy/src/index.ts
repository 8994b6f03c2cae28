/**
 * nest-agent-policy: authentication, authorization, rate limits, budgets and audit for NestJS agent APIs.
 * This file is the library's only public surface.
 */
export * from './policy.module';
export * from './policy.constants';
export * from './policy.exceptions';
export type * from './policy-module-options.interface';
export { isProduction } from './policy-options.factory';
export {
  parseRedisTarget,
  buildRedisClient,
  createRedisClient,
  duplicateForSubscribe,
  clusterUrlFromNodes,
  isRedisCluster,
  redisReady,
  type PolicyRedisClient,
  type RedisTarget,
} from './common/redis-client.factory';

export type { Principal, PrincipalType } from './authentication/principal.interface';
export {
  ApiKeyService,
  type ApiKeyView,
  type CreateApiKeyInput,
  type IssueApiKeyInput,
} from './authentication/api-key.service';
export { RevocationService } from './authentication/revocation.service';
export { AuthenticationGuard } from './authentication/authentication.guard';
export { AuthFailureCounter } from './authentication/auth-failure.counter';
export { principalFromClaims, type PolicyJwtClaims } from './authentication/jwt-claims';

export { AgentOperation, AGENT_OPERATIONS, isOperationName } from './authorization/agent-operation';
export { AuthorizationPolicy, type AuthorizationResult } from './authorization/authorization-policy';
export { DevelopmentAuthorizationPolicy } from './authorization/development-authorization.policy';
export { ProductionAuthorizationPolicy } from './authorization/production-authorization.policy';
export { AuthorizationGuard } from './authorization/authorization.guard';
export { RouteInspector } from './authorization/route-inspector';
export { PolicyGuard } from './policy.guard';
export { compilePolicy, type CompiledPolicy } from './authorization/compiled-policy';
export { decidePermission } from './authorization/permission.decision';
export { matchesOperation } from './authorization/operation-matcher';
export { expandScopes, scopeCovers, missingScopes } from './authorization/scope-expander';
export { recordInScope, recordScopeFor, type OwnedRecord } from './authorization/tenant.rules';
export type { RecordScope as RecordScopeFilter } from './authorization/tenant.rules';
export type {
  PolicyContext,
  PermissionDecision,
  PermissionDenialCode,
  RateLimitDecision,
} from './authorization/policy-context.interface';
export { PolicyRateLimiter, type OperationLimiter } from './authorization/policy-rate-limiter.interface';

export { RequireOperation } from './decorators/require-operation.decorator';
export { RequireScopes } from './decorators/require-scopes.decorator';
export { Public } from './decorators/public.decorator';
export { CurrentPrincipal, RecordScope, RequestOrigin } from './decorators/current-principal.decorator';

export { PolicyExceptionFilter } from './common/policy-exception.filter';
export { PolicyRequest } from './common/policy-request';
export { keepNextTickShape } from './common/tick-shape';
export {
  POLICY_EVENTS,
  PolicyEventBus,
  PolicyEventSubscriber,
  type PolicyEvents,
  type PolicyEvent,
  type PolicyEventListener,
  type AccessGrantedEvent,
  type AccessDeniedEvent,
  type RateLimitExceededEvent,
  type AuthFailureEvent,
  type BudgetPolicyEvent,
} from './common/policy-events';
export { PolicyValidationPipe, type PolicyValidationPipeOptions } from './common/policy-validation.pipe';
export { POLICY_ENTITIES, POLICY_MIGRATIONS } from './persistence/policy-persistence';
export { MICRO_USD, toMicroUsd, fromMicroUsd } from './persistence/column-types';
export { timeOrderedUuid } from './persistence/time-ordered-id';

export * from './engine';
export { RolePolicy, ScopePolicy, ApprovalPolicy, type BuiltinPolicyContext } from './engine/builtin.policies';
export * from './audit';
export * from './approval';
export * from './rate-limit';
export * from './budget';
export * from './tools';
export * from './runs';
export * from './protection';
export * from './monitoring';
export * from './alerts';
export * from './logging';
