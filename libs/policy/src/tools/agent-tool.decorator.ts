import { AGENT_TOOL_KEY } from '../policy.constants';
import type { AgentToolOptions } from './agent-tool.interface';

/** What `@AgentTool` stores on the method: its options and the method's own source (for the sandbox). */
export interface AgentToolMetadata {
  readonly options: AgentToolOptions;
  readonly source: string;
}

/**
 * Registers a provider method as a tool an agent may call. Tools are discovered at boot; a bad name, a clash or a
 * bad input schema fails the boot naming the tool. Calls go through `ToolExecutor.invoke` only, which applies the
 * policy (roles' `tools`, scopes, rate limits, approval, arguments, budget, timeout and concurrency cap).
 *
 * The method receives the validated, sanitized arguments and a {@link ToolCallContext}. With `sandbox`, the method
 * is sent as source text to run outside the server: it must be self-contained (no imports, no `this`, no closure
 * over module variables) and receives only its arguments.
 *
 * @example
 * @Injectable()
 * class KbTools {
 *   @AgentTool({ name: 'search_kb', description: 'Search the FAQ', input: { type: 'object', properties: { query: { type: 'string', maxLength: 200 } }, required: ['query'] } })
 *   search(args: { query: string }) { return this.index.search(args.query); }
 * }
 */
export function AgentTool(options: AgentToolOptions): MethodDecorator {
  return (_target, _key, descriptor: PropertyDescriptor) => {
    const method: unknown = descriptor.value;
    if (typeof method !== 'function') throw new Error(`@AgentTool(${String(options?.name)}) must decorate a method`);
    const metadata: AgentToolMetadata = { options, source: Function.prototype.toString.call(method) };
    Reflect.defineMetadata(AGENT_TOOL_KEY, metadata, method);
    return descriptor;
  };
}
