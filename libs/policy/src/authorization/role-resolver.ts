import type { RoleDefinition } from '../policy-module-options.interface';
import { matchesOperation, patternMatchesAny } from './operation-matcher';

/** A role with its inherited patterns flattened. */
export interface CompiledRole {
  readonly name: string;
  readonly patterns: readonly string[];
  readonly own: boolean;
}

/**
 * Flattens `inherits` into each role's patterns and validates the definitions.
 * @throws Error naming the key when a role inherits an unknown role, inherits in a cycle, or names a pattern
 * that matches no known operation.
 */
export function compileRoles(
  roles: Record<string, RoleDefinition>,
  knownOperations: readonly string[],
): Map<string, CompiledRole> {
  for (const [name, role] of Object.entries(roles)) {
    if (!role || !Array.isArray(role.operations)) {
      throw new Error(`roles.${name}.operations must be a list of operation patterns`);
    }
    role.operations.forEach((pattern, i) => {
      if (typeof pattern !== 'string' || !patternMatchesAny(pattern, knownOperations)) {
        throw new Error(`roles.${name}.operations[${i}]: "${String(pattern)}" matches no known operation`);
      }
    });
    if (role.inherits !== undefined && role.inherits !== null && !Array.isArray(role.inherits)) {
      throw new Error(`roles.${name}.inherits must be a list of role names`);
    }
    (role.inherits ?? []).forEach((parent, i) => {
      if (!Object.prototype.hasOwnProperty.call(roles, parent)) {
        throw new Error(`roles.${name}.inherits[${i}]: unknown role "${parent}"`);
      }
    });
  }

  const compiled = new Map<string, CompiledRole>();
  const resolve = (name: string, path: string[]): string[] => {
    if (path.includes(name)) {
      throw new Error(`roles.${name}.inherits: inheritance cycle ${[...path, name].join(' -> ')}`);
    }
    const role = roles[name];
    const patterns = new Set(role.operations);
    for (const parent of role.inherits ?? []) {
      for (const p of resolve(parent, [...path, name])) patterns.add(p);
    }
    return [...patterns];
  };
  for (const [name, role] of Object.entries(roles)) {
    compiled.set(name, { name, patterns: resolve(name, []), own: role.own === true });
  }
  return compiled;
}

/** The roles (of those held) that allow `operation`; empty when none does. Unknown roles allow nothing. */
export function rolesAllowing(
  compiled: ReadonlyMap<string, CompiledRole>,
  held: readonly string[],
  operation: string,
): CompiledRole[] {
  // In the policy's order, as the compiled fast path names them (the principal's order is the token's, not ours).
  const allowing: CompiledRole[] = [];
  for (const role of compiled.values()) {
    if (held.includes(role.name) && role.patterns.some((p) => matchesOperation(p, operation))) allowing.push(role);
  }
  return allowing;
}
