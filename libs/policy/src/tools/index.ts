export { AgentTool } from './agent-tool.decorator';
export type {
  AgentToolOptions,
  ToolCallContext,
  ToolCost,
  ToolDescription,
  ToolInputSchema,
  ToolInvocationResult,
  ToolInvokeContext,
  ToolSandboxOptions,
} from './agent-tool.interface';
export { ToolExecutor, TOOL_WRITE_SCOPE } from './tool.executor';
export { ToolRegistry, type RegisteredTool } from './tool.registry';
export { TOOL_NAME_PATTERN, DEFAULT_TOOL_TIMEOUT_MS, DEFAULT_SANDBOX_MEMORY_MB } from './tool-definition';
export { TOOL_INVOKE_OPERATION } from './tool-policy';
export { ToolSandbox, type SandboxTask, type SandboxLimits } from './sandbox/tool-sandbox.interface';
export { SandboxTimeoutError, SandboxFailedError, type SandboxFailureReason } from './sandbox/sandbox.errors';
export { ProcessToolSandbox, type ProcessToolSandboxOptions } from './sandbox/process-tool-sandbox';
export { missingHostFeatures as sandboxHostProblems } from './sandbox/sandbox-host';
