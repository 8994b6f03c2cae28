import { Type, type Static } from '@sinclair/typebox';
import {
  EnforcementMode,
  NamedMap,
  NonNegativeNumber,
  PositiveInteger,
  PositiveNumber,
  StrictObject,
  StringEnum,
} from '../schema/schema.builders';

/**
 * How hits are counted. `sliding-log` (default; `exact` is another name for it) keeps each admitted hit for exactly
 * `ttl`: never more than `limit` in any `ttl` window. The others are constant-memory approximations (the README
 * lists their error bounds).
 */
export const RATE_LIMIT_STRATEGIES = [
  'sliding-log',
  'exact',
  'fixed-window',
  'sliding-window',
  'token-bucket',
] as const;

/** `limit` requests per `ttl` seconds. */
export const RateLimitRuleSchema = StrictObject(
  {
    limit: PositiveInteger({ description: 'Requests allowed per window.' }),
    ttl: PositiveNumber({ description: 'Window length in seconds.' }),
    blockDuration: Type.Optional(
      NonNegativeNumber({ description: 'Seconds a caller stays blocked once over the limit (default 0).' }),
    ),
  },
  { description: '`limit` requests per `ttl` seconds.' },
);
export type RateLimitRule = Static<typeof RateLimitRuleSchema>;

/** The `rateLimits` section of the policy document. */
export const RateLimitConfigSchema = StrictObject(
  {
    strategy: Type.Optional(
      StringEnum(RATE_LIMIT_STRATEGIES, {
        description: 'Counting strategy (default sliding-log: exact; the others approximate).',
      }),
    ),
    /** Every principal's default bucket. */
    default: Type.Optional(RateLimitRuleSchema),
    /** Anonymous callers, per client IP. */
    anonymous: Type.Optional(RateLimitRuleSchema),
    /** Failed authentication attempts, per client IP (default: the anonymous rule). */
    authFailures: Type.Optional(RateLimitRuleSchema),
    operations: Type.Optional(
      NamedMap(RateLimitRuleSchema, { description: 'A bucket of its own per named operation, on top of the default.' }),
    ),
    tools: Type.Optional(
      NamedMap(RateLimitRuleSchema, {
        description: 'A bucket of its own per tool and principal, on top of the principal buckets.',
      }),
    ),
    tiers: Type.Optional(
      NamedMap(StrictObject({ multiplier: PositiveNumber({ description: 'Factor applied to every limit.' }) }), {
        description: 'Tiers scale every limit of a principal with that tier.',
      }),
    ),
    failMode: Type.Optional(
      StringEnum(['closed', 'open'] as const, {
        description: 'Redis unreachable: `closed` answers 503 (default), `open` counts per process.',
      }),
    ),
    keyPrefix: Type.Optional(Type.String({ description: 'Key prefix in Redis (default `nap:rl:`).' })),
    mode: Type.Optional(EnforcementMode('a rate limit')),
    headers: Type.Optional(
      StringEnum(['x-ratelimit', 'ietf', 'both'] as const, {
        description:
          'x-ratelimit (default): X-RateLimit-Limit/-Remaining/-Reset; ietf: RateLimit and RateLimit-Policy; both.',
      }),
    ),
  },
  { description: 'Rate limits.' },
);
export type RateLimitConfig = Static<typeof RateLimitConfigSchema>;
export type RateLimitStrategy = (typeof RATE_LIMIT_STRATEGIES)[number];

/** The sections of the policy document that rate limiting reads. */
export const RATE_LIMIT_SECTIONS = { rateLimits: Type.Optional(RateLimitConfigSchema) };
