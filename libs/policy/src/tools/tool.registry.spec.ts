import { Injectable, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { compilePolicy } from '../authorization/compiled-policy';
import { COMPILED_POLICY } from '../policy.constants';
import type { PolicyDocument } from '../policy-module-options.interface';
import { AgentTool } from './agent-tool.decorator';
import { ToolRegistry } from './tool.registry';

@Injectable()
class SearchTools {
  @AgentTool({
    name: 'search_kb',
    description: 'Search',
    input: { type: 'object', properties: { q: { type: 'string' } } },
  })
  search(args: { q: string }) {
    return args.q;
  }

  @AgentTool({ name: 'run_js', description: 'Run', input: { type: 'object' }, sandbox: { env: ['TZ'] } })
  run(args: { code: string }) {
    return args.code;
  }
}

@Injectable()
class OtherSearch {
  @AgentTool({ name: 'search_kb', description: 'Search again', input: { type: 'object' } })
  find() {
    return null;
  }
}

@Injectable()
class BadSchema {
  @AgentTool({ name: 'broken', description: 'Broken', input: { type: 'object', properties: { a: { type: 'text' } } } })
  broken() {
    return null;
  }
}

const DOC: PolicyDocument = { roles: { admin: { operations: ['*'], tools: ['*'] } } };

async function boot(providers: unknown[], document: PolicyDocument = DOC): Promise<ToolRegistry> {
  @Module({ providers: providers as never[] })
  class FeatureModule {}
  const ref = await Test.createTestingModule({
    imports: [DiscoveryModule, FeatureModule],
    providers: [ToolRegistry, { provide: COMPILED_POLICY, useValue: compilePolicy(document) }],
  }).compile();
  await ref.init();
  return ref.get(ToolRegistry);
}

describe('ToolRegistry', () => {
  it('discovers @AgentTool methods of any module at boot, bound to their provider', async () => {
    const registry = await boot([SearchTools]);
    expect(registry.list().map((t) => t.name)).toEqual(['run_js', 'search_kb']);
    const search = registry.get('search_kb')!;
    expect(search.owner).toBe('SearchTools.search');
    expect(search.run({ q: 'x' }, {} as never)).toBe('x');
    expect(registry.describe(search).input).toMatchObject({ additionalProperties: false });
    expect(registry.get('run_js')!.source).toContain('args.code');
    expect(registry.get('nope')).toBeUndefined();
  });

  it('fails the boot on a name clash, naming both', async () => {
    await expect(boot([SearchTools, OtherSearch])).rejects.toThrow(
      '@AgentTool search_kb: declared twice, by SearchTools.search and OtherSearch.find',
    );
  });

  it('fails the boot on a bad input schema, naming the tool', async () => {
    await expect(boot([BadSchema])).rejects.toThrow('@AgentTool broken (BadSchema.broken): invalid input schema');
  });

  it('fails the boot when the policy names a tool nobody registered', async () => {
    await expect(
      boot([SearchTools], { roles: { support: { operations: ['tool.invoke'], tools: ['search_kb', 'refund'] } } }),
    ).rejects.toThrow('roles.support.tools[1]: "refund" matches no registered tool');
    await expect(
      boot([SearchTools], { roles: DOC.roles, rateLimits: { tools: { refund: { limit: 1, ttl: 60 } } } }),
    ).rejects.toThrow('rateLimits.tools.refund');
  });
});
