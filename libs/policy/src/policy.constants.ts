/** Metadata keys and injection tokens, namespaced so that decorators and guards never import each other. */
export const REQUIRE_OPERATION_KEY = 'POLICY:REQUIRE_OPERATION';
export const REQUIRE_SCOPES_KEY = 'POLICY:REQUIRE_SCOPES';
export const BUDGET_KEY = 'POLICY:BUDGET';
export const IS_PUBLIC_KEY = 'POLICY:PUBLIC';
/** Metadata key of `@AgentTool()` on a provider method. */
export const AGENT_TOOL_KEY = 'POLICY:AGENT_TOOL';

/** Injection token of the validated {@link PolicyModuleOptions}. */
export const POLICY_MODULE_OPTIONS = Symbol('POLICY:MODULE_OPTIONS');
/** Injection token of the compiled policy (roles, scopes, limits) built from the options at init. */
export const COMPILED_POLICY = Symbol('POLICY:COMPILED_POLICY');
/** Injection token of the shared ioredis client (or `null` when no Redis is configured). */
export const POLICY_REDIS = Symbol('POLICY:REDIS');
/** Injection token of the clock used by stores and decisions (`() => epoch milliseconds`). */
export const POLICY_CLOCK = Symbol('POLICY:CLOCK');

/** Property on the request where the authenticated principal is placed. */
export const PRINCIPAL_REQUEST_KEY = 'principal';
/** Property on the request where the request's policy context (request id, ip, budget state) lives. */
export const POLICY_CONTEXT_REQUEST_KEY = 'policyContext';
