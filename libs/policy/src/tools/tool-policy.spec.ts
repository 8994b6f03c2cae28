import { compilePolicy } from '../authorization/compiled-policy';
import type { Principal } from '../authentication/principal.interface';
import type { PolicyDocument } from '../policy-module-options.interface';
import { compileToolPolicy, decideToolAccess, toolBuckets, toolNeedsApproval, toolPattern } from './tool-policy';

const TOOLS = ['search_kb', 'ticket_create', 'ticket_close', 'run_js', 'send_notification'];

const principal = (roles: string[], extra: Partial<Principal> = {}): Principal => ({
  id: 'u1',
  type: 'user',
  tenantId: 't1',
  roles,
  scopes: [],
  tier: null,
  tokenId: null,
  ...extra,
});

const document: PolicyDocument = {
  roles: {
    base: { operations: ['tool.invoke'], tools: ['search_kb'] },
    support: { operations: ['tool.*'], inherits: ['base'], tools: ['ticket_*'] },
    admin: { operations: ['*'], tools: ['*'] },
    listsToolsOnly: { operations: ['agent.read'], tools: ['*'] },
    noTools: { operations: ['tool.invoke'] },
  },
  rateLimits: { tools: { run_js: { limit: 5, ttl: 60 } }, tiers: { pro: { multiplier: 3 } } },
  approvals: { tools: ['send_*'] },
};

describe('tool policy', () => {
  const compiled = compilePolicy(document);
  const tools = compileToolPolicy(document, TOOLS);

  it('matches tool patterns on whole names only', () => {
    expect(toolPattern('ticket_*').test('ticket_create')).toBe(true);
    expect(toolPattern('ticket_*').test('xticket_create')).toBe(false);
    expect(toolPattern('search_kb').test('search_kb2')).toBe(false);
    expect(toolPattern('*').test('anything_1')).toBe(true);
  });

  it('allows a tool when a role allows tool.invoke and lists the tool, inherited patterns included', () => {
    expect(decideToolAccess(compiled, tools, principal(['support']), 'search_kb', true).allowed).toBe(true);
    expect(decideToolAccess(compiled, tools, principal(['support']), 'ticket_close', true).allowed).toBe(true);
    expect(decideToolAccess(compiled, tools, principal(['support']), 'run_js', true).allowed).toBe(false);
    expect(decideToolAccess(compiled, tools, principal(['admin']), 'run_js', true).allowed).toBe(true);
  });

  it('denies a role without tool.invoke even when it lists the tool, and a role listing no tool', () => {
    expect(decideToolAccess(compiled, tools, principal(['listsToolsOnly']), 'search_kb', true)).toMatchObject({
      allowed: false,
    });
    expect(decideToolAccess(compiled, tools, principal(['noTools']), 'search_kb', true)).toMatchObject({
      allowed: false,
    });
    expect(decideToolAccess(compiled, tools, principal([]), 'search_kb', true)).toMatchObject({ allowed: false });
    // Listing the tool on one role and tool.invoke on another is not enough.
    expect(decideToolAccess(compiled, tools, principal(['listsToolsOnly', 'noTools']), 'search_kb', true).allowed).toBe(
      false,
    );
  });

  it('denies an unknown tool even for a role allowing every tool', () => {
    expect(decideToolAccess(compiled, tools, principal(['admin']), 'nope', false)).toEqual({
      allowed: false,
      reasons: ['unknown tool'],
    });
  });

  it('needs approval when the tool declares it or approvals.tools lists it', () => {
    expect(toolNeedsApproval(tools, 'send_notification', false)).toBe(true);
    expect(toolNeedsApproval(tools, 'search_kb', false)).toBe(false);
    expect(toolNeedsApproval(tools, 'search_kb', true)).toBe(true);
  });

  it("charges the principal's buckets plus the tool's own, scaled by tier", () => {
    const buckets = toolBuckets(
      principal(['admin'], { tier: 'pro' }),
      'run_js',
      document.rateLimits!,
      tools,
      '203.0.113.1',
    );
    expect(buckets.map((b) => b.name)).toEqual(['default', 'tool:run_js']);
    expect(buckets[1]).toMatchObject({ key: 'tool:run_js:principal:t1:u1', limit: 15, ttlMs: 60_000 });
    expect(
      toolBuckets(principal(['admin']), 'search_kb', document.rateLimits!, tools, 'ip').map((b) => b.name),
    ).toEqual(['default']);
  });

  it('fails on policy keys naming tools that are not registered, naming the key', () => {
    expect(() =>
      compileToolPolicy({ roles: { r: { operations: ['tool.invoke'], tools: ['refund'] } } }, TOOLS),
    ).toThrow('roles.r.tools[0]: "refund" matches no registered tool');
    expect(() =>
      compileToolPolicy({ roles: {}, rateLimits: { tools: { refund: { limit: 1, ttl: 1 } } } }, TOOLS),
    ).toThrow('rateLimits.tools.refund: unknown tool "refund"');
    expect(() => compileToolPolicy({ roles: {}, approvals: { tools: ['refund_*'] } }, TOOLS)).toThrow(
      'approvals.tools[0]',
    );
    expect(() =>
      compileToolPolicy({ roles: {}, rateLimits: { tools: { run_js: { limit: 0, ttl: 1 } } } }, TOOLS),
    ).toThrow('rateLimits.tools.run_js.limit');
    expect(() =>
      compileToolPolicy(
        { roles: { r: { operations: ['tool.invoke'], tools: 'search_kb' as unknown as string[] } } },
        TOOLS,
      ),
    ).toThrow('roles.r.tools must be a list');
  });
});
