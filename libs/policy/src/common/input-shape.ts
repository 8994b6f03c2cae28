/**
 * Checks on request input before it is transformed or stored: how deep it nests and whether it holds characters
 * no store can keep. Iterative (no recursion), so a body nested 30,000 deep cannot overflow the stack here.
 */

/** Deepest nesting of objects and arrays accepted in a body, query or parameter by default. */
export const DEFAULT_MAX_INPUT_DEPTH = 32;

// Keys that reach an object's prototype when assigned: refused rather than dropped.
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor']);

/**
 * The first problem found in `value`, or null: nesting deeper than `maxDepth` objects/arrays, a NUL character
 * (U+0000, which PostgreSQL cannot store in text or jsonb) in a string or a key, or an object key `__proto__` or
 * `constructor` (class-transformer would drop it silently, so a schema refusing unknown keys would never see it).
 * Names the path, never the value.
 */
export function inputShapeProblem(value: unknown, maxDepth: number = DEFAULT_MAX_INPUT_DEPTH): string | null {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: '', depth: 0 }];
  while (stack.length) {
    const { value: current, path, depth } = stack.pop()!;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return `${path || 'value'} must not contain NUL characters`;
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) return `${path || 'value'} is nested more than ${maxDepth} levels deep`;
    const entries = Array.isArray(current)
      ? current.map((item, i) => [String(i), item] as const)
      : Object.entries(current);
    for (const [key, item] of entries) {
      if (key.includes('\u0000')) return `${path || 'value'} has a key with a NUL character`;
      if (!Array.isArray(current) && PROTOTYPE_KEYS.has(key))
        return `${path || 'value'} has a key "${key}", which is not accepted`;
      stack.push({ value: item, path: path ? `${path}.${key}` : key, depth: depth + 1 });
    }
  }
  return null;
}
