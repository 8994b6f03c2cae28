import { describe, expect, it } from '@jest/globals';
import Ajv2020 from 'ajv/dist/2020';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { compilePolicy } from '../authorization/compiled-policy';
import { compileOptions } from '../policy-options.factory';
import type { PolicyDocument, PolicyModuleOptions } from '../policy-module-options.interface';
import { policyJsonSchemaText } from './policy-document.schema';

const LIB = resolve(__dirname, '..', '..');
const ROOT = resolve(LIB, '..', '..');
const SCHEMA_FILE = join(LIB, 'policy.schema.json');
const SHIPPED_POLICY = join(ROOT, 'apps/agent-api/policy/agent-api.policy.yaml');

/** The shipped JSON Schema as an editor or another tool sees it: a plain ajv 2020 instance, nothing but the file. */
const shippedSchema = new Ajv2020().compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));

const valid = (): Record<string, unknown> => ({
  roles: {
    admin: { operations: ['*'] },
    operator: { operations: ['agent.*', 'session.*'], inherits: [] },
    customer: { operations: ['session.create', 'session.read'], own: true },
  },
  scopes: { 'agents:write': { implies: ['agents:read'] } },
  operations: ['thing.list'],
  rateLimits: {
    strategy: 'sliding-window',
    default: { limit: 600, ttl: 60 },
    anonymous: { limit: 60, ttl: 60, blockDuration: 0 },
    authFailures: { limit: 20, ttl: 60 },
    operations: { 'event.create': { limit: 30, ttl: 60 } },
    tiers: { pro: { multiplier: 5 } },
    failMode: 'closed',
    keyPrefix: 'app:rl:',
  },
  budgets: {
    softLimitPercent: 80,
    approvalAbovePercent: 95,
    principal: { day: { cost: 5, tokens: 200000, requests: 1000 } },
    'api-key': { hour: { requests: 100 } },
    tenant: { month: { cost: 500 } },
    global: { month: { cost: 10000 } },
    reservationTtl: 300,
  },
  pricing: { 'echo-1': { input: 0.5, output: 1.5, cachedInput: 0.1 } },
  approvals: { operations: ['agent.delete'], ttl: 900, maxPendingPerPrincipal: 20 },
  audit: {
    grants: false,
    hashIpSalt: 'salt',
    batchSize: 200,
    flushIntervalMs: 200,
    maxQueue: 10000,
    anchorIntervalMs: 5000,
  },
  apiKeys: { limits: 'creator', defaultTtl: 86400, maxTtl: 31536000, maxPerCreator: 100 },
  alerts: {
    mode: 'enforce',
    bucketSeconds: 60,
    baselineBuckets: 15,
    zScore: 4,
    minCount: 30,
    minDeviation: 1,
    blockSeconds: 300,
    webhookUrl: 'https://hooks.example.com/policy',
    webhookSecret: 'a-webhook-secret-0123456789',
    webhookAttempts: 5,
  },
});

/** Sets `value` at a dotted path (`['rateLimits', 'defualt']`) of a fresh valid document. */
function patched(path: readonly string[], value: unknown): Record<string, unknown> {
  const doc = valid();
  let node = doc;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[path[path.length - 1]] = value;
  return doc;
}

