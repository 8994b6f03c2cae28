import { spawn, type ChildProcess } from 'node:child_process';
import type { SandboxCommand } from './sandbox-command';
import { SandboxFailedError, SandboxTimeoutError } from './sandbox.errors';

/** What the runner reports about itself once started; every process is checked before it may take a task. */
export interface SandboxSelfCheck {
  permission: boolean;
  interfaces: string[];
  /** 1 when the runner's parent is the init of its own PID namespace (the setup shell). */
  ppid: number;
  /** Whether the process could use a capability (it must not). */
  capabilities: boolean;
}

export interface SandboxProcessOptions {
  command: SandboxCommand;
  env: NodeJS.ProcessEnv;
  startTimeoutMs: number;
  maxOutputBytes: number;
}

const STDERR_TAIL = 4096;
const MEMORY_SIGNS =
  /heap out of memory|allocation failed|out of memory|reached heap limit|Cannot allocate memory|bad_alloc/i;
/**
 * Exit statuses of a Node killed by SIGABRT, SIGBUS or SIGSEGV (the setup shell passes on 128 + signal). Plain
 * JavaScript cannot make Node die so: it happens when an allocation fails at the memory limit (RLIMIT_DATA) before
 * V8's own heap limit is reached, and then Node has no chance to say so.
 */
const MEMORY_EXIT_CODES = new Set([134, 135, 139]);

/** Why a self-check proves the process is NOT confined, or undefined when it is. */
export function selfCheckProblem(check: SandboxSelfCheck | undefined): string | undefined {
  if (!check) return 'no self-check';
  if (!check.permission) return "Node's permission model is not active";
  if (check.interfaces.length > 0) return `network interfaces are visible (${check.interfaces.join(', ')})`;
  if (check.ppid !== 1) return 'the process is not in its own PID namespace';
  if (check.capabilities !== false) return 'the process holds capabilities';
  return undefined;
}

/**
 * One confined Node process serving exactly one task. `ready` settles once the process started and passed its
 * self-check (rejecting with `unavailable` when it is not confined, `start` when it is too slow); `run` sends the
 * task and kills the process at the deadline. The process exits after its task, whatever happened.
 */
export class SandboxProcess {
  readonly ready: Promise<void>;
  private readonly child: ChildProcess;
  private stdout = '';
  private stdoutBytes = 0;
  private stderrTail = '';
  private exited = false;
  private used = false;
  private outputOverflow = false;
  private killedByOwner = false;
  private exitCode: number | null = null;
  private onLine?: (line: string) => void;
  private onExit?: () => void;
  private readonly exitListeners: Array<() => void> = [];

