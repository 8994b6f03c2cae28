import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { CompiledPolicy } from '../authorization/compiled-policy';
import { AGENT_TOOL_KEY, COMPILED_POLICY } from '../policy.constants';
import type { AgentToolMetadata } from './agent-tool.decorator';
import type { ToolCallContext, ToolDescription } from './agent-tool.interface';
import { defineTool, functionSource, type ToolDefinition } from './tool-definition';
import { compileToolPolicy, toolNeedsApproval, type CompiledToolPolicy } from './tool-policy';

/** A tool found at boot: its checked definition and how to run it. */
export interface RegisteredTool extends ToolDefinition {
  /** `Class.method` that declared it. */
  readonly owner: string;
  /** Runs the method in process, bound to its provider. */
  readonly run: (args: Record<string, unknown>, ctx: ToolCallContext) => unknown;
  /** The method as a self-contained function expression, for sandboxed tools. */
  readonly source: string | null;
}

/**
 * Every `@AgentTool` method of the app's providers, discovered once at boot, and the policy document's tool keys
 * checked against them.
 */
@Injectable()
export class ToolRegistry implements OnModuleInit {
  private readonly logger = new Logger('ToolRegistry');
  private readonly tools = new Map<string, RegisteredTool>();
  private compiledPolicy: CompiledToolPolicy = { roleTools: new Map(), rateLimits: {}, approvals: [] };

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    @Inject(COMPILED_POLICY) private readonly compiled: CompiledPolicy,
  ) {}

  /**
   * Discovers the tools and checks the policy's tool keys.
   * @throws Error naming the tool (bad name, clash naming both owners, bad schema) or the policy key.
   */
  onModuleInit(): void {
    const seen = new Set<unknown>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object' || seen.has(instance)) continue;
      seen.add(instance);
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (!prototype) continue;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const fn = (prototype as Record<string, unknown>)[method];
        if (typeof fn !== 'function') continue;
        const metadata = Reflect.getMetadata(AGENT_TOOL_KEY, fn) as AgentToolMetadata | undefined;
        if (!metadata) continue;
        if (!wrapper.isDependencyTreeStatic()) {
          throw new Error(`@AgentTool on ${wrapper.name as string}.${method}: tools must live on singleton providers`);
        }
        this.add(metadata, `${instance.constructor.name}.${method}`, fn.bind(instance) as RegisteredTool['run']);
      }
    }
    this.compiledPolicy = compileToolPolicy(this.compiled.document, [...this.tools.keys()]);
    if (this.tools.size) this.logger.log(`Registered tools: ${[...this.tools.keys()].join(', ')}`);
  }

  /** The tool policy compiled at boot (roles' tools, tool limits, tool approvals). */
  get policy(): CompiledToolPolicy {
    return this.compiledPolicy;
  }

  /** The tool of this name, or undefined. */
  get(name: string): RegisteredTool | undefined {
    return typeof name === 'string' ? this.tools.get(name) : undefined;
  }

  /** Every registered tool, by name. */
  list(): RegisteredTool[] {
    return [...this.tools.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** What a client is shown about a tool. */
  describe(tool: RegisteredTool): ToolDescription {
    return {
      name: tool.name,
      description: tool.description,
      input: tool.schema.schema,
      approval: toolNeedsApproval(this.compiledPolicy, tool.name, tool.approval),
      sandboxed: tool.sandbox !== null,
    };
  }

  private add(metadata: AgentToolMetadata, owner: string, run: RegisteredTool['run']): void {
    const definition = defineTool(metadata.options, owner);
    const existing = this.tools.get(definition.name);
    if (existing) throw new Error(`@AgentTool ${definition.name}: declared twice, by ${existing.owner} and ${owner}`);
    let source: string | null = null;
    if (definition.sandbox) {
      try {
        source = functionSource(metadata.source);
      } catch (error) {
        throw new Error(`@AgentTool ${definition.name} (${owner}): ${(error as Error).message}`, { cause: error });
      }
    }
    this.tools.set(definition.name, { ...definition, owner, run, source });
  }
}
