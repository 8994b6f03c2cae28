import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  clusterUrlFromNodes,
  compilePolicy,
  DataKeyRing,
  deriveBlindIndexKey,
  parseBlindIndexKey,
  type FieldEncryptionKeys,
  type JwtOptions,
  type PolicyDocument,
} from 'nest-agent-policy';

/** The app's settings, read once from the environment. */
export interface AgentApiConfig {
  port: number;
  production: boolean;
  database: { type: 'sqlite'; path: string } | { type: 'postgres'; url: string };
  /** `redis://…` (one server) or `redis+cluster://host:port,…` (a Redis Cluster). */
  redisUrl?: string;
  jwt: JwtOptions;
  /** Set when no JWT key was given in development: a generated secret. */
  generatedJwtSecret: boolean;
  trustProxy?: string;
  policyPath: string;
  policy: PolicyDocument;
  bodyLimit: number;
  /** `LOG_FORMAT`: `json` (pino, one line per request; the default in production) or `text`. */
  logFormat: 'json' | 'text';
  /** `HTTP_METRICS=off` leaves out the HTTP latency histogram (on by default). */
  httpMetrics: boolean;
  /** `METRICS_PORT`: a second listener serving `GET /metrics` without credentials. */
  metricsPort?: number;
  /** Field-encryption keys (`DATA_KEYS`, `BLIND_INDEX_KEY`). */
  dataKeys: FieldEncryptionKeys;
  /** Set when no `DATA_KEYS` was given in development: a key derived for this setup (the boot warns). */
  generatedDataKeys: boolean;
  /** Delay between two streamed tokens of echo-1 in ms (`ECHO_TOKEN_DELAY_MS`, default 0). */
  echoTokenDelayMs: number;
}

/** The app's own folder (…/apps/agent-api), found from this file whether it runs from source or from dist. */
export function appRoot(): string {
  // apps/agent-api/src/config from source, dist/apps/agent-api/config once built (the build copies policy/ there).
  const candidates = [resolve(__dirname, '..'), resolve(__dirname, '..', '..')];
  return candidates.find((dir) => existsSync(join(dir, 'policy'))) ?? candidates[1];
}

/**
 * Loads a policy file (JSON or YAML) and validates it.
 * @throws Error naming the file and the key at fault.
 */
export function loadPolicyFile(path: string): PolicyDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(
      `POLICY_CONFIG: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  let document: unknown;
  try {
    document = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(
      `POLICY_CONFIG: ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  try {
    compilePolicy(document as PolicyDocument);
  } catch (err) {
    throw new Error(`POLICY_CONFIG ${path}: ${(err as Error).message}`, { cause: err });
  }
  return document as PolicyDocument;
}

/**
 * The Redis URL: `REDIS_URL` (`redis://…`, or `redis+cluster://host:port,host:port` for a Redis Cluster), else
 * `REDIS_CLUSTER_NODES` (`host:port,host:port`) as a cluster. Setting both is refused: one would be ignored.
 */
function parseRedis(env: NodeJS.ProcessEnv): string | undefined {
  const url = env.REDIS_URL || undefined;
  const nodes = env.REDIS_CLUSTER_NODES || undefined;
  if (url && nodes) throw new Error('REDIS_URL and REDIS_CLUSTER_NODES are both set: give one');
  if (nodes) {
    try {
      return clusterUrlFromNodes(nodes);
    } catch (err) {
      throw new Error(`REDIS_CLUSTER_NODES: ${(err as Error).message.replace(/^redisUrl: /, '')}`, { cause: err });
    }
  }
  return url;
}

