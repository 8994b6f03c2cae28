import type { ScopeDefinition } from '../policy-module-options.interface';

/**
 * Expands granted scopes through `implies`, transitively and cycle-safe.
 * @example expandScopes(['agents:write'], { 'agents:write': { implies: ['agents:read'] } }) // agents:write, agents:read
 */
export function expandScopes(granted: readonly string[], definitions: Record<string, ScopeDefinition>): Set<string> {
  const result = new Set<string>();
  const stack = [...granted];
  while (stack.length > 0) {
    const scope = stack.pop() as string;
    if (result.has(scope)) continue;
    result.add(scope);
    // Own keys only: a granted `constructor` or `__proto__` is a name, never a way into Object.prototype.
    const definition = Object.prototype.hasOwnProperty.call(definitions, scope) ? definitions[scope] : undefined;
    for (const implied of definition?.implies ?? []) {
      if (!result.has(implied)) stack.push(implied);
    }
  }
  return result;
}

/**
 * True when one granted scope covers `required`: equal, `*`, or `ns:*` where `ns` is a whole leading
 * segment of `required` (`tools:*` covers `tools:invoke`, never `toolsX:y`).
 */
export function scopeCovers(granted: string, required: string): boolean {
  if (granted === '*' || granted === required) return true;
  if (granted.endsWith(':*')) {
    const prefix = granted.slice(0, -1); // 'tools:'
    return required.startsWith(prefix) && required.length > prefix.length;
  }
  return false;
}

/** The required scopes that the expanded grant does not cover (empty: all satisfied). */
export function missingScopes(expanded: ReadonlySet<string>, required: readonly string[]): string[] {
  return required.filter((req) => {
    for (const granted of expanded) if (scopeCovers(granted, req)) return false;
    return true;
  });
}

/** Checks the `scopes` section: every implied scope is a string. */
export function validateScopes(definitions: Record<string, ScopeDefinition>): void {
  for (const [name, def] of Object.entries(definitions)) {
    if (def === null || typeof def !== 'object') throw new Error(`scopes.${name} must be an object`);
    if (def.implies !== undefined) {
      if (!Array.isArray(def.implies)) throw new Error(`scopes.${name}.implies must be a list`);
      def.implies.forEach((s, i) => {
        if (typeof s !== 'string' || s.length === 0)
          throw new Error(`scopes.${name}.implies[${i}] must be a scope name`);
      });
    }
  }
}
