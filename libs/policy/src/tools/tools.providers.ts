import type { Provider } from '@nestjs/common';
import { ToolExecutor } from './tool.executor';
import { ToolRegistry } from './tool.registry';

/** Providers of the tools capability: the registry (discovery at boot) and the executor. */
export const TOOL_PROVIDERS: Provider[] = [ToolRegistry, ToolExecutor];
/** What the tools capability exports to the app. */
export const TOOL_EXPORTS: Provider[] = [ToolRegistry, ToolExecutor];
