import { SandboxFailedError } from './sandbox.errors';

/** What the pool needs of a sandbox process. */
export interface PooledProcess {
  /** Settles once the process can take a task (rejects when it cannot start confined). */
  readonly ready: Promise<void>;
  readonly alive: boolean;
  whenGone(listener: () => void): void;
  kill(): void;
}

interface Waiter<P> {
  resolve(process: P): void;
  reject(err: Error): void;
}

/**
 * Keeps `size` started processes of one kind waiting, so that a call takes a running process instead of paying a
 * process start. Each process is handed out once (it serves one task, then exits) and replaced in the background
 * once it is gone; a call finding none waiting starts one at once.
 * A failed start rejects the oldest waiting call; the pool then starts processes only on demand, so a host that
 * cannot start sandboxes is not asked to again and again.
 */
export class SandboxPool<P extends PooledProcess> {
  private readonly idle: P[] = [];
  private readonly all = new Set<P>();
  private readonly waiters: Array<Waiter<P>> = [];
  private readonly warmers: Array<Waiter<void>> = [];
  private starting = 0;
  private closed = false;
  private failing = false;

  constructor(
    private readonly start: () => P,
    private readonly size: number,
    private readonly maxStarting: number,
  ) {}

  /** Idle processes ready now (for tests and metrics). */
  get warmCount(): number {
    return this.idle.length;
  }

  /** A ready process, taken out of the pool; starts one when none is waiting. */
  acquire(): Promise<P> {
    if (this.closed) return Promise.reject(new SandboxFailedError('closed', 'the sandbox is closed'));
    const process = this.idle.shift();
    if (process) {
      this.handOut(process);
      return Promise.resolve(process);
    }
    return new Promise<P>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.refill(true);
    });
  }

  /** Resolves once a process is ready (without taking it), rejecting with the start error when none can start. */
  warm(): Promise<void> {
    if (this.closed) return Promise.reject(new SandboxFailedError('closed', 'the sandbox is closed'));
    if (this.idle.length > 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.warmers.push({ resolve, reject });
      this.refill(true);
    });
  }

  /** Kills every process, waiting or serving, and rejects the calls still waiting. */
  close(): void {
    this.closed = true;
    for (const process of this.all) process.kill();
    this.idle.length = 0;
    for (const waiter of [...this.waiters.splice(0), ...this.warmers.splice(0)]) {
      waiter.reject(new SandboxFailedError('closed', 'the sandbox is closed'));
    }
  }

  private refill(onDemand = false): void {
    if (this.failing && !onDemand) return;
    const wanted = Math.max(this.size, this.warmers.length > 0 ? 1 : 0) + this.waiters.length;
    while (!this.closed && this.starting < this.maxStarting && this.idle.length + this.starting < wanted) {
      this.startOne();
    }
  }

  private startOne(): void {
    this.starting += 1;
    let process: P;
    try {
      process = this.start();
    } catch (err) {
      this.starting -= 1;
      this.failed(err instanceof Error ? err : new SandboxFailedError('start', String(err)));
      return;
    }
    this.all.add(process);
    process.whenGone(() => {
      this.all.delete(process);
      const at = this.idle.indexOf(process);
      if (at >= 0) this.idle.splice(at, 1);
    });
    process.ready.then(
      () => {
        this.starting -= 1;
        this.failing = false;
        if (this.closed) return process.kill();
        if (!process.alive) return this.refill(true);
        const waiter = this.waiters.shift();
        if (waiter) {
          this.handOut(process);
          waiter.resolve(process);
        } else this.idle.push(process);
        if (this.idle.length > 0) for (const warmer of this.warmers.splice(0)) warmer.resolve();
        this.refill();
      },
      (err: Error) => {
        this.starting -= 1;
        process.kill();
        this.failed(err);
      },
    );
  }

  /**
   * The replacement of a handed-out process starts once that process is gone (it exits after its one task): starting
   * a process blocks this event loop for a few milliseconds, which must not land between a task and its answer.
   */
  private handOut(process: P): void {
    process.whenGone(() => this.refill());
  }

  private failed(err: Error): void {
    this.failing = true;
    this.waiters.shift()?.reject(err);
    for (const warmer of this.warmers.splice(0)) warmer.reject(err);
    if (this.waiters.length > 0) this.refill(true);
  }
}
