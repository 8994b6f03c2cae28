/**
 * Why a sandboxed task failed:
 * - `error`: the task's function threw or rejected (its message is kept, bounded; no stack);
 * - `memory`: the task allocated past its memory cap and was stopped;
 * - `crash`: the sandbox process died for another reason;
 * - `output`: the result was not JSON-serialisable or was larger than the allowed output;
 * - `invalid`: the task itself is malformed (source, arguments, timeout or limits);
 * - `start`: a sandbox process could not be started in time;
 * - `unavailable`: this host cannot confine a process (missing `unshare`, `prlimit`, namespaces or Node's
 *   permission model); nothing runs unconfined;
 * - `closed`: the sandbox was closed.
 */
export type SandboxFailureReason =
  'error' | 'memory' | 'crash' | 'output' | 'invalid' | 'start' | 'unavailable' | 'closed';

/** The task ran past its `timeoutMs`; its process was killed. */
export class SandboxTimeoutError extends Error {
  override readonly name = 'SandboxTimeoutError';

  constructor(readonly timeoutMs: number) {
    super(`sandboxed task timed out after ${timeoutMs} ms`);
  }
}

/** The task did not produce a result; `reason` says why. */
export class SandboxFailedError extends Error {
  override readonly name = 'SandboxFailedError';

  constructor(
    readonly reason: SandboxFailureReason,
    message: string,
  ) {
    super(message);
  }
}
