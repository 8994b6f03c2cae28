import type { AgentToolOptions, ToolInputSchema } from './agent-tool.interface';
import { compileToolSchema, type CompiledToolSchema } from './tool-schema.compiler';

/** Tool names: lower case, digits and underscores, starting with a letter, at most 64 characters. */
export const TOOL_NAME_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
/** `timeoutMs` when a tool sets none. */
export const DEFAULT_TOOL_TIMEOUT_MS = 10_000;
/** Sandbox heap cap when a tool sets none. */
export const DEFAULT_SANDBOX_MEMORY_MB = 128;

/** A tool's options checked and normalised at boot. */
export interface ToolDefinition {
  readonly name: string;
  readonly description: string;
  readonly input: ToolInputSchema;
  readonly schema: CompiledToolSchema;
  readonly timeoutMs: number;
  readonly maxConcurrent: number | null;
  readonly cost: { requests: number; usd: number } | null;
  readonly approval: boolean;
  readonly sensitive: readonly string[];
  readonly scopes: readonly string[];
  readonly sandbox: { env: string[]; memoryMb: number; readPaths: string[] } | null;
}

const stringList = (value: unknown, key: string, label: string): string[] => {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw new Error(`${label}: ${key} must be a list of non-empty strings`);
  }
  return [...(value as string[])];
};

const positiveInteger = (value: unknown, key: string, label: string): number | undefined => {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 1)
    throw new Error(`${label}: ${key} must be a positive integer`);
  return value as number;
};

/**
 * Checks `@AgentTool` options and compiles the input schema.
 * @throws Error naming the tool (`@AgentTool search_kb (KbTools.search): input: ...`).
 */
export function defineTool(options: AgentToolOptions, owner: string): ToolDefinition {
  if (typeof options !== 'object' || options === null) throw new Error(`@AgentTool on ${owner}: options are required`);
  const { name } = options;
  if (typeof name !== 'string' || !TOOL_NAME_PATTERN.test(name)) {
    throw new Error(`@AgentTool on ${owner}: name "${String(name)}" must match ${TOOL_NAME_PATTERN.source}`);
  }
  const label = `@AgentTool ${name} (${owner})`;
  if (typeof options.description !== 'string' || options.description.trim() === '')
    throw new Error(`${label}: description is required`);
  let schema: CompiledToolSchema;
  try {
    schema = compileToolSchema(options.input);
  } catch (error) {
    throw new Error(`${label}: invalid input schema: ${(error as Error).message}`, { cause: error });
  }
  const timeoutMs = positiveInteger(options.timeoutMs, 'timeoutMs', label) ?? DEFAULT_TOOL_TIMEOUT_MS;
  const maxConcurrent = positiveInteger(options.maxConcurrent, 'maxConcurrent', label) ?? null;
  let cost: ToolDefinition['cost'] = null;
  if (options.cost !== undefined) {
    const { requests, usd } = options.cost ?? {};
    if (usd !== undefined && !(typeof usd === 'number' && usd >= 0 && Number.isFinite(usd)))
      throw new Error(`${label}: cost.usd must be zero or more`);
    if (requests !== undefined && !(Number.isSafeInteger(requests) && requests >= 0))
      throw new Error(`${label}: cost.requests must be zero or more`);
    cost = { requests: requests ?? 1, usd: usd ?? 0 };
  }
  if (options.approval !== undefined && typeof options.approval !== 'boolean')
    throw new Error(`${label}: approval must be true or false`);
  let sandbox: ToolDefinition['sandbox'] = null;
  if (options.sandbox !== undefined) {
    if (typeof options.sandbox !== 'object' || options.sandbox === null)
      throw new Error(`${label}: sandbox must be an object`);
    sandbox = {
      env: stringList(options.sandbox.env, 'sandbox.env', label),
      memoryMb: positiveInteger(options.sandbox.memoryMb, 'sandbox.memoryMb', label) ?? DEFAULT_SANDBOX_MEMORY_MB,
      readPaths: stringList(options.sandbox.readPaths, 'sandbox.readPaths', label),
    };
  }
  return {
    name,
    description: options.description,
    input: options.input,
    schema,
    timeoutMs,
    maxConcurrent,
    cost,
    approval: options.approval === true,
    sensitive: stringList(options.sensitive, 'sensitive', label),
    scopes: stringList(options.scopes, 'scopes', label),
    sandbox,
  };
}

/**
 * The source of a tool method as a function expression for the sandbox. `Function.prototype.toString` of a method
 * gives method syntax (`async run(args) { … }`), which is not an expression; it is wrapped in an object literal
 * and taken back out. Function expressions and arrows are used as they are.
 * @throws Error when the source is native code (a bound or built-in function cannot be sent).
 */
export function functionSource(source: string): string {
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source))
    throw new Error('a native or bound function cannot run in a sandbox');
  try {
    // Parses without running: is it already an expression?
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- compiled to check the syntax, never called
    new Function(`return (${source});`);
    return `(${source})`;
  } catch {
    return `(Object.values({ ${source} })[0])`;
  }
}
