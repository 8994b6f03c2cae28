import { Type, type Static } from '@sinclair/typebox';
import { PositiveInteger, StrictObject, StringEnum } from '../schema/schema.builders';

/** The `apiKeys` section of the policy document: whose limits keys use, how long they live, how many a creator holds. */
export const ApiKeyConfigSchema = StrictObject(
  {
    limits: Type.Optional(
      StringEnum(['creator', 'key'] as const, {
        description:
          "creator (default): a key's requests count against its creator's rate-limit buckets and principal budgets; key: every key has its own.",
      }),
    ),
    defaultTtl: Type.Optional(
      PositiveInteger({
        description: 'Seconds a key lives when its creator names no expiry (default 7,776,000: 90 days).',
      }),
    ),
    maxTtl: Type.Optional(
      PositiveInteger({
        description: 'Longest lifetime a key may be given, in seconds (default 31,536,000: 365 days).',
      }),
    ),
    maxPerCreator: Type.Optional(
      PositiveInteger({ description: 'Most live keys one creator may hold (default 100).' }),
    ),
  },
  { description: 'API keys.' },
);
export type ApiKeyConfig = Static<typeof ApiKeyConfigSchema>;

/** The sections of the policy document that API keys read. */
export const API_KEY_SECTIONS = { apiKeys: Type.Optional(ApiKeyConfigSchema) };
