import { Injectable } from '@nestjs/common';
import { ToolExecutor, type Principal } from 'nest-agent-policy';

/** How a run calls a tool: under the run principal's policy, in the run's session. */
export interface RunToolExecutor {
  invoke(
    principal: Principal,
    name: string,
    args: unknown,
    context: { sessionId: string; runId: string },
  ): Promise<unknown>;
}

/** Injection token of the {@link RunToolExecutor}. */
export const RUN_TOOL_EXECUTOR = Symbol('RUN_TOOL_EXECUTOR');

/** Runs a run's tool calls through the library's `ToolExecutor`: the same policy, limits, approval and budget. */
@Injectable()
export class PolicyRunToolExecutor implements RunToolExecutor {
  constructor(private readonly tools: ToolExecutor) {}

  async invoke(
    principal: Principal,
    name: string,
    args: unknown,
    context: { sessionId: string; runId: string },
  ): Promise<unknown> {
    return (await this.tools.invoke(principal, name, args, context)).result;
  }
}
