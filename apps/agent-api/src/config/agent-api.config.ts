import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { compilePolicy, type JwtOptions, type PolicyDocument } from 'nest-agent-policy';

/** The app's settings, read once from the environment. */
export interface AgentApiConfig {
  port: number;
  production: boolean;
  database: { type: 'sqlite'; path: string } | { type: 'postgres'; url: string };
  redisUrl?: string;
  jwt: JwtOptions;
  /** Set when no JWT key was given in development: a generated secret. */
  generatedJwtSecret: boolean;
  trustProxy?: string;
  policyPath: string;
  policy: PolicyDocument;
  bodyLimit: number;
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
    throw new Error(`POLICY_CONFIG: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let document: unknown;
  try {
    document = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`POLICY_CONFIG: ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  try {
    compilePolicy(document as PolicyDocument);
  } catch (err) {
    throw new Error(`POLICY_CONFIG ${path}: ${(err as Error).message}`);
  }
  return document as PolicyDocument;
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
    ? isAbsolute(env.POLICY_CONFIG) ? env.POLICY_CONFIG : resolve(process.cwd(), env.POLICY_CONFIG)
    : join(appRoot(), 'policy', 'agent-api.policy.yaml');
  const secret = env.JWT_SECRET || undefined;
  const publicKey = env.JWT_PUBLIC_KEY ? env.JWT_PUBLIC_KEY.replace(/\\n/g, '\n') : undefined;
  if (production && !secret && !publicKey) throw new Error('JWT_SECRET or JWT_PUBLIC_KEY is required when NODE_ENV=production');
  const generated = !secret && !publicKey;
  const jwt: JwtOptions = {
    secret: generated ? randomBytes(48).toString('base64url') : secret,
    publicKey,
    issuer: env.JWT_ISSUER || undefined,
    audience: env.JWT_AUDIENCE ? env.JWT_AUDIENCE.split(',').map((a) => a.trim()) : undefined,
  };
  const bodyLimit = env.BODY_LIMIT ? Number(env.BODY_LIMIT) : 1024 * 1024;
  const policy = loadPolicyFile(policyPath);
  // The server key that signs audit chain anchors; never part of the policy file.
  if (env.AUDIT_ANCHOR_KEY) policy.audit = { ...policy.audit, anchorKey: env.AUDIT_ANCHOR_KEY };
  return {
    port,
    production,
    database: parseDatabase(env.DATABASE_URL),
    redisUrl: env.REDIS_URL || undefined,
    jwt,
    generatedJwtSecret: generated,
    trustProxy: env.TRUST_PROXY || undefined,
    policyPath,
    policy,
    bodyLimit,
    echoTokenDelayMs: parseTokenDelay(env.ECHO_TOKEN_DELAY_MS),
  };
}

function parseTokenDelay(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`ECHO_TOKEN_DELAY_MS must be a non-negative number of milliseconds, got "${value}"`);
  return ms;
}