/** [a misspelled key at its path, the key it replaces, the message expected]. */
const MISSPELLINGS: [string[], string | undefined, string][] = [
  [['rolez'], 'roles', 'rolez: unknown policy key (did you mean "roles"?)'],
  [['ratelimits'], 'rateLimits', 'ratelimits: unknown policy key (did you mean "rateLimits"?)'],
  [['budget'], 'budgets', 'budget: unknown policy key (did you mean "budgets"?)'],
  [['pricng'], 'pricing', 'pricng: unknown policy key (did you mean "pricing"?)'],
  [['approval'], 'approvals', 'approval: unknown policy key (did you mean "approvals"?)'],
  [['roles', 'operator', 'inherit'], 'inherits', 'roles.operator.inherit: unknown key (did you mean "inherits"?)'],
  [['roles', 'customer', 'owns'], 'own', 'roles.customer.owns: unknown key (did you mean "own"?)'],
  [['roles', 'admin', 'operation'], undefined, 'roles.admin.operation: unknown key (did you mean "operations"?)'],
  [
    ['scopes', 'agents:write', 'implied'],
    'implies',
    'scopes.agents:write.implied: unknown key (did you mean "implies"?)',
  ],
  [['rateLimits', 'defualt'], 'default', 'rateLimits.defualt: unknown key (did you mean "default"?)'],
  [['rateLimits', 'anonymus'], 'anonymous', 'rateLimits.anonymus: unknown key (did you mean "anonymous"?)'],
  [['rateLimits', 'stategy'], 'strategy', 'rateLimits.stategy: unknown key (did you mean "strategy"?)'],
  [['rateLimits', 'failmode'], 'failMode', 'rateLimits.failmode: unknown key (did you mean "failMode"?)'],
  [['rateLimits', 'default', 'limt'], 'limit', 'rateLimits.default.limt: unknown key (did you mean "limit"?)'],
  [['rateLimits', 'default', 'tll'], 'ttl', 'rateLimits.default.tll: unknown key (did you mean "ttl"?)'],
  [
    ['rateLimits', 'anonymous', 'blockDurration'],
    undefined,
    'rateLimits.anonymous.blockDurration: unknown key (did you mean "blockDuration"?)',
  ],
  [
    ['rateLimits', 'operations', 'event.create', 'limits'],
    'limit',
    'rateLimits.operations.event.create.limits: unknown key (did you mean "limit"?)',
  ],
  [
    ['rateLimits', 'tiers', 'pro', 'multipler'],
    'multiplier',
    'rateLimits.tiers.pro.multipler: unknown key (did you mean "multiplier"?)',
  ],
  [
    ['budgets', 'softLimitPercentage'],
    'softLimitPercent',
    'budgets.softLimitPercentage: unknown key (did you mean "softLimitPercent"?)',
  ],
  [['budgets', 'principle'], 'principal', 'budgets.principle: unknown key (did you mean "principal"?)'],
  [['budgets', 'tenant', 'monthly'], 'month', 'budgets.tenant.monthly: unknown key (did you mean "month"?)'],
  [['budgets', 'principal', 'day', 'cots'], 'cost', 'budgets.principal.day.cots: unknown key (did you mean "cost"?)'],
  [
    ['budgets', 'global', 'month', 'token'],
    undefined,
    'budgets.global.month.token: unknown key (did you mean "tokens"?)',
  ],
  [['pricing', 'echo-1', 'inputs'], 'input', 'pricing.echo-1.inputs: unknown key (did you mean "input"?)'],
  [
    ['pricing', 'echo-1', 'cachedinput'],
    'cachedInput',
    'pricing.echo-1.cachedinput: unknown key (did you mean "cachedInput"?)',
  ],
  [['approvals', 'operation'], 'operations', 'approvals.operation: unknown key (did you mean "operations"?)'],
  [['approvals', 'tll'], 'ttl', 'approvals.tll: unknown key (did you mean "ttl"?)'],
  [['audit', 'grant'], 'grants', 'audit.grant: unknown key (did you mean "grants"?)'],
  [['audit', 'batchsize'], 'batchSize', 'audit.batchsize: unknown key (did you mean "batchSize"?)'],
  [['audit', 'anchorInterval'], undefined, 'audit.anchorInterval: unknown key (did you mean "anchorIntervalMs"?)'],
  [['approvals', 'maxPending'], undefined, 'approvals.maxPending: unknown key'],
  [['apiKeys', 'limts'], 'limits', 'apiKeys.limts: unknown key (did you mean "limits"?)'],
  [['apiKeys', 'maxTTL'], 'maxTtl', 'apiKeys.maxTTL: unknown key (did you mean "maxTtl"?)'],
  [['alert'], 'alerts', 'alert: unknown policy key (did you mean "alerts"?)'],
  [['alerts', 'blockSecond'], 'blockSeconds', 'alerts.blockSecond: unknown key (did you mean "blockSeconds"?)'],
  [['alerts', 'webhookURL'], 'webhookUrl', 'alerts.webhookURL: unknown key (did you mean "webhookUrl"?)'],
  [['alerts', 'zscore'], 'zScore', 'alerts.zscore: unknown key (did you mean "zScore"?)'],
  [
    ['audit', 'colour'],
    undefined,
    'audit.colour: unknown key (known keys: grants, hashIpSalt, batchSize, flushIntervalMs, maxQueue, maxWaitMs, anchorKey, anchorIntervalMs)',
  ],
];