function parseDatabase(url: string | undefined): AgentApiConfig['database'] {
  const value = url && url.length > 0 ? url : 'sqlite:./data/agent-api.sqlite';
  if (value.startsWith('sqlite:')) return { type: 'sqlite', path: value.slice('sqlite:'.length) || ':memory:' };
  if (/^postgres(ql)?:\/\//.test(value)) return { type: 'postgres', url: value };
  throw new Error('DATABASE_URL must be sqlite:<file path> or postgres://…');
}

/** Reads the environment. @throws Error naming the variable at fault. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AgentApiConfig {
  const production = env.NODE_ENV === 'production';
  const port = env.PORT ? Number(env.PORT) : 3000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('PORT must be a port number');
  const policyPath = env.POLICY_CONFIG
    ? isAbsolute(env.POLICY_CONFIG)
      ? env.POLICY_CONFIG
      : resolve(process.cwd(), env.POLICY_CONFIG)
    : join(appRoot(), 'policy', 'agent-api.policy.yaml');
  const secret = env.JWT_SECRET || undefined;
  const publicKey = env.JWT_PUBLIC_KEY ? env.JWT_PUBLIC_KEY.replace(/\\n/g, '\n') : undefined;
  if (production && !secret && !publicKey)
    throw new Error('JWT_SECRET or JWT_PUBLIC_KEY is required when NODE_ENV=production');
  const generated = !secret && !publicKey;
  const jwt: JwtOptions = {
    secret: generated ? randomBytes(48).toString('base64url') : secret,
    publicKey,
    issuer: env.JWT_ISSUER || undefined,
    audience: env.JWT_AUDIENCE ? env.JWT_AUDIENCE.split(',').map((a) => a.trim()) : undefined,
  };
  const { keys: dataKeys, generated: generatedDataKeys } = loadDataKeys(env, production, jwt.secret ?? publicKey ?? '');
  const logFormat = env.LOG_FORMAT ? env.LOG_FORMAT : production ? 'json' : 'text';
  if (logFormat !== 'json' && logFormat !== 'text') throw new Error('LOG_FORMAT must be json or text');
  const metricsPort = env.METRICS_PORT ? Number(env.METRICS_PORT) : undefined;
  if (metricsPort !== undefined && (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535)) {
    throw new Error('METRICS_PORT must be a port number');
  }
  const bodyLimit = env.BODY_LIMIT ? Number(env.BODY_LIMIT) : 1024 * 1024;
  const policy = loadPolicyFile(policyPath);
  // The server key that signs audit chain anchors; never part of the policy file.
  if (env.AUDIT_ANCHOR_KEY) policy.audit = { ...policy.audit, anchorKey: env.AUDIT_ANCHOR_KEY };
  // Where anomaly alerts are POSTed and the key that signs them: deployment settings, never in the policy file.
  if (env.ALERTS_WEBHOOK_URL) {
    if (!/^https?:\/\//.test(env.ALERTS_WEBHOOK_URL)) throw new Error('ALERTS_WEBHOOK_URL must be an http(s) URL');
    if (!env.ALERTS_WEBHOOK_SECRET || env.ALERTS_WEBHOOK_SECRET.length < 16) {
      throw new Error('ALERTS_WEBHOOK_SECRET (at least 16 characters) is required with ALERTS_WEBHOOK_URL');
    }
    policy.alerts = { ...policy.alerts, webhookUrl: env.ALERTS_WEBHOOK_URL, webhookSecret: env.ALERTS_WEBHOOK_SECRET };
  }
  if (env.ALERTS === 'on' || env.ALERTS === 'off') policy.alerts = { ...policy.alerts, enabled: env.ALERTS === 'on' };
  else if (env.ALERTS) throw new Error('ALERTS must be on or off');
  return {
    port,
    production,
    database: parseDatabase(env.DATABASE_URL),
    redisUrl: parseRedis(env),
    jwt,
    generatedJwtSecret: generated,
    trustProxy: env.TRUST_PROXY || undefined,
    policyPath,
    policy,
    bodyLimit,
    metricsPort,
    httpMetrics: env.HTTP_METRICS !== 'off',
    logFormat,
    dataKeys,
    generatedDataKeys,
    echoTokenDelayMs: parseTokenDelay(env.ECHO_TOKEN_DELAY_MS),
  };
}

function parseTokenDelay(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms < 0)
    throw new Error(`ECHO_TOKEN_DELAY_MS must be a non-negative number of milliseconds, got "${value}"`);
  return ms;
}

/**
 * Field-encryption keys from `DATA_KEYS` and `BLIND_INDEX_KEY`. Production requires both. In development a missing
 * one is derived from the JWT key material (itself generated when unset), so instances of one setup agree, and the
 * boot warns; its kid (`dev-<fingerprint>`) names it if another setup's data is met.
 * @throws Error naming the variable or the kid at fault.
 */
function loadDataKeys(
  env: NodeJS.ProcessEnv,
  production: boolean,
  material: string,
): { keys: FieldEncryptionKeys; generated: boolean } {
  if (production && !env.DATA_KEYS)
    throw new Error('DATA_KEYS is required when NODE_ENV=production (kid:base64key of 32 bytes, comma-separated)');
  if (production && !env.BLIND_INDEX_KEY)
    throw new Error('BLIND_INDEX_KEY is required when NODE_ENV=production (base64, at least 32 bytes)');
  const keyRing = env.DATA_KEYS ? DataKeyRing.parse(env.DATA_KEYS) : DataKeyRing.derived(material);
  const blindIndexKey = env.BLIND_INDEX_KEY ? parseBlindIndexKey(env.BLIND_INDEX_KEY) : deriveBlindIndexKey(material);
  return { keys: { keyRing, blindIndexKey }, generated: !env.DATA_KEYS || !env.BLIND_INDEX_KEY };
}
