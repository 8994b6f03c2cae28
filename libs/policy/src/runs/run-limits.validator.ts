import type { RunLimits } from './run.types';

const NUMERIC = ['maxSteps', 'maxToolCalls', 'maxCost', 'maxTokens', 'maxSeconds', 'maxRepeats'] as const;
const INTEGER: ReadonlySet<string> = new Set(['maxSteps', 'maxToolCalls', 'maxTokens', 'maxRepeats']);

/**
 * Checks the `runs:` section of a policy document.
 * @throws Error naming the key, e.g. `runs.maxSteps must be a positive integer`.
 */
export function validateRunLimits(value: unknown, path = 'runs'): RunLimits | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${path} must be an object`);
  const limits = value as Record<string, unknown>;
  for (const key of Object.keys(limits)) {
    if (key === 'onLimit') {
      if (limits.onLimit !== 'stop' && limits.onLimit !== 'approval') throw new Error(`${path}.onLimit must be "stop" or "approval"`);
      continue;
    }
    if (!(NUMERIC as readonly string[]).includes(key)) throw new Error(`${path}.${key}: unknown key`);
    const n = limits[key];
    if (INTEGER.has(key)) {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new Error(`${path}.${key} must be a positive integer`);
    } else if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) {
      throw new Error(`${path}.${key} must be a positive number`);
    }
  }
  return limits as RunLimits;
}
