import type { DestinationStream } from 'pino';

/** The part of a pino/sonic-boom destination the batcher writes to. */
export interface FlushableDestination {
  write(chunk: string): unknown;
  flushSync(): void;
}

export interface BatchedDestinationOptions {
  /** Lines gathered past this many characters go out at once (default 16 KiB). */
  maxBytes?: number;
  /** The longest a line waits before it goes out (default 100 ms). */
  maxDelayMs?: number;
}

/**
 * A pino destination that gathers lines and hands them to `target` as one string once they pass `maxBytes` or the
 * first of them has waited `maxDelayMs`. sonic-boom's own buffering (`minLength`) appends each line to a growing string
 * and measures that string's UTF-8 length on every write (~2.5 µs a line at 4 KiB); here a line costs an array push,
 * and the target sees one write per batch instead of one per request. Give it a synchronous target
 * (`pino.destination({ sync: true })`, as pino's default stdout destination is): a batch is then on its way to the
 * file descriptor once `flush()` returns, so `flushSync()` at exit or shutdown loses nothing (an asynchronous target
 * would still hold its last write in flight). Lines keep their order.
 */
export class BatchedDestination implements DestinationStream {
  private lines: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly maxBytes: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly target: FlushableDestination,
    options: BatchedDestinationOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? 16 * 1024;
    this.maxDelayMs = options.maxDelayMs ?? 100;
  }

  write(line: string): void {
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= this.maxBytes) {
      this.flush();
    } else if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), this.maxDelayMs);
      this.timer.unref();
    }
  }

  /** Hands the gathered lines to the target; `callback` (pino's `logger.flush(cb)`) is called once they are. */
  flush(callback?: (error?: Error) => void): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.lines.length) {
      const chunk = this.lines.join('');
      this.lines = [];
      this.bytes = 0;
      try {
        this.target.write(chunk);
      } catch (error) {
        if (callback) return callback(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
    }
    callback?.();
  }

  flushSync(): void {
    this.flush();
    this.target.flushSync();
  }
}
