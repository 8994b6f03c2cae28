// libs/policy/src/tools/sandbox/tool-sandbox.interface.ts
export interface SandboxLimits {
  env?: string[];
  memoryMb?: number;
  readPaths?: string[];
}
export interface SandboxTask {
  /** Source text of a self-contained function `(args) => result | Promise<result>`; it sees only its argument. */
  source: string;
  args: unknown;
  timeoutMs: number;
  limits: SandboxLimits;
}
/** Runs a task outside the server's process; rejects with SandboxTimeoutError or SandboxFailedError (exported from ./sandbox.errors.ts). */
export interface ToolSandbox {
  run(task: SandboxTask): Promise<unknown>;
  close(): Promise<void>;
}
export const ToolSandbox = Symbol('ToolSandbox');
