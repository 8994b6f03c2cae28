/**
 * Checks on request input before it is transformed or stored: how deep it nests and whether it holds characters
 * no store can keep. Iterative (no recursion), so a body nested 30,000 deep cannot overflow the stack here.
 */

/** Deepest nesting of objects and arrays accepted in a body, query or parameter by default. */
export const DEFAULT_MAX_INPUT_DEPTH = 32;

/**
 * The first problem found in `value`, or null: nesting deeper than `maxDepth` objects/arrays, or a NUL character
 * (U+0000, which PostgreSQL cannot store in text or jsonb) in a string or a key. Names the path, never the value.
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
    const entries = Array.isArray(current) ? current.map((item, i) => [String(i), item] as const) : Object.entries(current);
    for (const [key, item] of entries) {
      if (key.includes('\u0000')) return `${path || 'value'} has a key with a NUL character`;
      stack.push({ value: item, path: path ? `${path}.${key}` : key, depth: depth + 1 });
    }
  }
  return null;
}