/** [a path, a value of the wrong type or range, the message expected]. */
const WRONG_VALUES: [(string | number)[], unknown, string][] = [
  [['rateLimits', 'mode'], 'shadw', 'rateLimits.mode must be one of "enforce", "shadow"'],
  [['rateLimits', 'headers'], 'draft', 'rateLimits.headers must be one of "x-ratelimit", "ietf", "both"'],
  [['budgets', 'mode'], 'off', 'budgets.mode must be one of "enforce", "shadow"'],
  [['alerts', 'mode'], 'block', 'alerts.mode must be one of "enforce", "shadow"'],
  [['alerts', 'bucketSeconds'], 0, 'alerts.bucketSeconds must be an integer >= 1'],
  [['alerts', 'baselineBuckets'], 1, 'alerts.baselineBuckets must be an integer >= 2'],
  [['roles', 'customer', 'mode'], true, 'roles.customer.mode must be one of "enforce", "shadow"'],
  [['roles'], ['admin'], 'roles must be an object'],
  [['roles', 'admin'], 'everything', 'roles.admin must be an object with operations'],
  [['roles', 'admin', 'operations'], '*', 'roles.admin.operations must be a list of non-empty strings'],
  [['roles', 'operator', 'inherits'], 'admin', 'roles.operator.inherits must be a list of non-empty strings'],
  [['roles', 'customer', 'own'], 'yes', 'roles.customer.own must be true or false'],
  [['scopes', 'agents:write', 'implies', 0], 5, 'scopes.agents:write.implies[0] must be a non-empty string'],
  [
    ['rateLimits', 'strategy'],
    'leaky-bucket',
    'rateLimits.strategy must be one of "sliding-log", "exact", "fixed-window", "sliding-window", "token-bucket"',
  ],
  [['rateLimits', 'default', 'limit'], 1.5, 'rateLimits.default.limit must be an integer >= 1'],
  [['rateLimits', 'default', 'ttl'], '60', 'rateLimits.default.ttl must be a number > 0'],
  [
    ['rateLimits', 'operations', 'event.create'],
    30,
    'rateLimits.operations.event.create must be an object with limit, ttl',
  ],
  [['rateLimits', 'tiers', 'pro', 'multiplier'], 0, 'rateLimits.tiers.pro.multiplier must be a number > 0'],
  [['rateLimits', 'failMode'], 'sometimes', 'rateLimits.failMode must be one of "closed", "open"'],
  [['budgets', 'softLimitPercent'], 120, 'budgets.softLimitPercent must be a number > 0 and <= 100'],
  [['budgets', 'principal', 'day', 'cost'], 0, 'budgets.principal.day.cost must be a number > 0'],
  [['pricing', 'echo-1', 'output'], -1, 'pricing.echo-1.output must be a number >= 0'],
  [['approvals', 'operations'], 'agent.delete', 'approvals.operations must be a list of non-empty strings'],
  [['audit', 'grants'], 'true', 'audit.grants must be true or false'],
  [['audit', 'batchSize'], 0, 'audit.batchSize must be an integer >= 1'],
];

