import { createRedisClient, type PolicyRedisClient } from './common/redis-client.factory';
import { resolveJwtOptions, type ResolvedJwtOptions } from './authentication/jwt-options';
import { compileTrustProxy } from './authentication/client-ip';
import { compilePolicy, type CompiledPolicy } from './authorization/compiled-policy';
import type { PolicyModuleOptions } from './policy-module-options.interface';
import { assertPolicyModuleOptions } from './schema/policy-schema.validator';

const OPTION_KEYS = new Set(['mode', 'jwt', 'trustProxy', 'redisUrl', 'policy', 'providers']);

/** True when the options (or NODE_ENV) say production. */
export function isProduction(options: PolicyModuleOptions): boolean {
  return (options.mode ?? (process.env.NODE_ENV === 'production' ? 'production' : 'development')) === 'production';
}

/**
 * Validates every option at module init and compiles the policy document: the shape first (the same schema as the
 * policy file, plus the module settings), then the checks a schema cannot express.
 * @throws Error naming the key (`jwt.secert: unknown key (did you mean "secret"?)`, `jwt.secret: ...`,
 * `roles.operator.inherits[0]: unknown role "x"`).
 */
export function compileOptions(options: PolicyModuleOptions): {
  compiled: CompiledPolicy;
  jwt: ResolvedJwtOptions | null;
} {
  assertPolicyModuleOptions(options);
  const { mode: _m, jwt: _j, trustProxy, redisUrl: _r, policy: _p, providers: _v, ...document } = options;
  compileTrustProxy(trustProxy);
  const compiled = compilePolicy(document, [...OPTION_KEYS]);
  const jwt = resolveJwtOptions(options.jwt, isProduction(options));
  return { compiled, jwt };
}

/**
 * Creates the shared Redis client when a URL is configured (`redis://…` for one server, `redis+cluster://h:p,h:p`
 * for a Redis Cluster) and waits briefly for it to be ready. See {@link createRedisClient}.
 */
export function createRedis(url: string | undefined): Promise<PolicyRedisClient | null> {
  return createRedisClient(url);
}
