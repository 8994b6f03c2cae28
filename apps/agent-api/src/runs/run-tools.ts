import { Injectable } from '@nestjs/common';
import { ToolExecutor, type Principal } from 'nest-agent-policy';

/** A tool call a run step asks for. */
export interface RunToolCall {
  name: string;
  args: unknown;
}

/** How a run calls a tool: under the run principal's policy, in the run's session. */
export interface RunToolExecutor {
  invoke(principal: Principal, name: string, args: unknown, context: { sessionId: string; runId: string }): Promise<unknown>;
}

/** Injection token of the {@link RunToolExecutor}. */
export const RUN_TOOL_EXECUTOR = Symbol('RUN_TOOL_EXECUTOR');

/** Runs a run's tool calls through the library's `ToolExecutor`: the same policy, limits, approval and budget. */
@Injectable()
export class PolicyRunToolExecutor implements RunToolExecutor {
  constructor(private readonly tools: ToolExecutor) {}

  async invoke(principal: Principal, name: string, args: unknown, context: { sessionId: string; runId: string }): Promise<unknown> {
    return (await this.tools.invoke(principal, name, args, context)).result;
  }
}

const TOOL_COMMAND = /^\/tool\s+([A-Za-z0-9_.-]{1,100})(?:\s+([\s\S]*))?$/;

/** `/tool <name> <json args>` in a message, or null when the message asks for no tool (or its JSON is bad). */
export function parseToolCall(message: string): RunToolCall | null {
  const match = TOOL_COMMAND.exec(message.trim());
  if (!match) return null;
  const raw = match[2]?.trim();
  if (!raw) return { name: match[1], args: {} };
  try {
    return { name: match[1], args: JSON.parse(raw) as unknown };
  } catch {
    return null;
  }
}
