import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
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
export function compileOptions(options: PolicyModuleOptions): { compiled: CompiledPolicy; jwt: ResolvedJwtOptions | null } {
  assertPolicyModuleOptions(options);
  const { mode: _m, jwt: _j, trustProxy, redisUrl: _r, policy: _p, providers: _v, ...document } = options;
  compileTrustProxy(trustProxy);
  const compiled = compilePolicy(document, [...OPTION_KEYS]);
  const jwt = resolveJwtOptions(options.jwt, isProduction(options));
  return { compiled, jwt };
}

/**
 * Creates the shared Redis client when a URL is configured and waits (briefly) for it to be ready, so the first
 * requests do not fail on a connection still being set up. Commands fail fast instead of queueing while Redis is
 * away; the client reconnects by itself. An unreachable Redis at boot does not stop the app: each store then
 * applies its fail mode until Redis answers.
 */
export async function createRedis(url: string | undefined): Promise<Redis | null> {
  if (!url) return null;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const IORedis = require('ioredis').default as typeof Redis;
  const client = new IORedis(url, {
    lazyConnect: true,
    // No auto-pipelining: the rate-limit and budget stores already send the calls of one event-loop turn as one
    // script call, and a second layer of deferral only added latency (measured in bench/).
    enableAutoPipelining: false,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    commandTimeout: 2000,
    retryStrategy: (times: number) => Math.min(times * 100, 1000),
  });
  client.on('error', () => undefined); // Errors surface on each command.
  await client.connect().catch((err: Error) => new Logger('PolicyModule').warn(`Redis unreachable at boot: ${err.message}`));
  return client;
}
