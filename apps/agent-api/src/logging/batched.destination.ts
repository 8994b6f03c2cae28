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
 * and the target sees one write per batch (one asynchronous write to stdout instead of one per request). Lines keep
 * their order; `flushSync()` writes what is gathered and flushes the target synchronously (for `exit`).
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

  /** Hands the gathered lines to the target (which writes them asynchronously). */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.lines.length) return;
    const chunk = this.lines.length === 1 ? this.lines[0] : this.lines.join('');
    this.lines = [];
    this.bytes = 0;
    this.target.write(chunk);
  }

  flushSync(): void {
    this.flush();
    this.target.flushSync();
  }
}