function documentFor([path, replaced]: (typeof MISSPELLINGS)[number]): Record<string, unknown> {
  // The misspelled key carries the value its correct spelling would have had (or a plausible one).
  const doc = valid();
  let node = doc;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const value = replaced !== undefined ? node[replaced] : path.length === 1 ? {} : 1;
  if (replaced !== undefined) delete node[replaced];
  node[path[path.length - 1]] = value;
  return doc;
}

const wrongValue = ([path, value]: (typeof WRONG_VALUES)[number]) => patched(path.map(String), value);

const bootError = (doc: unknown): string => {
  try {
    compilePolicy(doc as PolicyDocument);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
};

describe('policy document schema', () => {
  it('accepts a document using every section and key', () => {
    expect(bootError(valid())).toBe('accepted');
    expect(shippedSchema(valid())).toBe(true);
  });

  describe.each(MISSPELLINGS.map((c) => [c[2], c] as const))('a misspelled key: %s', (message, c) => {
    it('fails the boot naming its path and the key probably meant', () => {
      expect(bootError(documentFor(c))).toContain(message);
    });
    it('is rejected by the shipped JSON Schema too', () => {
      expect(shippedSchema(documentFor(c))).toBe(false);
    });
  });

  describe.each(WRONG_VALUES.map((c) => [c[2], c] as const))('a wrong value: %s', (message, c) => {
    it('fails the boot naming its path and the expected type', () => {
      expect(bootError(wrongValue(c))).toContain(message);
    });
    it('is rejected by the shipped JSON Schema too', () => {
      expect(shippedSchema(wrongValue(c))).toBe(false);
    });
  });

  it('reports every problem of a document at once, unknown keys first', () => {
    const doc = {
      roles: { a: { operations: ['*'], inherit: ['b'] } },
      rateLimits: { default: { limit: 0, ttl: 1 } },
      rolez: {},
    };
    const message = bootError(doc);
    expect(message.split('; ')).toEqual([
      'rolez: unknown policy key (did you mean "roles"?)',
      'roles.a.inherit: unknown key (did you mean "inherits"?)',
      'rateLimits.default.limit must be an integer >= 1',
    ]);
  });

  it('keeps the semantic checks, after the schema, with their messages', () => {
    expect(bootError({ roles: { a: { operations: ['*'], inherits: ['ghost'] } } })).toBe(
      'roles.a.inherits[0]: unknown role "ghost"',
    );
    expect(bootError({ roles: { a: { operations: ['agnt.*'] } } })).toBe(
      'roles.a.operations[0]: "agnt.*" matches no known operation',
    );
    expect(
      bootError({
        roles: { a: { operations: ['*'] } },
        rateLimits: { operations: { 'agent.fly': { limit: 1, ttl: 1 } } },
      }),
    ).toBe('rateLimits.operations.agent.fly: unknown operation');
    // A schema error wins over a semantic one: the shape is checked before its meaning.
    expect(bootError({ roles: { a: { operations: ['*'], inherits: ['ghost'], owns: true } } })).toBe(
      'roles.a.owns: unknown key (did you mean "own"?)',
    );
  });
});

describe('PolicyModule.forRoot options', () => {
  const base = (): PolicyModuleOptions => ({
    ...(valid() as unknown as PolicyDocument),
    mode: 'development',
    jwt: { secret: 'x'.repeat(40) },
  });
  const optionsError = (patch: Record<string, unknown>, jwt?: Record<string, unknown>): string => {
    const options = { ...base(), ...patch } as Record<string, unknown>;
    if (jwt) options.jwt = { ...(options.jwt as object), ...jwt };
    try {
      compileOptions(options as unknown as PolicyModuleOptions);
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };

  it('accepts every option', () => {
    expect(
      optionsError(
        { trustProxy: ['10.0.0.0/8'], redisUrl: undefined, providers: [], policy: undefined },
        { issuer: 'i', audience: ['a'], algorithms: ['HS256'], clockTolerance: 5 },
      ),
    ).toBe('accepted');
  });

  it.each([
    [{ trustproxy: 1 }, undefined, 'trustproxy: unknown policy key (did you mean "trustProxy"?)'],
    [{ redisURL: 'redis://x' }, undefined, 'redisURL: unknown policy key (did you mean "redisUrl"?)'],
    [{ provider: [] }, undefined, 'provider: unknown policy key (did you mean "providers"?)'],
    [{ mode: 'prod' }, undefined, 'mode must be one of "development", "production"'],
    [{}, { secert: 'x' }, 'jwt.secert: unknown key (did you mean "secret"?)'],
    [{}, { algorithm: ['HS256'] }, 'jwt.algorithm: unknown key (did you mean "algorithms"?)'],
    [{}, { algorithms: ['none'] }, 'jwt.algorithms[0] must be one of "HS256", "RS256", "ES256"'],
    [{}, { audience: 5 }, 'jwt.audience must be a string or a list of strings'],
    [
      { trustProxy: { hops: 1 } },
      undefined,
      'trustProxy must be true or false or a number or a string or a list of strings',
    ],
  ])('rejects %j (jwt %j): %s', (patch, jwt, message) => {
    expect(optionsError(patch, jwt)).toContain(message);
  });

  it.each(MISSPELLINGS.map((c) => [c[2], c] as const))('is as strict as the policy file: %s', (message, c) => {
    const options = { ...documentFor(c), jwt: { secret: 'x'.repeat(40) } };
    expect(() => compileOptions(options as unknown as PolicyModuleOptions)).toThrow(message);
  });
});

describe('policy.schema.json', () => {
  it('is the schema the boot validates with (run `npm run build:lib` to regenerate it)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(policyJsonSchemaText());
  });

  it('resolves as nest-agent-policy/policy.schema.json', () => {
    expect(require.resolve('nest-agent-policy/policy.schema.json')).toBe(require.resolve(SCHEMA_FILE));
  });
});

describe('shipped and documented policies', () => {
  it('the shipped agent-api policy boots and names the schema on its first line for editors', () => {
    const text = readFileSync(SHIPPED_POLICY, 'utf8');
    const reference = /^# yaml-language-server: \$schema=(\S+)\n/.exec(text)?.[1];
    expect(reference).toBeDefined();
    expect(resolve(dirname(SHIPPED_POLICY), reference as string)).toBe(SCHEMA_FILE);
    const doc = parseYaml(text) as unknown;
    expect(bootError(doc)).toBe('accepted');
    expect(shippedSchema(doc)).toBe(true);
  });

  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  // Policy examples only: a block starting with `fixtures:` is a CLI fixtures file (test/cli checks those).
  const yamlBlocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .filter((b) => !/^fixtures:/.test(b));
  // Multi-line option objects (an inline `forRoot({ ...options })` is a fragment, not an example to boot).
  const forRootBlocks = [...readme.matchAll(/PolicyModule\.forRoot\((\{\n[\s\S]*?\n\s*\})\)/g)].map((m) => m[1]);

  it('the README has policy examples to check', () => {
    expect(yamlBlocks.length).toBeGreaterThan(0);
    expect(forRootBlocks.length).toBeGreaterThan(0);
  });

  it.each(yamlBlocks.map((b, i) => [i, b]))('README policy file example %i boots', (_i, block) => {
    const doc = parseYaml(block as string) as unknown;
    expect(bootError(doc)).toBe('accepted');
    expect(shippedSchema(doc)).toBe(true);
  });

  it.each(forRootBlocks.map((b, i) => [i, b]))('README PolicyModule.forRoot example %i boots', (_i, block) => {
    const env = { JWT_SECRET: 'x'.repeat(40), REDIS_URL: undefined, TRUST_PROXY: '1' };
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the README's example is evaluated as written
    const options = new Function('process', `return (${block as string});`)({ env }) as PolicyModuleOptions;
    expect(() => compileOptions(options)).not.toThrow();
  });
});
