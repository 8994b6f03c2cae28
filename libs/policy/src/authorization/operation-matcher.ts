/**
 * Operation patterns: an exact operation (`agent.read`), a resource wildcard (`agent.*`), or `*` for everything.
 * Wildcards match whole segments only: `agent.*` never matches `agents.read`.
 */
export function matchesOperation(pattern: string, operation: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) {
    const prefix = pattern.slice(0, -1); // keeps the dot: 'agent.'
    return operation.startsWith(prefix) && operation.length > prefix.length;
  }
  return pattern === operation;
}

/** True when `pattern` matches at least one of the known operations. */
export function patternMatchesAny(pattern: string, known: readonly string[]): boolean {
  return known.some((operation) => matchesOperation(pattern, operation));
}
