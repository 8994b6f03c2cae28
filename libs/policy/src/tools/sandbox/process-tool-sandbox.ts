import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSandboxCommand, type SandboxMount } from './sandbox-command';
import {
  hostTools,
  missingHostFeatures,
  permissionFlag,
  planReadMounts,
  realNodePath,
  sandboxEnvironment,
  systemMounts,
} from './sandbox-host';
import { SandboxProcess } from './sandbox-process';
import { SandboxPool } from './sandbox.pool';
import { SandboxFailedError } from './sandbox.errors';
import type { SandboxLimits, SandboxTask, ToolSandbox } from './tool-sandbox.interface';

/** Options of {@link ProcessToolSandbox}. */
export interface ProcessToolSandboxOptions {
  /** Started processes kept waiting per distinct set of limits (default 2). */
  poolSize?: number;
  /** Processes starting at once per set of limits (default 2). */
  maxStarting?: number;
  /** Memory cap when a task's limits name none, in MB (default 128). */
  defaultMemoryMb?: number;
  /** How long a process may take to start and pass its self-check (default 10 000 ms). */
  startTimeoutMs?: number;
  /** Largest result line accepted, in bytes (default 1 MiB). */
  maxOutputBytes?: number;
  /** CPU seconds after which a sandbox process kills itself even if the server is gone (default 300). */
  cpuSecondsBackstop?: number;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MIN_MEMORY_MB = 16;
const MAX_MEMORY_MB = 16_384;
const MAX_TIMEOUT_MS = 2_147_483_647;

interface PreparedLimits {
  key: string;
  env: string[];
  memoryMb: number;
  readPaths: string[];
  readMounts: SandboxMount[];
}

interface HostSetup {
  rootDir: string;
  nodePath: string;
  permissionFlag: string;
  systemMounts: SandboxMount[];
}

/**
 * Runs each task in its own short-lived Node process, confined by the kernel and by Node's permission model:
 *
 * - new network namespace (no interface but a downed loopback: no TCP/UDP anywhere, not even 127.0.0.1);
 * - new mount namespace with a read-only private root holding only `/usr`, the lib links, Node's prefix and the
 *   task's `readPaths` (Unix sockets and every other file are absent), then chroot;
 * - new PID, IPC and UTS namespaces (the server's and other processes cannot be signalled or seen);
 * - every capability dropped for good (`setpriv`), uid 0 kept so that root-owned `readPaths` stay readable;
 * - Node's permission model: file reads only under `readPaths`, no writes, no child processes, workers or addons;
 * - `--max-old-space-size` and RLIMIT_DATA for memory, RLIMIT_FSIZE=0, no core dumps, an RLIMIT_CPU backstop;
 * - an environment holding only the allowlisted variables; a fresh `vm` context per task; SIGKILL at `timeoutMs`.
 *
 * A process serves one task and exits; a pool per set of limits keeps started processes waiting so that a call does
 * not pay a process start. Every process proves its confinement (self-check) before it may take a task, and a host
 * that cannot confine rejects every task with reason `unavailable`: nothing ever runs unconfined.
 *
 * @example
 * const sandbox = new ProcessToolSandbox();
 * await sandbox.warm({ memoryMb: 64 }); // at boot: fails when this host cannot confine
 * const sum = await sandbox.run({ source: '(args) => args.a + args.b', args: { a: 1, b: 2 }, timeoutMs: 1000, limits: { memoryMb: 64 } });
 * @throws SandboxTimeoutError (from `run`) when the task outlives `timeoutMs`
 * @throws SandboxFailedError (from `run` and `warm`) with a `reason`
 */
export class ProcessToolSandbox implements ToolSandbox {
  private readonly pools = new Map<string, SandboxPool<SandboxProcess>>();
  private host?: HostSetup;
  private closed = false;
  private readonly poolSize: number;
  private readonly maxStarting: number;
  private readonly defaultMemoryMb: number;
  private readonly startTimeoutMs: number;
  private readonly maxOutputBytes: number;
  private readonly cpuSeconds: number;

  constructor(options: ProcessToolSandboxOptions = {}) {
    this.poolSize = options.poolSize ?? 2;
    this.maxStarting = options.maxStarting ?? 2;
    this.defaultMemoryMb = options.defaultMemoryMb ?? 128;
    this.startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.maxOutputBytes = options.maxOutputBytes ?? 1024 * 1024;
    this.cpuSeconds = options.cpuSecondsBackstop ?? 300;
    if (!Number.isInteger(this.poolSize) || this.poolSize < 0)
      throw new Error('ProcessToolSandbox: poolSize must be an integer ≥ 0');
    if (!Number.isInteger(this.maxStarting) || this.maxStarting < 1)
      throw new Error('ProcessToolSandbox: maxStarting must be an integer ≥ 1');
    if (!Number.isInteger(this.cpuSeconds) || this.cpuSeconds < 1)
      throw new Error('ProcessToolSandbox: cpuSecondsBackstop must be an integer ≥ 1');
    const problem = memoryProblem(this.defaultMemoryMb);
    if (problem) throw new Error(`ProcessToolSandbox: defaultMemoryMb ${problem}`);
  }