  constructor(private readonly options: SandboxProcessOptions) {
    this.child = spawn(options.command.file, options.command.args, {
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      windowsHide: true,
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => this.receive(chunk));
    this.child.stderr!.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL);
    });
    this.child.stdin!.on('error', () => undefined);
    // 'close', not 'exit': it comes once stdout and stderr are read to their end, so an answer (or the setup's
    // error) written just before the process ended is never taken for a death without one.
    this.child.on('close', (code) => {
      this.exitCode = code;
      this.exit();
    });
    this.child.on('error', () => this.exit());
    this.unref();
    this.ready = this.waitReady();
  }

  /** True until the process exits or is killed. */
  get alive(): boolean {
    return !this.exited;
  }

  /** Called once when the process has gone (exit, kill, spawn failure). */
  whenGone(listener: () => void): void {
    if (this.exited) listener();
    else this.exitListeners.push(listener);
  }

  /** Runs one task (`payload` is one JSON line for the runner); the process is spent afterwards. */
  run(payload: string, timeoutMs: number): Promise<unknown> {
    if (this.used || this.exited)
      return Promise.reject(new SandboxFailedError('crash', 'sandbox process is no longer usable'));
    this.used = true;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.terminate();
        settle(() => reject(new SandboxTimeoutError(timeoutMs)));
      }, timeoutMs);
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.onLine = undefined;
        this.onExit = undefined;
        this.terminate();
        fn();
      };
      this.onLine = (line) => settle(() => this.answer(line, resolve, reject));
      this.onExit = () => settle(() => reject(this.deathError()));
      this.child.stdin!.write(`${payload}\n`);
    });
  }

  /** Kills the process from outside (the sandbox is closing): a task it was running rejects with reason `closed`. */
  kill(): void {
    this.killedByOwner = true;
    this.terminate();
  }

  /** Kills the process and everything in its namespaces (SIGKILL to its process group; `--kill-child` does the rest). */
  private terminate(): void {
    if (this.exited || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      this.child.kill('SIGKILL');
    }
  }

  private waitReady(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.terminate();
        done(() =>
          reject(
            new SandboxFailedError('start', `sandbox process did not start within ${this.options.startTimeoutMs} ms`),
          ),
        );
      }, this.options.startTimeoutMs);
      let settled = false;
      const done = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.onLine = undefined;
        this.onExit = undefined;
        fn();
      };
      this.onLine = (line) =>
        done(() => {
          let check: SandboxSelfCheck | undefined;
          try {
            check = (JSON.parse(line) as { check?: SandboxSelfCheck }).check;
          } catch {
            check = undefined;
          }
          const problem = selfCheckProblem(check);
          if (!problem) return resolve();
          this.terminate();
          reject(
            new SandboxFailedError('unavailable', `sandbox process is not confined: ${problem}; refusing to run tasks`),
          );
        });
      this.onExit = () =>
        done(() => {
          const detail = this.stderrTail.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
          reject(
            new SandboxFailedError(
              'unavailable',
              `sandbox process could not start confined${detail ? `: ${detail}` : ''}`,
            ),
          );
        });
    });
  }

  private answer(line: string, resolve: (value: unknown) => void, reject: (err: Error) => void): void {
    type Answer = {
      ok: boolean;
      value?: unknown;
      output?: boolean;
      error?: { name: string; message: string; memory?: boolean };
    };
    let answer: Answer;
    try {
      answer = JSON.parse(line) as Answer;
    } catch {
      return reject(new SandboxFailedError('output', 'sandbox process answered something unreadable'));
    }
    if (answer.ok === true) return resolve(answer.value);
    const error = answer.error ?? { name: 'Error', message: 'task failed' };
    if (error.memory)
      return reject(new SandboxFailedError('memory', `sandboxed task ran out of memory: ${error.message}`));
    if (answer.output)
      return reject(new SandboxFailedError('output', `sandboxed task result is not JSON: ${error.message}`));
    reject(new SandboxFailedError('error', `${error.name}: ${error.message}`));
  }

  private deathError(): Error {
    if (this.outputOverflow) {
      return new SandboxFailedError('output', `sandboxed task answered more than ${this.options.maxOutputBytes} bytes`);
    }
    if (this.killedByOwner) return new SandboxFailedError('closed', 'the sandbox was closed while the task ran');
    if (MEMORY_SIGNS.test(this.stderrTail) || (this.exitCode !== null && MEMORY_EXIT_CODES.has(this.exitCode)))
      return new SandboxFailedError('memory', 'sandboxed task ran out of memory and was killed');
    return new SandboxFailedError('crash', 'sandbox process died before answering');
  }

  private receive(chunk: string): void {
    this.stdoutBytes += Buffer.byteLength(chunk);
    if (this.stdoutBytes > this.options.maxOutputBytes) {
      this.outputOverflow = true;
      this.onLine = undefined;
      this.terminate();
      this.onExit?.();
      return;
    }
    this.stdout += chunk;
    let end: number;
    while ((end = this.stdout.indexOf('\n')) >= 0) {
      const line = this.stdout.slice(0, end);
      this.stdout = this.stdout.slice(end + 1);
      this.onLine?.(line);
    }
  }

  private exit(): void {
    if (this.exited) return;
    this.exited = true;
    this.onExit?.();
    for (const listener of this.exitListeners.splice(0)) listener();
  }

  /** A sandbox process must not keep the server's event loop alive (a running task's deadline timer does). */
  private unref(): void {
    this.child.unref();
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr])
      (stream as unknown as { unref?: () => void }).unref?.();
  }
}
