import { describe, expect, it } from '@jest/globals';
import type { PolicyDocument } from '../policy-module-options.interface';
import { AGENT_OPERATIONS } from './agent-operation';
import { compilePolicy } from './compiled-policy';
import { rolesAllowing } from './role-resolver';

const base = (): PolicyDocument => ({
  roles: {
    admin: { operations: ['*'] },
    operator: { operations: ['agent.*', 'session.*'], inherits: [] },
    customer: { operations: ['session.create', 'session.read', 'event.create', 'event.list'], own: true },
  },
  scopes: { 'agents:write': { implies: ['agents:read'] }, admin: { implies: ['*'] } },
});

/** Passes when `run` succeeds, or when it throws a plain Error (not a TypeError) whose message matches `key`. */
function expectAcceptedOrNamed(run: () => unknown, key: RegExp): void {
  let error: unknown;
  let result: unknown;
  try {
    result = run();
  } catch (err) {
    error = err;
  }
  if (error === undefined) {
    expect(result).toBeDefined();
  } else {
    expect(error).not.toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(key);
  }
}

const withExtra = (extra: Record<string, unknown>): PolicyDocument => ({ ...base(), ...extra });

describe('compilePolicy', () => {
  it('compiles the shipped example document', () => {
    const doc: PolicyDocument = {
      ...base(),
      rateLimits: {
        strategy: 'sliding-window',
        default: { limit: 600, ttl: 60 },
        anonymous: { limit: 60, ttl: 60 },
        operations: { 'event.create': { limit: 30, ttl: 60 } },
        tiers: { pro: { multiplier: 5 } },
      },
      budgets: { softLimitPercent: 80, principal: { day: { cost: 5 } } },
      pricing: { 'echo-1': { input: 0.5, output: 1.5 } },
      approvals: { operations: ['agent.delete'] },
    };
    const policy = compilePolicy(doc);
    expect(policy.document).toBe(doc);
    expect(policy.operations).toEqual(AGENT_OPERATIONS);
    expect([...policy.roles.keys()].sort()).toEqual(['admin', 'customer', 'operator']);
    expect(policy.roles.get('customer')!.own).toBe(true);
    expect(policy.scopes).toEqual(doc.scopes);
  });

  it('defaults scopes to an empty set of definitions', () => {
    expect(compilePolicy({ roles: { r: { operations: ['agent.read'] } } }).scopes).toEqual({});
  });

  describe('top-level keys', () => {
    it.each(['role', 'rateLimit', 'extra'])('rejects the unknown key %s, naming it', (key) => {
      expect(() => compilePolicy(withExtra({ [key]: {} }))).toThrow(new RegExp(`^${key}: unknown policy key`));
    });

    it('accepts a key the caller declares as known', () => {
      expect(() => compilePolicy(withExtra({ jwt: {} }), ['jwt'])).not.toThrow();
      expect(() => compilePolicy(withExtra({ jwt: {} }))).toThrow(/jwt/);
    });

    it.each([null, 'roles', 42])('rejects a document that is not an object (%p)', (doc) => {
      expect(() => compilePolicy(doc as unknown as PolicyDocument)).toThrow(/policy/);
    });

    it('requires roles', () => {
      expect(() => compilePolicy({} as PolicyDocument)).toThrow(/^roles/);
      expect(() => compilePolicy({ roles: null } as unknown as PolicyDocument)).toThrow(/^roles/);
    });
  });

  describe('operations', () => {
    it('adds app operations to the catalogue, usable in role patterns', () => {
      const policy = compilePolicy({
        operations: ['thing.list', 'thing.read', 'agent.read'],
        roles: { thinker: { operations: ['thing.*'] } },
      });
      expect(policy.operations).toEqual(expect.arrayContaining(['thing.list', 'thing.read', ...AGENT_OPERATIONS]));
      expect(policy.operations.filter((op) => op === 'agent.read')).toHaveLength(1);
      expect(rolesAllowing(policy.roles, ['thinker'], 'thing.read').map((r) => r.name)).toEqual(['thinker']);
      expect(rolesAllowing(policy.roles, ['thinker'], 'agent.read')).toEqual([]);
    });

    it('rejects a role pattern for an operation nobody declared', () => {
      expect(() => compilePolicy({ roles: { thinker: { operations: ['thing.*'] } } })).toThrow(
        /roles\.thinker\.operations\[0\]/,
      );
    });

    it.each([
      [['thing'], /operations\[0\]/],
      [['thing.list', 'Thing.List'], /operations\[1\]/],
      [['thing.'], /operations\[0\]/],
      [['.list'], /operations\[0\]/],
      [['thing.*'], /operations\[0\]/],
      [['thing list'], /operations\[0\]/],
      [['1thing.list'], /operations\[0\]/],
      [[42], /operations\[0\]/],
    ])('rejects the bad operation names %j', (operations, message) => {
      expect(() => compilePolicy(withExtra({ operations }))).toThrow(message);
    });

    it('rejects operations that are not a list', () => {
      expect(() => compilePolicy(withExtra({ operations: 'thing.list' }))).toThrow(/^operations/);
    });

    it('accepts multi-segment and hyphenated names', () => {
      const policy = compilePolicy(withExtra({ operations: ['report-job.run', 'tool.web.search'] }));
      expect(policy.operations).toEqual(expect.arrayContaining(['report-job.run', 'tool.web.search']));
    });
  });

  it('passes role errors through (unknown inherited role, cycle)', () => {
    expect(() => compilePolicy({ roles: { operator: { operations: ['agent.*'], inherits: ['ghost'] } } })).toThrow(
      /roles\.operator\.inherits\[0\]/,
    );
    expect(() =>
      compilePolicy({
        roles: {
          a: { operations: ['agent.read'], inherits: ['b'] },
          b: { operations: ['agent.read'], inherits: ['a'] },
        },
      }),
    ).toThrow(/cycle/);
  });

  it('passes scope errors through', () => {
    expect(() => compilePolicy(withExtra({ scopes: { 'agents:write': { implies: 'agents:read' } } }))).toThrow(
      /scopes\.agents:write\.implies/,
    );
  });

  describe('rateLimits', () => {
    const rl = (rateLimits: unknown) => () => compilePolicy(withExtra({ rateLimits }));

    it.each([
      [{ default: { limit: 0, ttl: 60 } }, /rateLimits\.default\.limit/],
      [{ default: { limit: -1, ttl: 60 } }, /rateLimits\.default\.limit/],
      [{ default: { limit: 1.5, ttl: 60 } }, /rateLimits\.default\.limit/],
      [{ default: { limit: '10', ttl: 60 } }, /rateLimits\.default\.limit/],
      [{ default: { ttl: 60 } }, /rateLimits\.default\.limit/],
      [{ default: { limit: 10, ttl: 0 } }, /rateLimits\.default\.ttl/],
      [{ default: { limit: 10 } }, /rateLimits\.default\.ttl/],
      [{ default: { limit: 10, ttl: 60, blockDuration: -1 } }, /rateLimits\.default\.blockDuration/],
      [{ default: 600 }, /rateLimits\.default must be an object/],
      [{ default: null }, /rateLimits\.default must be an object/],
      [{ anonymous: { limit: 0, ttl: 60 } }, /rateLimits\.anonymous\.limit/],
      [{ authFailures: { limit: 5, ttl: -5 } }, /rateLimits\.authFailures\.ttl/],
    ])('rejects bad rules naming the key (%#)', (config, message) => {
      expect(rl(config)).toThrow(message);
    });

    it.each([['agent.fly'], ['thing.list'], ['agent.*'], ['*']])(
      'rejects %s under rateLimits.operations as an unknown operation',
      (op) => {
        expect(rl({ operations: { [op]: { limit: 1, ttl: 1 } } })).toThrow(
          `rateLimits.operations.${op}: unknown operation`,
        );
      },
    );

    it('accepts a rule for an app operation and validates it', () => {
      const ops = { operations: ['thing.list'] };
      expect(() =>
        compilePolicy(withExtra({ ...ops, rateLimits: { operations: { 'thing.list': { limit: 5, ttl: 1 } } } })),
      ).not.toThrow();
      expect(() =>
        compilePolicy(withExtra({ ...ops, rateLimits: { operations: { 'thing.list': { limit: 0, ttl: 1 } } } })),
      ).toThrow(/rateLimits\.operations\.thing\.list\.limit/);
    });

    it.each(['leaky-bucket', 'Sliding-Window', ''])('rejects the strategy %p', (strategy) => {
      expect(rl({ strategy })).toThrow(/rateLimits\.strategy/);
    });

    it.each(['sliding-log', 'exact', 'fixed-window', 'sliding-window', 'token-bucket'])(
      'accepts the strategy %s',
      (strategy) => {
        expect(rl({ strategy })).not.toThrow();
      },
    );

    it.each([0, -2, '5', null, undefined])('rejects the tier multiplier %p', (multiplier) => {
      expect(rl({ tiers: { pro: { multiplier } } })).toThrow(/rateLimits\.tiers\.pro\.multiplier/);
    });

    it('rejects a tier without definition', () => {
      expect(rl({ tiers: { pro: null } })).toThrow(/rateLimits\.tiers\.pro must be an object with multiplier/);
    });

    it('accepts fractional tier multipliers', () => {
      expect(rl({ tiers: { free: { multiplier: 0.5 }, pro: { multiplier: 5 } } })).not.toThrow();
    });

    it('rejects a bad failMode', () => {
      expect(rl({ failMode: 'sometimes' })).toThrow(/rateLimits\.failMode/);
      expect(rl({ failMode: 'open' })).not.toThrow();
    });

    it('reports an empty (null) rateLimits section by its key, never as a TypeError', () => {
      // A YAML file with `rateLimits:` and every child commented out parses to null. Either treating it as absent or
      // rejecting it by name is fine; crashing with "Cannot read properties of null" is not.
      expectAcceptedOrNamed(() => compilePolicy(withExtra({ rateLimits: null })), /rateLimits/);
    });
  });

  it('reports inherits given as a single string (YAML `inherits: viewer`) by its key, never as a TypeError', () => {
    const doc = {
      roles: { viewer: { operations: ['agent.read'] }, editor: { operations: ['agent.update'], inherits: 'viewer' } },
    };
    expect(() => compilePolicy(doc as unknown as PolicyDocument)).toThrow(/roles\.editor\.inherits/);
  });

  describe('approvals', () => {
    it('accepts known operations and patterns', () => {
      expect(() => compilePolicy(withExtra({ approvals: { operations: ['agent.delete', 'budget.*'] } }))).not.toThrow();
    });

    it.each([
      [['agent.fly'], /approvals\.operations\[0\]/],
      [['agent.delete', 'agents.*'], /approvals\.operations\[1\]/],
      [['thing.list'], /approvals\.operations\[0\]/],
    ])('rejects %j naming the index', (operations, message) => {
      expect(() => compilePolicy(withExtra({ approvals: { operations } }))).toThrow(message);
    });

    it('reports approvals.operations given as a single string by its key, never as a TypeError', () => {
      expect(() => compilePolicy(withExtra({ approvals: { operations: 'agent.delete' } }))).toThrow(
        /approvals\.operations/,
      );
    });

    it('accepts an approval for an app operation', () => {
      expect(() =>
        compilePolicy(withExtra({ operations: ['thing.list'], approvals: { operations: ['thing.list'] } })),
      ).not.toThrow();
    });
  });
});

describe('compilePolicy: prototype-ish names', () => {
  it('keeps roles and scopes named __proto__ or constructor as plain entries', () => {
    const policy = compilePolicy({
      roles: JSON.parse(
        '{"__proto__": {"operations": ["agent.read"]}, "constructor": {"operations": ["agent.list"], "inherits": ["__proto__"]}}',
      ),
      scopes: JSON.parse('{"constructor": {"implies": ["agents:read"]}}'),
    });
    expect([...policy.roles.keys()].sort()).toEqual(['__proto__', 'constructor']);
    expect(policy.roles.get('constructor')!.patterns).toEqual(['agent.list', 'agent.read']);
    expect(rolesAllowing(policy.roles, ['constructor'], 'agent.read').map((r) => r.name)).toEqual(['constructor']);
    expect(rolesAllowing(policy.roles, ['toString', 'hasOwnProperty'], 'agent.read')).toEqual([]);
  });

  it('refuses to inherit a role that exists only on Object.prototype', () => {
    expect(() => compilePolicy({ roles: { r: { operations: ['agent.read'], inherits: ['constructor'] } } })).toThrow(
      /unknown role "constructor"/,
    );
  });
});
