import type { Principal } from '../authentication/principal.interface';

/** A JSON Schema (draft 2020-12) object, as `@AgentTool({ input })` takes it. */
export type ToolInputSchema = Record<string, unknown>;

/** What a sandboxed tool may reach: see the README's sandbox section for what each limit enforces. */
export interface ToolSandboxOptions {
  /** Environment variables passed through by name; nothing else of the server's environment is visible. */
  env?: string[];
  /** Heap cap in MB (default 128). */
  memoryMb?: number;
  /** Paths the tool may read below; nothing else is readable. */
  readPaths?: string[];
}

/** Charge of one call against the caller's budgets, reserved before it runs and settled after. */
export interface ToolCost {
  /** Requests the call counts for (default 1 when `usd` is set). */
  requests?: number;
  /** Flat cost in USD. */
  usd?: number;
}

/** Options of {@link AgentTool}. */
export interface AgentToolOptions {
  /** `^[a-z][a-z0-9_]{0,63}$`, unique in the app. */
  name: string;
  description: string;
  /** JSON Schema 2020-12 of the arguments (an object); `additionalProperties: false` unless it says otherwise. */
  input: ToolInputSchema;
  /** Milliseconds before the call answers 504 `tool_timeout` (default 10,000). */
  timeoutMs?: number;
  /** Calls of this tool one principal may have running at once (default: no cap); more answer 429. */
  maxConcurrent?: number;
  cost?: ToolCost;
  /** Every call needs a human approval (403 `approval_required`, then once with the approval id). */
  approval?: boolean;
  /** Argument fields (dotted paths) redacted in audit events. */
  sensitive?: string[];
  /** Scopes the caller needs on top of `tools:write`. */
  scopes?: string[];
  /** Run outside the server's process. The method must then be self-contained: it sees only its arguments. */
  sandbox?: ToolSandboxOptions;
}

/** What the tool method receives as its second argument (in-process tools only). */
export interface ToolCallContext {
  readonly principal: Principal;
  readonly sessionId?: string;
  readonly runId?: string;
  readonly requestId?: string;
  /** Aborted when the call times out; long-running tools should stop then. */
  readonly signal: AbortSignal;
}

/** Where a call comes from, given to {@link ToolExecutor.invoke}. */
export interface ToolInvokeContext {
  sessionId?: string;
  runId?: string;
  /** An approved approval for this exact call (`X-Approval-Id`). */
  approvalId?: string;
  requestId?: string;
  /** The client IP (anonymous callers are limited per IP). */
  ip?: string;
}

/** The answer of {@link ToolExecutor.invoke}. */
export interface ToolInvocationResult<T = unknown> {
  tool: string;
  result: T;
  durationMs: number;
}

/** A registered tool as `GET /tools` shows it. */
export interface ToolDescription {
  name: string;
  description: string;
  input: ToolInputSchema;
  approval: boolean;
  sandboxed: boolean;
}
