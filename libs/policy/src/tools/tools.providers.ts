import type { Provider } from '@nestjs/common';
import { ProcessToolSandbox } from './sandbox/process-tool-sandbox';
import { ToolSandbox } from './sandbox/tool-sandbox.interface';
import { ToolExecutor } from './tool.executor';
import { ToolRegistry } from './tool.registry';

/**
 * Providers of the tools capability: the registry (discovery at boot), the executor, and the sandbox that runs
 * tools declared with `sandbox` (a `ProcessToolSandbox`, whose processes start on the first sandboxed call; replace
 * it by providing `ToolSandbox`).
 */
export const TOOL_PROVIDERS: Provider[] = [
  ToolRegistry,
  ToolExecutor,
  { provide: ToolSandbox, useFactory: () => new ProcessToolSandbox() },
];
/** What the tools capability exports to the app. */
export const TOOL_EXPORTS: Provider[] = [ToolRegistry, ToolExecutor];
