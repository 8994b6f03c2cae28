import type { ApiKeyConfig } from '../policy-module-options.interface';

/** `apiKeys` of the policy document with its defaults filled in. */
export interface ResolvedApiKeyConfig {
  readonly limits: 'creator' | 'key';
  /** Milliseconds a key lives when its creator names no expiry. */
  readonly defaultTtlMs: number;
  /** Longest lifetime a key may be given, in milliseconds. */
  readonly maxTtlMs: number;
  readonly maxPerCreator: number;
}

const DAY = 86_400;
/** Defaults of `apiKeys`: shared limits, 90 days by default, at most 365 days, 100 live keys per creator. */
export const DEFAULT_API_KEY_CONFIG: Readonly<Required<ApiKeyConfig>> = Object.freeze({
  limits: 'creator',
  defaultTtl: 90 * DAY,
  maxTtl: 365 * DAY,
  maxPerCreator: 100,
});

const positiveInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0;

/**
 * Validates `apiKeys` and fills in its defaults.
 * @throws Error naming the key (`apiKeys.maxTtl must be ...`).
 */
export function resolveApiKeyConfig(config: ApiKeyConfig | undefined | null): ResolvedApiKeyConfig {
  if (config !== undefined && config !== null && (typeof config !== 'object' || Array.isArray(config))) {
    throw new Error('apiKeys must be an object');
  }
  const given = config ?? {};
  for (const key of Object.keys(given)) {
    if (!(key in DEFAULT_API_KEY_CONFIG)) throw new Error(`apiKeys.${key}: unknown key`);
  }
  const merged = { ...DEFAULT_API_KEY_CONFIG, ...given };
  if (merged.limits !== 'creator' && merged.limits !== 'key')
    throw new Error('apiKeys.limits must be "creator" or "key"');
  for (const key of ['defaultTtl', 'maxTtl', 'maxPerCreator'] as const) {
    if (!positiveInteger(merged[key]))
      throw new Error(`apiKeys.${key} must be a positive integer${key === 'maxPerCreator' ? '' : ' (seconds)'}`);
  }
  if (merged.defaultTtl > merged.maxTtl) throw new Error('apiKeys.defaultTtl must not exceed apiKeys.maxTtl');
  if (merged.maxTtl > 10 * 365 * DAY) throw new Error('apiKeys.maxTtl must be at most ten years');
  return {
    limits: merged.limits,
    defaultTtlMs: merged.defaultTtl * 1000,
    maxTtlMs: merged.maxTtl * 1000,
    maxPerCreator: merged.maxPerCreator,
  };
}
