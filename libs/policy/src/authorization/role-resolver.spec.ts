import { describe, expect, it } from '@jest/globals';
import type { RoleDefinition } from '../policy-module-options.interface';
import { AGENT_OPERATIONS } from './agent-operation';
import { compileRoles, rolesAllowing } from './role-resolver';

const compile = (roles: Record<string, RoleDefinition>) => compileRoles(roles, AGENT_OPERATIONS);

describe('compileRoles', () => {
  it('keeps a role without inheritance as declared', () => {
    const roles = compile({ reader: { operations: ['agent.read', 'agent.list'] } });
    expect(roles.get('reader')).toEqual({ name: 'reader', patterns: ['agent.read', 'agent.list'], own: false });
  });

  it('flattens inheritance over several levels', () => {
    const roles = compile({
      viewer: { operations: ['agent.read'] },
      editor: { operations: ['agent.update'], inherits: ['viewer'] },
      manager: { operations: ['agent.delete'], inherits: ['editor'] },
    });
    expect([...roles.get('manager')!.patterns].sort()).toEqual(['agent.delete', 'agent.read', 'agent.update']);
    expect([...roles.get('editor')!.patterns].sort()).toEqual(['agent.read', 'agent.update']);
    expect(roles.get('viewer')!.patterns).toEqual(['agent.read']);
  });

  it('merges several parents and de-duplicates patterns (diamond)', () => {
    const roles = compile({
      base: { operations: ['agent.read'] },
      left: { operations: ['session.*'], inherits: ['base'] },
      right: { operations: ['agent.read', 'tool.list'], inherits: ['base'] },
      both: { operations: [], inherits: ['left', 'right'] },
    });
    const patterns = roles.get('both')!.patterns;
    expect([...patterns].sort()).toEqual(['agent.read', 'session.*', 'tool.list']);
    expect(new Set(patterns).size).toBe(patterns.length);
  });

  it('lets an inheriting role allow what its grandparent allows', () => {
    const roles = compile({
      a: { operations: ['audit.read'] },
      b: { operations: ['usage.read'], inherits: ['a'] },
      c: { operations: ['budget.read'], inherits: ['b'] },
    });
    expect(rolesAllowing(roles, ['c'], 'audit.read').map((r) => r.name)).toEqual(['c']);
    expect(rolesAllowing(roles, ['a'], 'budget.read')).toEqual([]);
  });

  it("does not leak a child's patterns to its parent", () => {
    const roles = compile({
      parent: { operations: ['agent.read'] },
      child: { operations: ['agent.delete'], inherits: ['parent'] },
    });
    expect(rolesAllowing(roles, ['parent'], 'agent.delete')).toEqual([]);
  });

  it.each([
    [{ operator: { operations: ['agent.*'], inherits: ['ghost'] } }, /roles\.operator\.inherits\[0\]/],
    [
      { viewer: { operations: ['agent.read'] }, operator: { operations: ['agent.*'], inherits: ['viewer', 'ghost'] } },
      /roles\.operator\.inherits\[1\]/,
    ],
  ])('rejects an unknown inherited role naming the key (%#)', (roles, key) => {
    expect(() => compile(roles)).toThrow(key);
    expect(() => compile(roles)).toThrow(/ghost/);
  });

  it('rejects inheriting a name that only exists on Object.prototype', () => {
    expect(() => compile({ x: { operations: ['agent.read'], inherits: ['toString'] } })).toThrow(
      /roles\.x\.inherits\[0\]/,
    );
  });

  it.each([
    ['self', { a: { operations: ['agent.read'], inherits: ['a'] } }],
    [
      'two roles',
      { a: { operations: ['agent.read'], inherits: ['b'] }, b: { operations: ['agent.list'], inherits: ['a'] } },
    ],
    [
      'three roles',
      {
        a: { operations: ['agent.read'], inherits: ['b'] },
        b: { operations: ['agent.list'], inherits: ['c'] },
        c: { operations: ['agent.create'], inherits: ['a'] },
      },
    ],
  ])('rejects an inheritance cycle (%s)', (_name, roles: Record<string, RoleDefinition>) => {
    expect(() => compile(roles)).toThrow(/cycle/);
  });

  it.each([
    [{ r: { operations: ['agents.*'] } }, /roles\.r\.operations\[0\]/],
    [{ r: { operations: ['agent.read', 'agent.fly'] } }, /roles\.r\.operations\[1\]/],
    [{ r: { operations: ['agent'] } }, /roles\.r\.operations\[0\]/],
    [{ r: { operations: ['thing.list'] } }, /roles\.r\.operations\[0\]/],
  ])('rejects a pattern that matches no known operation (%#)', (roles, key) => {
    expect(() => compile(roles)).toThrow(key);
  });

  it('names the offending pattern in the message', () => {
    expect(() => compile({ r: { operations: ['agent.fly'] } })).toThrow(/agent\.fly/);
  });

  it('accepts a pattern for an operation the app added to the catalogue', () => {
    const roles = compileRoles({ r: { operations: ['thing.*'] } }, [...AGENT_OPERATIONS, 'thing.list']);
    expect(rolesAllowing(roles, ['r'], 'thing.list')).toHaveLength(1);
  });

  it('rejects a role whose operations are not a list', () => {
    expect(() => compile({ r: {} as RoleDefinition })).toThrow(/roles\.r\.operations/);
    expect(() => compile({ r: { operations: 'agent.read' } as unknown as RoleDefinition })).toThrow(
      /roles\.r\.operations/,
    );
  });

  it('carries the own flag, only when it is exactly true', () => {
    const roles = compile({
      customer: { operations: ['session.read'], own: true },
      operator: { operations: ['session.*'] },
      odd: { operations: ['session.read'], own: 'yes' as unknown as boolean },
    });
    expect(roles.get('customer')!.own).toBe(true);
    expect(roles.get('operator')!.own).toBe(false);
    expect(roles.get('odd')!.own).toBe(false);
  });

  it("keeps a child's own flag independent of its parent", () => {
    const roles = compile({
      customer: { operations: ['session.read'], own: true },
      support: { operations: ['event.list'], inherits: ['customer'] },
    });
    expect(roles.get('support')!.own).toBe(false);
  });
});

describe('rolesAllowing', () => {
  const roles = compile({
    admin: { operations: ['*'] },
    operator: { operations: ['agent.*', 'session.*'] },
    customer: { operations: ['session.create', 'session.read', 'event.create', 'event.list'], own: true },
  });

  it.each([
    [['operator'], 'agent.delete', ['operator']],
    [['operator'], 'customer.read', []],
    [['customer'], 'session.read', ['customer']],
    [['customer'], 'session.delete', []],
    // In the policy's order (operator is declared before customer), whatever the token's order.
    [['customer', 'operator'], 'session.read', ['operator', 'customer']],
    [['operator', 'customer'], 'session.read', ['operator', 'customer']],
    [['customer', 'operator'], 'agent.read', ['operator']],
    [['admin'], 'audit.read', ['admin']],
    [[], 'agent.read', []],
    [['superuser'], 'agent.read', []],
    [['superuser', 'operator'], 'agent.read', ['operator']],
  ])('held %j, operation %s → %j', (held, operation, expected) => {
    expect(rolesAllowing(roles, held, operation).map((r) => r.name)).toEqual(expected);
  });

  it('returns the compiled roles including their own flag', () => {
    const [role] = rolesAllowing(roles, ['customer'], 'event.create');
    expect(role).toEqual(expect.objectContaining({ name: 'customer', own: true }));
  });
});