  /** Runs `task` in a confined process; resolves with the function's JSON result. */
  async run(task: SandboxTask): Promise<unknown> {
    const { source, timeoutMs } = task ?? ({} as SandboxTask);
    if (typeof source !== 'string' || source.trim() === '')
      throw new SandboxFailedError('invalid', 'task source must be a non-empty string');
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
      throw new SandboxFailedError('invalid', 'task timeoutMs must be a positive number of milliseconds');
    }
    let args: string | undefined;
    try {
      args = JSON.stringify(task.args);
    } catch (err) {
      throw new SandboxFailedError('invalid', `task args are not JSON-serialisable: ${(err as Error).message}`);
    }
    const pool = this.pool(this.prepare(task.limits));
    const message = JSON.stringify({ source, args: args ?? 'null' });
    try {
      return await (await pool.acquire()).run(message, timeoutMs);
    } catch (error) {
      // A process that died without answering, for no reason it could name (not memory, output, timeout or close:
      // seen under heavy load), gets the task once more in a fresh process. Safe to repeat: a sandboxed task can
      // neither write nor connect nor start anything, so its first attempt left nothing behind.
      if (!(error instanceof SandboxFailedError) || error.reason !== 'crash') throw error;
      return (await pool.acquire()).run(message, timeoutMs);
    }
  }

  /**
   * Starts the pool for `limits` and resolves once a process is ready, proving this host can confine one.
   * Call it at boot for each sandboxed tool to fail the boot rather than the first call.
   */
  async warm(limits: SandboxLimits = {}): Promise<void> {
    await this.pool(this.prepare(limits)).warm();
  }

  /** Closes the sandbox when the Nest application shuts down. */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  /** Kills every sandbox process; later calls reject with reason `closed`. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
    if (this.host) rmSync(this.host.rootDir, { recursive: true, force: true });
  }

  private pool(limits: PreparedLimits): SandboxPool<SandboxProcess> {
    if (this.closed) throw new SandboxFailedError('closed', 'the sandbox is closed');
    let pool = this.pools.get(limits.key);
    if (!pool) {
      const host = this.hostSetup();
      pool = new SandboxPool(() => this.spawn(host, limits), this.poolSize, this.maxStarting);
      this.pools.set(limits.key, pool);
    }
    return pool;
  }

  private spawn(host: HostSetup, limits: PreparedLimits): SandboxProcess {
    const command = buildSandboxCommand({
      tools: hostTools(),
      nodePath: host.nodePath,
      permissionFlag: host.permissionFlag,
      rootDir: host.rootDir,
      systemMounts: host.systemMounts,
      readPaths: limits.readPaths,
      readMounts: limits.readMounts,
      memoryMb: limits.memoryMb,
      cpuSeconds: this.cpuSeconds,
    });
    return new SandboxProcess({
      command,
      env: sandboxEnvironment(limits.env, process.env),
      startTimeoutMs: this.startTimeoutMs,
      maxOutputBytes: this.maxOutputBytes,
    });
  }

  private hostSetup(): HostSetup {
    if (this.host) return this.host;
    const missing = missingHostFeatures();
    if (missing.length > 0) {
      throw new SandboxFailedError(
        'unavailable',
        `this host cannot confine sandboxed tools; missing: ${missing.join('; ')}`,
      );
    }
    const nodePath = realNodePath();
    this.host = {
      rootDir: mkdtempSync(join(tmpdir(), 'tool-sandbox-')),
      nodePath,
      permissionFlag: permissionFlag()!,
      systemMounts: systemMounts(nodePath),
    };
    return this.host;
  }

  private prepare(limits: SandboxLimits | undefined): PreparedLimits {
    if (limits === null || typeof limits !== 'object')
      throw new SandboxFailedError('invalid', 'task limits must be an object');
    const env = [...new Set(limits.env ?? [])].sort();
    for (const name of env) {
      if (typeof name !== 'string' || !ENV_NAME.test(name)) {
        throw new SandboxFailedError('invalid', `limits.env entry ${JSON.stringify(name)} is not a variable name`);
      }
    }
    const memoryMb = limits.memoryMb ?? this.defaultMemoryMb;
    const problem = memoryProblem(memoryMb);
    if (problem) throw new SandboxFailedError('invalid', `limits.memoryMb ${problem}`);
    let read: { paths: string[]; mounts: SandboxMount[] };
    try {
      read = planReadMounts(limits.readPaths ?? [], this.hostSetup().systemMounts);
    } catch (err) {
      if (err instanceof SandboxFailedError) throw err;
      throw new SandboxFailedError('invalid', `limits.${(err as Error).message}`);
    }
    const readPaths = [...read.paths].sort();
    return { key: JSON.stringify([env, memoryMb, readPaths]), env, memoryMb, readPaths, readMounts: read.mounts };
  }
}

function memoryProblem(memoryMb: unknown): string | undefined {
  if (
    typeof memoryMb === 'number' &&
    Number.isInteger(memoryMb) &&
    memoryMb >= MIN_MEMORY_MB &&
    memoryMb <= MAX_MEMORY_MB
  )
    return undefined;
  return `must be an integer between ${MIN_MEMORY_MB} and ${MAX_MEMORY_MB}`;
}
